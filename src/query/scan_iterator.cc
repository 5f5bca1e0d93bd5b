#include "query/scan_iterator.h"

#include <algorithm>
#include <iterator>

#include "event/record.h"
#include "index/segment_index.h"
#include "storage/format.h"
#include "storage/segment_list.h"
#include "util/coding.h"

namespace stele {

Result<std::unique_ptr<ScanIterator>> ScanIterator::Open(Env* env, const std::string& dir, const Query& query) {
  auto filter = EventFilter::Create(query);
  if (!filter.ok()) return filter.status();
  const std::string segment_dir = SegmentDirOf(dir);
  auto segments = ListSegments(env, segment_dir);
  if (!segments.ok()) return segments.status();
  return std::unique_ptr<ScanIterator>(
      new ScanIterator(env, segment_dir, query, std::move(filter).value(), std::move(segments).value()));
}

ScanIterator::ScanIterator(Env* env, std::string segment_dir, const Query& query, std::unique_ptr<EventFilter> filter,
                           std::vector<uint64_t> segments)
    : env_(env),
      segment_dir_(std::move(segment_dir)),
      query_(query),
      filter_(std::move(filter)),
      segments_(std::move(segments)) {}

bool ScanIterator::Fail(Status s) {
  status_ = std::move(s);
  done_ = true;
  segment_.reset();
  return false;
}

bool ScanIterator::OpenNextSegment() {
  segment_.reset();
  while (segments_done_ < segments_.size()) {
    const size_t k = segments_done_++;
    const size_t i = query_.descending ? segments_.size() - 1 - k : k;
    const uint64_t first = segments_[i];
    const bool is_last = i + 1 == segments_.size();
    // Bounds from the names alone: segment i holds [first, next_first - 1].
    const uint64_t last_bound = is_last ? UINT64_MAX : segments_[i + 1] - 1;
    if (!filter_->MayMatchRange(first, last_bound, INT64_MIN, INT64_MAX)) continue;
    auto reader = SegmentReader::Open(env_, segment_dir_ + "/" + format::SegmentFileName(first), first);
    if (!reader.ok()) {
      // Removed by retention after we listed it: nothing to read.
      if (reader.status().code() == StatusCode::kNotFound) continue;
      // The newest segment may still be having its header written.
      if (is_last && reader.status().code() == StatusCode::kCorruption) {
        auto f = env_->OpenReadable(segment_dir_ + "/" + format::SegmentFileName(first));
        if (f.ok() && (*f)->Size().ok() && *(*f)->Size() < format::kSegmentHeaderSize) continue;
      }
      return Fail(reader.status());
    }
    if ((*reader)->frames().empty() && (*reader)->tail_error().ok()) continue;
    if (!filter_->MayMatchRange((*reader)->first_seq(), (*reader)->last_seq(), (*reader)->min_ts(),
                               (*reader)->max_ts())) {
      continue;
    }
    segment_ = std::move(reader).value();
    frames_done_ = 0;
    PlanFrames();
    return true;
  }
  done_ = true;
  return false;
}

namespace {

std::vector<uint32_t> Intersect(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  std::vector<uint32_t> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

}  // namespace

void ScanIterator::PlanFrames() {
  const size_t n = segment_->frames().size();
  frame_order_.clear();
  bool planned = false;
  const bool has_equality = query_.type || query_.actor || query_.source || query_.lead_id || query_.workflow_id;
  if (segment_->sealed() && has_equality) {
    auto index = SegmentIndex::Load(env_, segment_->path());
    // No index (crash before it was written) or a damaged one: it is derived
    // data, so the segment is scanned instead.
    if (index.ok() && index->frame_count() == n) {
      std::vector<uint32_t> candidates;
      bool first = true;
      auto narrow = [&](std::vector<uint32_t> list) {
        candidates = first ? std::move(list) : Intersect(candidates, list);
        first = false;
      };
      if (query_.type && query_.type->ends_with(".*")) {
        narrow(index->FramesWithPrefix(IndexedField::kType, query_.type->substr(0, query_.type->size() - 1)));
      } else if (query_.type && *query_.type != "*") {
        narrow(index->Frames(IndexedField::kType, *query_.type));
      }
      if (query_.actor) narrow(index->Frames(IndexedField::kActor, *query_.actor));
      if (query_.source) narrow(index->Frames(IndexedField::kSource, *query_.source));
      if (query_.lead_id) narrow(index->Frames(IndexedField::kLeadId, *query_.lead_id));
      if (query_.workflow_id) narrow(index->Frames(IndexedField::kWorkflowId, *query_.workflow_id));
      if (!first) {
        frame_order_ = std::move(candidates);
        planned = true;
      }
    }
  }
  if (!planned) {
    frame_order_.resize(n);
    for (size_t i = 0; i < n; ++i) frame_order_[i] = static_cast<uint32_t>(i);
  }
  if (query_.descending) std::reverse(frame_order_.begin(), frame_order_.end());
}

bool ScanIterator::LoadNextFrame() {
  const auto& frames = segment_->frames();
  while (frames_done_ < frame_order_.size()) {
    const size_t i = frame_order_[frames_done_++];
    if (i >= frames.size()) continue;
    const format::FrameIndexEntry& f = frames[i];
    if (!filter_->MayMatchRange(f.first_seq, f.last_seq(), f.min_ts, f.max_ts)) continue;
    ++frames_read_;
    Status s = segment_->ReadFrame(i, &frame_);
    if (!s.ok()) return Fail(std::move(s));
    offsets_.clear();
    size_t pos = 0;
    while (pos + 4 <= frame_.size()) {
      offsets_.push_back(static_cast<uint32_t>(pos));
      pos += 4 + GetU32(frame_.data() + pos);
    }
    if (pos != frame_.size() || offsets_.size() != f.count) {
      return Fail(Status::Corruption(segment_->path() + ": frame " + std::to_string(i) +
                                     " record lengths do not add up"));
    }
    if (query_.descending) std::reverse(offsets_.begin(), offsets_.end());
    next_record_ = 0;
    return true;
  }
  if (!segment_->tail_error().ok()) return Fail(segment_->tail_error());
  return false;
}

bool ScanIterator::Next(EventView* event) {
  if (done_) return false;
  if (query_.limit != 0 && emitted_ >= query_.limit) {
    done_ = true;
    return false;
  }
  while (true) {
    while (next_record_ < offsets_.size()) {
      const uint32_t off = offsets_[next_record_++];
      const uint32_t len = GetU32(frame_.data() + off);
      if (!DecodeRecord(std::string_view(frame_.data() + off + 4, len), event)) {
        return Fail(Status::Corruption(segment_->path() + ": malformed record in a frame that passed its checksum"));
      }
      if (filter_->Matches(*event)) {
        ++emitted_;
        return true;
      }
    }
    offsets_.clear();
    next_record_ = 0;
    if (segment_ && LoadNextFrame()) continue;
    if (done_) return false;
    if (!OpenNextSegment()) return false;
  }
}

Result<std::unique_ptr<EventIterator>> QueryDirectory(const std::string& dir, const Query& query) {
  auto it = ScanIterator::Open(Env::Default(), dir, query);
  if (!it.ok()) return it.status();
  return std::unique_ptr<EventIterator>(std::move(it).value());
}

}  // namespace stele
