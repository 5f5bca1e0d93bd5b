// Recovery: brings a data directory to a consistent state at writer open.
//
// Sealed segments are trusted from their trailers and not rescanned.  The
// newest segment, if unsealed, is scanned with payload checksums, and any
// torn tail (an incomplete or checksum-failing frame and everything after
// it) is truncated away.  If the newest segment is sealed, a new active
// segment is created after it.  Missing derived files of the two newest
// sealed segments (field index, lead runs) are rebuilt, and temporary files
// a crash left are removed.  Requires the directory lock.
#pragma once

#include <memory>
#include <string>

#include "stele/log.h"
#include "storage/segment_writer.h"
#include "util/env.h"

namespace stele {

struct RecoveredLog {
  std::unique_ptr<SegmentWriter> active;
  RecoveryInfo info;
};

// lead_run_min_events (Options): when set, the lead runs of the two newest
// sealed segments are rebuilt if a crash left them unwritten.
Result<RecoveredLog> RecoverSegments(Env* env, const std::string& segment_dir, const SegmentWriterOptions& options,
                                     uint64_t lead_run_min_events = 0);

}  // namespace stele
