// Basic contract of stele::Log: append, query, flush, shutdown, reopen,
// locking, rotation and sync modes.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "fault_env.h"
#include "test_util.h"

namespace stele {
namespace {

using test::QueryAll;
using test::Seqs;
using test::TempDir;

std::unique_ptr<Log> OpenOrDie(const Options& o) {
  auto log = Log::Open(o);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? std::move(log).value() : nullptr;
}

TEST(Log, AppendAssignsContiguousSeqsAndQueryReturnsThem) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  auto log = OpenOrDie(o);
  for (int i = 1; i <= 5; ++i) {
    auto seq = log->Append(R"({"type":"step.done","actor":"bot","data":{"i":)" + std::to_string(i) + "}}");
    ASSERT_TRUE(seq.ok()) << seq.status().ToString();
    EXPECT_EQ(*seq, static_cast<uint64_t>(i));
  }
  auto it = log->Query({});
  ASSERT_TRUE(it.ok());
  auto events = test::Collect(it->get());
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[2].data, R"({"i":3})");
  EXPECT_EQ(events[2].actor, "bot");
}

// ... but the one security.validation_failed event that records it.
TEST(Log, RejectedAppendLeavesNoTrace) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  auto log = OpenOrDie(o);
  ASSERT_TRUE(log->Append(R"({"type":"a"})").ok());
  auto bad = log->Append(R"({"type":"a","nope":1})");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  auto seq = log->Append(R"({"type":"b"})");
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 2u);
  ASSERT_TRUE(log->Shutdown().ok());
  auto events = QueryAll(dir.path(), {});
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1].type, "b");
  EXPECT_EQ(events[2].type, "security.validation_failed");
  EXPECT_NE(events[2].data.find("field \\\"nope\\\""), std::string::npos) << events[2].data;
}

TEST(Log, BatchLandsGoodLinesContiguouslyAndReportsBadOnes) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  auto log = OpenOrDie(o);
  ASSERT_TRUE(log->Append(R"({"type":"first"})").ok());
  auto r = log->AppendBatch("{\"type\":\"a\"}\n{\"type\":\"BAD\"}\n\n{\"type\":\"b\"}\r\nnot json\n{\"type\":\"c\"}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->appended, 3u);
  EXPECT_EQ(r->first_seq, 2u);
  EXPECT_EQ(r->last_seq, 4u);
  ASSERT_EQ(r->rejected.size(), 2u);
  EXPECT_EQ(r->rejected[0].line, 2u);
  EXPECT_NE(r->rejected[0].status.message().find("\"type\""), std::string::npos);
  EXPECT_EQ(r->rejected[1].line, 5u);
  ASSERT_TRUE(log->Shutdown().ok());
  auto events = QueryAll(dir.path(), {});
  ASSERT_EQ(events.size(), 6u);  // + one security.validation_failed per distinct reason
  EXPECT_EQ(events[4].type, "security.validation_failed");
  EXPECT_EQ(events[5].type, "security.validation_failed");
  EXPECT_EQ(events[1].type, "a");
  EXPECT_EQ(events[2].type, "b");
  EXPECT_EQ(events[3].type, "c");
}

TEST(Log, ReopenContinuesTheSequence) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  for (int round = 0; round < 3; ++round) {
    auto log = OpenOrDie(o);
    EXPECT_EQ(log->recovery().last_seq, static_cast<uint64_t>(round * 2));
    EXPECT_EQ(log->recovery().dropped_bytes, 0u);
    ASSERT_TRUE(log->Append(R"({"type":"a"})").ok());
    ASSERT_TRUE(log->Append(R"({"type":"b"})").ok());
    ASSERT_TRUE(log->Shutdown().ok());
  }
  EXPECT_EQ(Seqs(QueryAll(dir.path(), {})), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
}

TEST(Log, SecondWriterGetsAClearLockedError) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  auto log = OpenOrDie(o);
  auto second = Log::Open(o);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kLocked);
  EXPECT_NE(second.status().message().find("another writer"), std::string::npos);
  ASSERT_TRUE(log->Shutdown().ok());
  EXPECT_TRUE(Log::Open(o).ok()) << "the lock is released by Shutdown";
}

TEST(Log, ShutdownIsIdempotentAndLaterAppendsFailClosed) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  auto log = OpenOrDie(o);
  ASSERT_TRUE(log->Append(R"({"type":"a"})").ok());
  std::thread other([&] { EXPECT_TRUE(log->Shutdown().ok()); });
  EXPECT_TRUE(log->Shutdown().ok());
  other.join();
  EXPECT_TRUE(log->Shutdown().ok());
  auto late = log->Append(R"({"type":"a"})");
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), StatusCode::kClosed);
  EXPECT_TRUE(log->Flush().ok()) << "nothing is pending, so flush has nothing to fail on";
  EXPECT_EQ(QueryAll(dir.path(), {}).size(), 1u);
}

TEST(Log, RotatesBySizeAndSealsWithAnIndexFooter) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  o.segment_max_bytes = 8 << 10;
  o.frame_target_bytes = 2 << 10;
  auto log = OpenOrDie(o);
  for (int i = 0; i < 2000; ++i) {
    const std::string pad = std::to_string(std::hash<int>()(i) * 0x9E3779B97F4A7C15ull);
    ASSERT_TRUE(log->Append(R"({"type":"a","data":{"i":)" + std::to_string(i) + R"(,"pad":")" + pad + R"("}})").ok());
    if (i % 100 == 0) {
      ASSERT_TRUE(log->Flush().ok());
    }
  }
  ASSERT_TRUE(log->Shutdown().ok());
  EXPECT_GT(log->stats().segments_sealed, 2u);
  auto files = test::SegmentFiles(dir.path());
  EXPECT_GT(files.size(), 2u);
  for (size_t i = 0; i + 1 < files.size(); ++i) {
    std::string bytes = test::ReadFileBytes(files[i]);
    EXPECT_EQ(bytes.substr(bytes.size() - 64, 8), "STELEIDX") << files[i];
  }
  auto events = QueryAll(dir.path(), {});
  ASSERT_EQ(events.size(), 2000u);
  for (size_t i = 0; i < events.size(); ++i) ASSERT_EQ(events[i].seq, i + 1);
  // A reopened log continues after the last sealed segment.
  auto again = OpenOrDie(o);
  EXPECT_EQ(*again->Append(R"({"type":"z"})"), 2001u);
}

// The live field index grows with the distinct values a segment holds, not
// with its bytes: a segment is sealed once the index reaches its budget, so
// the writer's memory does not follow the number of distinct leads.
TEST(Log, RotatesWhenTheLiveIndexReachesItsMemoryBudget) {
  auto append_distinct_leads = [](Options o, int n) {
    auto log = OpenOrDie(o);
    for (int i = 0; i < n; ++i) {
      EXPECT_TRUE(log->Append(R"({"type":"a","lead_id":"L)" + std::to_string(i) + R"("})").ok());
      if (i % 500 == 499) {
        EXPECT_TRUE(log->Flush().ok());
      }
    }
    EXPECT_TRUE(log->Shutdown().ok());
    return log->stats().segments_sealed;
  };
  TempDir bounded, unbounded;
  Options o;
  o.dir = bounded.path();
  o.segment_max_index_bytes = 256 << 10;
  EXPECT_GE(append_distinct_leads(o, 20'000), 2u);
  o.dir = unbounded.path();
  o.segment_max_index_bytes = 0;
  EXPECT_EQ(append_distinct_leads(o, 20'000), 0u);

  // Every event is still found through the indexes of the sealed segments.
  for (int lead : {0, 7'777, 19'999}) {
    Query q;
    q.lead_id = "L" + std::to_string(lead);
    EXPECT_EQ(Seqs(QueryAll(bounded.path(), q)), (std::vector<uint64_t>{static_cast<uint64_t>(lead) + 1}));
  }
  EXPECT_EQ(QueryAll(bounded.path(), {}).size(), 20'000u);
}

TEST(Log, RotatesByAgeEvenWhenIdle) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  o.segment_max_age = std::chrono::seconds(1);
  auto log = OpenOrDie(o);
  ASSERT_TRUE(log->Append(R"({"type":"a"})").ok());
  ASSERT_TRUE(log->Flush().ok());
  for (int i = 0; i < 50 && log->stats().segments_sealed == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(log->stats().segments_sealed, 1u);
  ASSERT_TRUE(log->Append(R"({"type":"b"})").ok());
  ASSERT_TRUE(log->Shutdown().ok());
  EXPECT_EQ(test::SegmentFiles(dir.path()).size(), 2u);
  EXPECT_EQ(Seqs(QueryAll(dir.path(), {})), (std::vector<uint64_t>{1, 2}));
}

TEST(Log, SyncNoneDefersSyncUntilFlush) {
  TempDir dir;
  test::FaultEnv env;
  Options o;
  o.dir = dir.path();
  o.env = &env;
  o.sync = SyncMode::kNone;
  auto log = OpenOrDie(o);
  const uint64_t syncs_at_open = env.syncs;
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(log->Append(R"({"type":"a"})").ok());
  auto q = log->Query({});  // waits until written, not synced
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(test::Collect(q->get()).size(), 100u);
  EXPECT_EQ(env.syncs, syncs_at_open);
  EXPECT_LT(log->stats().durable_seq, 100u);
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(log->stats().durable_seq, 100u);
  EXPECT_GT(env.syncs, syncs_at_open);
}

TEST(Log, SyncAlwaysReturnsOnlyWhenDurable) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  o.sync = SyncMode::kAlways;
  auto log = OpenOrDie(o);
  for (int i = 0; i < 20; ++i) {
    auto seq = log->Append(R"({"type":"a"})");
    ASSERT_TRUE(seq.ok());
    EXPECT_GE(log->stats().durable_seq, *seq);
  }
}

TEST(Log, QueryFromAnotherHandleSeesFlushedEventsWhileTheWriterRuns) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  auto log = OpenOrDie(o);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(log->Append(R"({"type":"a","lead_id":"L1"})").ok());
  ASSERT_TRUE(log->Flush().ok());
  Query q;
  q.lead_id = "L1";
  EXPECT_EQ(QueryAll(dir.path(), q).size(), 1000u);
}

TEST(Log, QueryOfAMissingDirectoryIsNotFound) {
  auto it = QueryDirectory("/nonexistent/stele", {});
  ASSERT_FALSE(it.ok());
  EXPECT_EQ(it.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace stele

namespace stele {
namespace {

// Waits up to 10 s for `ready`: a regression fails the test, never hangs it.
template <typename Pred>
bool Eventually(Pred ready) {
  for (int i = 0; i < 10'000 && !ready(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return ready();
}

Options OptionsOver(const TempDir& dir, test::FaultEnv* env, SyncMode sync) {
  Options o;
  o.dir = dir.path();
  o.env = env;
  o.sync = sync;
  return o;
}

// Lets held syncs go when a test ends, however it ends.
struct SyncRelease {
  test::FaultEnv* env;
  ~SyncRelease() { env->hold_syncs = false; }
};

TEST(Log, AnEventAppendedQueuedIsDurableOnlyOnceItsSyncEnds) {
  TempDir dir;
  test::FaultEnv env;
  auto log = OpenOrDie(OptionsOver(dir, &env, SyncMode::kAlways));
  env.hold_syncs = true;
  // Returns while the writer is held in the sync of its batch (Append()
  // would wait there).
  auto queued = std::async(std::launch::async, [&] { return log->AppendQueued(R"({"type":"a"})"); });
  SyncRelease release_first{&env};  // destroyed before the future, which may be waiting on the hold
  ASSERT_EQ(queued.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const Result<uint64_t> seq = queued.get();
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  ASSERT_TRUE(Eventually([&] { return env.syncs_held > 0; }));
  EXPECT_LT(log->stats().durable_seq, *seq);
  auto durable = std::async(std::launch::async, [&] { return log->WaitDurable(*seq); });
  SyncRelease release_second{&env};
  EXPECT_EQ(durable.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout)
      << "WaitDurable returned while the event's sync was held";
  env.hold_syncs = false;
  ASSERT_EQ(durable.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(durable.get().ok());
  EXPECT_GE(log->stats().durable_seq, *seq);
  // An event queued after it is there too, and a seq not handed out is an error.
  auto next = log->AppendQueued(R"({"type":"b"})");
  ASSERT_TRUE(next.ok());
  EXPECT_TRUE(log->WaitDurable(*next).ok());
  const Status ahead = log->WaitDurable(*next + 1);
  EXPECT_EQ(ahead.code(), StatusCode::kInvalidArgument) << ahead.ToString();
  ASSERT_TRUE(log->Shutdown().ok());
  EXPECT_EQ(Seqs(QueryAll(dir.path(), {})), (std::vector<uint64_t>{*seq, *next}));
}

// TryAppendQueued() is AppendQueued() for a caller that must not block
// (one holding a GIL): with the writer held in a sync and the queue full,
// it refuses at once, and what it accepted lands.
TEST(Log, TryAppendQueuedRefusesAtOnceWhenTheQueueIsFull) {
  TempDir dir;
  test::FaultEnv env;
  Options o = OptionsOver(dir, &env, SyncMode::kAlways);
  o.queue_bytes = 16 << 10;
  o.enqueue_deadline = std::chrono::hours(1);  // a push that waited would outlast the test
  auto log = OpenOrDie(o);
  SyncRelease release{&env};
  env.hold_syncs = true;
  const Result<uint64_t> waits = log->TryAppend(R"({"type":"a"})");
  EXPECT_EQ(waits.status().code(), StatusCode::kBusy) << "TryAppend() under kAlways would wait for the disk";
  auto filled = std::async(std::launch::async, [&] {
    std::vector<uint64_t> accepted;
    Status refused;
    // Both buffers fill (one held by the writer, in its sync), then a refusal.
    for (int i = 0; i < 10'000 && refused.ok(); ++i) {
      Result<uint64_t> r = log->TryAppendQueued(R"({"type":"a","data":{"i":)" + std::to_string(i) + "}}");
      if (r.ok()) accepted.push_back(*r);
      else refused = r.status();
    }
    return std::make_pair(accepted, refused);
  });
  SyncRelease release_before_the_future{&env};  // so a try that waited ends, and the test fails rather than hangs
  ASSERT_EQ(filled.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "a try waited for room";
  const auto [accepted, refused] = filled.get();
  EXPECT_EQ(refused.code(), StatusCode::kBusy) << refused.ToString();
  ASSERT_GT(accepted.size(), 10u);
  EXPECT_LT(log->stats().durable_seq, accepted.back());
  env.hold_syncs = false;
  ASSERT_TRUE(log->WaitDurable(accepted.back()).ok());
  ASSERT_TRUE(log->Shutdown().ok());
  EXPECT_EQ(Seqs(QueryAll(dir.path(), {})), accepted) << "every accepted event, and no refused one";
}

TEST(Log, WaitDurableAsksForTheSyncUnderSyncNoneAndInTheCommitWindow) {
  for (const SyncMode mode : {SyncMode::kNone, SyncMode::kBatch}) {
    SCOPED_TRACE(std::string(SyncModeName(mode)));
    TempDir dir;
    test::FaultEnv env;
    Options o = OptionsOver(dir, &env, mode);
    o.batch_commit_delay = std::chrono::hours(1);  // a window no test run can outlast
    auto log = OpenOrDie(o);
    // Under kBatch the first batch after idle is synced at once; the
    // second waits in the window.
    auto first = log->AppendQueued(R"({"type":"a"})");
    ASSERT_TRUE(first.ok());
    if (mode == SyncMode::kBatch) {
      ASSERT_TRUE(Eventually([&] { return log->stats().durable_seq >= *first; }));
    }
    auto seq = log->AppendQueued(R"({"type":"b"})");
    ASSERT_TRUE(seq.ok());
    if (mode == SyncMode::kNone) {  // written, and left unsynced
      ASSERT_TRUE(Eventually([&] { return log->stats().written_seq >= *seq; }));
    }
    EXPECT_LT(log->stats().durable_seq, *seq);
    auto durable = std::async(std::launch::async, [&] { return log->WaitDurable(*seq); });
    ASSERT_EQ(durable.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "nobody synced the event";
    EXPECT_TRUE(durable.get().ok());
    EXPECT_GE(log->stats().durable_seq, *seq);
  }
}

// Events a log recovered at open are durable: waiting for one returns at
// once, with nothing appended since (no sync will come to wake it).
TEST(Log, WaitDurableForAnEventFromBeforeTheOpenReturnsAtOnce) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  {
    auto log = OpenOrDie(o);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(log->AppendQueued(R"({"type":"a"})").ok());
    ASSERT_TRUE(log->Shutdown().ok());
  }
  auto log = OpenOrDie(o);
  auto durable = std::async(std::launch::async, [&] { return log->WaitDurable(3); });
  struct ShutdownFirst {  // a regression fails the test: the shutdown ends the wait
    Log* log;
    ~ShutdownFirst() { (void)log->Shutdown(); }
  } shutdown_first{log.get()};
  ASSERT_EQ(durable.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(durable.get().ok());
  EXPECT_EQ(log->WaitDurable(6).code(), StatusCode::kInvalidArgument);
}

TEST(Log, WaitDurableReportsTheSyncThatFailed) {
  TempDir dir;
  test::FaultEnv env;
  auto log = OpenOrDie(OptionsOver(dir, &env, SyncMode::kAlways));
  env.fail_sync = true;
  auto seq = log->AppendQueued(R"({"type":"a"})");
  ASSERT_TRUE(seq.ok());
  const Status s = log->WaitDurable(*seq);
  EXPECT_EQ(s.code(), StatusCode::kReadOnly) << s.ToString();
  EXPECT_LT(log->stats().durable_seq, *seq);
}

TEST(Log, GroupCommitWindowHoldsBackgroundSyncsButNeverFlush) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  o.batch_commit_delay = std::chrono::hours(1);  // a window no test run can outlast
  auto log = OpenOrDie(o);
  ASSERT_TRUE(log->Append(R"({"type":"a"})").ok());
  // The first batch after idle is written and synced at once.
  for (int i = 0; i < 500 && log->stats().durable_seq < 1; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(log->stats().durable_seq, 1u);
  // The next one waits in the window...
  ASSERT_TRUE(log->Append(R"({"type":"b"})").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(log->stats().durable_seq, 1u);
  EXPECT_EQ(log->stats().written_seq, 1u);
  // ... unless someone waits for it: a reader, Flush() and Checkpoint() cut it short.
  Query all;
  EXPECT_EQ(test::Collect(log->Query(all)->get()).size(), 2u);
  EXPECT_EQ(log->stats().written_seq, 2u);
  ASSERT_TRUE(log->Append(R"({"type":"b2"})").ok());
  ASSERT_TRUE(log->Flush().ok());
  EXPECT_EQ(log->stats().durable_seq, 3u);
  ASSERT_TRUE(log->Append(R"({"type":"c"})").ok());
  auto size = log->Checkpoint();
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(*size, 4u);
  ASSERT_TRUE(log->Shutdown().ok());
  EXPECT_EQ(Seqs(QueryAll(dir.path(), {})), (std::vector<uint64_t>{1, 2, 3, 4}));
}

}  // namespace
}  // namespace stele
