#include "util/confined_env.h"
#include "stele/stats.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <unordered_map>

#include "index/live_index.h"
#include "index/segment_index.h"
#include "query/count.h"
#include "query/scan_iterator.h"
#include "query/top_k_of_sums.h"
#include "storage/format.h"
#include "storage/segment_list.h"
#include "storage/segment_reader.h"
#include "util/hash.h"
#include "util/json_escape.h"
#include "util/time.h"

namespace stele {
namespace {

bool IndexedFieldFor(StatsBy by, IndexedField* f) {
  switch (by) {
    case StatsBy::kType: *f = IndexedField::kType; return true;
    case StatsBy::kActor: *f = IndexedField::kActor; return true;
    case StatsBy::kSource: *f = IndexedField::kSource; return true;
    case StatsBy::kWorkflow: *f = IndexedField::kWorkflowId; return true;
    case StatsBy::kLead: *f = IndexedField::kLeadId; return true;
    default: return false;
  }
}

int64_t BucketNanos(StatsBy by) {
  switch (by) {
    case StatsBy::kMinute: return 60LL * 1'000'000'000;
    case StatsBy::kHour: return 3600LL * 1'000'000'000;
    default: return 86400LL * 1'000'000'000;
  }
}

// The start of the bucket of `width` holding ts (floor, also before 1970).
int64_t BucketStart(int64_t ts, int64_t width) {
  const int64_t r = ts % width;
  return r < 0 ? ts - r - width : ts - r;
}

// Counts per time bucket.  A frame whose first and last timestamps fall in
// one bucket is added whole (from its header, or its index count), so a
// count by hour or day decompresses only the frames that straddle a
// bucket's edge or that the query's ranges cut.
class BucketSink final : public CountSink {
 public:
  explicit BucketSink(int64_t width) : width_(width) {}
  bool Whole(const format::FrameIndexEntry& f, uint64_t events) override {
    const int64_t start = BucketStart(f.min_ts, width_);
    if (start != BucketStart(f.max_ts, width_)) return false;
    buckets[start] += events;
    total += events;
    return true;
  }
  void Event(const EventView& e) override {
    ++buckets[BucketStart(e.ts_ns, width_)];
    ++total;
  }
  std::map<int64_t, uint64_t> buckets;
  uint64_t total = 0;

 private:
  const int64_t width_;
};

// Does the filter select every event of a segment spanning these ranges?
bool SelectsWholeSegment(const Query& q, int64_t min_ts, int64_t max_ts) {
  if (q.type || q.actor || q.source || q.lead_id || q.workflow_id || !q.where.empty() || q.regex || q.after ||
      q.seq_from || q.seq_to) {
    return false;
  }
  if (q.since_ns && min_ts < *q.since_ns) return false;
  if (q.until_ns && max_ts >= *q.until_ns) return false;
  return true;
}

}  // namespace

std::string StatsToJson(std::string_view by, const StatsResult& r) {
  std::string out = "{\"by\":" + JsonString(by) + ",\"total\":" + std::to_string(r.total) +
                    ",\"without\":" + std::to_string(r.without) + ",\"groups\":" + std::to_string(r.groups) +
                    ",\"groups_exact\":" + (r.groups_exact ? "true" : "false");
  if (!r.groups_exact) out += ",\"membership_floor\":" + std::to_string(r.membership_floor);
  out += ",\"rows\":[";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    if (i) out += ",";
    out += "{\"key\":" + JsonString(r.rows[i].key) + ",\"count\":" + std::to_string(r.rows[i].count) + "}";
  }
  return out + "]}";
}

bool ParseStatsBy(std::string_view t, StatsBy* out) {
  static constexpr std::pair<std::string_view, StatsBy> kNames[] = {
      {"type", StatsBy::kType},     {"actor", StatsBy::kActor}, {"source", StatsBy::kSource},
      {"workflow", StatsBy::kWorkflow}, {"lead", StatsBy::kLead}, {"minute", StatsBy::kMinute},
      {"hour", StatsBy::kHour},     {"day", StatsBy::kDay}};
  for (const auto& [name, by] : kNames) {
    if (t == name) {
      *out = by;
      return true;
    }
  }
  return false;
}

namespace {

// Counts per key, exact while there are at most max_keys distinct keys.
// Beyond that it becomes SpaceSaving (Metwally, Agrawal, El Abbadi 2005)
// with max_keys counters: a new key evicts the smallest counter and starts
// from its count, so every estimate is >= the true count and any key whose
// true count exceeds total / max_keys is kept.  Memory: max_keys entries.
class KeyCounter {
 public:
  explicit KeyCounter(size_t max_keys) : max_keys_(std::max<size_t>(1, max_keys)) {}

  void Add(std::string_view key, uint64_t n) {
    auto it = counts_.find(key);
    if (it != counts_.end()) {
      if (overflowed_) by_count_.erase({it->second, &it->first});
      it->second += n;
      if (overflowed_) by_count_.insert({it->second, &it->first});
      return;
    }
    if (counts_.size() < max_keys_) {
      counts_.emplace(std::string(key), n);
      return;
    }
    if (!overflowed_) {
      overflowed_ = true;
      for (const auto& [k, c] : counts_) by_count_.insert({c, &k});
    }
    const auto smallest = *by_count_.begin();
    by_count_.erase(by_count_.begin());
    counts_.erase(counts_.find(*smallest.second));
    auto added = counts_.emplace(std::string(key), smallest.first + n).first;
    by_count_.insert({added->second, &added->first});
  }
  bool overflowed() const { return overflowed_; }
  // After overflow: the smallest counter, above which no key is missed.
  uint64_t floor() const { return by_count_.empty() ? 0 : by_count_.begin()->first; }
  const auto& counts() const { return counts_; }

 private:
  const size_t max_keys_;
  KeyCounts counts_;
  bool overflowed_ = false;
  std::set<std::pair<uint64_t, const std::string*>> by_count_;  // after overflow only
};

// What ForEachSelected hands over: the per-value counts of whole index
// parts (a sealed segment's field index, or one chunk of an active
// segment's live index), each part's values ascending and each once, and
// the value of every event it had to read instead.
class FieldVisitor {
 public:
  virtual ~FieldVisitor() = default;
  virtual void Value(std::string_view value, uint64_t events) = 0;
  virtual void EndPart() {}
  virtual void EventValue(std::string_view value) = 0;
  // Checked between segments and parts: true ends the reading early.
  virtual bool Done() const { return false; }
};

// Hands each selected event's value of the grouped field to the visitor,
// and tallies the events without it.  It needs every event's value, so it
// never takes a frame whole; the events come from the frames' columns
// (CountInto), their data not rebuilt.
class FieldSink final : public CountSink {
 public:
  FieldSink(IndexedField field, FieldVisitor* visitor, StatsResult* result)
      : field_(field), visitor_(visitor), result_(result) {}
  bool Whole(const format::FrameIndexEntry&, uint64_t) override { return false; }
  void Event(const EventView& e) override {
    ++result_->total;
    const std::string_view v = FieldOf(e, field_);
    if (v.empty()) {
      ++result_->without;
    } else {
      visitor_->EventValue(v);
    }
  }

 private:
  const IndexedField field_;
  FieldVisitor* const visitor_;
  StatsResult* const result_;
};

// Hands the visitor every value of `field` in the events the filter
// selects: from index parts where the filter selects a whole segment, from
// the events otherwise.  Fills the totals.
Status ForEachSelected(Env* env, const std::string& dir, const Query& q, IndexedField field, FieldVisitor* visitor,
                       StatsResult* result) {
  const std::string seg_dir = SegmentDirOf(dir);
  auto firsts = ListSegments(env, seg_dir);
  if (!firsts.ok()) return firsts.status();
  // The values of one index part; returns the events holding one, or
  // nullopt (and hands over nothing) when the index is damaged.
  auto visit_part = [&](const SegmentIndex& index) -> std::optional<uint64_t> {
    uint64_t grouped = 0;
    Status s = index.ForEachValue(field, [&](std::string_view v, uint64_t n) {
      visitor->Value(v, n);
      grouped += n;
    });
    if (!s.ok()) return std::nullopt;
    visitor->EndPart();
    return grouped;
  };
  for (size_t i = 0; i < firsts->size() && !visitor->Done(); ++i) {
    const uint64_t first = (*firsts)[i];
    const std::string path = seg_dir + "/" + format::SegmentFileName(first);
    auto reader = SegmentReader::Open(env, path, first);
    if (!reader.ok()) {
      if (reader.status().code() == StatusCode::kNotFound) continue;
      if (i + 1 == firsts->size() && reader.status().code() == StatusCode::kCorruption) continue;  // being created
      return reader.status();
    }
    const SegmentReader& r = **reader;
    if (r.frames().empty()) continue;
    if ((q.since_ns && r.max_ts() < *q.since_ns) || (q.until_ns && r.min_ts() >= *q.until_ns)) continue;
    if (r.sealed() && SelectsWholeSegment(q, r.min_ts(), r.max_ts())) {
      auto index = SegmentIndex::Load(env, path);
      if (index.ok() && index->frame_count() == r.frames().size()) {
        if (const std::optional<uint64_t> grouped = visit_part(*index)) {
          const uint64_t events = r.last_seq() - r.first_seq() + 1;
          result->total += events;
          result->without += events - *grouped;
          ++result->segments_from_index;
          continue;
        }
      }
    }
    uint64_t read_from = r.first_seq();
    if (!r.sealed() && SelectsWholeSegment(q, r.min_ts(), r.max_ts())) {
      // The active segment of another process's log (or of none open): the
      // chunks of its .lidx count the frames they cover, a chunk at a time,
      // and only the frames after them are read below.
      const size_t n = r.frames().size();
      uint64_t grouped = 0;
      const uint32_t end = LiveSegmentIndex::ForEachChunk(
          env, path, static_cast<uint32_t>(n), [&](const SegmentIndex& c) { grouped += visit_part(c).value_or(0); });  // chunks are version 2, never damaged once parsed
      if (end > 0) {
        read_from = end < n ? r.frames()[end].first_seq : r.last_seq() + 1;
        const uint64_t events = read_from - r.first_seq();
        result->total += events;
        result->without += events - grouped;
        ++result->segments_from_index;
        if (end == n) continue;
      }
    }
    // Count this segment's matching events, frame by frame (CountInto).
    Query part = q;
    part.seq_from = std::max<uint64_t>(q.seq_from.value_or(0), read_from);
    part.seq_to = std::min<uint64_t>(q.seq_to.value_or(UINT64_MAX), r.last_seq());
    if (*part.seq_from > *part.seq_to) continue;
    FieldSink sink(field, visitor, result);
    CountStats counted;
    STELE_RETURN_IF_ERROR(CountInto(env, dir, part, {}, &sink, &counted));
    result->frames_read += counted.frames_read;
    ++result->segments_scanned;
  }
  return Status::Ok();
}

// The index parts ForEachSelected may hand over, about: every sealed
// segment, and the chunks of the active one.
size_t EstimateIndexParts(Env* env, const std::string& dir) {
  const std::string seg_dir = SegmentDirOf(dir);
  auto firsts = ListSegments(env, seg_dir);
  if (!firsts.ok() || firsts->empty()) return 1;
  size_t parts = firsts->size();
  auto active = SegmentReader::Open(env, seg_dir + "/" + format::SegmentFileName(firsts->back()), firsts->back());
  if (active.ok() && !(*active)->sealed() && !(*active)->frames().empty()) {
    parts += ((*active)->last_seq() - (*active)->first_seq() + 1) / LiveSegmentIndex::kDefaultChunkEvents;
  }
  return parts;
}

// The first reading of a grouping by field: exact counts while there are
// at most max_keys distinct values (then it stops counting them), and at
// the same time TPUT's summary of every index part, the values of the
// events read counted exactly as one more part (TopKOfSums).  Done once
// the events read hold more than max_keys distinct values: TPUT cannot
// summarise them in the bound.
class FirstReading final : public FieldVisitor {
 public:
  FirstReading(size_t max_keys, TopKOfSums* top) : max_keys_(std::max<size_t>(1, max_keys)), top_(top) {}
  void Value(std::string_view v, uint64_t n) override {
    if (!exact_overflowed_) exact_overflowed_ = !CountUpTo(&exact_, v, n);
    if (top_) top_->Add(v, n);
  }
  void EndPart() override {
    if (top_) top_->EndSource();
  }
  void EventValue(std::string_view v) override {
    if (!exact_overflowed_) exact_overflowed_ = !CountUpTo(&exact_, v, 1);
    if (top_ && !events_overflowed_) events_overflowed_ = !CountUpTo(&events_, v, 1);
  }
  bool Done() const override { return exact_overflowed_ && (!top_ || events_overflowed_); }
  // After the reading: the events read, as TPUT's last part.
  void EndEvents() {
    if (!top_ || events_overflowed_) return;
    for (const auto& [v, n] : events_) top_->Add(v, n);
    top_->EndSource();
  }
  // Every value's count, unless there were more than max_keys values.
  const KeyCounts* exact() const { return exact_overflowed_ ? nullptr : &exact_; }
  bool events_overflowed() const { return events_overflowed_; }

 private:
  // Adds n to v's count; false (and *counts emptied) when that would make
  // more than max_keys_ values.
  bool CountUpTo(KeyCounts* counts, std::string_view v, uint64_t n) {
    if (auto it = counts->find(v); it != counts->end()) {
      it->second += n;
      return true;
    }
    if (counts->size() == max_keys_) {
      KeyCounts().swap(*counts);
      return false;
    }
    counts->emplace(std::string(v), n);
    return true;
  }

  const size_t max_keys_;
  TopKOfSums* const top_;
  KeyCounts exact_;
  bool exact_overflowed_ = false;
  KeyCounts events_;  // the events read, as TPUT's last part
  bool events_overflowed_ = false;
};

// Hands every value to one function (the SpaceSaving reading and the
// recounts).
class EachValue final : public FieldVisitor {
 public:
  explicit EachValue(std::function<void(std::string_view, uint64_t)> fn) : fn_(std::move(fn)) {}
  void Value(std::string_view v, uint64_t n) override { fn_(v, n); }
  void EventValue(std::string_view v) override { fn_(v, 1); }

 private:
  const std::function<void(std::string_view, uint64_t)> fn_;
};

}  // namespace

Result<StatsResult> StatsDirectory(const std::string& dir, const Query& filter, StatsBy by, size_t top_k,
                                   size_t max_keys) {
  ConfinedEnv confined(dir);
  Env* env = &confined;
  Query q = filter;
  q.limit = 0;
  q.descending = false;
  IndexedField field = IndexedField::kType;
  const bool by_field = IndexedFieldFor(by, &field);
  StatsResult result;

  if (!by_field) {
    BucketSink sink(BucketNanos(by));
    CountStats counted;
    STELE_RETURN_IF_ERROR(CountInto(env, dir, q, {}, &sink, &counted));
    result.total = sink.total;
    result.frames_from_index = counted.frames_from_index;
    result.frames_read = counted.frames_read;
    result.segments_scanned = counted.segments_scanned;
    result.groups = sink.buckets.size();
    for (const auto& [start, n] : sink.buckets) {
      if (top_k && result.rows.size() == top_k) break;
      result.rows.push_back({FormatRfc3339(start), n});
    }
    return result;
  }

  // Grouped by field: the first reading counts every value exactly while
  // there are at most max_keys of them, and summarises each index part for
  // TopKOfSums in case there are more.
  std::unique_ptr<TopKOfSums> top;
  if (top_k) top = std::make_unique<TopKOfSums>(top_k, max_keys / EstimateIndexParts(env, dir));
  FirstReading first(max_keys, top.get());
  STELE_RETURN_IF_ERROR(ForEachSelected(env, dir, q, field, &first, &result));
  first.EndEvents();
  std::vector<StatsRow> rows;
  if (const auto* exact = first.exact()) {
    result.groups = exact->size();
    for (const auto& [k, n] : *exact) rows.push_back({k, n});
  } else if (top_k == 0) {
    return Status::InvalidArgument("more than " + std::to_string(max_keys) +
                                   " distinct values: ask for the top K (--top / top=)");
  } else if (!first.events_overflowed()) {
    // More distinct values than max_keys, but the index parts' summaries
    // and the events read fit: TPUT, recounting only candidates it could
    // not settle.
    if (top->NeedsRecount()) {
      EachValue recount([&](std::string_view v, uint64_t n) { top->Recount(v, n); });
      StatsResult again;
      STELE_RETURN_IF_ERROR(ForEachSelected(env, dir, q, field, &recount, &again));
    }
    TopKOfSums::Outcome outcome = top->Finish();
    rows = std::move(outcome.rows);
    result.membership_floor = outcome.floor;  // a key summing to at most this may be missing
    result.recounted = outcome.recounted;
  } else {
    // The events read alone hold more than max_keys distinct values
    // (a filter that no index answers): SpaceSaving counters name the
    // candidates, a second reading counts exactly those.
    result = StatsResult{};
    KeyCounter counter(max_keys);
    EachValue count([&](std::string_view v, uint64_t n) { counter.Add(v, n); });
    STELE_RETURN_IF_ERROR(ForEachSelected(env, dir, q, field, &count, &result));
    std::vector<StatsRow> estimates;
    for (const auto& [k, n] : counter.counts()) estimates.push_back({k, n});
    const size_t candidates = std::min(estimates.size(), std::max<size_t>(4 * top_k, top_k + 64));
    std::partial_sort(estimates.begin(), estimates.begin() + static_cast<long>(candidates), estimates.end(), StatsRowBefore);
    KeyCounts exact;
    for (size_t i = 0; i < candidates; ++i) exact.emplace(estimates[i].key, 0);
    estimates.clear();
    EachValue recount([&](std::string_view v, uint64_t n) {
      if (auto it = exact.find(v); it != exact.end()) it->second += n;
    });
    StatsResult second;
    STELE_RETURN_IF_ERROR(ForEachSelected(env, dir, q, field, &recount, &second));
    for (const auto& [k, n] : exact) rows.push_back({k, n});
    result.membership_floor = counter.floor();  // keys below it may have been missed
    result.recounted = exact.size();
  }
  if (!first.exact()) {  // either method past the bound
    result.groups_exact = false;
    result.groups = max_keys;  // at least
    result.bounded_counters = max_keys;
  }
  if (top_k && rows.size() > top_k) {
    std::partial_sort(rows.begin(), rows.begin() + static_cast<long>(top_k), rows.end(), StatsRowBefore);
    rows.resize(top_k);
  } else {
    std::sort(rows.begin(), rows.end(), StatsRowBefore);
  }
  result.rows = std::move(rows);
  return result;
}

}  // namespace stele
