#include "storage/segment_writer.h"

#include <algorithm>

#include "storage/frame_columns.h"
#include "util/coding.h"
#include "util/hash.h"

namespace stele {

using format::FrameHeader;
using format::FrameIndexEntry;

SegmentWriter::SegmentWriter(std::unique_ptr<WritableFile> file, const format::SegmentHeader& header,
                             const SegmentWriterOptions& options)
    : file_(std::move(file)),
      header_(header),
      next_seq_(header.first_seq),
      pending_offset_(0),
      options_(options),
      cctx_(ZSTD_createCCtx()) {}

SegmentWriter::~SegmentWriter() {
  ZSTD_freeCCtx(cctx_);
  if (file_) (void)file_->Close();
  if (side_index_) (void)side_index_->Close();
}

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::Create(Env* env, const std::string& dir, uint64_t first_seq,
                                                             int64_t now_ns, const SegmentWriterOptions& options) {
  const std::string path = dir + "/" + format::SegmentFileName(first_seq);
  if (env->Exists(path)) {
    // A header-only leftover of a crash during creation; recovery decided it
    // holds no events.
    STELE_RETURN_IF_ERROR(env->Remove(path));
  }
  auto file = env->OpenAppendable(path);
  if (!file.ok()) return file.status();
  format::SegmentHeader header{first_seq, now_ns};
  char buf[format::kSegmentHeaderSize];
  format::EncodeSegmentHeader(header, buf);
  STELE_RETURN_IF_ERROR((*file)->Append(std::string_view(buf, sizeof buf)));
  STELE_RETURN_IF_ERROR((*file)->Sync());
  STELE_RETURN_IF_ERROR(env->SyncDir(dir));
  std::unique_ptr<SegmentWriter> w(new SegmentWriter(std::move(file).value(), header, options));
  w->pending_offset_ = format::kSegmentHeaderSize;
  w->env_ = env;
  w->path_ = path;
  for (const std::string& stale : {format::SideIndexPath(path), LiveIndexPath(path)}) {
    if (env->Exists(stale)) STELE_RETURN_IF_ERROR(env->Remove(stale));
  }
  w->index_ = options.field_index
                  ? std::make_shared<LiveSegmentIndex>(first_seq, env, path, options.live_index_chunk_events)
                  : std::make_shared<LiveSegmentIndex>(first_seq);
  return w;
}

Result<std::unique_ptr<SegmentWriter>> SegmentWriter::Resume(Env* env, const std::string& path,
                                                             const format::SegmentHeader& header,
                                                             std::vector<FrameIndexEntry> frames, uint64_t valid_end,
                                                             const SegmentWriterOptions& options) {
  auto file = env->OpenAppendable(path);
  if (!file.ok()) return file.status();
  if ((*file)->Size() != valid_end) {
    return Status::IOError(path + ": size " + std::to_string((*file)->Size()) + " differs from recovered end " +
                           std::to_string(valid_end));
  }
  std::unique_ptr<SegmentWriter> w(new SegmentWriter(std::move(file).value(), header, options));
  w->frames_ = std::move(frames);
  w->next_seq_ = w->frames_.empty() ? header.first_seq : w->frames_.back().last_seq() + 1;
  w->pending_offset_ = valid_end;
  w->env_ = env;
  w->path_ = path;
  if (options.field_index) {
    w->index_ = LiveSegmentIndex::Load(env, path, header.first_seq, static_cast<uint32_t>(w->frames_.size()), true,
                                       options.live_index_chunk_events);
  } else {
    // Not kept up to date from here on: a reader must not trust it.
    w->index_ = std::make_shared<LiveSegmentIndex>(header.first_seq);
    if (env->Exists(LiveIndexPath(path))) STELE_RETURN_IF_ERROR(env->Remove(LiveIndexPath(path)));
  }
  // Rewrite the side index to exactly the recovered frames.
  const std::string side = format::SideIndexPath(path);
  if (env->Exists(side)) STELE_RETURN_IF_ERROR(env->Remove(side));
  STELE_RETURN_IF_ERROR(w->AppendSideIndex(0));
  return w;
}

void SegmentWriter::EncodeFrame(std::string_view raw, uint32_t count, uint64_t first_seq, int64_t min_ts,
                                int64_t max_ts) {
  const size_t header_at = out_.size();
  // Room for zstd's worst case plus codec 4's skippable frame header (its
  // nibbles replace column bytes that zstd would otherwise have had).
  const size_t bound = ZSTD_compressBound(raw.size()) + format::kPackedFrameHeaderSize;
  out_.resize(header_at + format::kFrameHeaderSize + bound);
  char* payload = out_.data() + header_at + format::kFrameHeaderSize;
  FrameHeader h;
  h.raw_len = static_cast<uint32_t>(raw.size());
  h.count = count;
  h.first_seq = first_seq;
  h.min_ts = min_ts;
  h.max_ts = max_ts;
  // Columns (codec 4, 3 or 2) when the records follow the canonical layout,
  // which the writer's always do; the row form (codec 1) otherwise.
  columns_.clear();
  // A frame of a few records (sync=always group commits) gains nothing from
  // a shape table, and trying it first would put a second encode on the
  // writer's latency path.
  constexpr uint32_t kMinRecordsForDataColumns = 32;
  DataColumns data = DataColumns::kWhole;
  if (count >= kMinRecordsForDataColumns) {
    if (options_.codec == format::kCodecZstdPackedColumns) data = DataColumns::kByKeyPacked;
    if (options_.codec == format::kCodecZstdDataColumns) data = DataColumns::kByKey;
  }
  size_t tail = 0;  // codec 4's nibbles, at the end of columns_
  bool columns = options_.codec >= format::kCodecZstdColumns &&
                 EncodeFrameColumns(raw, count, first_seq, &columns_, data, &tail);
  if (columns && data != DataColumns::kWhole && columns_.size() > raw.size()) {
    // A shape table can outweigh what it saves on a frame of a few records;
    // readers rely on columns never being longer than the records.
    data = DataColumns::kWhole;
    columns_.clear();
    tail = 0;
    columns = EncodeFrameColumns(raw, count, first_seq, &columns_, data);
  }
  const std::string_view input =
      columns ? std::string_view(columns_).substr(0, columns_.size() - tail) : raw;
  size_t n = ZSTD_compressCCtx(cctx_, payload, bound, input.data(), input.size(), options_.zstd_level);
  if (!ZSTD_isError(n) && tail > 0) {
    // The nibbles follow in a skippable frame, which ZSTD_decompress passes
    // over: readers that need only the fixed columns decompress as for
    // codec 3.
    if (n + format::kPackedFrameHeaderSize + tail <= bound) {
      PutU32(payload + n, format::kPackedFrameMagic);
      PutU32(payload + n + 4, static_cast<uint32_t>(tail));
      std::memcpy(payload + n + format::kPackedFrameHeaderSize, columns_.data() + input.size(), tail);
      n += format::kPackedFrameHeaderSize + tail;
    } else {
      n = raw.size();  // cannot happen (the columns are shorter than raw); stored below
    }
  }
  if (ZSTD_isError(n) || n >= raw.size()) {  // incompressible (or zstd refused): store as is
    h.codec = format::kCodecNone;
    std::memcpy(payload, raw.data(), raw.size());
    n = raw.size();
  } else {
    h.codec = !columns                            ? format::kCodecZstd
              : data == DataColumns::kByKeyPacked ? format::kCodecZstdPackedColumns
              : data == DataColumns::kByKey       ? format::kCodecZstdDataColumns
                                                  : format::kCodecZstdColumns;
  }
  h.stored_len = static_cast<uint32_t>(n);
  h.payload_checksum = Checksum(payload, n);
  format::EncodeFrameHeader(h, out_.data() + header_at);
  out_.resize(header_at + format::kFrameHeaderSize + n);
  frames_.push_back({pending_offset_ + header_at, h.stored_len, count, first_seq, min_ts, max_ts});
}

Status SegmentWriter::AppendSideIndex(size_t from_frame) {
  if (!side_index_) {
    auto f = env_->OpenAppendable(format::SideIndexPath(path_));
    if (!f.ok()) return f.status();
    side_index_ = std::move(f).value();
  }
  std::string entries;
  for (size_t i = from_frame; i < frames_.size(); ++i) format::AppendIndexEntry(frames_[i], &entries);
  return entries.empty() ? Status::Ok() : side_index_->Append(entries);
}

std::vector<FrameCut> SegmentWriter::CutFrames(std::string_view records, size_t frame_target) const {
  std::vector<FrameCut> cuts;
  const char* p = records.data();
  const char* end = p + records.size();
  auto ordinal = static_cast<uint32_t>(frames_.size());
  while (p < end) {
    FrameCut c;
    c.ordinal = ordinal++;
    c.offset = static_cast<size_t>(p - records.data());
    c.min_ts = INT64_MAX;
    c.max_ts = INT64_MIN;
    while (p < end && (c.count == 0 || static_cast<size_t>(p - records.data()) - c.offset < frame_target)) {
      const uint32_t len = GetU32(p);
      const auto ts = static_cast<int64_t>(GetU64(p + 4 + 8));
      c.min_ts = std::min(c.min_ts, ts);
      c.max_ts = std::max(c.max_ts, ts);
      p += 4 + len;
      ++c.count;
    }
    c.size = static_cast<size_t>(p - records.data()) - c.offset;
    cuts.push_back(c);
  }
  return cuts;
}

Status SegmentWriter::AppendRecords(std::string_view records, size_t frame_target) {
  const std::vector<FrameCut> cuts = CutFrames(records, frame_target);
  IndexFrames(records, cuts);
  return AppendFrames(records, cuts);
}

void SegmentWriter::IndexFrames(std::string_view records, const std::vector<FrameCut>& cuts) {
  if (!options_.field_index) return;
  for (const FrameCut& c : cuts) index_->AddFrame(c.ordinal, records.substr(c.offset, c.size), c.count);
}

Status SegmentWriter::AppendFrames(std::string_view records, const std::vector<FrameCut>& cuts) {
  out_.clear();
  const size_t frames_before = frames_.size();
  for (const FrameCut& c : cuts) {
    const uint64_t first = next_seq_;
    next_seq_ += c.count;
    EncodeFrame(records.substr(c.offset, c.size), c.count, first, c.min_ts, c.max_ts);
  }
  Status s = file_->Append(out_);
  pending_offset_ += out_.size();
  STELE_RETURN_IF_ERROR(s);
  // After the frames, so a reader never finds an entry for a frame not yet
  // written.  Not synced: recovery rebuilds it.
  return AppendSideIndex(frames_before);
}

Status SegmentWriter::Sync() { return file_->Sync(); }

Status SegmentWriter::Seal() {
  std::string footer;
  footer.reserve(frames_.size() * format::kIndexEntrySize + format::kTrailerSize);
  format::Trailer t;
  t.index_offset = pending_offset_;
  t.frame_count = static_cast<uint32_t>(frames_.size());
  t.last_seq = last_seq();
  t.min_ts = INT64_MAX;
  t.max_ts = INT64_MIN;
  for (const FrameIndexEntry& e : frames_) {
    format::AppendIndexEntry(e, &footer);
    t.min_ts = std::min(t.min_ts, e.min_ts);
    t.max_ts = std::max(t.max_ts, e.max_ts);
  }
  t.index_checksum = Checksum(footer);
  char tbuf[format::kTrailerSize];
  format::EncodeTrailer(t, tbuf);
  footer.append(tbuf, sizeof tbuf);
  STELE_RETURN_IF_ERROR(file_->Append(footer));
  pending_offset_ += footer.size();
  STELE_RETURN_IF_ERROR(file_->Sync());
  Status s = file_->Close();
  file_.reset();
  if (side_index_) {
    (void)side_index_->Close();
    side_index_.reset();
    (void)env_->Remove(format::SideIndexPath(path_));  // the footer has it now; a leftover is ignored
  }
  return s;
}

Status SegmentWriter::WriteSealedIndex() const {
  if (!options_.field_index) return Status::Ok();
  auto bytes = index_->Finish();
  if (!bytes.ok()) return bytes.status();
  STELE_RETURN_IF_ERROR(WriteSegmentIndex(env_, path_, *bytes));
  index_->RemoveFile();
  return Status::Ok();
}

}  // namespace stele
