// SegmentIndex: the per-segment inverted index of the indexed fields, at
// frame granularity (docs/format.md, "Segment index").
//
// For each of type, actor, source, lead_id, workflow_id: the sorted distinct
// values of the segment, each with the ascending list of frame ordinals that
// hold it.  A query intersects these lists before it reads any frame.
//
// SegmentIndexBuilder is fed frame by frame by the writer thread (so sealing
// costs no rescan); SegmentIndex reads the immutable file written at seal.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "stele/event.h"
#include "stele/query.h"
#include "stele/status.h"
#include "util/env.h"
#include "util/lru_cache.h"

namespace stele {

enum class IndexedField : int { kType = 0, kActor, kSource, kLeadId, kWorkflowId };
inline constexpr int kIndexedFieldCount = 5;
std::string_view FieldOf(const EventView& e, IndexedField f);

struct FrameCount {
  uint32_t frame = 0;
  uint32_t events = 0;
  bool operator==(const FrameCount&) const = default;
};
// Merges per-value lists into one per-frame list (counts added up).
std::vector<FrameCount> MergeFrameCounts(std::vector<FrameCount> all);

class SegmentIndexBuilder {
 public:
  // Adds the records of frame `ordinal` ((u32 len | record)* as in a frame).
  // Frames must be added in ascending ordinal order.
  void AddFrame(uint32_t ordinal, std::string_view raw_records);
  // Frame ordinals holding `value` (or, with prefix, any value starting
  // with it), ascending.
  std::vector<uint32_t> Frames(IndexedField f, std::string_view value, bool prefix) const;
  // (frame ordinal, events holding the value in it), ascending by frame;
  // for a prefix, the counts of every matching value added up per frame.
  std::vector<FrameCount> FrameCounts(IndexedField f, std::string_view value, bool prefix) const;
  // The file bytes.
  std::string Finish() const;
  void Clear();
  size_t distinct_values() const;
  // Heap bytes the builder's arrays hold (capacities): what sealing by
  // Options::segment_max_index_bytes bounds.
  size_t memory_bytes() const;

 private:
  // The segment-wide postings of one field, in a few flat arrays rather than
  // a node-based map of vectors: a segment sees up to millions of distinct
  // lead ids, and a map paid three allocations per new value and a cache
  // miss per node (BM_IndexSegment: 322 ns/event before, see docs/format.md).
  // Each value's (frame, count) entries form a chain through `entries`,
  // newest first, so adding one costs one append and no allocation.
  class FieldPostings {
   public:
    static constexpr uint32_t kNone = UINT32_MAX;
    struct Value {
      uint32_t offset = 0;  // in arena_
      uint32_t size = 0;
      uint32_t last = kNone;  // newest entry
      uint32_t events = 0;  // saturates: the file stores a u32 (16 bytes a value, not 24)
    };
    struct Entry {
      uint32_t frame = 0;
      uint32_t count = 0;
      uint32_t prev = kNone;  // the value's previous entry
    };
    // Counts one event holding `value` (whose ValueHash is `hash`) in
    // `frame`; frames arrive in ascending order.
    void Add(uint64_t hash, std::string_view value, uint32_t frame);
    // The value's id, or kNone.
    uint32_t Find(std::string_view value) const;
    // Prefetches, for the value hashing to `hash`, what Add() will load,
    // one dependent step each: its table slot, then its value record, then
    // its bytes and last entry.  Call a few values ahead of Add().
    void PrefetchSlot(uint64_t hash) const;
    void PrefetchValue(uint64_t hash) const;
    void PrefetchBytes(uint64_t hash) const;
    std::string_view ValueOf(uint32_t id) const { return {arena_.data() + values_[id].offset, values_[id].size}; }
    const Value& value(uint32_t id) const { return values_[id]; }
    size_t size() const { return values_.size(); }
    // Appends every (frame, count) of a value to *out, oldest first.
    void AppendEntries(uint32_t id, std::vector<FrameCount>* out) const;
    // Every value's entries at once, oldest first: value id's are
    // (*grouped)[(*starts)[id] .. (*starts)[id + 1]).  Sequential passes
    // rather than a walk of each chain (what Finish() needs).
    void GroupEntries(std::vector<uint32_t>* starts, std::vector<FrameCount>* grouped) const;
    // Value ids in ascending byte order of their values.
    std::vector<uint32_t> SortedIds() const;
    size_t memory_bytes() const;

   private:
    uint32_t LikelyId(uint64_t hash) const;
    uint32_t Insert(uint64_t hash, std::string_view value);
    void Grow();
    std::string arena_;
    std::vector<Value> values_;
    std::vector<Entry> entries_;
    std::vector<uint64_t> table_;  // open addressing, see SlotOf()
  };
  FieldPostings values_[kIndexedFieldCount];
  uint32_t frame_count_ = 0;  // 1 + the highest ordinal added

};

class BlockedIndexReader;

// A version 4 file (index/blocked_index.h) is read by block from its open
// file: a lookup reads only the blocks that hold its value, so a sealed
// index costs its block tables in memory.  Older versions are held whole.
// Where a version 4 block turns out damaged, lookups answer with every
// frame (Frames) or nullopt (Candidates, FrameCounts), so the caller reads
// the frames instead; ForEachValue reports it.
class SegmentIndex {
 public:
  // Reads a version 1, 2 or 4 file, or a version 3 (compressed) wrapper of
  // version 2.
  static Result<SegmentIndex> Parse(std::string bytes);
  // Opens <segment>.fidx; kNotFound if it does not exist.
  static Result<SegmentIndex> Load(Env* env, const std::string& segment_path);

  // Frame ordinals holding exactly `value` (ascending).
  std::vector<uint32_t> Frames(IndexedField f, std::string_view value) const;
  // Frame ordinals holding any value that starts with `prefix` (ascending).
  std::vector<uint32_t> FramesWithPrefix(IndexedField f, std::string_view prefix) const;
  // Like SegmentIndexBuilder::FrameCounts; nullopt for a version-1 file,
  // which holds no per-frame counts.
  std::optional<std::vector<FrameCount>> FrameCounts(IndexedField f, std::string_view value, bool prefix) const;
  // PlanCandidates() over this index's postings.
  std::optional<std::vector<uint32_t>> Candidates(const Query& q) const;
  // Distinct values of a field.
  size_t value_count(IndexedField f) const;
  // Calls fn(value, events holding it) for every value, in ascending order.
  // Corruption (version 4) before fn is called for any value.
  [[nodiscard]] Status ForEachValue(IndexedField f, const std::function<void(std::string_view, uint64_t)>& fn) const;
  // Version 1 and 2: fn(value, events, its postings record) for every value,
  // ascending (what a version 4 file is written from).
  void ForEachPostingsRecord(IndexedField f,
                             const std::function<void(std::string_view, uint32_t, std::string_view)>& fn) const;
  uint32_t frame_count() const { return frame_count_; }
  uint32_t version() const { return version_; }
  // Memory held (what the index cache charges).
  size_t byte_size() const;

 private:
  struct FieldTable {
    uint32_t count = 0;
    size_t directory = 0;  // offset of count entries of (u32 value_off, u32 postings_off)
  };
  friend Result<std::string> MergeSegmentIndexes(std::span<const SegmentIndex* const> parts);
  std::string_view ValueAt(const FieldTable& t, uint32_t i) const;
  uint32_t EventsAt(const FieldTable& t, uint32_t i) const;
  void AppendPostings(const FieldTable& t, uint32_t i, std::vector<uint32_t>* out,
                      std::vector<FrameCount>* counts = nullptr) const;
  uint32_t LowerBound(const FieldTable& t, std::string_view v) const;

  static Result<SegmentIndex> FromBlocked(Result<std::shared_ptr<const BlockedIndexReader>> reader);
  // Every frame: the answer of a lookup whose blocks are damaged.
  std::vector<uint32_t> AllFrames() const;

  std::string bytes_;
  uint32_t version_ = 0;
  uint32_t frame_count_ = 0;
  FieldTable fields_[kIndexedFieldCount];
  std::shared_ptr<const BlockedIndexReader> blocked_;  // version 4
};

// One version 2 file of `parts`: version 2 indexes of ascending, disjoint
// frame ranges of one segment (a live index's chunks), as the builder would
// have written it had it seen every frame.
Result<std::string> MergeSegmentIndexes(std::span<const SegmentIndex* const> parts);

// The frames a query can match according to an index: the intersection of
// the postings of its equality filters (type exact or prefix, actor, source,
// lead_id, workflow_id), or nullopt when the query has none.
using PostingsLookup = std::function<std::vector<uint32_t>(IndexedField, std::string_view value, bool prefix)>;
std::optional<std::vector<uint32_t>> PlanCandidates(const Query& q, const PostingsLookup& postings);
// Whether PlanCandidates() has a filter to narrow by.
bool HasIndexedFilter(const Query& q);

// SegmentIndexCache: loaded indexes of sealed segments, kept for the
// queries of one process (a sealed segment's index never changes; a removed
// segment's entry must be dropped with Erase()).  LRU, bounded in bytes.
// Thread-safe.
class SegmentIndexCache {
 public:
  explicit SegmentIndexCache(size_t max_bytes)
      : lru_(max_bytes, [](const SegmentIndex& index) { return index.byte_size(); }) {}
  // The index of the sealed segment at segment_path, loaded on first use.
  Result<std::shared_ptr<const SegmentIndex>> Get(Env* env, const std::string& segment_path);
  void Erase(const std::string& segment_path);

 private:
  LruCache<SegmentIndex> lru_;  // charged by bytes; the newest index is kept even when it alone is over
};

// The index of a sealed segment: from `cache` when given, else loaded; null
// when it is missing or damaged (derived data: the caller reads instead).
std::shared_ptr<const SegmentIndex> SealedIndexOf(Env* env, const std::string& segment_path, SegmentIndexCache* cache);

std::string SegmentIndexPath(const std::string& segment_path);
// Writes the index file atomically (temporary name, fsync, rename) as
// version 4 (BlockSegmentIndex) from version 2 bytes.
Status WriteSegmentIndex(Env* env, const std::string& segment_path, const std::string& bytes);
// The version 3 file of a version 2 one (SegmentIndexBuilder::Finish()).
// `level` is zstd's: 3 for a sealed segment's file, kept for good; 1 for the
// chunks of a live index, rewritten as one file at seal.
std::string CompressSegmentIndex(std::string_view inner, int level = 3);

}  // namespace stele
