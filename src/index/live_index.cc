#include "index/live_index.h"

#include <algorithm>

#include "storage/format.h"
#include "util/coding.h"
#include "util/hash.h"

namespace stele {
namespace {

// file  := "STELELIX" | u32 version (1) | u32 reserved (0)
// chunk := u32 first_frame | u32 end_frame | u32 size | size bytes: a version 3
//          segment index of frames [first_frame, end_frame) | u64 XXH3-64 of
//          the chunk's bytes before it
constexpr std::string_view kMagic = "STELELIX";
constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 16;
constexpr size_t kChunkHeaderSize = 12;

std::string FileHeader() {
  std::string h(kMagic);
  AppendU32(&h, kVersion);
  AppendU32(&h, 0);
  return h;
}

}  // namespace

std::string LiveIndexPath(const std::string& segment_path) {
  return segment_path.substr(0, segment_path.size() - format::kSegmentSuffix.size()) + ".lidx";
}

LiveSegmentIndex::LiveSegmentIndex(uint64_t first_seq, Env* env, std::string segment_path, uint32_t chunk_events)
    : first_seq_(first_seq),
      env_(env),
      path_(env && !segment_path.empty() ? LiveIndexPath(segment_path) : ""),
      chunk_events_(std::max<uint32_t>(1, chunk_events)) {}

LiveSegmentIndex::~LiveSegmentIndex() {
  if (file_) (void)file_->Close();
}

uint32_t LiveSegmentIndex::ForEachChunk(Env* env, const std::string& segment_path, uint32_t max_frames,
                                        const std::function<void(SegmentIndex)>& fn, uint64_t* valid_bytes) {
  if (valid_bytes) *valid_bytes = 0;
  auto file = env->OpenReadable(LiveIndexPath(segment_path));
  if (!file.ok()) return 0;
  auto size = (*file)->Size();
  std::string buf(kHeaderSize, '\0');
  size_t got = 0;
  if (!size.ok() || !(*file)->Read(0, kHeaderSize, buf.data(), &got).ok() || got != kHeaderSize ||
      buf != FileHeader()) {
    return 0;
  }
  uint64_t offset = kHeaderSize;
  uint32_t end = 0;
  while (*size - offset >= kChunkHeaderSize + 8) {
    char head[kChunkHeaderSize];
    if (!(*file)->Read(offset, kChunkHeaderSize, head, &got).ok() || got != kChunkHeaderSize) break;
    const uint32_t first = GetU32(head), last = GetU32(head + 4), bytes = GetU32(head + 8);
    if (first != end || last <= first || last > max_frames) break;
    if (bytes > *size - offset - kChunkHeaderSize - 8) break;  // torn
    const size_t body = kChunkHeaderSize + bytes;
    buf.resize(body + 8);
    if (!(*file)->Read(offset, body + 8, buf.data(), &got).ok() || got != body + 8) break;
    if (GetU64(buf.data() + body) != Checksum(buf.data(), body)) break;
    auto chunk = SegmentIndex::Parse(buf.substr(kChunkHeaderSize, bytes));
    if (!chunk.ok() || chunk->frame_count() != last) break;
    fn(std::move(chunk).value());
    end = last;
    offset += body + 8;
  }
  if (valid_bytes) *valid_bytes = offset;
  return end;
}

std::shared_ptr<LiveSegmentIndex> LiveSegmentIndex::Load(Env* env, const std::string& segment_path,
                                                         uint64_t first_seq, uint32_t max_frames, bool resume,
                                                         uint32_t chunk_events) {
  auto index = std::make_shared<LiveSegmentIndex>(first_seq, resume ? env : nullptr, segment_path, chunk_events);
  uint64_t valid = 0;
  const uint32_t end = ForEachChunk(
      env, segment_path, max_frames,
      [&](SegmentIndex chunk) { index->chunks_.push_back(std::make_shared<const SegmentIndex>(std::move(chunk))); },
      &valid);
  index->chunks_end_ = index->cut_end_ = index->frames_end_ = end;
  const std::string path = LiveIndexPath(segment_path);
  if (!resume || !env->Exists(path)) return index;
  // Continue the file after its good chunks; a file without a good header
  // starts over at the first chunk.
  Status s = valid == 0 ? env->Remove(path) : env->Truncate(path, valid);
  if (s.ok() && valid > 0) {
    auto file = env->OpenAppendable(path);
    if (file.ok()) {
      index->file_ = std::move(file).value();
    } else {
      s = file.status();
    }
  }
  if (!s.ok()) {
    index->write_failed_ = true;
    (void)env->Remove(path);
  }
  return index;
}

void LiveSegmentIndex::AddFrame(uint32_t ordinal, std::string_view raw, uint32_t count) {
  std::lock_guard<std::mutex> g(mu_);
  builder_.AddFrame(ordinal, raw);
  ++builder_frames_;
  builder_events_ += count;
  frames_end_ = ordinal + 1;
}

uint32_t LiveSegmentIndex::indexed_frames() const {
  std::lock_guard<std::mutex> g(mu_);
  return frames_end_;
}

bool LiveSegmentIndex::ChunkDue() const {
  std::lock_guard<std::mutex> g(mu_);
  return !cut_ && (builder_events_ >= chunk_events_ || builder_frames_ >= kChunkFrames);
}

void LiveSegmentIndex::CutChunk() {
  std::lock_guard<std::mutex> g(mu_);
  if (cut_ || builder_frames_ == 0) return;
  cut_ = std::make_shared<const SegmentIndexBuilder>(std::move(builder_));
  builder_ = SegmentIndexBuilder();
  cut_end_ = frames_end_;
  builder_frames_ = builder_events_ = 0;
}

Status LiveSegmentIndex::OpenFileForAppend() {
  if (file_) return Status::Ok();
  auto file = env_->OpenAppendable(path_);
  if (!file.ok()) return file.status();
  file_ = std::move(file).value();
  return file_->Size() == 0 ? file_->Append(FileHeader()) : Status::Ok();
}

void LiveSegmentIndex::PersistCut() {
  std::shared_ptr<const SegmentIndexBuilder> cut;
  uint32_t first = 0, end = 0;
  bool write = false;
  {
    std::lock_guard<std::mutex> g(mu_);
    cut = cut_;
    first = chunks_end_;
    end = cut_end_;
    write = !path_.empty() && !write_failed_;
  }
  if (!cut) return;
  std::string v2 = cut->Finish();
  Status written = Status::Ok();
  if (write) {
    std::string chunk;
    const std::string v3 = CompressSegmentIndex(v2, 1);
    chunk.reserve(kChunkHeaderSize + v3.size() + 8);
    AppendU32(&chunk, first);
    AppendU32(&chunk, end);
    AppendU32(&chunk, static_cast<uint32_t>(v3.size()));
    chunk.append(v3);
    AppendU64(&chunk, Checksum(chunk));
    written = OpenFileForAppend();
    if (written.ok()) written = file_->Append(chunk);
  }
  auto parsed = SegmentIndex::Parse(std::move(v2));
  std::lock_guard<std::mutex> g(mu_);
  if (parsed.ok()) {  // always: the bytes were just made (else the cut builder keeps answering)
    chunks_.push_back(std::make_shared<const SegmentIndex>(std::move(parsed).value()));
    chunks_end_ = end;
    cut_.reset();
  }
  if (!written.ok()) {
    // The file stops at its last whole chunk; readers scan the frames after it.
    write_failed_ = true;
    file_.reset();
  }
}

bool LiveSegmentIndex::write_failed() const {
  std::lock_guard<std::mutex> g(mu_);
  return write_failed_;
}

void LiveSegmentIndex::RemoveFile() {
  if (file_) (void)file_->Close();
  file_.reset();
  if (!path_.empty()) (void)env_->Remove(path_);  // a leftover is ignored by readers of a sealed segment
}

Result<std::string> LiveSegmentIndex::Finish() const {
  std::vector<std::shared_ptr<const SegmentIndex>> parts;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (chunks_.empty() && !cut_) return builder_.Finish();
    parts = chunks_;
    for (const SegmentIndexBuilder* b : {cut_.get(), builder_frames_ > 0 ? &builder_ : nullptr}) {
      if (!b) continue;
      auto parsed = SegmentIndex::Parse(b->Finish());
      if (!parsed.ok()) return parsed.status();
      parts.push_back(std::make_shared<const SegmentIndex>(std::move(parsed).value()));
    }
  }
  std::vector<const SegmentIndex*> raw;
  for (const auto& p : parts) raw.push_back(p.get());
  return MergeSegmentIndexes(raw);
}

size_t LiveSegmentIndex::memory_bytes() const {
  std::lock_guard<std::mutex> g(mu_);
  size_t n = builder_.memory_bytes() + (cut_ ? cut_->memory_bytes() : 0);
  for (const auto& c : chunks_) n += c->byte_size();
  return n;
}

size_t LiveSegmentIndex::chunk_count() const {
  std::lock_guard<std::mutex> g(mu_);
  return chunks_.size();
}

// The parts cover ascending, disjoint frame ranges: their lists, one after
// the other, are in frame order.
std::vector<FrameCount> LiveSegmentIndex::CountsLocked(IndexedField f, std::string_view value, bool prefix) const {
  std::vector<FrameCount> out;
  for (const auto& c : chunks_) {
    if (auto counts = c->FrameCounts(f, value, prefix)) out.insert(out.end(), counts->begin(), counts->end());
  }
  for (const SegmentIndexBuilder* b : {cut_.get(), &builder_}) {
    if (!b) continue;
    std::vector<FrameCount> counts = b->FrameCounts(f, value, prefix);
    out.insert(out.end(), counts.begin(), counts.end());
  }
  return out;
}

std::vector<FrameCount> LiveSegmentIndex::FrameCounts(IndexedField f, std::string_view value, bool prefix) const {
  std::lock_guard<std::mutex> g(mu_);
  return CountsLocked(f, value, prefix);
}

std::optional<std::vector<uint32_t>> LiveSegmentIndex::Candidates(const Query& q) const {
  std::lock_guard<std::mutex> g(mu_);
  return PlanCandidates(q, [this](IndexedField f, std::string_view v, bool prefix) {
    const std::vector<FrameCount> counts = CountsLocked(f, v, prefix);
    std::vector<uint32_t> frames(counts.size());
    for (size_t i = 0; i < counts.size(); ++i) frames[i] = counts[i].frame;
    return frames;
  });
}

}  // namespace stele
