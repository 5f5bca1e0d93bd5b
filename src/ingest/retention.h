// Retention: which old segments to remove, and removing them (SPEC §2).
//
// Retention only ever removes a prefix of the sealed segments, oldest first,
// never the active one, so what remains is one contiguous seq range that
// verifies from the Merkle base (integrity/merkle_base.h).  Planning is a
// pure function of the segments' facts; LogImpl runs it on its writer thread
// after each seal, at open, and when idle.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "util/env.h"

namespace stele {

struct RetentionPolicy {
  std::chrono::seconds max_age{0};  // 0: no age limit
  uint64_t max_bytes = 0;           // 0: no size limit
  bool enabled() const { return max_age.count() > 0 || max_bytes > 0; }
};

// What retention needs to know of one sealed segment.
struct SealedSegment {
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  int64_t max_ts = 0;   // newest event time in it
  uint64_t bytes = 0;   // segment file + its field index
};

// The number of oldest sealed segments to remove: those whose newest event
// is older than now - max_age, then more while the whole log (sealed +
// `active_bytes`) is over max_bytes, and at least those whose events are
// all at or below `covered_through` (already folded into the Merkle base by
// an interrupted earlier run).
size_t SegmentsToRemove(const std::vector<SealedSegment>& sealed, uint64_t active_bytes,
                        const RetentionPolicy& policy, int64_t now_ns, uint64_t covered_through);

// Facts of every segment in segment_dir but the newest (the active one),
// oldest first, and the newest one's size in *active_bytes.
Result<std::vector<SealedSegment>> ListSealedSegments(Env* env, const std::string& segment_dir,
                                                      uint64_t* active_bytes);

// Removes one segment: its field index first, then the segment file (a crash
// in between leaves a segment without an index, which queries scan).
Status RemoveSegmentFiles(Env* env, const std::string& segment_dir, uint64_t first_seq);

}  // namespace stele
