// SegmentWriter: appends frames to the active segment and seals it.
//
// Owns the segment's WritableFile, a zstd compression context and the frame
// index of the segment (kept in memory, written as the footer on Seal()).
// Used by the single writer thread only.
//
// Crash behaviour: frames are written with one write() per batch; a crash
// mid-write leaves a torn tail that SegmentReader's scan stops at and
// recovery truncates.  Seal() writes index + trailer and syncs; a crash
// before the trailer is complete leaves an unsealed segment, which recovery
// treats as active (the partial index is a torn tail).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <zstd.h>

#include "index/live_index.h"
#include "storage/format.h"
#include "util/env.h"

namespace stele {

// How a writer encodes segments.
struct SegmentWriterOptions {
  int zstd_level = 1;
  bool field_index = true;    // build <segment>.fidx (off only to measure its cost)
  uint32_t live_index_chunk_events = 65536;  // Options::live_index_chunk_events
  // The codec frames are written in (format.h): 4 unless a frame is small
  // or its records are not canonical (then 2 or 1); tests ask for 1 to 3.
  format::Codec codec = format::kCodecZstdPackedColumns;
};

// Where one frame of a batch of records begins and ends, and what the
// frame header needs to know about it.
struct FrameCut {
  uint32_t ordinal = 0;  // frame number in the segment
  size_t offset = 0;     // in the records
  size_t size = 0;
  uint32_t count = 0;
  int64_t min_ts = 0, max_ts = 0;
};

class SegmentWriter {
 public:
  // Creates segment file `path` for first_seq, writes and syncs its header,
  // and syncs the directory so the file survives a crash.
  static Result<std::unique_ptr<SegmentWriter>> Create(Env* env, const std::string& dir, uint64_t first_seq,
                                                       int64_t now_ns, const SegmentWriterOptions& options);
  // Continues an unsealed segment that recovery has scanned (and truncated
  // to its last good frame).
  // Its field index starts from the chunks of its .lidx that cover
  // recovered frames; IndexExistingFrame() adds the frames after them.
  static Result<std::unique_ptr<SegmentWriter>> Resume(Env* env, const std::string& path,
                                                       const format::SegmentHeader& header,
                                                       std::vector<format::FrameIndexEntry> frames,
                                                       uint64_t valid_end, const SegmentWriterOptions& options);
  ~SegmentWriter();
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;

  // Appends `records` ((u32 len | canonical record)*, seqs contiguous and
  // starting at last_seq()+1) as frames cut near frame_target bytes, with a
  // single write.  Does not sync.
  Status AppendRecords(std::string_view records, size_t frame_target);
  // AppendRecords in two halves that may run at the same time on two
  // threads: CutFrames, then AppendFrames (compress + write) on one thread
  // and IndexFrames (the field index) on another, both with the same cuts;
  // wait for both before the next call on this writer.
  std::vector<FrameCut> CutFrames(std::string_view records, size_t frame_target) const;
  Status AppendFrames(std::string_view records, const std::vector<FrameCut>& cuts);
  void IndexFrames(std::string_view records, const std::vector<FrameCut>& cuts);
  Status Sync();
  // Writes the frame index and trailer, syncs and closes.  The segment must
  // hold at least one frame.  Its field index file (<segment>.fidx) is the
  // caller's to write, from live_index(): WriteSealedIndex() here, or on
  // another thread (the Log does, so sealing never stalls the writer).
  Status Seal();
  Status WriteSealedIndex() const;
  // Feeds a frame that was on disk before this writer (recovery) to the
  // field index: frames from indexed_frames() on.
  void IndexExistingFrame(uint32_t ordinal, std::string_view raw) {
    if (options_.field_index) index_->AddFrame(ordinal, raw, frames_[ordinal].count);
  }
  uint32_t indexed_frames() const { return options_.field_index ? index_->indexed_frames() : 0; }
  // The active segment's field index, shared with query threads (and with
  // the indexer thread, which persists its chunks).
  std::shared_ptr<LiveSegmentIndex> live_index() const { return index_; }

  const std::string& path() const { return path_; }
  uint64_t first_seq() const { return header_.first_seq; }
  uint64_t last_seq() const { return next_seq_ - 1; }
  int64_t created_ns() const { return header_.created_ns; }
  uint64_t size() const { return file_->Size(); }
  size_t frame_count() const { return frames_.size(); }
  // Heap bytes of the field index being built (0 without one).
  size_t index_memory_bytes() const { return index_ ? index_->memory_bytes() : 0; }

 private:
  SegmentWriter(std::unique_ptr<WritableFile> file, const format::SegmentHeader& header,
                const SegmentWriterOptions& options);
  void EncodeFrame(std::string_view raw, uint32_t count, uint64_t first_seq, int64_t min_ts, int64_t max_ts);

  Status AppendSideIndex(size_t from_frame);

  Env* env_ = nullptr;
  std::string path_;
  std::unique_ptr<WritableFile> file_;
  std::unique_ptr<WritableFile> side_index_;  // <segment>.idx, see format.h
  format::SegmentHeader header_;
  uint64_t next_seq_;
  uint64_t pending_offset_;  // file offset where out_ will land
  SegmentWriterOptions options_;
  ZSTD_CCtx* cctx_;
  std::string out_;  // frames being assembled for one write
  std::string columns_;  // one frame's columns before compression
  std::vector<format::FrameIndexEntry> frames_;
  std::shared_ptr<LiveSegmentIndex> index_;  // the field index of this segment, written at seal
};

}  // namespace stele
