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
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "stele/event.h"
#include "stele/query.h"
#include "stele/status.h"
#include "util/env.h"

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

 private:
  struct Postings {
    std::vector<uint32_t> frames;  // ascending frame ordinals
    std::vector<uint32_t> counts;  // events holding the value, per frame
    uint64_t events = 0;           // events holding the value
  };
  // Transparent hashing: lookups by string_view allocate nothing.
  struct Hasher {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, Postings, Hasher, std::equal_to<>> values_[kIndexedFieldCount];

  // Per-frame distinct values, so the segment-wide maps see each value once
  // per frame rather than once per event (a frame holds ~1,000 events but
  // only a handful of types, sources and actors).  Open addressing over
  // views into the frame; reset for every frame.
  struct Slot {
    uint64_t hash = 0;
    std::string_view value;
    uint32_t count = 0;
  };
  std::vector<Slot> frame_slots_[kIndexedFieldCount];
  std::vector<uint32_t> used_[kIndexedFieldCount];
};

class SegmentIndex {
 public:
  static Result<SegmentIndex> Parse(std::string bytes);
  // Loads <segment>.fidx; kNotFound if it does not exist.
  static Result<SegmentIndex> Load(Env* env, const std::string& segment_path);

  // Frame ordinals holding exactly `value` (ascending).
  std::vector<uint32_t> Frames(IndexedField f, std::string_view value) const;
  // Frame ordinals holding any value that starts with `prefix` (ascending).
  std::vector<uint32_t> FramesWithPrefix(IndexedField f, std::string_view prefix) const;
  // Like SegmentIndexBuilder::FrameCounts; nullopt for a version-1 file,
  // which holds no per-frame counts.
  std::optional<std::vector<FrameCount>> FrameCounts(IndexedField f, std::string_view value, bool prefix) const;
  // Distinct values of a field.
  size_t value_count(IndexedField f) const { return fields_[static_cast<int>(f)].count; }
  // Calls fn(value, events holding it) for every value, in ascending order.
  void ForEachValue(IndexedField f, const std::function<void(std::string_view, uint64_t)>& fn) const;
  uint32_t frame_count() const { return frame_count_; }
  size_t byte_size() const { return bytes_.size(); }

 private:
  struct FieldTable {
    uint32_t count = 0;
    size_t directory = 0;  // offset of count entries of (u32 value_off, u32 postings_off)
  };
  std::string_view ValueAt(const FieldTable& t, uint32_t i) const;
  void AppendPostings(const FieldTable& t, uint32_t i, std::vector<uint32_t>* out,
                      std::vector<FrameCount>* counts = nullptr) const;
  uint32_t LowerBound(const FieldTable& t, std::string_view v) const;

  std::string bytes_;
  uint32_t version_ = 0;
  uint32_t frame_count_ = 0;
  FieldTable fields_[kIndexedFieldCount];
};

// The frames a query can match according to an index: the intersection of
// the postings of its equality filters (type exact or prefix, actor, source,
// lead_id, workflow_id), or nullopt when the query has none.
using PostingsLookup = std::function<std::vector<uint32_t>(IndexedField, std::string_view value, bool prefix)>;
std::optional<std::vector<uint32_t>> PlanCandidates(const Query& q, const PostingsLookup& postings);

// LiveSegmentIndex: the field index of the active segment, fed by the writer
// thread as it writes frames and read by query threads, so fresh events are
// found without a scan.  Thread-safe.
class LiveSegmentIndex {
 public:
  explicit LiveSegmentIndex(uint64_t first_seq) : first_seq_(first_seq) {}
  uint64_t first_seq() const { return first_seq_; }
  void AddFrame(uint32_t ordinal, std::string_view raw);
  std::string Finish() const;
  std::optional<std::vector<uint32_t>> Candidates(const Query& q) const;
  std::vector<FrameCount> FrameCounts(IndexedField f, std::string_view value, bool prefix) const;

 private:
  const uint64_t first_seq_;
  mutable std::mutex mu_;
  SegmentIndexBuilder builder_;  // guarded by mu_
};

// SegmentIndexCache: loaded indexes of sealed segments, kept for the
// queries of one process (a sealed segment's index never changes; a removed
// segment's entry must be dropped with Erase()).  LRU, bounded in bytes.
// Thread-safe.
class SegmentIndexCache {
 public:
  explicit SegmentIndexCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  // The index of the sealed segment at segment_path, loaded on first use.
  Result<std::shared_ptr<const SegmentIndex>> Get(Env* env, const std::string& segment_path);
  void Erase(const std::string& segment_path);

 private:
  const size_t max_bytes_;
  std::mutex mu_;
  std::list<std::pair<std::string, std::shared_ptr<const SegmentIndex>>> lru_;  // front = most recent
  std::unordered_map<std::string, decltype(lru_)::iterator> map_;
  size_t bytes_ = 0;
};

// The index of a sealed segment: from `cache` when given, else loaded; null
// when it is missing or damaged (derived data: the caller reads instead).
std::shared_ptr<const SegmentIndex> SealedIndexOf(Env* env, const std::string& segment_path, SegmentIndexCache* cache);

std::string SegmentIndexPath(const std::string& segment_path);
// Writes the index file atomically (temporary name, fsync, rename).
Status WriteSegmentIndex(Env* env, const std::string& segment_path, const std::string& bytes);

}  // namespace stele
