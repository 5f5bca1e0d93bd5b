// LogSnapshot: random access to the stored records of a data directory, by
// seq.  Takes the segment list once, opens segment readers lazily and keeps
// them, and keeps the last decompressed frame, so a run of nearby lookups
// (a Merkle proof needs a few hundred leaves) costs one open and one or two
// decompressions.  Not thread-safe; reads without the writer lock.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "storage/segment_reader.h"
#include "util/env.h"

namespace stele {

class LogSnapshot {
 public:
  static Result<std::unique_ptr<LogSnapshot>> Open(Env* env, const std::string& dir);

  // Highest seq stored (0 for an empty log), from frame indexes only.
  Result<uint64_t> LastSeq();
  // Calls fn(seq, canonical record) for seqs [first, last] in order.
  // kCorruption if a seq in the range is missing or a frame is damaged.
  Status ForEachRecord(uint64_t first, uint64_t last,
                       const std::function<void(uint64_t seq, std::string_view record)>& fn);

 private:
  LogSnapshot(Env* env, std::string segment_dir, std::vector<uint64_t> firsts)
      : env_(env), segment_dir_(std::move(segment_dir)), firsts_(std::move(firsts)) {}
  Result<SegmentReader*> Segment(size_t i);

  Env* env_;
  std::string segment_dir_;
  std::vector<uint64_t> firsts_;
  std::map<size_t, std::unique_ptr<SegmentReader>> open_;
  // The last frame decompressed, with its record offsets.
  const SegmentReader* frame_segment_ = nullptr;
  size_t frame_index_ = 0;
  std::string frame_;
  std::vector<uint32_t> offsets_;
};

}  // namespace stele
