#include "integrity/note.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "integrity/sha256.h"

namespace stele {
namespace {

constexpr std::string_view kDash = "\xe2\x80\x94 ";  // U+2014 EM DASH, then a space
constexpr uint8_t kAlgEd25519 = 1;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (c == '+' || c == ' ' || c == '\n' || static_cast<unsigned char>(c) < 0x21) return false;
  }
  return true;
}

std::string KeyIdHex(uint32_t id) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", id);
  return buf;
}

bool ParseKeyIdHex(std::string_view s, uint32_t* id) {
  if (s.size() != 8) return false;
  uint32_t v = 0;
  for (char c : s) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    v = v << 4 | static_cast<uint32_t>(d);
  }
  *id = v;
  return true;
}

// Splits "name+hex+base64" (base64 may itself contain '+').
bool SplitKey(std::string_view key, std::string_view* name, std::string_view* hex, std::string_view* b64) {
  const size_t a = key.find('+');
  if (a == std::string_view::npos) return false;
  const size_t b = key.find('+', a + 1);
  if (b == std::string_view::npos) return false;
  *name = key.substr(0, a);
  *hex = key.substr(a + 1, b - a - 1);
  *b64 = key.substr(b + 1);
  return true;
}

Result<std::string> PublicFromSeed(std::string_view seed) {
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()),
                                        seed.size()));
  if (!key) return Status::InvalidArgument("not an Ed25519 private key");
  std::string pub(32, '\0');
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), reinterpret_cast<unsigned char*>(pub.data()), &len) != 1 || len != 32) {
    return Status::InvalidArgument("cannot derive the Ed25519 public key");
  }
  return pub;
}

}  // namespace

uint32_t NoteKeyId(std::string_view name, std::string_view public_key) {
  std::string buf(name);
  buf.push_back('\n');
  buf.push_back(static_cast<char>(kAlgEd25519));
  buf.append(public_key);
  const Hash h = ThreadSha256().Digest(buf);
  return uint32_t{h[0]} << 24 | uint32_t{h[1]} << 16 | uint32_t{h[2]} << 8 | h[3];
}

std::string NoteVerifier::ToString() const {
  return name + "+" + KeyIdHex(key_id) + "+" + Base64Encode(std::string(1, static_cast<char>(kAlgEd25519)) + public_key);
}

std::string NoteSigner::ToString() const {
  return "PRIVATE+KEY+" + name + "+" + KeyIdHex(key_id) + "+" +
         Base64Encode(std::string(1, static_cast<char>(kAlgEd25519)) + seed);
}

Result<NoteSigner> GenerateNoteSigner(const std::string& name) {
  if (!ValidName(name)) return Status::InvalidArgument("key name \"" + name + "\": no spaces, '+' or newlines");
  NoteSigner s;
  s.name = name;
  s.seed.assign(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(s.seed.data()), 32) != 1) {
    return Status::IOError("the OS random generator failed");
  }
  auto pub = PublicFromSeed(s.seed);
  if (!pub.ok()) return pub.status();
  s.public_key = *pub;
  s.key_id = NoteKeyId(name, s.public_key);
  return s;
}

Result<NoteSigner> ParseNoteSigner(std::string_view key) {
  constexpr std::string_view kPrefix = "PRIVATE+KEY+";
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.remove_suffix(1);
  if (!key.starts_with(kPrefix)) return Status::InvalidArgument("signer key: must start with PRIVATE+KEY+");
  std::string_view name, hex, b64;
  std::string raw;
  uint32_t id;
  if (!SplitKey(key.substr(kPrefix.size()), &name, &hex, &b64) || !ValidName(name) || !ParseKeyIdHex(hex, &id) ||
      !Base64Decode(b64, &raw) || raw.size() != 33 || static_cast<uint8_t>(raw[0]) != kAlgEd25519) {
    return Status::InvalidArgument("signer key: malformed (want PRIVATE+KEY+name+keyid+base64(0x01||seed))");
  }
  NoteSigner s;
  s.name = std::string(name);
  s.seed = raw.substr(1);
  auto pub = PublicFromSeed(s.seed);
  if (!pub.ok()) return pub.status();
  s.public_key = *pub;
  s.key_id = NoteKeyId(s.name, s.public_key);
  if (s.key_id != id) return Status::InvalidArgument("signer key: key id does not match the key");
  return s;
}

Result<NoteVerifier> ParseNoteVerifier(std::string_view key) {
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.remove_suffix(1);
  std::string_view name, hex, b64;
  std::string raw;
  uint32_t id;
  if (!SplitKey(key, &name, &hex, &b64) || !ValidName(name) || !ParseKeyIdHex(hex, &id) || !Base64Decode(b64, &raw) ||
      raw.size() != 33 || static_cast<uint8_t>(raw[0]) != kAlgEd25519) {
    return Status::InvalidArgument("verifier key: malformed (want name+keyid+base64(0x01||public key))");
  }
  NoteVerifier v{std::string(name), id, raw.substr(1)};
  if (NoteKeyId(v.name, v.public_key) != id) return Status::InvalidArgument("verifier key: key id does not match");
  return v;
}

Result<std::string> SignNote(std::string_view text, const NoteSigner& signer) {
  if (text.empty() || text.back() != '\n') return Status::InvalidArgument("note text must end with a newline");
  if (text.find("\n\n") != std::string_view::npos) return Status::InvalidArgument("note text has a blank line");
  Pkey key(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                        reinterpret_cast<const unsigned char*>(signer.seed.data()), signer.seed.size()));
  MdCtx ctx(EVP_MD_CTX_new());
  unsigned char sig[64];
  size_t sig_len = sizeof sig;
  if (!key || !ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &sig_len, reinterpret_cast<const unsigned char*>(text.data()), text.size()) != 1 ||
      sig_len != 64) {
    return Status::IOError("Ed25519 signing failed");
  }
  std::string blob(4, '\0');
  for (int i = 0; i < 4; ++i) blob[i] = static_cast<char>(signer.key_id >> (24 - 8 * i));
  blob.append(reinterpret_cast<const char*>(sig), 64);
  std::string note(text);
  note.append("\n");
  note.append(kDash);
  note.append(signer.name + " " + Base64Encode(blob) + "\n");
  return note;
}

Result<std::string> OpenNote(std::string_view note, const NoteVerifier& verifier) {
  const size_t split = note.rfind("\n\n");
  if (split == std::string_view::npos || !note.ends_with("\n")) {
    return Status::Corruption("signed note: no blank line before the signatures");
  }
  const std::string_view text = note.substr(0, split + 1);
  std::string_view sigs = note.substr(split + 2);
  bool found_key = false;
  while (!sigs.empty()) {
    const size_t nl = sigs.find('\n');
    std::string_view line = sigs.substr(0, nl);
    sigs.remove_prefix(nl + 1);
    if (!line.starts_with(kDash)) return Status::Corruption("signed note: malformed signature line");
    line.remove_prefix(kDash.size());
    const size_t sp = line.find(' ');
    if (sp == std::string_view::npos) return Status::Corruption("signed note: malformed signature line");
    const std::string_view name = line.substr(0, sp);
    std::string blob;
    if (!Base64Decode(line.substr(sp + 1), &blob) || blob.size() < 4) {
      return Status::Corruption("signed note: signature is not base64");
    }
    const uint32_t id = uint32_t{static_cast<uint8_t>(blob[0])} << 24 | uint32_t{static_cast<uint8_t>(blob[1])} << 16 |
                        uint32_t{static_cast<uint8_t>(blob[2])} << 8 | static_cast<uint8_t>(blob[3]);
    if (name != verifier.name || id != verifier.key_id) continue;  // someone else's signature
    found_key = true;
    if (blob.size() != 68) return Status::Corruption("signed note: Ed25519 signature has the wrong length");
    Pkey key(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                         reinterpret_cast<const unsigned char*>(verifier.public_key.data()), 32));
    MdCtx ctx(EVP_MD_CTX_new());
    if (key && ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(blob.data() + 4), 64,
                         reinterpret_cast<const unsigned char*>(text.data()), text.size()) == 1) {
      return std::string(text);
    }
  }
  if (found_key) return Status::Corruption("signed note: bad signature by " + verifier.name);
  return Status::Corruption("signed note: no signature by " + verifier.name + "+" + KeyIdHex(verifier.key_id));
}

}  // namespace stele
