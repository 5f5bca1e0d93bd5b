// The segment list of a data directory: first seqs of its segment files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/env.h"

namespace stele {

// <dir>/segments
std::string SegmentDirOf(const std::string& dir);
// First seqs of the segment files in segment_dir, ascending.  kNotFound
// (naming the data directory) when there is no segment directory.
Result<std::vector<uint64_t>> ListSegments(Env* env, const std::string& segment_dir);

}  // namespace stele
