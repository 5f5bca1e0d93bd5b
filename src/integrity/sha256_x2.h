// Many independent SHA-256 digests, two at a time on the SHA-NI instructions.
//
// Why this is written here and not taken from OpenSSL: OpenSSL hashes one
// message per call, and with SHA-NI one message is a chain of dependent
// sha256rnds2 instructions whose latency, not the core's throughput, sets
// the speed.  Two independent messages interleaved fill those gaps: on this
// project's Zen 4 machine 1.7x the digests per second of OpenSSL for a
// 230-byte leaf and for a 65-byte node (docs/performance.md, session 10;
// the Linux kernel interleaves two messages for the same reason).  OpenSSL
// offers no multi-message SHA-256, so the compression function is written
// from FIPS 180-4 and Intel's description of the SHA extensions.  OpenSSL
// stays the path on CPUs without SHA-NI, and the reference the tests
// compare every length against (tests/sha256_x2_test.cc).
//
// Stateless and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "integrity/sha256.h"

namespace stele::sha256x2 {

// True when the CPU has SHA-NI (with SSSE3 and SSE4.1).  Without it the
// functions below hash one message at a time through OpenSSL.
bool Available();

// out[i] = SHA-256(prefix || bodies[i]).
void PrefixedDigests(uint8_t prefix, std::span<const std::string_view> bodies, Hash* out);

// out[i] = SHA-256(prefix || pairs[2i] || pairs[2i+1]), for i < n.
void PrefixedPairDigests(uint8_t prefix, const Hash* pairs, size_t n, Hash* out);

// For tests: hash through OpenSSL even where SHA-NI exists, so both paths
// run on every machine.  Not for concurrent use with the functions above.
void ForceFallbackForTesting(bool fallback);

}  // namespace stele::sha256x2
