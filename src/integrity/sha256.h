// SHA-256 and the RFC 6962 hashing rules, on OpenSSL (which uses the SHA-NI
// instructions where the CPU has them).
//
//   leaf hash = SHA-256(0x00 || canonical record)
//   node hash = SHA-256(0x01 || left || right)
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace stele {

using Hash = std::array<uint8_t, 32>;

// The hashing entry points.  Stateless today (each call hashes from a fresh
// context on the stack); kept as an object so callers can hold one per
// thread if a future implementation needs state.
class Sha256 {
 public:
  Hash Digest(std::string_view data);
  Hash LeafHash(std::string_view leaf);
  Hash NodeHash(const Hash& left, const Hash& right);
  // Many at once: out[i] = LeafHash(leaves[i]), and out[i] =
  // NodeHash(children[2i], children[2i+1]) for i < n.  Two messages run
  // interleaved on CPUs with SHA-NI (integrity/sha256_x2.h), 1.7x the
  // digests a second of one at a time.  NodeHashes' out may be children
  // itself (a tree level halved in place).
  void LeafHashes(std::span<const std::string_view> leaves, Hash* out);
  void NodeHashes(const Hash* children, size_t n, Hash* out);

 private:
  Hash Finish(std::string_view a, std::string_view b, std::string_view c, std::string_view d);
};

// Per-thread context for callers without their own.
Sha256& ThreadSha256();

// SHA-256 of bytes given piece by piece, on the same low-level calls (an EVP
// context costs ~100 ns a call, as much as hashing a leaf's worth of bytes).
class Sha256Stream {
 public:
  Sha256Stream();
  void Update(std::string_view bytes);
  // The digest of everything given; the stream must not be used afterwards.
  Hash Final();

 private:
  alignas(8) unsigned char ctx_[112];  // a SHA256_CTX (size checked in sha256.cc)
};

std::string ToHex(const Hash& h);
std::string ToHex(std::string_view bytes);
// Parses 64 hex digits; false on anything else.
bool FromHex(std::string_view hex, Hash* out);
std::string Base64Encode(std::string_view bytes);
// Strict standard base64 with padding; false on anything else.
bool Base64Decode(std::string_view text, std::string* out);

inline std::string_view AsBytes(const Hash& h) { return {reinterpret_cast<const char*>(h.data()), h.size()}; }

}  // namespace stele
