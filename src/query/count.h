// CountEvents: how many events a Query selects, answered from the field
// indexes wherever they can answer it.
//
// With at most one indexed equality filter (type exact or prefix, actor,
// source, lead_id or workflow_id) plus time and seq ranges, a sealed
// segment is counted from its index's per-frame counts: a frame the ranges
// cover whole adds its count without being read, a frame they miss is
// skipped, and only a frame they cut is decompressed and filtered.  Every
// other segment or query (two equality filters, data or regex filters, the
// active segment, a version-1 index) is counted by reading its events
// through the planner, so the answer is always exact.  `limit` caps it.
#pragma once

#include <cstdint>
#include <string>

#include "query/scan_iterator.h"
#include "stele/query.h"
#include "stele/status.h"
#include "util/env.h"

namespace stele {

struct CountStats {
  uint64_t frames_from_index = 0;   // frames counted without reading them
  uint64_t frames_read = 0;         // frames decompressed by the count
  uint64_t segments_scanned = 0;    // segments counted through the planner
};

Result<uint64_t> CountEvents(Env* env, const std::string& dir, const Query& query,
                             const ScanIterator::Context& context, CountStats* stats = nullptr);

}  // namespace stele
