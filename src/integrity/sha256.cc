#include "integrity/sha256.h"

// OpenSSL 3 marks the low-level SHA256_* calls deprecated in favour of EVP,
// but EVP's per-call dispatch costs ~100 ns — as much as hashing a small
// event with SHA-NI.  The low-level calls use the same SHA-NI code path.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "integrity/sha256_x2.h"


namespace stele {
static_assert(sizeof(SHA256_CTX) == 112 && alignof(SHA256_CTX) <= 8);
Sha256Stream::Sha256Stream() { SHA256_Init(reinterpret_cast<SHA256_CTX*>(ctx_)); }
void Sha256Stream::Update(std::string_view bytes) {
  SHA256_Update(reinterpret_cast<SHA256_CTX*>(ctx_), bytes.data(), bytes.size());
}
Hash Sha256Stream::Final() {
  Hash out;
  SHA256_Final(out.data(), reinterpret_cast<SHA256_CTX*>(ctx_));
  return out;
}

Hash Sha256::Finish(std::string_view a, std::string_view b, std::string_view c, std::string_view d) {
  Sha256Stream s;
  for (std::string_view part : {a, b, c, d}) {
    if (!part.empty()) s.Update(part);
  }
  return s.Final();
}

Hash Sha256::Digest(std::string_view data) { return Finish(data, {}, {}, {}); }
Hash Sha256::LeafHash(std::string_view leaf) { return Finish(std::string_view("\x00", 1), leaf, {}, {}); }
Hash Sha256::NodeHash(const Hash& l, const Hash& r) {
  return Finish(std::string_view("\x01", 1), AsBytes(l), AsBytes(r), {});
}

void Sha256::LeafHashes(std::span<const std::string_view> leaves, Hash* out) {
  sha256x2::PrefixedDigests(0x00, leaves, out);
}
void Sha256::NodeHashes(const Hash* children, size_t n, Hash* out) {
  sha256x2::PrefixedPairDigests(0x01, children, n, out);
}

Sha256& ThreadSha256() {
  thread_local Sha256 sha;
  return sha;
}

std::string ToHex(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (char c : bytes) {
    s.push_back(kHex[(static_cast<uint8_t>(c) >> 4) & 0xf]);
    s.push_back(kHex[static_cast<uint8_t>(c) & 0xf]);
  }
  return s;
}
std::string ToHex(const Hash& h) { return ToHex(AsBytes(h)); }

bool FromHex(std::string_view hex, Hash* out) {
  if (hex.size() != 64) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 32; ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool Base64Decode(std::string_view text, std::string* out) {
  if (text.empty() || text.size() % 4 != 0) return false;
  for (char c : text) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
          c == '=')) {
      return false;
    }
  }
  const size_t pad = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  if (text.substr(0, text.size() - pad).find('=') != std::string_view::npos) return false;
  out->assign(3 * text.size() / 4, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out->data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return false;
  out->resize(static_cast<size_t>(n) - pad);
  // Canonical encodings only: re-encoding must give the same text.
  return Base64Encode(*out) == text;
}

}  // namespace stele
