#include "storage/segment_list.h"

#include <algorithm>

#include "storage/format.h"

namespace stele {

std::string SegmentDirOf(const std::string& dir) { return dir + "/" + std::string(format::kSegmentsDir); }

Result<std::vector<uint64_t>> ListSegments(Env* env, const std::string& segment_dir) {
  auto names = env->ListDir(segment_dir);
  if (!names.ok()) {
    if (names.status().code() == StatusCode::kNotFound) {
      return Status::NotFound(segment_dir.substr(0, segment_dir.rfind('/')) + ": no stele log here");
    }
    return names.status();
  }
  std::vector<uint64_t> firsts;
  for (const std::string& name : *names) {
    uint64_t first;
    if (format::ParseSegmentFileName(name, &first)) firsts.push_back(first);
  }
  std::sort(firsts.begin(), firsts.end());
  return firsts;
}

}  // namespace stele
