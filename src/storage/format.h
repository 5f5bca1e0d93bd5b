// On-disk constants and fixed-size structures of a segment file.  This header
// mirrors docs/format.md ("Segment file"); change both together.
//
//   segment := header(64) frame* [index trailer(64)]      (index+trailer only once sealed)
//   frame   := frame_header(64) payload(stored_len)
//   payload := zstd( (u32 record_len | canonical record)* )   (see event/record.h)
//
// All integers little-endian.  Every structure carries an XXH3-64 checksum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace stele::format {

inline constexpr uint32_t kVersion = 1;

// Segment header ------------------------------------------------------------
inline constexpr std::string_view kSegmentMagic = "STELESEG";  // 8 bytes
inline constexpr size_t kSegmentHeaderSize = 64;

struct SegmentHeader {
  uint64_t first_seq = 0;
  int64_t created_ns = 0;
};
void EncodeSegmentHeader(const SegmentHeader& h, char* out /*64*/);
bool DecodeSegmentHeader(const char* in /*64*/, SegmentHeader* h);

// Frame header --------------------------------------------------------------
inline constexpr std::string_view kFrameMagic = "STFR";  // 4 bytes
inline constexpr size_t kFrameHeaderSize = 64;
// 2: zstd of the records rewritten as columns (storage/frame_columns.h);
// 3: the same with each data object's values in columns by key;
// 4: codec 3 with id columns packed as hex nibbles after the zstd frame, in
// a zstd skippable frame (docs/format.md, "Codec 4").
enum Codec : uint8_t {
  kCodecNone = 0,
  kCodecZstd = 1,
  kCodecZstdColumns = 2,
  kCodecZstdDataColumns = 3,
  kCodecZstdPackedColumns = 4,
};
// The skippable frame (RFC 8878 §3.1.2) that carries codec 4's nibbles:
// magic, then the u32 little-endian length of what follows.
inline constexpr uint32_t kPackedFrameMagic = 0x184D2A50;
inline constexpr size_t kPackedFrameHeaderSize = 8;
// A frame larger than this is corrupt by definition (events are <= 1 MiB by
// default and frames are cut near frame_target_bytes).
inline constexpr uint32_t kMaxFrameBytes = 256u << 20;

struct FrameHeader {
  uint8_t codec = kCodecZstd;
  uint32_t stored_len = 0;  // payload bytes on disk
  uint32_t raw_len = 0;     // payload bytes after decompression
  uint32_t count = 0;       // records in the frame (>= 1)
  uint64_t first_seq = 0;   // seq of the first record; the rest follow without gaps
  int64_t min_ts = 0;
  int64_t max_ts = 0;
  uint64_t payload_checksum = 0;  // XXH3-64 of the stored payload
};
void EncodeFrameHeader(const FrameHeader& h, char* out /*64*/);
// Checks magic, header checksum and sanity of lengths.
bool DecodeFrameHeader(const char* in /*64*/, FrameHeader* h);

// Frame index (footer of a sealed segment) ----------------------------------
inline constexpr size_t kIndexEntrySize = 40;

struct FrameIndexEntry {
  uint64_t offset = 0;  // of the frame header in the file
  uint32_t stored_len = 0;
  uint32_t count = 0;
  uint64_t first_seq = 0;
  int64_t min_ts = 0;
  int64_t max_ts = 0;

  uint64_t last_seq() const { return first_seq + count - 1; }
};
void AppendIndexEntry(const FrameIndexEntry& e, std::string* out);
FrameIndexEntry DecodeIndexEntry(const char* in /*40*/);

// Trailer: the last 64 bytes of a sealed segment -----------------------------
inline constexpr std::string_view kTrailerMagic = "STELEIDX";
inline constexpr size_t kTrailerSize = 64;

struct Trailer {
  uint64_t index_offset = 0;
  uint32_t frame_count = 0;
  uint64_t last_seq = 0;
  int64_t min_ts = 0;
  int64_t max_ts = 0;
  uint64_t index_checksum = 0;  // XXH3-64 of the index entries
};
void EncodeTrailer(const Trailer& t, char* out /*64*/);
bool DecodeTrailer(const char* in /*64*/, Trailer* t);

// Names ----------------------------------------------------------------------
inline constexpr std::string_view kSegmentsDir = "segments";
inline constexpr std::string_view kLockFile = "LOCK";
inline constexpr std::string_view kSegmentSuffix = ".seg";
// "<first_seq as 20 digits>.seg"
std::string SegmentFileName(uint64_t first_seq);
// The active segment's side index: "<first_seq as 20 digits>.idx", frame
// index entries (kIndexEntrySize each) appended as frames are written.  A
// hint for readers, never trusted without the frame headers; removed at seal.
inline constexpr std::string_view kSideIndexSuffix = ".idx";
std::string SideIndexPath(const std::string& segment_path);
bool ParseSegmentFileName(std::string_view name, uint64_t* first_seq);

}  // namespace stele::format
