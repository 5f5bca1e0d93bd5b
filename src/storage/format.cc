#include "storage/format.h"

#include <charconv>
#include <cstring>

#include "util/coding.h"
#include "util/hash.h"

namespace stele::format {

void EncodeSegmentHeader(const SegmentHeader& h, char* out) {
  std::memset(out, 0, kSegmentHeaderSize);
  std::memcpy(out, kSegmentMagic.data(), 8);
  PutU32(out + 8, kVersion);
  PutU32(out + 12, kSegmentHeaderSize);
  PutU64(out + 16, h.first_seq);
  PutU64(out + 24, static_cast<uint64_t>(h.created_ns));
  PutU64(out + 56, Checksum(out, 56));
}

bool DecodeSegmentHeader(const char* in, SegmentHeader* h) {
  if (std::memcmp(in, kSegmentMagic.data(), 8) != 0) return false;
  if (GetU64(in + 56) != Checksum(in, 56)) return false;
  if (GetU32(in + 8) != kVersion || GetU32(in + 12) != kSegmentHeaderSize) return false;
  h->first_seq = GetU64(in + 16);
  h->created_ns = static_cast<int64_t>(GetU64(in + 24));
  return h->first_seq >= 1;
}

void EncodeFrameHeader(const FrameHeader& h, char* out) {
  std::memset(out, 0, kFrameHeaderSize);
  std::memcpy(out, kFrameMagic.data(), 4);
  out[4] = static_cast<char>(h.codec);
  PutU32(out + 8, h.stored_len);
  PutU32(out + 12, h.raw_len);
  PutU32(out + 16, h.count);
  PutU64(out + 24, h.first_seq);
  PutU64(out + 32, static_cast<uint64_t>(h.min_ts));
  PutU64(out + 40, static_cast<uint64_t>(h.max_ts));
  PutU64(out + 48, h.payload_checksum);
  PutU64(out + 56, Checksum(out, 56));
}

bool DecodeFrameHeader(const char* in, FrameHeader* h) {
  if (std::memcmp(in, kFrameMagic.data(), 4) != 0) return false;
  if (GetU64(in + 56) != Checksum(in, 56)) return false;
  h->codec = static_cast<uint8_t>(in[4]);
  h->stored_len = GetU32(in + 8);
  h->raw_len = GetU32(in + 12);
  h->count = GetU32(in + 16);
  h->first_seq = GetU64(in + 24);
  h->min_ts = static_cast<int64_t>(GetU64(in + 32));
  h->max_ts = static_cast<int64_t>(GetU64(in + 40));
  h->payload_checksum = GetU64(in + 48);
  return h->codec <= kCodecZstdPackedColumns && h->count >= 1 && h->first_seq >= 1 && h->stored_len <= kMaxFrameBytes &&
         h->raw_len <= kMaxFrameBytes && h->min_ts <= h->max_ts;
}

void AppendIndexEntry(const FrameIndexEntry& e, std::string* out) {
  AppendU64(out, e.offset);
  AppendU32(out, e.stored_len);
  AppendU32(out, e.count);
  AppendU64(out, e.first_seq);
  AppendU64(out, static_cast<uint64_t>(e.min_ts));
  AppendU64(out, static_cast<uint64_t>(e.max_ts));
}

FrameIndexEntry DecodeIndexEntry(const char* in) {
  FrameIndexEntry e;
  e.offset = GetU64(in);
  e.stored_len = GetU32(in + 8);
  e.count = GetU32(in + 12);
  e.first_seq = GetU64(in + 16);
  e.min_ts = static_cast<int64_t>(GetU64(in + 24));
  e.max_ts = static_cast<int64_t>(GetU64(in + 32));
  return e;
}

void EncodeTrailer(const Trailer& t, char* out) {
  std::memset(out, 0, kTrailerSize);
  std::memcpy(out, kTrailerMagic.data(), 8);
  PutU64(out + 8, t.index_offset);
  PutU32(out + 16, t.frame_count);
  PutU64(out + 24, t.last_seq);
  PutU64(out + 32, static_cast<uint64_t>(t.min_ts));
  PutU64(out + 40, static_cast<uint64_t>(t.max_ts));
  PutU64(out + 48, t.index_checksum);
  PutU64(out + 56, Checksum(out, 56));
}

bool DecodeTrailer(const char* in, Trailer* t) {
  if (std::memcmp(in, kTrailerMagic.data(), 8) != 0) return false;
  if (GetU64(in + 56) != Checksum(in, 56)) return false;
  t->index_offset = GetU64(in + 8);
  t->frame_count = GetU32(in + 16);
  t->last_seq = GetU64(in + 24);
  t->min_ts = static_cast<int64_t>(GetU64(in + 32));
  t->max_ts = static_cast<int64_t>(GetU64(in + 40));
  t->index_checksum = GetU64(in + 48);
  return t->frame_count >= 1;
}

std::string SegmentFileName(uint64_t first_seq) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(first_seq));
  return std::string(buf) + std::string(kSegmentSuffix);
}

std::string SideIndexPath(const std::string& segment_path) {
  return segment_path.substr(0, segment_path.size() - kSegmentSuffix.size()) + std::string(kSideIndexSuffix);
}

bool ParseSegmentFileName(std::string_view name, uint64_t* first_seq) {
  if (name.size() != 20 + kSegmentSuffix.size() || !name.ends_with(kSegmentSuffix)) return false;
  for (size_t i = 0; i < 20; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
  }
  auto [p, ec] = std::from_chars(name.data(), name.data() + 20, *first_seq);
  return ec == std::errc() && *first_seq >= 1;
}

}  // namespace stele::format
