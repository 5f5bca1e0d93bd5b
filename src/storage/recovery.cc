#include "storage/recovery.h"

#include <algorithm>

#include "index/lead_runs.h"
#include "index/live_index.h"
#include "index/segment_index.h"
#include "storage/format.h"
#include "storage/segment_list.h"
#include "storage/segment_reader.h"
#include "util/time.h"

namespace stele {

namespace {

// A crash between sealing a segment and writing its field index file leaves
// the file missing: rebuilt here from the frames.  (The Log writes it on
// another thread while the next segment fills, so the segment before the
// newest can be the one.)
Status RebuildMissingIndex(Env* env, const SegmentReader& r) {
  if (env->Exists(SegmentIndexPath(r.path()))) return Status::Ok();
  SegmentIndexBuilder index;
  std::string raw;
  for (size_t i = 0; i < r.frames().size(); ++i) {
    STELE_RETURN_IF_ERROR(r.ReadFrame(i, &raw));
    index.AddFrame(static_cast<uint32_t>(i), raw);
  }
  return WriteSegmentIndex(env, r.path(), index.Finish());
}

// The same crash can leave a sealed segment without its lead runs (written
// after the index, on the same thread).
Status RebuildMissingLeadRuns(Env* env, const SegmentReader& r, uint64_t min_events) {
  if (min_events == 0 || env->Exists(LeadRunsPath(r.path()))) return Status::Ok();
  auto index = SegmentIndex::Load(env, r.path());
  if (!index.ok()) return index.status();
  LeadRunOptions o;
  o.min_events = min_events;
  return WriteLeadRuns(env, r.path(), r.first_seq(), *index, o);
}

// Files a crash left half-written under a temporary name (an index or lead
// runs being written): never read, so removed.
Status RemoveTemporaryFiles(Env* env, const std::string& segment_dir) {
  auto names = env->ListDir(segment_dir);
  if (!names.ok()) return names.status();
  for (const std::string& name : *names) {
    if (name.ends_with(".tmp")) STELE_RETURN_IF_ERROR(env->Remove(segment_dir + "/" + name));
  }
  return Status::Ok();
}

}  // namespace

Result<RecoveredLog> RecoverSegments(Env* env, const std::string& segment_dir, const SegmentWriterOptions& options,
                                     uint64_t lead_run_min_events) {
  auto listed = ListSegments(env, segment_dir);
  if (!listed.ok()) return listed.status();
  const std::vector<uint64_t>& firsts = *listed;
  STELE_RETURN_IF_ERROR(RemoveTemporaryFiles(env, segment_dir));

  RecoveredLog out;
  out.info.segments = firsts.size();
  if (firsts.empty()) {
    auto w = SegmentWriter::Create(env, segment_dir, 1, NowNanos(), options);
    if (!w.ok()) return w.status();
    out.active = std::move(w).value();
    out.info.segments = 1;
    return out;
  }

  const uint64_t first = firsts.back();
  const std::string path = segment_dir + "/" + format::SegmentFileName(first);
  auto reader = SegmentReader::Open(env, path, first, SegmentReader::ScanMode::kVerifyPayloads);
  if (!reader.ok()) {
    // A crash while creating the segment can leave it shorter than its
    // header; it never held an event, so it is recreated.
    auto f = env->OpenReadable(path);
    if (f.ok() && (*f)->Size().ok() && *(*f)->Size() < format::kSegmentHeaderSize) {
      out.info.dropped_bytes = *(*f)->Size();
      auto w = SegmentWriter::Create(env, segment_dir, first, NowNanos(), options);
      if (!w.ok()) return w.status();
      out.active = std::move(w).value();
      out.info.last_seq = first - 1;
      return out;
    }
    return reader.status();
  }
  SegmentReader& r = **reader;
  if (!r.tail_error().ok()) return r.tail_error();
  out.info.last_seq = r.last_seq();
  if (options.field_index && firsts.size() >= 2) {
    const uint64_t previous = firsts[firsts.size() - 2];
    const std::string previous_path = segment_dir + "/" + format::SegmentFileName(previous);
    if (env->Exists(LiveIndexPath(previous_path))) STELE_RETURN_IF_ERROR(env->Remove(LiveIndexPath(previous_path)));
    if (!env->Exists(SegmentIndexPath(previous_path)) ||
        (lead_run_min_events > 0 && !env->Exists(LeadRunsPath(previous_path)))) {
      auto sealed = SegmentReader::Open(env, previous_path, previous);
      if (!sealed.ok()) return sealed.status();
      STELE_RETURN_IF_ERROR(RebuildMissingIndex(env, **sealed));
      STELE_RETURN_IF_ERROR(RebuildMissingLeadRuns(env, **sealed, lead_run_min_events));
    }
  }
  if (r.sealed()) {
    // A crash between writing the .fidx and removing the .lidx leaves the
    // latter; readers of a sealed segment never look at it.
    if (env->Exists(LiveIndexPath(path))) STELE_RETURN_IF_ERROR(env->Remove(LiveIndexPath(path)));
    if (options.field_index) {
      STELE_RETURN_IF_ERROR(RebuildMissingIndex(env, r));
      STELE_RETURN_IF_ERROR(RebuildMissingLeadRuns(env, r, lead_run_min_events));
    }
    auto w = SegmentWriter::Create(env, segment_dir, r.last_seq() + 1, NowNanos(), options);
    if (!w.ok()) return w.status();
    out.active = std::move(w).value();
    ++out.info.segments;
    return out;
  }
  if (r.valid_end() < r.file_size()) {
    out.info.dropped_bytes = r.file_size() - r.valid_end();
    STELE_RETURN_IF_ERROR(env->Truncate(path, r.valid_end()));
  }
  auto w = SegmentWriter::Resume(env, path, r.header(), r.frames(), r.valid_end(), options);
  if (!w.ok()) return w.status();
  // Rebuild the part of the active segment's field index that its .lidx
  // does not hold (all of it without one; bounded by the segment size).
  std::string raw;
  for (size_t i = options.field_index ? (*w)->indexed_frames() : r.frames().size(); i < r.frames().size(); ++i) {
    STELE_RETURN_IF_ERROR(r.ReadFrame(i, &raw));
    (*w)->IndexExistingFrame(static_cast<uint32_t>(i), raw);
    ++out.info.frames_reindexed;
  }
  out.active = std::move(w).value();
  return out;
}

}  // namespace stele
