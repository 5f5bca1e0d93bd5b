#include "storage/log_snapshot.h"

#include <algorithm>

#include "storage/format.h"
#include "storage/segment_list.h"
#include "util/coding.h"

namespace stele {

Result<std::unique_ptr<LogSnapshot>> LogSnapshot::Open(Env* env, const std::string& dir) {
  const std::string seg_dir = SegmentDirOf(dir);
  auto firsts = ListSegments(env, seg_dir);
  if (!firsts.ok()) return firsts.status();
  return std::unique_ptr<LogSnapshot>(new LogSnapshot(env, seg_dir, std::move(firsts).value()));
}

Result<SegmentReader*> LogSnapshot::Segment(size_t i) {
  auto it = open_.find(i);
  if (it != open_.end()) return it->second.get();
  auto r = SegmentReader::Open(env_, segment_dir_ + "/" + format::SegmentFileName(firsts_[i]), firsts_[i]);
  if (!r.ok()) return r.status();
  SegmentReader* raw = r->get();
  open_.emplace(i, std::move(r).value());
  return raw;
}

Result<uint64_t> LogSnapshot::LastSeq() {
  for (size_t i = firsts_.size(); i-- > 0;) {
    auto seg = Segment(i);
    if (!seg.ok()) {
      // The newest segment may still be getting its header.
      if (i + 1 == firsts_.size() && seg.status().code() == StatusCode::kCorruption) continue;
      return seg.status();
    }
    if (!(*seg)->frames().empty()) return (*seg)->last_seq();
  }
  return uint64_t{0};
}

Status LogSnapshot::ForEachRecord(uint64_t first, uint64_t last,
                                  const std::function<void(uint64_t, std::string_view)>& fn) {
  uint64_t seq = first;
  while (seq <= last) {
    // The segment whose name range holds seq.
    auto up = std::upper_bound(firsts_.begin(), firsts_.end(), seq);
    if (up == firsts_.begin()) return Status::Corruption("event seq " + std::to_string(seq) + " is missing");
    auto seg = Segment(static_cast<size_t>(up - firsts_.begin()) - 1);
    if (!seg.ok()) return seg.status();
    const auto& frames = (*seg)->frames();
    auto f = std::upper_bound(frames.begin(), frames.end(), seq,
                              [](uint64_t s, const format::FrameIndexEntry& e) { return s < e.first_seq; });
    if (f == frames.begin() || seq > (f - 1)->last_seq()) {
      return Status::Corruption("event seq " + std::to_string(seq) + " is missing");
    }
    const size_t fi = static_cast<size_t>(f - frames.begin()) - 1;
    if (frame_segment_ != *seg || frame_index_ != fi) {
      frame_segment_ = nullptr;
      STELE_RETURN_IF_ERROR((*seg)->ReadFrame(fi, &frame_));
      offsets_.clear();
      for (size_t pos = 0; pos + 4 <= frame_.size(); pos += 4 + GetU32(frame_.data() + pos)) {
        offsets_.push_back(static_cast<uint32_t>(pos));
      }
      if (offsets_.size() != frames[fi].count) {
        return Status::Corruption((*seg)->path() + ": frame " + std::to_string(fi) + " record count mismatch");
      }
      frame_segment_ = *seg;
      frame_index_ = fi;
    }
    const uint64_t frame_first = frames[fi].first_seq;
    for (; seq <= last && seq <= frames[fi].last_seq(); ++seq) {
      const uint32_t off = offsets_[seq - frame_first];
      const uint32_t len = GetU32(frame_.data() + off);
      std::string_view rec(frame_.data() + off + 4, std::min<size_t>(len, frame_.size() - off - 4));
      if (rec.size() < 8 || GetU64(rec.data()) != seq) {
        return Status::Corruption("record at seq " + std::to_string(seq) + " carries another seq");
      }
      fn(seq, rec);
    }
  }
  return Status::Ok();
}

}  // namespace stele
