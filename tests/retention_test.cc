// Retention (SPEC §2): old sealed segments are removed by size and by age,
// what remains verifies against the signed checkpoints from the Merkle base,
// tampering with the base is caught, and cached answers drop removed events.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

#include "integrity/merkle_base.h"
#include "integrity/sha256.h"
#include "test_util.h"
#include "util/env.h"
#include "util/hash.h"
#include "util/time.h"
#include "workload/generator.h"

namespace stele {
namespace {

Options SmallSegments(const std::string& dir) {
  Options o;
  o.dir = dir;
  o.frame_target_bytes = 4 << 10;
  o.segment_max_bytes = 16 << 10;
  o.checkpoint_every_events = 500;
  o.security_interval = std::chrono::hours(1);  // security events are written at shutdown only
  return o;
}

// Appends events [from, to) of the generator in flushed batches of 500.
void AppendRange(Log* log, WorkloadGenerator* gen, uint64_t from, uint64_t to) {
  for (uint64_t i = from; i < to;) {
    std::string batch;
    const uint64_t end = std::min(to, i + 500);
    for (; i < end; ++i) batch += gen->Event(i) + "\n";
    auto r = log->AppendBatch(batch);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r->rejected.empty());
    // One writer batch per AppendBatch, so segments rotate at a steady size.
    ASSERT_TRUE(log->Flush().ok());
  }
}

// The root signed by the checkpoint of exactly `size` events, as hex.
std::string SignedRootAt(const std::string& dir, uint64_t size) {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu.cp", static_cast<unsigned long long>(size));
  const std::string note = test::ReadFileBytes(dir + "/checkpoints/" + name);
  // origin \n size \n base64(root) \n ...
  const size_t a = note.find('\n'), b = note.find('\n', a + 1), c = note.find('\n', b + 1);
  std::string root;
  if (c == std::string::npos || !Base64Decode(note.substr(b + 1, c - b - 1), &root)) return "no checkpoint at that size";
  return ToHex(root);
}

// Events the test appended, without the security.* events stele wrote.
std::vector<test::StoredEvent> Appended(const std::string& dir) {
  auto events = test::QueryAll(dir, Query{});
  std::erase_if(events, [](const test::StoredEvent& e) { return e.type.rfind("security.", 0) == 0; });
  return events;
}

VerifyReport Verify(const std::string& dir) {
  auto r = VerifyLog(dir, VerifyOptions{});
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : VerifyReport{};
}

class Retention : public ::testing::Test {
 protected:
  // Writes the same 10,000 events to a log with a 128 KiB size limit and to
  // one without retention.
  void WriteBoth() {
    Options kept = SmallSegments(full_.path());
    Options limited = SmallSegments(dir_.path());
    limited.retention_max_bytes = 128 << 10;
    for (Options* o : {&kept, &limited}) {
      auto log = Log::Open(*o);
      ASSERT_TRUE(log.ok()) << log.status().ToString();
      WorkloadGenerator gen(WorkloadGenerator::Config{});
      AppendRange(log->get(), &gen, 0, kEvents);
      ASSERT_TRUE((*log)->Checkpoint().ok());  // signed at kEvents, before stele's own events
      if (o == &limited) stats_ = (*log)->stats();
      ASSERT_TRUE((*log)->Shutdown().ok());
    }
  }
  static constexpr uint64_t kEvents = 10'000;
  test::TempDir dir_, full_;
  LogStats stats_;
};

TEST_F(Retention, SizeLimitRemovesOldestSegmentsAndTheRestVerifies) {
  WriteBoth();
  EXPECT_GT(stats_.segments_removed, 0u);
  EXPECT_GT(stats_.first_seq, 1u);
  uint64_t bytes = 0;
  for (const auto& f : test::SegmentFiles(dir_.path())) bytes += test::FileSize(f);
  EXPECT_LE(bytes, 128u << 10);

  // Exactly the newest events remain, contiguous up to the last.
  auto events = Appended(dir_.path());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().seq, stats_.first_seq);
  EXPECT_EQ(events.back().seq, kEvents);
  EXPECT_EQ(events.size(), kEvents - stats_.first_seq + 1);
  auto all = test::QueryAll(full_.path(), Query{});
  ASSERT_EQ(all.size(), kEvents);
  EXPECT_TRUE(std::equal(events.begin(), events.end(), all.begin() + static_cast<long>(stats_.first_seq - 1)));

  // Verification resumes at the base and reaches the same root as the log
  // that kept everything.
  VerifyReport trimmed = Verify(dir_.path());
  VerifyReport whole = Verify(full_.path());
  ASSERT_TRUE(trimmed.ok) << trimmed.reason;
  ASSERT_TRUE(whole.ok) << whole.reason;
  EXPECT_EQ(trimmed.first_seq, stats_.first_seq);
  EXPECT_GT(trimmed.events, kEvents - stats_.first_seq);  // + stele's security events
  EXPECT_EQ(SignedRootAt(dir_.path(), kEvents), whole.root_hex);
  EXPECT_GT(trimmed.checkpoints, 0u);
  EXPECT_GT(trimmed.checkpoints_before_retention, 0u);

  // The log records its own deletions, naming what went.
  Query q;
  q.type = "security.retention_applied";
  auto records = test::QueryAll(dir_.path(), q);
  ASSERT_FALSE(records.empty());
  EXPECT_NE(records[0].data.find("\"seqs\":\"1.."), std::string::npos) << records[0].data;
  EXPECT_NE(records.back().data.find(".." + std::to_string(stats_.first_seq - 1) + "\""), std::string::npos)
      << records.back().data;
}

TEST_F(Retention, ProofsStillWorkForRetainedEvents) {
  WriteBoth();
  auto prover = Prover::Open(dir_.path());
  ASSERT_TRUE(prover.ok()) << prover.status().ToString();
  auto proof = ProveInclusionJson(dir_.path(), kEvents - 3, kEvents);
  ASSERT_TRUE(proof.ok()) << proof.status().ToString();
  EXPECT_TRUE(VerifyProofJson(*proof).ok());
  // A removed event has no proof, and says so.
  auto gone = ProveInclusionJson(dir_.path(), 1, kEvents);
  EXPECT_FALSE(gone.ok());
}

TEST_F(Retention, AForgedBaseIsCaughtByTheSignedCheckpoints) {
  WriteBoth();
  const std::string path = MerkleBasePath(dir_.path());
  std::string bytes = test::ReadFileBytes(path);
  bytes[8 + 8 + 4] ^= 1;  // first hash, with a valid checksum
  const uint64_t sum = Checksum(bytes.data(), bytes.size() - 8);
  std::memcpy(bytes.data() + bytes.size() - 8, &sum, 8);
  test::WriteFileBytes(path, bytes);
  VerifyReport r = Verify(dir_.path());
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.reason.find("checkpoint"), std::string::npos) << r.reason;
}

TEST_F(Retention, ADeletedBaseShowsTheMissingEvents) {
  WriteBoth();
  ASSERT_EQ(std::remove(MerkleBasePath(dir_.path()).c_str()), 0);
  VerifyReport r = Verify(dir_.path());
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_seq, 1u);
  EXPECT_NE(r.reason.find("missing"), std::string::npos) << r.reason;
}

TEST_F(Retention, AgeLimitRemovesSegmentsWhoseEventsAreAllOld) {
  {
    auto log = Log::Open(SmallSegments(dir_.path()));
    ASSERT_TRUE(log.ok());
    WorkloadGenerator::Config old_cfg;
    old_cfg.start_ns = 1'577'836'800'000'000'000;  // 2020-01-01
    WorkloadGenerator old_gen(old_cfg);
    AppendRange(log->get(), &old_gen, 0, 3000);
    WorkloadGenerator::Config new_cfg;
    new_cfg.start_ns = NowNanos() - 3'600'000'000'000;  // an hour ago
    WorkloadGenerator new_gen(new_cfg);
    AppendRange(log->get(), &new_gen, 3000, 6000);
    ASSERT_TRUE((*log)->Shutdown().ok());
  }
  const size_t segments_before = test::SegmentFiles(dir_.path()).size();
  Options o = SmallSegments(dir_.path());
  o.retention_max_age = std::chrono::hours(24 * 30);
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  const LogStats s = (*log)->stats();
  ASSERT_TRUE((*log)->Shutdown().ok());
  EXPECT_GT(s.segments_removed, 0u);
  EXPECT_EQ(test::SegmentFiles(dir_.path()).size(), segments_before - s.segments_removed);
  // Every old event is gone except those sharing a segment with a new one.
  auto events = Appended(dir_.path());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().seq, s.first_seq);
  EXPECT_LE(s.first_seq, 3001u);
  EXPECT_GT(s.first_seq, 2000u);
  EXPECT_EQ(events.back().seq, 6000u);
  VerifyReport r = Verify(dir_.path());
  EXPECT_TRUE(r.ok) << r.reason;
}

TEST_F(Retention, CachedAnswersDropRemovedEvents) {
  Options o = SmallSegments(dir_.path());
  o.retention_max_bytes = 128 << 10;
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok());
  WorkloadGenerator gen(WorkloadGenerator::Config{});
  AppendRange(log->get(), &gen, 0, 1000);
  Query q;
  q.limit = 10000;
  auto first = (*log)->QueryPage(q);
  ASSERT_TRUE(first.ok());
  ASSERT_NE(first->find("{\"seq\":1,"), std::string::npos);
  ASSERT_TRUE((*log)->QueryPage(q).ok());
  EXPECT_EQ((*log)->stats().cache_hits, 1u);
  // Enough new events that retention removes the first segments.
  AppendRange(log->get(), &gen, 1000, 10000);
  const LogStats s = (*log)->stats();
  ASSERT_GT(s.first_seq, 1000u);
  auto after = (*log)->QueryPage(q);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->find("{\"seq\":1,"), std::string::npos);
  EXPECT_EQ(after->find("{\"seq\":" + std::to_string(s.first_seq) + ","), 0u);
  EXPECT_EQ((*log)->stats().cache_misses, s.cache_misses + 1);  // the cleared answer was recomputed
}

TEST_F(Retention, AnInterruptedRemovalIsFinishedOnOpen) {
  {
    auto log = Log::Open(SmallSegments(dir_.path()));
    ASSERT_TRUE(log.ok());
    WorkloadGenerator gen(WorkloadGenerator::Config{});
    AppendRange(log->get(), &gen, 0, 4000);
    ASSERT_TRUE((*log)->Shutdown().ok());
  }
  // A crash after the base was written, before any segment was removed.
  auto files = test::SegmentFiles(dir_.path());
  ASSERT_GT(files.size(), 3u);
  const uint64_t third_first = std::stoull(files[2].substr(files[2].rfind('/') + 1));
  Env* env = Env::Default();
  auto base = ComputeMerkleBase(env, dir_.path(), third_first - 1, std::nullopt);
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  ASSERT_TRUE(WriteMerkleBase(env, dir_.path(), *base).ok());
  VerifyReport before = Verify(dir_.path());
  EXPECT_TRUE(before.ok) << before.reason;  // segments 1 and 2 still there: read, not needed

  auto log = Log::Open(SmallSegments(dir_.path()));  // no policy: finishes the removal only
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ((*log)->stats().segments_removed, 2u);
  EXPECT_EQ((*log)->stats().first_seq, third_first);
  ASSERT_TRUE((*log)->Shutdown().ok());
  EXPECT_EQ(test::SegmentFiles(dir_.path()).size(), files.size() - 2);
  VerifyReport after = Verify(dir_.path());
  EXPECT_TRUE(after.ok) << after.reason;
  EXPECT_EQ(after.first_seq, third_first);
  EXPECT_EQ(SignedRootAt(dir_.path(), 4000), before.root_hex);  // checked by `after` against the events
}

TEST_F(Retention, BasesChainAcrossRunsWithTinySegments) {
  // Segments far smaller than 256 events: the stored-hash path cannot
  // reach the leaves it needs, so the base is extended from the previous one.
  Options o = SmallSegments(dir_.path());
  o.segment_max_bytes = 2 << 10;
  o.frame_target_bytes = 1 << 10;
  o.retention_max_bytes = 8 << 10;
  Options k = o;
  k.dir = full_.path();
  k.retention_max_bytes = 0;
  for (Options* opt : {&o, &k}) {
    auto log = Log::Open(*opt);
    ASSERT_TRUE(log.ok());
    WorkloadGenerator gen(WorkloadGenerator::Config{});
    for (uint64_t i = 0; i < 3000; i += 20) AppendRange(log->get(), &gen, i, i + 20);
    ASSERT_TRUE((*log)->Checkpoint().ok());
    ASSERT_TRUE((*log)->Shutdown().ok());
  }
  VerifyReport trimmed = Verify(dir_.path());
  VerifyReport whole = Verify(full_.path());
  ASSERT_TRUE(trimmed.ok) << trimmed.reason;
  EXPECT_GT(trimmed.first_seq, 2500u);
  EXPECT_EQ(SignedRootAt(dir_.path(), 3000), whole.root_hex);
}

}  // namespace
}  // namespace stele
