// SegmentReader: read access to one segment file, sealed or active.
//
// A sealed segment is opened from its trailer and frame index alone (O(1) in
// the number of events: nothing is rescanned).  An unsealed (active) segment
// is scanned header by header up to the file size seen at Open(): that size
// is the reader's snapshot.  The scan stops at the first frame that is
// incomplete or whose header fails its checksum (a torn tail, or a frame
// still being written); with ScanMode::kVerifyPayloads it also checks every
// payload checksum, which is what writer recovery uses to find the point to
// truncate to.  In kHeadersOnly mode an active segment's side index (.idx)
// saves the per-frame header reads for the frames it lists.
//
// Immutable after Open(); ReadFrame() may be called from several threads.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "stele/event.h"
#include "storage/format.h"
#include "storage/frame_columns.h"
#include "util/env.h"

namespace stele {

class SegmentReader {
 public:
  enum class ScanMode { kHeadersOnly, kVerifyPayloads };

  static Result<std::unique_ptr<SegmentReader>> Open(Env* env, const std::string& path, uint64_t expected_first_seq,
                                                     ScanMode mode = ScanMode::kHeadersOnly);

  bool sealed() const { return sealed_; }
  const std::string& path() const { return path_; }
  const format::SegmentHeader& header() const { return header_; }
  uint64_t first_seq() const { return header_.first_seq; }
  // Highest seq in the segment, or first_seq - 1 when it holds no frame.
  uint64_t last_seq() const { return frames_.empty() ? header_.first_seq - 1 : frames_.back().last_seq(); }
  int64_t min_ts() const { return min_ts_; }
  int64_t max_ts() const { return max_ts_; }
  const std::vector<format::FrameIndexEntry>& frames() const { return frames_; }
  // End of the last good frame: where an unsealed segment may be truncated.
  uint64_t valid_end() const { return valid_end_; }
  uint64_t file_size() const { return file_size_; }
  // Set when an unsealed segment's scan stopped at a complete, well-formed
  // frame holding the wrong seqs: damage, not a torn tail.  frames() holds
  // the good frames before it.
  const Status& tail_error() const { return tail_error_; }

  // Reads frame i, checks its header against the index and its payload
  // checksum, and decompresses it into *raw.  kCorruption names the segment,
  // the frame and its seq range.
  Status ReadFrame(size_t i, std::string* raw) const;
  // Bytes a frame holds once decompressed (its columns, or its records):
  // every stored string of its records, each in one piece.
  using PayloadCheck = std::function<bool(std::string_view decompressed)>;
  // ReadFrame(), except that when `check` turns the decompressed payload
  // down the records are not rebuilt: *passed is false and *raw is cleared.
  // With `select`, *raw may hold only the selected records (a column frame
  // rebuilds only those), and *kept says how many it holds.
  Status ReadFrameIf(size_t i, const PayloadCheck& check, std::string* raw, bool* passed,
                     const RecordSelector* select = nullptr, uint32_t* kept = nullptr) const;
  // Frame i made ready for VisitFrameFields(): read, checked as ReadFrame()
  // checks it, and decompressed into *out, whose buffer is reused.  May run
  // on another thread than the visit (a count reads the next frame while it
  // visits this one).
  struct FrameFields {
    size_t frame = 0;
    format::FrameHeader header;
    // The columns (codec 3 and 4, without codec 4's ids), or the records.
    std::string_view bytes() const { return {buffer.data(), length}; }
    std::string buffer;  // reused, never shrunk
    size_t length = 0;
  };
  Status ReadFrameFields(size_t i, FrameFields* out) const;
  // The records of a frame ReadFrameFields() read, their data left empty; a
  // column frame is not rebuilt into records for it.
  Status VisitFrameFields(const FrameFields& frame, const std::function<void(const EventView&)>& visit) const;

 private:
  SegmentReader() = default;
  Status LoadSealedIndex(const format::Trailer& trailer);
  Status ScanFrames(ScanMode mode);
  void LoadSideIndex(Env* env);
  Status CorruptFrame(size_t i, const std::string& why) const;
  // Reads frame i's header and stored payload (in a per-thread buffer) and
  // checks them against the index and the payload checksum.
  Status ReadStored(size_t i, format::FrameHeader* h, std::string_view* stored) const;

  std::string path_;
  std::unique_ptr<RandomAccessFile> file_;
  format::SegmentHeader header_;
  bool sealed_ = false;
  uint64_t file_size_ = 0;
  uint64_t valid_end_ = format::kSegmentHeaderSize;
  int64_t min_ts_ = INT64_MAX;
  int64_t max_ts_ = INT64_MIN;
  std::vector<format::FrameIndexEntry> frames_;
  Status tail_error_;
};

// Decompresses (or copies, for kCodecNone) a frame payload.
// With `check` (see SegmentReader::ReadFrameIf), stops after decompressing
// when it returns false, and sets *passed.
// With `select`, a column frame rebuilds only the selected records, and
// *kept (never null then) counts the records *raw holds.
Status DecodeFramePayload(const format::FrameHeader& h, std::string_view stored, std::string* raw,
                          const SegmentReader::PayloadCheck* check = nullptr, bool* passed = nullptr,
                          const RecordSelector* select = nullptr, uint32_t* kept = nullptr);

}  // namespace stele
