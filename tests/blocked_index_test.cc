// The version 4 (blocked) segment index: every lookup answers as the
// version 2 index it was written from, across many small blocks, and any
// damage to the file is either refused when it is opened or answered with
// a superset (every frame, or nullopt so the caller reads the frames):
// never a wrong answer.
#include "index/blocked_index.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "event/record.h"
#include "index/segment_index.h"
#include "test_util.h"

namespace stele {
namespace {

// Frames of events with Zipf-ish leads, 40 types in 4 families, 30 actors.
std::string BuildVersion2(uint32_t frames, std::mt19937_64& rng) {
  SegmentIndexBuilder b;
  for (uint32_t f = 0; f < frames; ++f) {
    std::string raw;
    const int events = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < events; ++i) {
      const std::string type = std::string("abcd").substr(rng() % 4, 1) + ".t" + std::to_string(rng() % 10);
      const std::string actor = "actor-" + std::to_string(rng() % 30);
      const std::string lead = "L" + std::to_string(100000 + (rng() % 3 ? rng() % 50 : rng() % 5000));
      EventView e;
      e.seq = 1;
      e.type = type;
      e.actor = actor;
      e.lead_id = lead;
      AppendFramedRecord(e, &raw);
    }
    b.AddFrame(f, raw);
  }
  return b.Finish();
}

std::vector<std::pair<std::string, uint64_t>> Values(const SegmentIndex& idx, IndexedField f, Status* s = nullptr) {
  std::vector<std::pair<std::string, uint64_t>> out;
  Status st = idx.ForEachValue(f, [&](std::string_view v, uint64_t n) { out.emplace_back(v, n); });
  if (s) *s = st;
  return out;
}

// Values to probe: every value, and values before, between and after them.
std::vector<std::string> Probes(const std::vector<std::pair<std::string, uint64_t>>& values) {
  std::vector<std::string> probes = {"", "\x01", "\xff"};
  for (const auto& [v, n] : values) {
    probes.push_back(v);
    probes.push_back(v + "0");
    probes.push_back(v.substr(0, v.size() - 1));
  }
  return probes;
}

TEST(BlockedIndex, AnswersAsTheVersion2IndexItWasWrittenFrom) {
  std::mt19937_64 rng(21);
  const std::string v2_bytes = BuildVersion2(300, rng);
  auto v2 = SegmentIndex::Parse(v2_bytes);
  ASSERT_TRUE(v2.ok());
  for (const BlockedIndexOptions& o : {BlockedIndexOptions{}, BlockedIndexOptions{128, 256, 1}}) {
    auto bytes = BlockSegmentIndex(*v2, o);
    ASSERT_TRUE(bytes.ok());
    auto v4 = SegmentIndex::Parse(*bytes);
    ASSERT_TRUE(v4.ok()) << v4.status().ToString();
    EXPECT_EQ(v4->version(), 4u);
    EXPECT_EQ(v4->frame_count(), 300u);
    for (int f = 0; f < kIndexedFieldCount; ++f) {
      const auto field = static_cast<IndexedField>(f);
      const auto values = Values(*v2, field);
      ASSERT_EQ(Values(*v4, field), values) << f;
      EXPECT_EQ(v4->value_count(field), values.size());
      for (const std::string& p : Probes(values)) {
        ASSERT_EQ(v4->Frames(field, p), v2->Frames(field, p)) << f << " " << p;
        ASSERT_EQ(v4->FrameCounts(field, p, false), v2->FrameCounts(field, p, false)) << p;
        ASSERT_EQ(v4->FramesWithPrefix(field, p), v2->FramesWithPrefix(field, p)) << p;
        ASSERT_EQ(v4->FrameCounts(field, p, true), v2->FrameCounts(field, p, true)) << p;
      }
    }
    for (const std::string prefix : {"a.", "b.t", "c.t3", "d", ""}) {
      Query q;
      q.type = prefix + "*";
      q.actor = "actor-7";
      EXPECT_EQ(v4->Candidates(q), v2->Candidates(q)) << prefix;
    }
  }
}

TEST(BlockedIndex, DamageIsRefusedOrAnsweredWithEveryFrame) {
  std::mt19937_64 rng(5);
  const std::string v2_bytes = BuildVersion2(60, rng);
  auto v2 = SegmentIndex::Parse(v2_bytes);
  ASSERT_TRUE(v2.ok());
  auto bytes = BlockSegmentIndex(*v2, {256, 512, 3});
  ASSERT_TRUE(bytes.ok());
  std::vector<uint32_t> every(60);
  for (uint32_t i = 0; i < 60; ++i) every[i] = i;
  const auto leads = Values(*v2, IndexedField::kLeadId);
  size_t refused = 0, superset = 0;
  for (size_t at = 0; at < bytes->size(); ++at) {
    std::string damaged = *bytes;
    damaged[at] ^= 0x10;
    auto v4 = SegmentIndex::Parse(damaged);
    if (!v4.ok()) {
      EXPECT_EQ(v4.status().code(), StatusCode::kCorruption) << at;
      ++refused;
      continue;
    }
    for (int f = 0; f < kIndexedFieldCount; ++f) {
      const auto field = static_cast<IndexedField>(f);
      Status s;
      const auto values = Values(*v4, field, &s);
      if (s.ok()) {
        ASSERT_EQ(values, Values(*v2, field)) << "byte " << at;
      } else {
        EXPECT_TRUE(values.empty()) << "byte " << at << ": nothing handed out before the damage was found";
      }
    }
    for (size_t i = 0; i < leads.size(); i += 13) {
      const std::string& lead = leads[i].first;
      const auto frames = v4->Frames(IndexedField::kLeadId, lead);
      if (frames != v2->Frames(IndexedField::kLeadId, lead)) {
        ASSERT_EQ(frames, every) << "byte " << at;
        ++superset;
      }
      const auto counts = v4->FrameCounts(IndexedField::kLeadId, lead, false);
      if (counts) {
        ASSERT_EQ(counts, v2->FrameCounts(IndexedField::kLeadId, lead, false)) << "byte " << at;
      }
    }
  }
  EXPECT_GT(refused, 0u);
  EXPECT_GT(superset, 0u) << "damaged blocks were found by the lookups that read them";
  EXPECT_EQ(SegmentIndex::Parse(bytes->substr(0, bytes->size() - 1)).status().code(), StatusCode::kCorruption);
}

// One open index serves many query threads (the Log's index cache shares
// it): lookups through the shared block cache, with the file read by
// pread, answer as the version 2 index does on every thread.  Run by TSan.
TEST(BlockedIndex, ThreadsShareOneOpenIndex) {
  std::mt19937_64 rng(8);
  auto v2 = SegmentIndex::Parse(BuildVersion2(200, rng));
  ASSERT_TRUE(v2.ok());
  auto bytes = BlockSegmentIndex(*v2, {512, 1024, 1});
  ASSERT_TRUE(bytes.ok());
  test::TempDir dir;
  const std::string segment = dir.path() + "/00000000000000000001.seg";
  {
    std::ofstream out(SegmentIndexPath(segment), std::ios::binary);
    out << *bytes;
  }
  auto v4 = SegmentIndex::Load(Env::Default(), segment);
  ASSERT_TRUE(v4.ok()) << v4.status().ToString();
  ASSERT_EQ(v4->version(), 4u);
  const auto leads = Values(*v2, IndexedField::kLeadId);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = static_cast<size_t>(t); i < leads.size(); i += 2) {
        const std::string& lead = leads[i].first;
        if (v4->Frames(IndexedField::kLeadId, lead) != v2->Frames(IndexedField::kLeadId, lead)) ++wrong;
        if (v4->FrameCounts(IndexedField::kType, "a.", true) != v2->FrameCounts(IndexedField::kType, "a.", true)) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace stele
