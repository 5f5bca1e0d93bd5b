// NameTable: a fixed set of names (a segment's leads with runs) to their
// positions 0..n-1, for a lookup per record on hot paths (verify tags every
// record with its lead's run; the run builder files every record).
//
// Open addressing over XXH3 hashes, each slot holding the position and the
// hash's top half, so a probe that meets another name rejects it without
// touching the name.  std::unordered_map's node walk and std::hash were 4 %
// of a lookup-optimized `stele verify` (docs/performance.md, session 10).
// Built once, then read-only: safe to read from many threads.  The names
// must outlive the table.
#pragma once

#include <bit>
#include <cstdint>
#include <string_view>
#include <vector>

#include "util/find_bytes.h"
#include "util/hash.h"

namespace stele {

class NameTable {
 public:
  NameTable() = default;
  explicit NameTable(std::vector<std::string_view> names) : names_(std::move(names)) {
    slots_.assign(std::bit_ceil(2 * names_.size() + 2), 0);
    const size_t mask = slots_.size() - 1;
    for (size_t i = 0; i < names_.size(); ++i) {
      const uint64_t h = Checksum(names_[i]);
      size_t s = h & mask;
      while (slots_[s] != 0) s = (s + 1) & mask;
      slots_[s] = Slot(i, h);
    }
  }
  // The name's position, or -1.
  int Find(std::string_view name) const {
    if (names_.empty()) return -1;
    const uint64_t h = Checksum(name);
    const size_t mask = slots_.size() - 1;
    for (size_t s = h & mask;; s = (s + 1) & mask) {
      const uint64_t slot = slots_[s];
      if (slot == 0) return -1;
      if ((slot >> 32) == (h >> 32)) {
        const auto i = static_cast<uint32_t>(slot) - 1;
        if (BytesEqual(names_[i], name)) return static_cast<int>(i);
      }
    }
  }

 private:
  static uint64_t Slot(size_t i, uint64_t h) { return (h >> 32) << 32 | (static_cast<uint64_t>(i) + 1); }
  std::vector<std::string_view> names_;
  std::vector<uint64_t> slots_;  // 0: empty
};

}  // namespace stele
