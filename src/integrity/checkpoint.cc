#include "integrity/checkpoint.h"

#include <openssl/rand.h>

#include <algorithm>
#include <charconv>

#include "util/time.h"

namespace stele {
std::string FormatCheckpointBody(const Checkpoint& c) {
  return c.origin + "\n" + std::to_string(c.size) + "\n" + Base64Encode(AsBytes(c.root)) + "\ntime " +
         FormatRfc3339(c.time_ns) + "\n";
}

Result<Checkpoint> ParseCheckpointBody(std::string_view body) {
  std::vector<std::string_view> lines;
  while (!body.empty()) {
    const size_t nl = body.find('\n');
    if (nl == std::string_view::npos) return Status::Corruption("checkpoint: last line has no newline");
    lines.push_back(body.substr(0, nl));
    body.remove_prefix(nl + 1);
  }
  if (lines.size() < 3) return Status::Corruption("checkpoint: want origin, size and root lines");
  Checkpoint c;
  c.origin = std::string(lines[0]);
  if (c.origin.empty()) return Status::Corruption("checkpoint: empty origin");
  const std::string_view size = lines[1];
  auto [p, ec] = std::from_chars(size.data(), size.data() + size.size(), c.size);
  if (size.empty() || ec != std::errc() || p != size.data() + size.size() || (size.size() > 1 && size[0] == '0')) {
    return Status::Corruption("checkpoint: tree size is not a decimal number");
  }
  std::string root;
  if (!Base64Decode(lines[2], &root) || root.size() != 32) {
    return Status::Corruption("checkpoint: root hash is not base64 of 32 bytes");
  }
  std::copy(root.begin(), root.end(), c.root.begin());
  for (size_t i = 3; i < lines.size(); ++i) {
    if (lines[i].starts_with("time ")) {
      std::string why;
      auto t = ParseRfc3339(lines[i].substr(5), &why);
      if (!t) return Status::Corruption("checkpoint: time line: " + why);
      c.time_ns = *t;
    }
  }
  return c;
}

Result<Checkpoint> OpenCheckpoint(std::string_view note, const NoteVerifier& verifier) {
  auto text = OpenNote(note, verifier);
  if (!text.ok()) return text.status();
  auto c = ParseCheckpointBody(*text);
  if (!c.ok()) return c;
  if (c->origin != verifier.name) {
    return Status::Corruption("checkpoint: origin \"" + c->origin + "\" is not the key's name \"" + verifier.name + "\"");
  }
  return c;
}

Result<NoteSigner> LoadOrCreateSigner(Env* env, const std::string& dir, const std::string& key_path, bool create) {
  const std::string keys_dir = dir + "/" + std::string(kKeysDir);
  const std::string path = key_path.empty() ? keys_dir + "/" + std::string(kSignerKeyFile) : key_path;
  // A key the operator names by path may live outside the data directory
  // (that is its point: a key the data directory's writers cannot read).
  Env* key_env = key_path.empty() ? env : Env::Default();
  if (key_env->Exists(path)) {
    auto text = ReadFileToString(key_env, path, 4096);
    if (!text.ok()) return text.status();
    auto s = ParseNoteSigner(*text);
    if (!s.ok()) return Status::InvalidArgument(path + ": " + s.status().message());
    if (!key_path.empty() && create) {
      // Readers of the directory (verify, checkpoint --public-key) need the
      // public half; it is all the directory holds.
      const std::string pub = keys_dir + "/" + std::string(kVerifierKeyFile);
      const std::string text = s->Verifier().ToString() + "\n";
      auto have = ReadFileToString(env, pub, 4096);
      if (!have.ok() || *have != text) {
        STELE_RETURN_IF_ERROR(env->CreateDir(keys_dir));
        STELE_RETURN_IF_ERROR(WriteFileAtomically(env, pub, text));
        STELE_RETURN_IF_ERROR(env->SyncDir(keys_dir));
      }
    }
    return s;
  }
  if (!key_path.empty() || !create) return Status::NotFound(path + ": no signing key");
  unsigned char id[8];
  if (RAND_bytes(id, sizeof id) != 1) return Status::IOError("the OS random generator failed");
  auto s = GenerateNoteSigner("stele-" + ToHex(std::string_view(reinterpret_cast<const char*>(id), sizeof id)));
  if (!s.ok()) return s;
  STELE_RETURN_IF_ERROR(env->CreateDir(keys_dir));
  STELE_RETURN_IF_ERROR(WriteFileAtomically(env, path, s->ToString() + "\n"));
  STELE_RETURN_IF_ERROR(env->SyncDir(keys_dir));
  return s;
}

Result<NoteVerifier> LoadVerifier(Env* env, const std::string& dir, const std::string& key_path) {
  auto s = LoadOrCreateSigner(env, dir, key_path, false);
  if (s.ok()) return s->Verifier();
  // The signing key kept outside the directory: its public half is here.
  const std::string pub = dir + "/" + std::string(kKeysDir) + "/" + std::string(kVerifierKeyFile);
  if (s.status().code() != StatusCode::kNotFound || !key_path.empty() || !env->Exists(pub)) return s.status();
  auto text = ReadFileToString(env, pub, 4096);
  if (!text.ok()) return text.status();
  std::string_view key = *text;
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.remove_suffix(1);
  auto v = ParseNoteVerifier(key);
  if (!v.ok()) return Status::InvalidArgument(pub + ": " + v.status().message());
  return v;
}

bool ParseCheckpointFileName(std::string_view name, uint64_t* size) {
  if (name.size() != 23 || !name.ends_with(".cp")) return false;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  auto [p, ec] = std::from_chars(name.data(), name.data() + 20, *size);
  return ec == std::errc() && p == name.data() + 20;
}

std::string CheckpointFileName(uint64_t size) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu.cp", static_cast<unsigned long long>(size));
  return buf;
}

Status WriteCheckpointFile(Env* env, const std::string& dir, uint64_t size, const std::string& note) {
  const std::string cdir = dir + "/" + std::string(kCheckpointsDir);
  STELE_RETURN_IF_ERROR(env->CreateDir(cdir));
  STELE_RETURN_IF_ERROR(WriteFileAtomically(env, cdir + "/" + CheckpointFileName(size), note));
  return env->SyncDir(cdir);
}

Result<std::vector<uint64_t>> ListCheckpoints(Env* env, const std::string& dir) {
  auto names = env->ListDir(dir + "/" + std::string(kCheckpointsDir));
  if (!names.ok()) {
    if (names.status().code() == StatusCode::kNotFound) return std::vector<uint64_t>{};
    return names.status();
  }
  std::vector<uint64_t> sizes;
  for (const std::string& n : *names) {
    uint64_t size;
    if (ParseCheckpointFileName(n, &size)) sizes.push_back(size);
  }
  std::sort(sizes.begin(), sizes.end());
  return sizes;
}

Result<std::string> ReadCheckpointFile(Env* env, const std::string& dir, uint64_t size) {
  return ReadFileToString(env, dir + "/" + std::string(kCheckpointsDir) + "/" + CheckpointFileName(size), 64 << 10);
}

}  // namespace stele
