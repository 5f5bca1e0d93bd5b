#include "query/count.h"

#include <optional>

#include "event/record.h"
#include "index/segment_index.h"
#include "query/filter.h"
#include "query/frame_cache.h"
#include "storage/format.h"
#include "storage/segment_list.h"
#include "storage/segment_reader.h"
#include "util/coding.h"
#include "util/ordered_read_ahead.h"
#include "util/task_thread.h"

namespace stele {
namespace {

// The one indexed equality filter of a query the index can count, or
// nullopt when the query is not countable from per-frame counts (two or
// more equality filters, a data or regex filter).  `field` is unset when
// the query has no equality filter at all (every event of a frame counts).
struct Countable {
  std::optional<IndexedField> field;
  std::string value;
  bool prefix = false;
};

std::optional<Countable> CountableQuery(const Query& q) {
  if (!q.where.empty() || q.regex) return std::nullopt;
  Countable c;
  int filters = 0;
  if (q.type && *q.type != "*") {
    ++filters;
    c.field = IndexedField::kType;
    c.prefix = q.type->ends_with(".*");
    c.value = c.prefix ? q.type->substr(0, q.type->size() - 1) : *q.type;
  }
  const std::pair<const std::optional<std::string>*, IndexedField> others[] = {
      {&q.actor, IndexedField::kActor},
      {&q.source, IndexedField::kSource},
      {&q.lead_id, IndexedField::kLeadId},
      {&q.workflow_id, IndexedField::kWorkflowId},
  };
  for (const auto& [v, f] : others) {
    if (!*v) continue;
    ++filters;
    c.field = f;
    c.value = **v;
  }
  if (filters > 1) return std::nullopt;
  return c;
}

// The seq and ts bounds of a query, inclusive.
struct Bounds {
  uint64_t seq_lo = 0, seq_hi = UINT64_MAX;
  int64_t ts_lo = INT64_MIN, ts_hi = INT64_MAX;

  explicit Bounds(const Query& q) {
    if (q.seq_from) seq_lo = *q.seq_from;
    if (q.seq_to) seq_hi = *q.seq_to;
    if (q.after != 0) {
      if (q.descending) seq_hi = std::min(seq_hi, q.after - 1);
      else seq_lo = std::max(seq_lo, q.after + 1);
    }
    if (q.since_ns) ts_lo = *q.since_ns;
    if (q.until_ns) ts_hi = *q.until_ns == INT64_MIN ? INT64_MIN : *q.until_ns - 1;
  }
  bool Covers(const format::FrameIndexEntry& f) const {
    return f.first_seq >= seq_lo && f.last_seq() <= seq_hi && f.min_ts >= ts_lo && f.max_ts <= ts_hi;
  }
  bool Misses(const format::FrameIndexEntry& f) const {
    return f.last_seq() < seq_lo || f.first_seq > seq_hi || f.max_ts < ts_lo || f.min_ts > ts_hi;
  }
};

// The (frame, selected events) list of one segment, from its field index's
// per-frame counts (a sealed segment's file index, or the live index of
// the active one), or from the frame headers when the query has no
// equality filter.  nullopt when it cannot (no index, a version-1 index,
// frames that do not line up), and the caller reads the segment instead.
// Frames from *unindexed_from on are listed with their header counts and
// must be read, not taken whole.
std::optional<std::vector<FrameCount>> FrameCountsOf(Env* env, const SegmentReader& segment, const Countable& countable,
                                                     const ScanIterator::Context& context, uint32_t* unindexed_from) {
  const auto& frames = segment.frames();
  *unindexed_from = UINT32_MAX;
  if (!countable.field) {
    std::vector<FrameCount> counts(frames.size());
    for (uint32_t i = 0; i < frames.size(); ++i) counts[i] = {i, frames[i].count};
    return counts;
  }
  const IndexedField field = *countable.field;
  const LiveSegmentIndex* in_memory = ScanIterator::InMemoryIndex(context, segment.first_seq());
  if (segment.sealed()) {
    const auto index = SealedIndexOf(env, segment.path(), context.sealed_indexes.get());
    if (index && index->frame_count() == frames.size()) return index->FrameCounts(field, countable.value, countable.prefix);
    if (in_memory) return in_memory->FrameCounts(field, countable.value, countable.prefix);  // sealed a moment ago
    return std::nullopt;
  }
  // The writer's live index may already hold frames written after this
  // reader looked; those are beyond frames() and are left out by the caller.
  if (in_memory) return in_memory->FrameCounts(field, countable.value, countable.prefix);
  // Another process writes this segment: its .lidx counts all but the
  // newest frames, which are read.  A chunk at a time, in frame order.
  std::vector<FrameCount> listed;
  *unindexed_from = LiveSegmentIndex::ForEachChunk(
      env, segment.path(), static_cast<uint32_t>(frames.size()), [&](const SegmentIndex& chunk) {
        auto part = chunk.FrameCounts(field, countable.value, countable.prefix);
        if (part) listed.insert(listed.end(), part->begin(), part->end());
      });
  if (*unindexed_from == 0) return std::nullopt;
  for (uint32_t i = *unindexed_from; i < frames.size(); ++i) listed.push_back({i, frames[i].count});
  return listed;
}

// A frame a count reads, loaded by either thread of an OrderedReadAhead.
struct LoadedFields {
  SegmentReader::FrameFields fields;
  Status status;
};

// Once a segment has this many frames to read, they are read, checked and
// decompressed on both cores (OrderedReadAhead): decompression is more than
// half of such a count (`perf` of `stele stats --type T --by lead` on 6M
// events: 55 % of the samples in libzstd), and the frames are still
// visited one at a time and in order, so a sink sees the same sequence.
constexpr size_t kReadAheadMinFrames = 4;

// Counts one segment into `sink` from its per-frame counts: a frame the
// ranges cover whole goes to the sink as one number if it takes it, a frame
// they miss is skipped, and every other listed frame is read and filtered,
// in frame order, from the frame cache or through an OrderedReadAhead.
// nullopt when FrameCountsOf() cannot list the frames.
std::optional<Status> CountFromIndex(Env* env, const SegmentReader& segment, const Countable& countable,
                                     const Bounds& bounds, EventFilter* filter, const ScanIterator::Context& context,
                                     std::unique_ptr<TaskThread>* helper, CountSink* sink, CountStats* stats) {
  uint32_t unindexed_from = UINT32_MAX;
  std::optional<std::vector<FrameCount>> counts = FrameCountsOf(env, segment, countable, context, &unindexed_from);
  if (!counts) return std::nullopt;
  const auto& frames = segment.frames();
  // The frames to read, in order, each from the cache (then `cached` holds
  // it) or from disk.  A sink counts, so taking whole frames first changes
  // nothing it ends with.
  struct ToRead {
    uint32_t frame;
    std::shared_ptr<const CachedFrame> cached;
  };
  std::vector<ToRead> to_read;
  std::vector<uint32_t> from_disk;
  for (const FrameCount& c : *counts) {
    if (c.frame >= frames.size()) {
      if (!segment.sealed()) break;  // written after this reader looked
      return Status::Corruption(segment.path() + ": index names a frame past the end");
    }
    const format::FrameIndexEntry& f = frames[c.frame];
    if (bounds.Misses(f)) continue;
    if (bounds.Covers(f) && c.frame < unindexed_from && sink->Whole(f, c.events)) {
      if (stats) ++stats->frames_from_index;
      continue;
    }
    std::shared_ptr<const CachedFrame> cached = context.frames ? context.frames->Get(segment.path(), c.frame) : nullptr;
    if (!cached) from_disk.push_back(c.frame);
    to_read.push_back({c.frame, std::move(cached)});
  }
  if (stats) stats->frames_read += from_disk.size();
  // Not cached: the frame's fields are read straight from its columns,
  // without rebuilding its records or its data (a count needs neither), and
  // the frame is not cached for it.  Cached: only the records holding an
  // exact value are decoded.
  const bool two_cores = from_disk.size() >= kReadAheadMinFrames;
  if (two_cores && !*helper) *helper = std::make_unique<TaskThread>("stele-count");
  OrderedReadAhead<LoadedFields> reader(
      two_cores ? helper->get() : nullptr, from_disk.size(), [](size_t) { return true; },
      [&](size_t k, bool, LoadedFields* out) { out->status = segment.ReadFrameFields(from_disk[k], &out->fields); });
  auto visit = [&](const EventView& ev) {
    if (filter->Matches(ev)) sink->Event(ev);
  };
  EventView e;
  std::vector<uint32_t> picked;
  for (const ToRead& r : to_read) {
    if (!r.cached) {
      const LoadedFields* loaded = reader.Next();
      STELE_RETURN_IF_ERROR(loaded->status);
      STELE_RETURN_IF_ERROR(segment.VisitFrameFields(loaded->fields, visit));
      continue;
    }
    const CachedFrame& cf = *r.cached;
    const bool narrow = countable.field && !countable.prefix;
    if (narrow) picked = cf.RecordsWith(*countable.field, countable.value);
    const size_t n = narrow ? picked.size() : cf.offsets().size();
    for (size_t k = 0; k < n; ++k) {
      const char* rec = cf.raw().data() + cf.offsets()[narrow ? picked[k] : k];
      if (!DecodeRecord(std::string_view(rec + 4, GetU32(rec)), &e)) {
        return Status::Corruption(segment.path() + ": malformed record in a frame that passed its checksum");
      }
      visit(e);
    }
  }
  return Status::Ok();
}

// The sink of CountEvents(): one total.
class TotalSink final : public CountSink {
 public:
  bool Whole(const format::FrameIndexEntry&, uint64_t events) override {
    total += events;
    return true;
  }
  void Event(const EventView&) override { ++total; }
  uint64_t total = 0;
};

}  // namespace

Status CountInto(Env* env, const std::string& dir, const Query& query, const ScanIterator::Context& context,
                 CountSink* sink, CountStats* stats) {
  Query q = query;
  q.limit = 0;
  auto filter = EventFilter::Create(q);
  if (!filter.ok()) return filter.status();
  const std::optional<Countable> countable = CountableQuery(q);
  const Bounds bounds(q);
  const std::string segment_dir = SegmentDirOf(dir);
  auto segments = ListSegments(env, segment_dir);
  if (!segments.ok()) return segments.status();
  std::unique_ptr<TaskThread> helper;  // lent to each segment's OrderedReadAhead
  for (size_t i = 0; i < segments->size(); ++i) {
    const uint64_t first = (*segments)[i];
    const bool is_last = i + 1 == segments->size();
    const uint64_t last_bound = is_last ? UINT64_MAX : (*segments)[i + 1] - 1;
    if (!(*filter)->MayMatchRange(first, last_bound, INT64_MIN, INT64_MAX)) continue;
    if (countable) {
      const std::string path = segment_dir + "/" + format::SegmentFileName(first);
      auto reader = OpenSegmentReader(env, path, first, context.readers.get());
      if (!reader.ok() && reader.status().code() == StatusCode::kNotFound) continue;  // removed by retention
      if (reader.ok() && (*reader)->tail_error().ok()) {
        std::optional<Status> counted =
            CountFromIndex(env, **reader, *countable, bounds, filter->get(), context, &helper, sink, stats);
        if (counted) {
          STELE_RETURN_IF_ERROR(*counted);
          continue;
        }
      }
      // Anything odd (a damaged tail, a header still being written) is left
      // to the planner, which knows how to report it.
    }
    // Read this segment's events through the planner.
    Query part = q;
    part.seq_from = std::max<uint64_t>(q.seq_from.value_or(1), first);
    part.seq_to = std::min<uint64_t>(q.seq_to.value_or(UINT64_MAX), last_bound);
    if (*part.seq_from > *part.seq_to) continue;
    auto it = ScanIterator::Open(env, dir, part, context);
    if (!it.ok()) return it.status();
    EventView e;
    while ((*it)->Next(&e)) sink->Event(e);
    STELE_RETURN_IF_ERROR((*it)->status());
    if (stats) {
      ++stats->segments_scanned;
      stats->frames_read += (*it)->frames_read();
    }
  }
  return Status::Ok();
}

Result<uint64_t> CountEvents(Env* env, const std::string& dir, const Query& query,
                             const ScanIterator::Context& context, CountStats* stats) {
  TotalSink sink;
  STELE_RETURN_IF_ERROR(CountInto(env, dir, query, context, &sink, stats));
  if (query.limit != 0) return std::min<uint64_t>(sink.total, query.limit);
  return sink.total;
}

}  // namespace stele
