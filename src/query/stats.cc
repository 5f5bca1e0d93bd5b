#include "stele/stats.h"

#include <algorithm>
#include <unordered_map>

#include "index/segment_index.h"
#include "query/scan_iterator.h"
#include "storage/format.h"
#include "storage/segment_list.h"
#include "storage/segment_reader.h"
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

struct TransparentHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

}  // namespace

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

Result<StatsResult> StatsDirectory(const std::string& dir, const Query& filter, StatsBy by, size_t top_k) {
  Env* env = Env::Default();
  const std::string seg_dir = SegmentDirOf(dir);
  auto firsts = ListSegments(env, seg_dir);
  if (!firsts.ok()) return firsts.status();
  Query q = filter;
  q.limit = 0;
  q.descending = false;
  IndexedField field = IndexedField::kType;
  const bool by_field = IndexedFieldFor(by, &field);
  StatsResult result;
  std::unordered_map<std::string, uint64_t, TransparentHash, std::equal_to<>> counts;
  std::unordered_map<int64_t, uint64_t> buckets;

  for (size_t i = 0; i < firsts->size(); ++i) {
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
    if (by_field && r.sealed() && SelectsWholeSegment(q, r.min_ts(), r.max_ts())) {
      auto index = SegmentIndex::Load(env, path);
      if (index.ok() && index->frame_count() == r.frames().size()) {
        const uint64_t events = r.last_seq() - r.first_seq() + 1;
        uint64_t grouped = 0;
        index->ForEachValue(field, [&](std::string_view v, uint64_t n) {
          auto it = counts.find(v);
          if (it == counts.end()) it = counts.emplace(std::string(v), 0).first;
          it->second += n;
          grouped += n;
        });
        result.total += events;
        result.without += events - grouped;
        ++result.segments_from_index;
        continue;
      }
    }
    // Read this segment's matching events through the planner.
    Query part = q;
    part.seq_from = std::max<uint64_t>(q.seq_from.value_or(0), r.first_seq());
    part.seq_to = std::min<uint64_t>(q.seq_to.value_or(UINT64_MAX), r.last_seq());
    if (*part.seq_from > *part.seq_to) continue;
    auto it = ScanIterator::Open(env, dir, part);
    if (!it.ok()) return it.status();
    EventView e;
    while ((*it)->Next(&e)) {
      ++result.total;
      if (by_field) {
        const std::string_view v = FieldOf(e, field);
        if (v.empty()) {
          ++result.without;
          continue;
        }
        auto c = counts.find(v);
        if (c == counts.end()) c = counts.emplace(std::string(v), 0).first;
        ++c->second;
      } else {
        const int64_t width = BucketNanos(by);
        ++buckets[e.ts_ns - e.ts_ns % width];
      }
    }
    STELE_RETURN_IF_ERROR((*it)->status());
    ++result.segments_scanned;
  }

  if (by_field) {
    result.groups = counts.size();
    std::vector<StatsRow> rows;
    rows.reserve(counts.size());
    for (auto& [k, n] : counts) rows.push_back({k, n});
    auto order = [](const StatsRow& a, const StatsRow& b) {
      return a.count != b.count ? a.count > b.count : a.key < b.key;
    };
    if (top_k && rows.size() > top_k) {
      std::partial_sort(rows.begin(), rows.begin() + static_cast<long>(top_k), rows.end(), order);
      rows.resize(top_k);
    } else {
      std::sort(rows.begin(), rows.end(), order);
    }
    result.rows = std::move(rows);
  } else {
    result.groups = buckets.size();
    std::vector<std::pair<int64_t, uint64_t>> sorted(buckets.begin(), buckets.end());
    std::sort(sorted.begin(), sorted.end());
    if (top_k && sorted.size() > top_k) sorted.resize(top_k);
    for (const auto& [start, n] : sorted) result.rows.push_back({FormatRfc3339(start), n});
  }
  return result;
}

}  // namespace stele
