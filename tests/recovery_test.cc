// Recovery and corruption: torn tails are dropped at every byte offset,
// flipped bytes in sealed frames are reported and never returned as data.
#include <gtest/gtest.h>

#include <filesystem>

#include "storage/format.h"
#include "test_util.h"

namespace stele {
namespace {

using test::QueryAll;
using test::TempDir;

std::string Event(int i) { return R"({"type":"a","data":{"i":)" + std::to_string(i) + "}}"; }

// Writes `batches` flushed batches of `per` events (one enqueue each, so one
// frame each); returns the path of the newest segment.
std::string WriteBatches(const Options& o, int batches, int per) {
  auto log = Log::Open(o);
  EXPECT_TRUE(log.ok());
  int i = 0;
  for (int b = 0; b < batches; ++b) {
    std::string batch;
    for (int k = 0; k < per; ++k) batch += Event(++i) + "\n";
    auto r = (*log)->AppendBatch(batch);
    EXPECT_TRUE(r.ok() && r->appended == static_cast<uint64_t>(per));
    EXPECT_TRUE((*log)->Flush().ok());
  }
  EXPECT_TRUE((*log)->Shutdown().ok());
  return test::SegmentFiles(o.dir).back();
}

TEST(Recovery, TruncatedTailIsDroppedAtEveryByteOffsetOfTheLastFrame) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  const std::string seg = WriteBatches(o, 4, 3);  // 4 frames of 3 events
  const std::string original = test::ReadFileBytes(seg);
  // Locate the last frame: the file is header + frames; walk the headers.
  size_t off = format::kSegmentHeaderSize, last = 0;
  while (off < original.size()) {
    format::FrameHeader h;
    ASSERT_TRUE(format::DecodeFrameHeader(original.data() + off, &h));
    last = off;
    off += format::kFrameHeaderSize + h.stored_len;
  }
  ASSERT_EQ(off, original.size());
  for (size_t cut = last; cut < original.size(); ++cut) {
    test::WriteFileBytes(seg, original.substr(0, cut));
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok()) << "cut " << cut << ": " << log.status().ToString();
    EXPECT_EQ((*log)->recovery().last_seq, 9u) << "cut " << cut;
    EXPECT_EQ((*log)->recovery().dropped_bytes, cut - last);
    auto seq = (*log)->Append(Event(100));
    ASSERT_TRUE(seq.ok());
    EXPECT_EQ(*seq, 10u);
    ASSERT_TRUE((*log)->Shutdown().ok());
    auto events = QueryAll(dir.path(), {});
    ASSERT_EQ(events.size(), 10u) << "cut " << cut;
    EXPECT_EQ(events[8].data, R"({"i":9})");
    EXPECT_EQ(events[9].data, R"({"i":100})");
  }
}

TEST(Recovery, GarbageAfterTheLastFrameIsDropped) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  const std::string seg = WriteBatches(o, 2, 5);
  const uint64_t good = test::FileSize(seg);
  for (std::string junk : {std::string(1, '\0'), std::string(200, '\0'), std::string("STFRjunkjunk"),
                           std::string(100, '\xff')}) {
    test::WriteFileBytes(seg, test::ReadFileBytes(seg).substr(0, good) + junk);
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok());
    EXPECT_EQ((*log)->recovery().dropped_bytes, junk.size());
    EXPECT_EQ((*log)->recovery().last_seq, 10u);
  }
  EXPECT_EQ(test::FileSize(seg), good);
  EXPECT_EQ(QueryAll(dir.path(), {}).size(), 10u);
}

TEST(Recovery, ReadersStopAtATornTailWithoutError) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  const std::string seg = WriteBatches(o, 3, 4);
  const std::string bytes = test::ReadFileBytes(seg);
  test::WriteFileBytes(seg, bytes.substr(0, bytes.size() - 7));  // a writer died mid-frame
  auto events = QueryAll(dir.path(), {});
  EXPECT_EQ(events.size(), 8u);
}

class SealedCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    o_.dir = dir_.path();
    o_.segment_max_bytes = 4 << 10;
    o_.frame_target_bytes = 512;
    auto log = Log::Open(o_);
    ASSERT_TRUE(log.ok());
    for (int i = 1; i <= 600; ++i) {
      ASSERT_TRUE((*log)->Append(R"({"type":"a","data":{"i":)" + std::to_string(i) + R"(,"pad":"0123456789abcdef"}})").ok());
      if (i % 20 == 0) {
        ASSERT_TRUE((*log)->Flush().ok());
      }
    }
    ASSERT_TRUE((*log)->Shutdown().ok());
    files_ = test::SegmentFiles(dir_.path());
    ASSERT_GE(files_.size(), 3u);
  }

  // Frame headers of a sealed segment file (offset, header).
  std::vector<std::pair<size_t, format::FrameHeader>> Frames(const std::string& bytes) {
    std::vector<std::pair<size_t, format::FrameHeader>> out;
    format::Trailer t;
    EXPECT_TRUE(format::DecodeTrailer(bytes.data() + bytes.size() - format::kTrailerSize, &t));
    size_t off = format::kSegmentHeaderSize;
    while (off < t.index_offset) {
      format::FrameHeader h;
      EXPECT_TRUE(format::DecodeFrameHeader(bytes.data() + off, &h));
      out.emplace_back(off, h);
      off += format::kFrameHeaderSize + h.stored_len;
    }
    return out;
  }

  TempDir dir_;
  Options o_;
  std::vector<std::string> files_;
};

TEST_F(SealedCorruption, ChecksumMismatchIsReportedAndTheFrameNeverReturned) {
  const std::string& victim = files_[1];
  std::string bytes = test::ReadFileBytes(victim);
  auto frames = Frames(bytes);
  ASSERT_GE(frames.size(), 2u);
  const auto& [off, h] = frames[1];
  bytes[off + format::kFrameHeaderSize + h.stored_len / 2] ^= 0x20;
  test::WriteFileBytes(victim, bytes);

  auto it = QueryDirectory(dir_.path(), {});
  ASSERT_TRUE(it.ok());
  EventView e;
  uint64_t last = 0;
  while ((*it)->Next(&e)) last = e.seq;
  EXPECT_EQ(last, h.first_seq - 1) << "events stop right before the corrupt frame";
  EXPECT_EQ((*it)->status().code(), StatusCode::kCorruption);
  EXPECT_NE((*it)->status().message().find("checksum"), std::string::npos) << (*it)->status().message();
  EXPECT_NE((*it)->status().message().find(std::to_string(h.first_seq)), std::string::npos);

  // Frames that cannot match are skipped, so a query past it still works...
  Query after;
  after.after = h.first_seq + h.count - 1;
  EXPECT_EQ(QueryAll(dir_.path(), after).front().seq, h.first_seq + h.count);
  // ...and the writer opens without rescanning sealed segments.
  auto log = Log::Open(o_);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ((*log)->recovery().last_seq, 600u);
}

TEST_F(SealedCorruption, FlippedHeaderByteIsReported) {
  const std::string& victim = files_[0];
  std::string bytes = test::ReadFileBytes(victim);
  auto frames = Frames(bytes);
  bytes[frames[0].first + 20] ^= 0x01;  // inside first_seq of the header
  test::WriteFileBytes(victim, bytes);
  auto it = QueryDirectory(dir_.path(), {});
  ASSERT_TRUE(it.ok());
  EventView e;
  EXPECT_FALSE((*it)->Next(&e));
  EXPECT_EQ((*it)->status().code(), StatusCode::kCorruption);
}

TEST_F(SealedCorruption, DamagedIndexIsReported) {
  const std::string& victim = files_[0];
  std::string bytes = test::ReadFileBytes(victim);
  bytes[bytes.size() - format::kTrailerSize - 3] ^= 0x40;  // inside the frame index
  test::WriteFileBytes(victim, bytes);
  auto it = QueryDirectory(dir_.path(), {});
  ASSERT_TRUE(it.ok());
  EventView e;
  EXPECT_FALSE((*it)->Next(&e));
  EXPECT_EQ((*it)->status().code(), StatusCode::kCorruption);
  EXPECT_NE((*it)->status().message().find("index"), std::string::npos);
}

TEST(Recovery, CorruptFrameFollowedByValidFramesRefusesToOpen) {
  // Mid-log damage in the active segment is not a torn tail: truncating
  // would silently drop acknowledged events, so open fails instead.
  TempDir dir;
  Options o;
  o.dir = dir.path();
  const std::string seg = WriteBatches(o, 3, 4);
  std::string bytes = test::ReadFileBytes(seg);
  format::FrameHeader h;
  ASSERT_TRUE(format::DecodeFrameHeader(bytes.data() + format::kSegmentHeaderSize, &h));
  bytes[format::kSegmentHeaderSize + format::kFrameHeaderSize + 1] ^= 0x08;
  test::WriteFileBytes(seg, bytes);
  auto log = Log::Open(o);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kCorruption);
  EXPECT_NE(log.status().message().find("seq 1..4"), std::string::npos) << log.status().message();
  EXPECT_EQ(test::ReadFileBytes(seg), bytes) << "nothing was truncated";
}

TEST(Recovery, EmptySegmentLeftByACrashDuringCreationIsReplaced) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  WriteBatches(o, 1, 3);
  // A sealed predecessor then a zero-length file, as a crash between
  // creating the next segment and writing its header leaves.
  {
    o.segment_max_bytes = 1;
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append(Event(4)).ok());
    ASSERT_TRUE((*log)->Shutdown().ok());
  }
  auto files = test::SegmentFiles(dir.path());
  test::WriteFileBytes(files.back(), "");
  o.segment_max_bytes = 256 << 20;
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(*(*log)->Append(Event(5)), 5u);
  ASSERT_TRUE((*log)->Shutdown().ok());
  EXPECT_EQ(test::Seqs(QueryAll(dir.path(), {})), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

}  // namespace
}  // namespace stele
