#include "ingest/retention.h"

#include "index/lead_runs.h"
#include "index/live_index.h"
#include "index/segment_index.h"
#include "storage/format.h"
#include "storage/segment_list.h"
#include "storage/segment_reader.h"

namespace stele {

size_t SegmentsToRemove(const std::vector<SealedSegment>& sealed, uint64_t active_bytes,
                        const RetentionPolicy& policy, int64_t now_ns, uint64_t covered_through) {
  size_t n = 0;
  while (n < sealed.size() && sealed[n].last_seq <= covered_through) ++n;
  if (policy.max_age.count() > 0) {
    const int64_t cutoff = now_ns - std::chrono::duration_cast<std::chrono::nanoseconds>(policy.max_age).count();
    while (n < sealed.size() && sealed[n].max_ts < cutoff) ++n;
  }
  if (policy.max_bytes > 0) {
    uint64_t total = active_bytes;
    for (size_t i = n; i < sealed.size(); ++i) total += sealed[i].bytes;
    while (n < sealed.size() && total > policy.max_bytes) total -= sealed[n++].bytes;
  }
  return n;
}

Result<std::vector<SealedSegment>> ListSealedSegments(Env* env, const std::string& segment_dir,
                                                      uint64_t* active_bytes) {
  auto firsts = ListSegments(env, segment_dir);
  if (!firsts.ok()) return firsts.status();
  std::vector<SealedSegment> out;
  *active_bytes = 0;
  for (size_t i = 0; i < firsts->size(); ++i) {
    const std::string path = segment_dir + "/" + format::SegmentFileName((*firsts)[i]);
    if (i + 1 == firsts->size()) {
      auto f = env->OpenReadable(path);
      if (f.ok()) {
        auto size = (*f)->Size();
        if (size.ok()) *active_bytes = *size;
      }
      break;
    }
    auto r = SegmentReader::Open(env, path, (*firsts)[i]);
    if (!r.ok()) return r.status();
    if (!(*r)->sealed()) return Status::Corruption(path + ": an older segment is not sealed");
    SealedSegment s{(*r)->first_seq(), (*r)->last_seq(), (*r)->max_ts(), (*r)->file_size()};
    for (const std::string& side : {SegmentIndexPath(path), LeadRunsPath(path)}) {
      if (auto f = env->OpenReadable(side); f.ok()) {
        if (auto size = (*f)->Size(); size.ok()) s.bytes += *size;
      }
    }
    out.push_back(s);
  }
  return out;
}

Status RemoveSegmentFiles(Env* env, const std::string& segment_dir, uint64_t first_seq) {
  const std::string path = segment_dir + "/" + format::SegmentFileName(first_seq);
  for (const std::string& p : {SegmentIndexPath(path), LeadRunsPath(path), format::SideIndexPath(path), LiveIndexPath(path), path}) {
    Status s = env->Remove(p);
    if (!s.ok() && s.code() != StatusCode::kNotFound) return s;
  }
  return Status::Ok();
}

}  // namespace stele
