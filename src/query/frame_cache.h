// FrameCache: decompressed frames kept by an open Log for its queries, so a
// hot lead or a repeated query does not decompress the same frames again.
//
// A frame never changes once written (segments are append-only and sealed
// ones immutable), so an entry is valid until its segment is removed by
// retention, which erases it.  Bounded in bytes, LRU.  Each cached frame
// also builds, on first use per field, a map from an indexed field's value
// to the records holding it, so an equality lookup on a cached frame visits
// only the matching records.  Thread-safe; entries are shared read-only.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "index/segment_index.h"
#include "stele/status.h"
#include "util/lru_cache.h"

namespace stele {

class CachedFrame {
 public:
  // Takes a frame's decompressed records; kCorruption if their lengths do
  // not add up to `expected_count` records.
  static Result<std::shared_ptr<CachedFrame>> Make(std::string raw, uint32_t expected_count);
  // Gives the records' buffer back to BufferPool::Frames() for the next frame.
  ~CachedFrame();

  const std::string& raw() const { return raw_; }
  const std::vector<uint32_t>& offsets() const { return offsets_; }  // of each record, ascending
  // Ordinals (into offsets()) of the records whose field f equals value,
  // ascending.  Builds the field's map on first use.
  std::vector<uint32_t> RecordsWith(IndexedField f, std::string_view value) const;
  // What the cache counts for it: the records' buffer (its capacity: a
  // recycled buffer may be larger than this frame), their offsets, and an
  // allowance for the value maps built later (about 40 bytes a record).
  size_t charge() const { return raw_.capacity() + offsets_.size() * 44 + sizeof(*this); }

 private:
  std::string raw_;
  std::vector<uint32_t> offsets_;
  using ValueMap = std::unordered_map<std::string_view, std::vector<uint32_t>>;
  mutable std::mutex mu_;
  mutable std::array<std::unique_ptr<ValueMap>, kIndexedFieldCount> by_field_;
};

class FrameCache {
 public:
  explicit FrameCache(size_t max_bytes)
      : lru_(max_bytes, [](const CachedFrame& f) { return f.charge(); }) {}
  // The frame, or null.
  std::shared_ptr<const CachedFrame> Get(const std::string& segment_path, size_t frame);
  // kHot: as the most recently used frame.  kIfRoom: only into free space,
  // as the least recently used (LruCache::InsertIfRoom), for the frames a
  // scan of every frame loads, so that it does not evict what lookups use.
  enum class Admit { kHot, kIfRoom };
  void Put(const std::string& segment_path, size_t frame, std::shared_ptr<const CachedFrame> entry,
           Admit admit = Admit::kHot);
  // Whether Put(..., admit) of a frame now would most likely keep it: a
  // reader that would rather not rebuild a whole frame it is only passing
  // through asks first (kIfRoom keeps a frame only while the cache has room).
  bool Keeps(Admit admit) const { return admit == Admit::kHot || lru_.charge() < lru_.capacity(); }
  // Drops every frame of a segment (retention removed it).
  void EraseSegment(const std::string& segment_path);
  size_t bytes() const;
  size_t capacity() const { return lru_.capacity(); }

 private:
  static std::string Key(const std::string& segment_path, size_t frame);
  LruCache<CachedFrame> lru_;
};

}  // namespace stele
