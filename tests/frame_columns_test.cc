// Column-wise frames (codec 2): exact round trips, refusal of what they
// cannot represent, damage reported as corruption, and segments written in
// the row codec (1) still read beside them.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "event/record.h"
#include "event/validator.h"
#include "storage/format.h"
#include "storage/frame_columns.h"
#include "storage/segment_reader.h"
#include "storage/segment_writer.h"
#include "test_util.h"
#include "util/coding.h"
#include "workload/generator.h"

namespace stele {
namespace {

// Framed records (u32 len | record)* of n reference events from first_seq.
std::string ReferenceRecords(uint64_t first_seq, size_t n, uint64_t seed = 42) {
  WorkloadGenerator::Config config;
  config.seed = seed;
  WorkloadGenerator gen(config);
  EventValidator v;
  ValidationLimits limits;
  std::string raw;
  for (size_t i = 0; i < n; ++i) {
    const std::string line = gen.Event(i);
    EventView e;
    EXPECT_TRUE(v.Validate(line, 0x7fffffffffffffff / 2, limits, &e).ok());
    e.seq = first_seq + i;
    AppendFramedRecord(e, &raw);
  }
  return raw;
}

std::string RoundTrip(const std::string& raw, uint32_t count, uint64_t first_seq) {
  std::string columns;
  EXPECT_TRUE(EncodeFrameColumns(raw, count, first_seq, &columns));
  EXPECT_LT(columns.size(), raw.size());
  std::string back;
  const Status s = DecodeFrameColumns(columns, count, first_seq, static_cast<uint32_t>(raw.size()), &back);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return back;
}

TEST(FrameColumns, ReferenceFramesRoundTripExactly) {
  for (const size_t n : {size_t{1}, size_t{2}, size_t{999}}) {
    const std::string raw = ReferenceRecords(1000, n);
    EXPECT_EQ(RoundTrip(raw, static_cast<uint32_t>(n), 1000), raw) << n << " records";
  }
}

// Every combination of optional fields, empty and absent data, the longest
// values, unicode, timestamps that go backwards and the extremes of ts.
TEST(FrameColumns, EveryFieldShapeRoundTripsExactly) {
  std::mt19937_64 rng(3);
  std::vector<std::string> storage;
  std::string raw;
  const uint32_t n = 64;
  const int64_t ts_values[] = {0, 1, INT64_MAX, 1'700'000'000'000'000'000, 5, 1'700'000'000'000'000'000};
  for (uint32_t i = 0; i < n; ++i) {
    EventView e;
    e.seq = 77 + i;
    e.ts_ns = ts_values[i % std::size(ts_values)] - static_cast<int64_t>(i % 3);
    if (e.ts_ns < 0) e.ts_ns = 0;
    storage.push_back(std::string(1 + rng() % 64, 'a'));
    e.type = storage.back();
    const std::string value = i % 5 == 0 ? std::string(256, 'x') : "v\xc3\xa9-" + std::to_string(rng());
    storage.push_back(value);
    if (i & 1) e.actor = storage.back();
    if (i & 2) e.source = storage.back();
    if (i & 4) e.lead_id = storage.back();
    if (i & 8) e.workflow_id = storage.back();
    if (i & 16) {
      storage.push_back(i % 3 == 0 ? "{}" : R"({"k":[1,2,{"x":"\u0000"}],"n":1e300})");
      e.data = storage.back();
    }
    AppendFramedRecord(e, &raw);
  }
  EXPECT_EQ(RoundTrip(raw, n, 77), raw);
}

TEST(FrameColumns, WhatColumnsCannotHoldIsRefused) {
  const std::string raw = ReferenceRecords(10, 5);
  std::string out;
  EXPECT_FALSE(EncodeFrameColumns(raw, 5, 11, &out)) << "seqs must start at first_seq";
  EXPECT_FALSE(EncodeFrameColumns(raw, 4, 10, &out)) << "bytes left over";
  EXPECT_FALSE(EncodeFrameColumns(raw, 6, 10, &out)) << "fewer records than counted";
  EXPECT_FALSE(EncodeFrameColumns(raw + "x", 5, 10, &out));
  std::string gap = raw;
  PutU64(gap.data() + 4 + GetU32(gap.data()) + 4, 99);  // the second record's seq
  EXPECT_FALSE(EncodeFrameColumns(gap, 5, 10, &out)) << "a gap in the seqs";
  std::string high_bits = raw;
  high_bits[4 + 16] = static_cast<char>(high_bits[4 + 16] | 0x40);  // mask bit 6
  EXPECT_FALSE(EncodeFrameColumns(high_bits, 5, 10, &out));
}

// Every truncation and every single-byte change of a valid column blob is
// either corruption or, if it still parses, rebuilds exactly raw_len bytes;
// ASan (scripts/sanitize.sh) checks that nothing reads out of bounds.
TEST(FrameColumns, DamagedColumnsAreCorruptionNeverAnOverrun) {
  const std::string raw = ReferenceRecords(1, 12);
  std::string columns;
  ASSERT_TRUE(EncodeFrameColumns(raw, 12, 1, &columns));
  std::string out;
  for (size_t cut = 0; cut < columns.size(); ++cut) {
    EXPECT_EQ(DecodeFrameColumns(columns.substr(0, cut), 12, 1, static_cast<uint32_t>(raw.size()), &out).code(),
              StatusCode::kCorruption)
        << "cut at " << cut;
  }
  EXPECT_EQ(DecodeFrameColumns(columns + "z", 12, 1, static_cast<uint32_t>(raw.size()), &out).code(),
            StatusCode::kCorruption);
  EXPECT_EQ(DecodeFrameColumns(columns, 13, 1, static_cast<uint32_t>(raw.size()), &out).code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeFrameColumns(columns, 12, 1, static_cast<uint32_t>(raw.size() - 1), &out).code(),
            StatusCode::kCorruption);
  size_t parsed = 0;
  for (size_t at = 0; at < columns.size(); ++at) {
    for (const uint8_t flip : {0x01, 0x80, 0xff}) {
      std::string damaged = columns;
      damaged[at] = static_cast<char>(damaged[at] ^ flip);
      const Status s = DecodeFrameColumns(damaged, 12, 1, static_cast<uint32_t>(raw.size()), &out);
      if (s.ok()) {
        ++parsed;
        EXPECT_EQ(out.size(), raw.size());
      } else {
        EXPECT_EQ(s.code(), StatusCode::kCorruption);
      }
    }
  }
  EXPECT_GT(parsed, 0u) << "a changed letter inside a value still parses (the frame checksum catches it)";
}

// A segment written in the row codec (as before codec 2 existed) and
// continued in the column codec reads back record for record, and the
// column frames are the smaller ones.
TEST(FrameColumns, RowAndColumnFramesReadBackSideBySide) {
  test::TempDir dir;
  Env* env = Env::Default();
  const std::string raw_a = ReferenceRecords(1, 1000);
  const std::string raw_b = ReferenceRecords(1001, 1000, 7);
  SegmentWriterOptions rows;
  rows.column_frames = false;
  std::string path;
  {
    auto w = SegmentWriter::Create(env, dir.path(), 1, 0, rows);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->AppendRecords(raw_a, 1u << 20).ok());
    ASSERT_TRUE((*w)->Sync().ok());
  }
  path = dir.path() + "/" + format::SegmentFileName(1);
  {
    auto r = SegmentReader::Open(env, path, 1, SegmentReader::ScanMode::kVerifyPayloads);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ((*r)->frames().size(), 1u);
    auto w = SegmentWriter::Resume(env, path, (*r)->header(), (*r)->frames(), (*r)->valid_end(), {});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE((*w)->AppendRecords(raw_b, 1u << 20).ok());
    ASSERT_TRUE((*w)->Seal().ok());
    ASSERT_TRUE((*w)->WriteSealedIndex().ok());
  }
  auto r = SegmentReader::Open(env, path, 1, SegmentReader::ScanMode::kVerifyPayloads);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ((*r)->frames().size(), 2u);
  std::string got;
  ASSERT_TRUE((*r)->ReadFrame(0, &got).ok());
  EXPECT_EQ(got, raw_a);
  ASSERT_TRUE((*r)->ReadFrame(1, &got).ok());
  EXPECT_EQ(got, raw_b);
  const std::string bytes = test::ReadFileBytes(path);
  format::FrameHeader a, b;
  ASSERT_TRUE(format::DecodeFrameHeader(bytes.data() + (*r)->frames()[0].offset, &a));
  ASSERT_TRUE(format::DecodeFrameHeader(bytes.data() + (*r)->frames()[1].offset, &b));
  EXPECT_EQ(a.codec, format::kCodecZstd);
  EXPECT_EQ(b.codec, format::kCodecZstdColumns);
  EXPECT_LT(b.stored_len * 10, a.stored_len * 9) << "columns at least 10% smaller";
}

}  // namespace
}  // namespace stele
