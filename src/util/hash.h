// Checksums for frames and footers: XXH3-64 (xxHash from Debian), chosen for
// speed (>10 GB/s) on data already protected end-to-end by SHA-256 leaves.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <string_view>

#include <xxhash.h>

namespace stele {

inline uint64_t Checksum(const void* data, size_t n) { return XXH3_64bits(data, n); }
inline uint64_t Checksum(std::string_view s) { return XXH3_64bits(s.data(), s.size()); }

}  // namespace stele

namespace stele {

// A hash for unordered containers keyed by std::string that look up by
// std::string_view without building a string (with std::equal_to<>).
struct TransparentHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

// Counts by string key, looked up by std::string_view.
using KeyCounts = std::unordered_map<std::string, uint64_t, TransparentHash, std::equal_to<>>;

}  // namespace stele
