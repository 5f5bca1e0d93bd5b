// KeyStore: the server's API keys (SPEC §6), kept hashed in
// <dir>/keys/api-keys (mode 0600), one key a line:
//
//   <name> TAB <scopes, comma-separated> TAB <SHA-256 of the secret, hex>
//          TAB <created, RFC 3339> TAB active|revoked
//
// A secret is "stele_" + 64 hex digits of 32 random bytes (OpenSSL's
// RAND_bytes), shown once by Add() and never stored.  Because a secret is
// 256 random bits, not a password, a single SHA-256 is enough: there is
// nothing to brute-force, so no slow password hash is needed.  Revoked keys
// stay in the file (their names are never reused), so old security events
// still name a key the file explains.
//
// Scopes: append, read, admin; admin grants the other two as well.
// The server calls Reload() now and then, so `stele keys revoke` takes
// effect on a running server within a second.  Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "stele/status.h"

namespace stele {

enum Scope : uint32_t { kScopeAppend = 1, kScopeRead = 2, kScopeAdmin = 4 };
// "append,read" -> bits; kInvalidArgument naming an unknown scope.
Result<uint32_t> ParseScopes(std::string_view text);
std::string ScopesToString(uint32_t scopes);

struct ApiKey {
  std::string name;
  uint32_t scopes = 0;
  std::string hash_hex;
  std::string created;
  bool revoked = false;
  bool Allows(Scope s) const { return !revoked && ((scopes & s) != 0 || (scopes & kScopeAdmin) != 0); }
};

class KeyStore {
 public:
  explicit KeyStore(std::string dir);

  // Re-reads the file if it changed.  A missing file is an empty store.
  Status Reload();
  // Adds a key; returns its secret.  kInvalidArgument for a bad or taken name.
  Result<std::string> Add(const std::string& name, uint32_t scopes);
  Status Revoke(const std::string& name);
  std::vector<ApiKey> List() const;
  // True when at least one key is active (the server then requires keys).
  bool HasActiveKeys() const;
  // The key a presented secret belongs to (revoked ones included, so the
  // caller can say "revoked"), or nullopt.
  std::optional<ApiKey> Find(std::string_view secret) const;

  static std::string HashSecret(std::string_view secret);

 private:
  Status Save(const std::vector<ApiKey>& keys);
  Status Load(std::vector<ApiKey>* keys) const;

  const std::string dir_;
  const std::string path_;
  mutable std::mutex mu_;
  std::vector<ApiKey> keys_;
  std::unordered_map<std::string, size_t> by_hash_;
  int64_t loaded_mtime_ns_ = -1;
  uint64_t loaded_size_ = 0;
};

}  // namespace stele
