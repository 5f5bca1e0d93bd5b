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
//
// CountInto() is the same walk with the counting left to a CountSink: a
// sink that can take a frame's events as one number (a total, a time
// bucket the frame lies in) gets them so; one that needs each event (a
// bucket per event, a group per field value) gets each one's fields,
// read from the frame's columns without rebuilding its data.
#pragma once

#include <cstdint>
#include <string>

#include "query/scan_iterator.h"
#include "stele/query.h"
#include "stele/status.h"
#include "storage/format.h"
#include "util/env.h"

namespace stele {

// Where CountInto() puts what it counts.
class CountSink {
 public:
  virtual ~CountSink() = default;
  // `events` events of `frame`, all selected by the query, none seen one by
  // one.  False: the sink needs them one at a time, and each is then passed
  // to Event() instead.
  virtual bool Whole(const format::FrameIndexEntry& frame, uint64_t events) = 0;
  // One selected event.  Its data is empty when it was read from the
  // frame's columns (the sink sees seq, ts, type and the indexed fields).
  virtual void Event(const EventView& event) = 0;
};

struct CountStats {
  uint64_t frames_from_index = 0;   // frames counted without reading them
  uint64_t frames_read = 0;         // frames decompressed by the count
  uint64_t segments_scanned = 0;    // segments counted through the planner
};

Status CountInto(Env* env, const std::string& dir, const Query& query, const ScanIterator::Context& context,
                 CountSink* sink, CountStats* stats = nullptr);

Result<uint64_t> CountEvents(Env* env, const std::string& dir, const Query& query,
                             const ScanIterator::Context& context, CountStats* stats = nullptr);

}  // namespace stele
