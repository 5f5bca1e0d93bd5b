// Statistics: counts of the events a Query selects, grouped by an indexed
// field or by time bucket (SPEC §4).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "stele/query.h"
#include "stele/status.h"

namespace stele {

enum class StatsBy { kType, kActor, kSource, kWorkflow, kLead, kMinute, kHour, kDay };
bool ParseStatsBy(std::string_view text, StatsBy* out);  // type|actor|source|workflow|lead|minute|hour|day

struct StatsRow {
  std::string key;  // the field value, or the bucket start (RFC 3339 UTC)
  uint64_t count = 0;
};

struct StatsResult {
  // Field groups: by count descending, then key; at most top_k.
  // Time buckets: chronological; at most top_k (the first ones).
  std::vector<StatsRow> rows;
  uint64_t total = 0;         // events the filter selects
  uint64_t without = 0;       // of those, events without the grouped field
  uint64_t groups = 0;        // distinct keys before the top-k cut (a lower bound unless groups_exact)
  bool groups_exact = true;
  // Set when there were more distinct keys than the counter bound
  // (max_keys).  Every reported count is still exact, and every key whose
  // count exceeds membership_floor is guaranteed to have been considered,
  // so the rows are the true top k whenever the k-th count exceeds it.
  // Two methods, both documented in docs/performance.md ("Stats top-k"):
  // where the filter selects whole segments, TPUT over the field indexes'
  // per-value counts (query/top_k_of_sums.h), which recounts only keys it
  // could not settle (often none); where more than max_keys distinct keys
  // come from events read, SpaceSaving counters and an exact second pass.
  uint64_t bounded_counters = 0;
  uint64_t membership_floor = 0;
  uint64_t recounted = 0;  // keys counted in a second reading
  uint64_t segments_from_index = 0;  // segments counted from their field index alone
  uint64_t segments_scanned = 0;     // segments whose events were read
  // Time buckets: frames added whole from their header or index count (all
  // their timestamps in one bucket, all their events selected).  Both
  // groupings: frames decompressed (their columns read, data not rebuilt).
  uint64_t frames_from_index = 0;
  uint64_t frames_read = 0;
};

// {"by":..,"total":..,"without":..,"groups":..,"groups_exact":..,["membership_floor":..,]"rows":[{"key":..,"count":..}]}
std::string StatsToJson(std::string_view by, const StatsResult& result);

inline constexpr size_t kDefaultStatsKeys = 1u << 18;
// Exact counts.  Grouped by an indexed field, a segment is counted from
// its field index (or the chunks of an active segment's live index),
// without decompressing a frame, when the filter selects all of it (no
// field, data or seq filter, and a time range that covers the segment).
// Grouped by time, a frame whose timestamps all fall in one bucket and
// whose events the filter selects all of (by its ranges, and its index
// count for one field filter) is added whole, unread.  Every other frame is
// read as CountEvents reads one: its columns decompressed, its data not
// rebuilt, unless a data or regex filter needs it (then the planner).
// Memory: up to max_keys distinct keys, one exact pass; beyond, top_k == 0
// (every group) is refused and the top k are found as StatsResult says, in
// at most about 3 x max_keys keys whatever the log's size.
Result<StatsResult> StatsDirectory(const std::string& dir, const Query& filter, StatsBy by, size_t top_k,
                                   size_t max_keys = kDefaultStatsKeys);

}  // namespace stele
