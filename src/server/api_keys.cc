#include "util/confined_env.h"
#include "server/api_keys.h"

#include <openssl/rand.h>
#include <sys/stat.h>

#include <algorithm>

#include "integrity/sha256.h"
#include "util/env.h"
#include "util/time.h"

namespace stele {
namespace {

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.';
  });
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const size_t p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) return out;
    s.remove_prefix(p + 1);
  }
}

}  // namespace

Result<uint32_t> ParseScopes(std::string_view text) {
  uint32_t bits = 0;
  for (std::string_view s : Split(text, ',')) {
    if (s == "append") bits |= kScopeAppend;
    else if (s == "read") bits |= kScopeRead;
    else if (s == "admin") bits |= kScopeAdmin;
    else return Status::InvalidArgument("scope \"" + std::string(s) + "\": want append, read or admin");
  }
  return bits;
}

std::string ScopesToString(uint32_t scopes) {
  std::string out;
  for (auto [bit, name] : {std::pair{kScopeAppend, "append"}, std::pair{kScopeRead, "read"}, std::pair{kScopeAdmin, "admin"}}) {
    if (scopes & bit) out += (out.empty() ? "" : ",") + std::string(name);
  }
  return out;
}

KeyStore::KeyStore(std::string dir) : dir_(std::move(dir)), path_(dir_ + "/keys/api-keys") {}

std::string KeyStore::HashSecret(std::string_view secret) { return ToHex(Sha256().Digest(secret)); }

Status KeyStore::Load(std::vector<ApiKey>* keys) const {
  keys->clear();
  ConfinedEnv confined(dir_);
  Env* env = &confined;
  if (!env->Exists(path_)) return Status::Ok();
  auto text = ReadFileToString(env, path_, 16u << 20);
  if (!text.ok()) return text.status();
  uint64_t line_no = 0;
  for (std::string_view line : Split(*text, '\n')) {
    ++line_no;
    if (line.empty()) continue;
    auto f = Split(line, '\t');
    auto scopes = f.size() == 5 ? ParseScopes(f[1]) : Result<uint32_t>(Status::InvalidArgument("want 5 fields"));
    if (f.size() != 5 || !scopes.ok() || f[2].size() != 64 || (f[4] != "active" && f[4] != "revoked")) {
      return Status::Corruption(path_ + ": line " + std::to_string(line_no) + " is not a key entry");
    }
    keys->push_back({std::string(f[0]), *scopes, std::string(f[2]), std::string(f[3]), f[4] == "revoked"});
  }
  return Status::Ok();
}

Status KeyStore::Save(const std::vector<ApiKey>& keys) {
  std::string text;
  for (const ApiKey& k : keys) {
    text += k.name + "\t" + ScopesToString(k.scopes) + "\t" + k.hash_hex + "\t" + k.created + "\t" +
            (k.revoked ? "revoked" : "active") + "\n";
  }
  ConfinedEnv confined(dir_);
  Env* env = &confined;
  STELE_RETURN_IF_ERROR(env->CreateDir(dir_));
  STELE_RETURN_IF_ERROR(env->CreateDir(dir_ + "/keys"));
  STELE_RETURN_IF_ERROR(WriteFileAtomically(env, path_, text));
  return env->SyncDir(dir_ + "/keys");
}

Status KeyStore::Reload() {
  struct stat st;
  const bool exists = ::stat(path_.c_str(), &st) == 0;
  const int64_t mtime = exists ? static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec : 0;
  const uint64_t size = exists ? static_cast<uint64_t>(st.st_size) : 0;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (mtime == loaded_mtime_ns_ && size == loaded_size_) return Status::Ok();
  }
  std::vector<ApiKey> keys;
  STELE_RETURN_IF_ERROR(Load(&keys));
  std::lock_guard<std::mutex> g(mu_);
  keys_ = std::move(keys);
  by_hash_.clear();
  for (size_t i = 0; i < keys_.size(); ++i) by_hash_[keys_[i].hash_hex] = i;
  loaded_mtime_ns_ = mtime;
  loaded_size_ = size;
  return Status::Ok();
}

Result<std::string> KeyStore::Add(const std::string& name, uint32_t scopes) {
  if (!ValidName(name)) {
    return Status::InvalidArgument("key name \"" + name + "\": 1-64 letters, digits, '-', '_' or '.'");
  }
  if (scopes == 0) return Status::InvalidArgument("a key needs at least one scope");
  std::vector<ApiKey> keys;
  STELE_RETURN_IF_ERROR(Load(&keys));
  for (const ApiKey& k : keys) {
    if (k.name == name) return Status::InvalidArgument("key name \"" + name + "\" is taken (names are never reused)");
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return Status::IOError("RAND_bytes failed: no randomness for a key");
  const std::string secret = "stele_" + ToHex(std::string_view(reinterpret_cast<const char*>(raw), sizeof raw));
  keys.push_back({name, scopes, HashSecret(secret), FormatRfc3339(NowNanos()), false});
  STELE_RETURN_IF_ERROR(Save(keys));
  STELE_RETURN_IF_ERROR(Reload());
  return secret;
}

Status KeyStore::Revoke(const std::string& name) {
  std::vector<ApiKey> keys;
  STELE_RETURN_IF_ERROR(Load(&keys));
  auto it = std::find_if(keys.begin(), keys.end(), [&](const ApiKey& k) { return k.name == name; });
  if (it == keys.end()) return Status::NotFound("no key named \"" + name + "\"");
  if (it->revoked) return Status::Ok();
  it->revoked = true;
  STELE_RETURN_IF_ERROR(Save(keys));
  return Reload();
}

std::vector<ApiKey> KeyStore::List() const {
  std::lock_guard<std::mutex> g(mu_);
  return keys_;
}

bool KeyStore::HasActiveKeys() const {
  std::lock_guard<std::mutex> g(mu_);
  return std::any_of(keys_.begin(), keys_.end(), [](const ApiKey& k) { return !k.revoked; });
}

std::optional<ApiKey> KeyStore::Find(std::string_view secret) const {
  if (secret.size() > 256) return std::nullopt;
  const std::string hash = HashSecret(secret);
  std::lock_guard<std::mutex> g(mu_);
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return std::nullopt;
  return keys_[it->second];
}

}  // namespace stele
