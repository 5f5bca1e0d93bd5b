// Version 4 of a sealed segment's field index file (<segment>.fidx; docs/
// format.md, "Segment field index"): each field's sorted values cut into
// blocks, compressed one by one, with a table of the blocks read when the
// file is opened.  A lookup reads one dictionary block and one postings
// block; a count by field reads that field's dictionary blocks and none of
// its postings.  Version 3 was one zstd frame of the whole version 2 file
// (28 MB for 6M reference events), decompressed whole for any lookup.
//
// BlockSegmentIndex writes it from a version 2 file (what the builder and
// the live index's merge produce).  BlockedIndexReader reads it from an
// open file, by block; it is immutable once opened and may be used from
// any number of threads.  A damaged block is reported by the call that
// reads it (Corruption), and the index is derived data: callers then read
// the segment's frames.  Thread-safe: the block cache has its own lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "index/segment_index.h"
#include "stele/status.h"
#include "util/env.h"
#include "util/lru_cache.h"

namespace stele {

// Block targets, in uncompressed bytes: a dictionary block ends past 16 KiB
// of entries, or once the postings of its values pass 64 KiB.
struct BlockedIndexOptions {
  size_t dictionary_block = 16 << 10;
  size_t postings_block = 64 << 10;
  int zstd_level = 3;
};

// Where one compressed block lies in the file (a block table entry's half).
struct BlockExtent {
  uint64_t offset = 0;
  uint32_t stored = 0, raw = 0;  // compressed and decompressed sizes
  uint64_t checksum = 0;         // XXH3-64 of the stored bytes
};

// The version 4 file of a version 2 one.
Result<std::string> BlockSegmentIndex(const SegmentIndex& v2, const BlockedIndexOptions& options = {});

class BlockedIndexReader {
 public:
  static constexpr size_t kHeaderSize = 144;

  // Reads and checks the header and block tables of a version 4 file.
  static Result<std::shared_ptr<const BlockedIndexReader>> Open(std::unique_ptr<RandomAccessFile> file);
  // The same over bytes in memory (tests, and an index handed over whole).
  static Result<std::shared_ptr<const BlockedIndexReader>> Open(std::string bytes);

  uint32_t frame_count() const { return frame_count_; }
  uint32_t value_count(IndexedField f) const { return fields_[static_cast<int>(f)].value_count; }
  // Memory held: the block tables, and up to kBlockCacheBytes of blocks.
  size_t memory_bytes() const;
  // Decompressed blocks kept for lookups, so hot values (a type, a busy
  // lead) are not decompressed again by every query.
  static constexpr size_t kBlockCacheBytes = 1 << 20;

  // Calls fn(value, events, postings) for the values from the first one
  // >= `from`, ascending, while fn returns true.  `postings` is the value's
  // version 2 postings record (varint frames | varint events | (delta,
  // count)*).
  using PostingsFn = std::function<bool(std::string_view value, uint32_t events, std::string_view postings)>;
  Status Scan(IndexedField f, std::string_view from, const PostingsFn& fn) const;
  // Calls fn(value, events) for every value, ascending, reading no
  // postings.  Every block is checked before the first call, so a damaged
  // file calls fn for nothing.
  Status ForEachValue(IndexedField f, const std::function<void(std::string_view, uint64_t)>& fn) const;

 private:
  struct Block {
    BlockExtent dict, post;
    std::string first_value;
  };
  struct Field {
    uint32_t value_count = 0;
    std::vector<Block> blocks;
  };
  BlockedIndexReader() = default;
  static Result<std::shared_ptr<const BlockedIndexReader>> OpenWith(std::shared_ptr<BlockedIndexReader> r);
  Status ReadAt(uint64_t offset, size_t n, std::string* out) const;
  // Decompresses a block's stored bytes, checked against its extent.
  static Status Inflate(std::string_view stored, const BlockExtent& at, std::string* out);
  // The decompressed block, from the block cache or the file.
  Result<std::shared_ptr<const std::string>> ReadBlock(const BlockExtent& at) const;

  std::unique_ptr<RandomAccessFile> file_;  // or:
  std::string bytes_;
  uint64_t size_ = 0;
  uint32_t frame_count_ = 0;
  Field fields_[kIndexedFieldCount];
  mutable LruCache<std::string> blocks_{kBlockCacheBytes, [](const std::string& b) { return b.size(); }};
};

}  // namespace stele
