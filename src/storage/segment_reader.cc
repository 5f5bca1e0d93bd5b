#include "storage/segment_reader.h"

#include <zstd.h>

#include <cstring>

#include "event/record.h"
#include "storage/frame_columns.h"
#include "util/coding.h"
#include "util/hash.h"

namespace stele {

using format::FrameHeader;
using format::FrameIndexEntry;

// Decompresses a columns frame (codec 2, 3 or 4) into *columns (sized to
// raw_len by the caller), *n its length.  Codec 4's nibbles, in the
// skippable frame after the zstd frame, are appended after the columns.
static Status DecompressColumns(const FrameHeader& h, std::string_view stored, std::string* columns, size_t* n) {
  const size_t got = ZSTD_decompress(columns->data(), columns->size(), stored.data(), stored.size());
  if (ZSTD_isError(got)) return Status::Corruption(std::string("zstd: ") + ZSTD_getErrorName(got));
  *n = got;
  if (h.codec != format::kCodecZstdPackedColumns) return Status::Ok();
  const size_t zstd_len = ZSTD_findFrameCompressedSize(stored.data(), stored.size());
  if (ZSTD_isError(zstd_len)) return Status::Corruption(std::string("zstd: ") + ZSTD_getErrorName(zstd_len));
  const std::string_view rest = stored.substr(zstd_len);
  if (rest.empty()) return Status::Ok();
  if (rest.size() < format::kPackedFrameHeaderSize || GetU32(rest.data()) != format::kPackedFrameMagic ||
      GetU32(rest.data() + 4) != rest.size() - format::kPackedFrameHeaderSize) {
    return Status::Corruption("codec 4: malformed packed frame after the zstd frame");
  }
  const size_t packed = rest.size() - format::kPackedFrameHeaderSize;
  if (got + packed > columns->size()) return Status::Corruption("codec 4: columns longer than the records");
  std::memcpy(columns->data() + got, rest.data() + format::kPackedFrameHeaderSize, packed);
  *n = got + packed;
  return Status::Ok();
}

Status DecodeFramePayload(const FrameHeader& h, std::string_view stored, std::string* raw,
                          const SegmentReader::PayloadCheck* check, bool* passed, const RecordSelector* select,
                          uint32_t* kept) {
  if (passed) *passed = true;
  if (kept) *kept = h.count;  // every record, unless a column frame is rebuilt selectively
  // Whether the caller wants the records of this decompressed payload.
  auto wanted = [&](std::string_view decompressed) {
    if (check == nullptr || (*check)(decompressed)) return true;
    *passed = false;
    raw->clear();
    return false;
  };
  if (h.codec == format::kCodecNone) {
    if (stored.size() != h.raw_len) return Status::Corruption("stored and raw length differ");
    if (!wanted(stored)) return Status::Ok();
    raw->assign(stored);
    return Status::Ok();
  }
  if (h.codec >= format::kCodecZstdColumns) {
    // The columns are never longer than the records they rebuild.
    thread_local std::string columns;
    columns.resize(h.raw_len);
    size_t n = 0;
    STELE_RETURN_IF_ERROR(DecompressColumns(h, stored, &columns, &n));
    const std::string_view decompressed(columns.data(), n);
    if (check != nullptr && h.codec == format::kCodecZstdPackedColumns) {
      // Packed ids are not text in the columns: the check sees them
      // spelled out after the columns.
      thread_local std::string text;
      text.assign(decompressed);
      text.push_back('\n');
      STELE_RETURN_IF_ERROR(AppendPackedText(decompressed, h.count, &text));
      if (!wanted(text)) return Status::Ok();
    } else if (!wanted(decompressed)) {
      return Status::Ok();
    }
    const DataColumns layout = h.codec == format::kCodecZstdPackedColumns ? DataColumns::kByKeyPacked
                               : h.codec == format::kCodecZstdDataColumns ? DataColumns::kByKey
                                                                          : DataColumns::kWhole;
    return DecodeFrameColumns(decompressed, h.count, h.first_seq, h.raw_len, raw, layout, select, kept);
  }
  raw->resize(h.raw_len);
  const size_t n = ZSTD_decompress(raw->data(), raw->size(), stored.data(), stored.size());
  if (ZSTD_isError(n)) return Status::Corruption(std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n != h.raw_len) return Status::Corruption("decompressed length differs from header");
  wanted(*raw);
  return Status::Ok();
}

Result<std::unique_ptr<SegmentReader>> SegmentReader::Open(Env* env, const std::string& path,
                                                           uint64_t expected_first_seq, ScanMode mode) {
  auto file = env->OpenReadable(path);
  if (!file.ok()) return file.status();
  std::unique_ptr<SegmentReader> r(new SegmentReader());
  r->path_ = path;
  r->file_ = std::move(file).value();
  auto size = r->file_->Size();
  if (!size.ok()) return size.status();
  r->file_size_ = *size;

  char buf[format::kSegmentHeaderSize];
  size_t got = 0;
  STELE_RETURN_IF_ERROR(r->file_->Read(0, sizeof buf, buf, &got));
  if (got < sizeof buf || !format::DecodeSegmentHeader(buf, &r->header_)) {
    return Status::Corruption(path + ": bad or incomplete segment header");
  }
  if (r->header_.first_seq != expected_first_seq) {
    return Status::Corruption(path + ": header says first seq " + std::to_string(r->header_.first_seq) +
                              " but the file name says " + std::to_string(expected_first_seq));
  }

  if (r->file_size_ >= format::kSegmentHeaderSize + format::kTrailerSize) {
    char tbuf[format::kTrailerSize];
    STELE_RETURN_IF_ERROR(r->file_->Read(r->file_size_ - format::kTrailerSize, sizeof tbuf, tbuf, &got));
    format::Trailer trailer;
    if (got == sizeof tbuf && format::DecodeTrailer(tbuf, &trailer)) {
      STELE_RETURN_IF_ERROR(r->LoadSealedIndex(trailer));
      return r;
    }
  }
  if (mode == ScanMode::kHeadersOnly) r->LoadSideIndex(env);
  STELE_RETURN_IF_ERROR(r->ScanFrames(mode));
  return r;
}

void SegmentReader::LoadSideIndex(Env* env) {
  auto f = env->OpenReadable(format::SideIndexPath(path_));
  if (!f.ok()) return;
  auto size = (*f)->Size();
  if (!size.ok()) return;
  std::string index(*size - *size % format::kIndexEntrySize, '\0');
  size_t got = 0;
  if (!(*f)->Read(0, index.size(), index.data(), &got).ok()) return;
  // Accept the prefix that tiles the file from the header on, seq by seq;
  // ScanFrames continues from its end.
  uint64_t offset = format::kSegmentHeaderSize, seq = header_.first_seq;
  for (size_t at = 0; at + format::kIndexEntrySize <= got; at += format::kIndexEntrySize) {
    const FrameIndexEntry e = format::DecodeIndexEntry(index.data() + at);
    const uint64_t end = e.offset + format::kFrameHeaderSize + e.stored_len;
    if (e.offset != offset || e.first_seq != seq || e.count == 0 || end > file_size_ || e.min_ts > e.max_ts) break;
    frames_.push_back(e);
    min_ts_ = std::min(min_ts_, e.min_ts);
    max_ts_ = std::max(max_ts_, e.max_ts);
    offset = end;
    seq += e.count;
  }
}

Status SegmentReader::LoadSealedIndex(const format::Trailer& t) {
  const uint64_t index_len = uint64_t{t.frame_count} * format::kIndexEntrySize;
  if (t.index_offset < format::kSegmentHeaderSize || t.index_offset + index_len + format::kTrailerSize != file_size_) {
    return Status::Corruption(path_ + ": trailer index offset/length do not match the file size");
  }
  std::string index(index_len, '\0');
  size_t got = 0;
  STELE_RETURN_IF_ERROR(file_->Read(t.index_offset, index_len, index.data(), &got));
  if (got != index_len || Checksum(index) != t.index_checksum) {
    return Status::Corruption(path_ + ": frame index fails its checksum");
  }
  frames_.reserve(t.frame_count);
  uint64_t expect_seq = header_.first_seq;
  uint64_t expect_offset = format::kSegmentHeaderSize;
  for (uint32_t i = 0; i < t.frame_count; ++i) {
    FrameIndexEntry e = format::DecodeIndexEntry(index.data() + i * format::kIndexEntrySize);
    if (e.first_seq != expect_seq || e.offset != expect_offset || e.count == 0) {
      return Status::Corruption(path_ + ": frame index entry " + std::to_string(i) + " is inconsistent");
    }
    expect_seq += e.count;
    expect_offset += format::kFrameHeaderSize + e.stored_len;
    frames_.push_back(e);
  }
  if (expect_offset != t.index_offset || expect_seq - 1 != t.last_seq) {
    return Status::Corruption(path_ + ": frame index does not cover the segment");
  }
  sealed_ = true;
  min_ts_ = t.min_ts;
  max_ts_ = t.max_ts;
  valid_end_ = t.index_offset;
  return Status::Ok();
}

Status SegmentReader::ScanFrames(ScanMode mode) {
  uint64_t offset = frames_.empty() ? format::kSegmentHeaderSize
                                    : frames_.back().offset + format::kFrameHeaderSize + frames_.back().stored_len;
  uint64_t expect_seq = frames_.empty() ? header_.first_seq : frames_.back().last_seq() + 1;
  char hbuf[format::kFrameHeaderSize];
  std::string payload;
  while (offset + format::kFrameHeaderSize <= file_size_) {
    size_t got = 0;
    STELE_RETURN_IF_ERROR(file_->Read(offset, sizeof hbuf, hbuf, &got));
    FrameHeader h;
    if (got != sizeof hbuf || !format::DecodeFrameHeader(hbuf, &h)) break;
    const uint64_t end = offset + format::kFrameHeaderSize + h.stored_len;
    if (end > file_size_) break;
    if (h.first_seq != expect_seq) {
      // A complete frame with a valid header is not a torn write: frames were
      // reordered, inserted or removed.
      tail_error_ = Status::Corruption(path_ + ": frame at offset " + std::to_string(offset) + " holds seq " +
                                       std::to_string(h.first_seq) + ".." + std::to_string(h.first_seq + h.count - 1) +
                                       " where seq " + std::to_string(expect_seq) +
                                       " belongs (frames reordered, inserted or removed)");
      break;
    }
    if (mode == ScanMode::kVerifyPayloads) {
      payload.resize(h.stored_len);
      STELE_RETURN_IF_ERROR(file_->Read(offset + format::kFrameHeaderSize, h.stored_len, payload.data(), &got));
      if (got != h.stored_len || Checksum(payload) != h.payload_checksum) {
        // A torn write can only damage the tail.  A bad frame with a valid
        // successor is damage in the middle of the log: truncating there
        // would silently drop acknowledged events, so refuse instead.
        char next[format::kFrameHeaderSize];
        FrameHeader nh;
        size_t ngot = 0;
        if (file_->Read(end, sizeof next, next, &ngot).ok() && ngot == sizeof next &&
            format::DecodeFrameHeader(next, &nh) && nh.first_seq == expect_seq + h.count) {
          return Status::Corruption(path_ + ": frame at offset " + std::to_string(offset) + " (seq " +
                                    std::to_string(h.first_seq) + ".." + std::to_string(h.first_seq + h.count - 1) +
                                    ") fails its checksum but later frames are intact; not truncating");
        }
        break;
      }
    }
    frames_.push_back({offset, h.stored_len, h.count, h.first_seq, h.min_ts, h.max_ts});
    min_ts_ = std::min(min_ts_, h.min_ts);
    max_ts_ = std::max(max_ts_, h.max_ts);
    expect_seq += h.count;
    offset = end;
  }
  valid_end_ = offset;
  return Status::Ok();
}

Status SegmentReader::CorruptFrame(size_t i, const std::string& why) const {
  const FrameIndexEntry& e = frames_[i];
  return Status::Corruption(path_ + ": frame " + std::to_string(i) + " at offset " + std::to_string(e.offset) +
                            " (seq " + std::to_string(e.first_seq) + ".." + std::to_string(e.last_seq()) +
                            "): " + why);
}

Status SegmentReader::ReadStored(size_t i, FrameHeader* h, std::string_view* stored) const {
  const FrameIndexEntry& e = frames_[i];
  thread_local std::string buf;  // reused: frames are read in tight loops
  buf.resize(format::kFrameHeaderSize + e.stored_len);
  size_t got = 0;
  STELE_RETURN_IF_ERROR(file_->Read(e.offset, buf.size(), buf.data(), &got));
  if (got != buf.size()) return CorruptFrame(i, "file ends inside the frame");
  if (!format::DecodeFrameHeader(buf.data(), h)) return CorruptFrame(i, "frame header fails its checksum");
  if (h->first_seq != e.first_seq || h->count != e.count || h->stored_len != e.stored_len) {
    return CorruptFrame(i, "frame header disagrees with the index (frames reordered, inserted or replaced)");
  }
  *stored = std::string_view(buf.data() + format::kFrameHeaderSize, e.stored_len);
  if (Checksum(*stored) != h->payload_checksum) return CorruptFrame(i, "payload checksum mismatch");
  return Status::Ok();
}

Status SegmentReader::ReadFrame(size_t i, std::string* raw) const {
  bool passed;
  return ReadFrameIf(i, nullptr, raw, &passed);
}

Status SegmentReader::ReadFrameIf(size_t i, const PayloadCheck& check, std::string* raw, bool* passed,
                                  const RecordSelector* select, uint32_t* kept) const {
  FrameHeader h;
  std::string_view stored;
  STELE_RETURN_IF_ERROR(ReadStored(i, &h, &stored));
  Status s = DecodeFramePayload(h, stored, raw, check ? &check : nullptr, passed, select, kept);
  if (!s.ok()) return CorruptFrame(i, s.message());
  return Status::Ok();
}

Status SegmentReader::ReadFrameFields(size_t i, FrameFields* out) const {
  std::string_view stored;
  out->frame = i;
  STELE_RETURN_IF_ERROR(ReadStored(i, &out->header, &stored));
  if (out->header.codec >= format::kCodecZstdColumns) {
    // Columns are never longer than the records (frame_columns.h).
    if (out->buffer.size() < out->header.raw_len) out->buffer.resize(out->header.raw_len);
    // Codec 4's ids are data columns, which a visit does not read: the zstd
    // frame alone (ZSTD_decompress passes over the skippable one).  The
    // fields come first in the columns, but are most of them (70 of 116 KB
    // in a reference frame), so decompressing only up to them saves nothing.
    const size_t n = ZSTD_decompress(out->buffer.data(), out->header.raw_len, stored.data(), stored.size());
    if (ZSTD_isError(n)) return CorruptFrame(i, std::string("zstd: ") + ZSTD_getErrorName(n));
    out->length = n;
    return Status::Ok();
  }
  Status s = DecodeFramePayload(out->header, stored, &out->buffer);
  if (!s.ok()) return CorruptFrame(i, s.message());
  out->length = out->buffer.size();
  return Status::Ok();
}

Status SegmentReader::VisitFrameFields(const FrameFields& frame,
                                       const std::function<void(const EventView&)>& visit) const {
  const std::string_view bytes = frame.bytes();
  Status s;
  if (frame.header.codec >= format::kCodecZstdColumns) {
    s = VisitColumnFields(bytes, frame.header.count, frame.header.first_seq, visit);
  } else {
    EventView e;
    for (size_t pos = 0; pos < bytes.size();) {
      const uint32_t len = bytes.size() - pos >= 4 ? GetU32(bytes.data() + pos) : UINT32_MAX;
      if (len > bytes.size() - pos - 4 || !DecodeRecord(std::string_view(bytes.data() + pos + 4, len), &e)) {
        s = Status::Corruption("malformed record in a frame that passed its checksum");
        break;
      }
      e.data = {};
      visit(e);
      pos += 4 + len;
    }
  }
  if (!s.ok()) return CorruptFrame(frame.frame, s.message());
  return Status::Ok();
}

}  // namespace stele
