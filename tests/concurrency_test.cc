// Many producers, concurrent readers, and backpressure.  Run under TSan by
// scripts/sanitize.sh.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "fault_env.h"
#include "stele/integrity.h"
#include "test_util.h"
#include "util/task_thread.h"

namespace stele {
namespace {

using test::TempDir;

std::string Event(int producer, int i) {
  return R"({"type":"p.event","actor":"p)" + std::to_string(producer) + R"(","data":{"p":)" +
         std::to_string(producer) + R"(,"i":)" + std::to_string(i) + "}}";
}

TEST(Concurrency, SixteenProducersAndAReaderAgreeOnOneOrder) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  o.segment_max_bytes = 64 << 10;  // rotate while reading
  o.frame_target_bytes = 4 << 10;
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok());
  constexpr int kProducers = 16, kPerProducer = 2500;
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::vector<std::map<int, uint64_t>> acked(kProducers);  // i -> seq, per producer

  std::thread reader([&] {
    while (!done) {
      // Another handle reading the directory: every result must be a
      // gap-free prefix 1..k.
      auto events = test::QueryAll(dir.path(), {});
      for (size_t k = 0; k < events.size(); ++k) ASSERT_EQ(events[k].seq, k + 1);
      Query q;
      q.actor = "p3";
      q.descending = true;
      q.limit = 10;
      auto it = (*log)->Query(q);
      ASSERT_TRUE(it.ok());
      auto recent = test::Collect(it->get());
      for (size_t k = 1; k < recent.size(); ++k) ASSERT_LT(recent[k].seq, recent[k - 1].seq);
      ++reads;
    }
  });
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        auto seq = (*log)->Append(Event(p, i));
        ASSERT_TRUE(seq.ok()) << seq.status().ToString();
        acked[p][i] = *seq;
        if (i % 500 == 0) {
          ASSERT_TRUE((*log)->Flush().ok());
        }
      }
    });
  }
  for (auto& t : producers) t.join();
  done = true;
  reader.join();
  ASSERT_TRUE((*log)->Shutdown().ok());
  EXPECT_GT(reads.load(), 0);

  auto events = test::QueryAll(dir.path(), {});
  ASSERT_EQ(events.size(), size_t{kProducers * kPerProducer});
  for (int p = 0; p < kProducers; ++p) {
    uint64_t prev = 0;
    for (const auto& [i, seq] : acked[p]) {
      ASSERT_GT(seq, prev) << "a producer's events keep its order";
      prev = seq;
      EXPECT_EQ(events[seq - 1].data, R"({"p":)" + std::to_string(p) + R"(,"i":)" + std::to_string(i) + "}");
    }
  }
}

// A batch larger than half the queue (one buffer) goes alone into an empty
// buffer, beside producers of single events, and every event lands once.
TEST(Concurrency, BatchesLargerThanTheQueueLandWhileOthersAppend) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  o.queue_bytes = 8 << 10;
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok());
  std::string batch;
  for (int i = 0; i < 200; ++i) batch += Event(99, i) + "\n";  // ~14 KiB of records
  std::atomic<int> singles{0};
  std::thread single([&] {
    for (int i = 0; i < 500; ++i) {
      if ((*log)->Append(Event(1, i)).ok()) ++singles;
    }
  });
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (int b = 0; b < 5; ++b) {
    auto r = (*log)->AppendBatch(batch);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->appended, 200u);
    ranges.emplace_back(r->first_seq, r->last_seq);
  }
  single.join();
  ASSERT_TRUE((*log)->Flush().ok());
  ASSERT_TRUE((*log)->Shutdown().ok());
  const auto events = test::QueryAll(dir.path(), {});
  ASSERT_EQ(events.size(), 1000u + static_cast<size_t>(singles.load()));
  for (const auto& [first, last] : ranges) {
    ASSERT_EQ(last - first, 199u);
    for (uint64_t seq = first; seq <= last; ++seq) ASSERT_EQ(events[seq - 1].actor, "p99") << seq;
  }
}

TEST(Concurrency, BackpressureGivesBusyBoundsTheQueueAndLosesNothingAcknowledged) {
  TempDir dir;
  test::FaultEnv env;
  env.sync_delay_ms = 20;  // a slow disk
  Options o;
  o.dir = dir.path();
  o.env = &env;
  o.queue_bytes = 16 << 10;
  o.enqueue_deadline = std::chrono::milliseconds(5);
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok());
  constexpr int kProducers = 8, kPerProducer = 400;
  std::atomic<int> busy{0};
  std::vector<std::set<uint64_t>> acked(kProducers);
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        auto seq = (*log)->Append(Event(p, i));
        if (seq.ok()) {
          acked[p].insert(*seq);
        } else {
          ASSERT_EQ(seq.status().code(), StatusCode::kBusy) << seq.status().ToString();
          EXPECT_NE(seq.status().message().find("retry"), std::string::npos);
          ++busy;
        }
      }
    });
  }
  for (auto& t : producers) t.join();
  ASSERT_TRUE((*log)->Flush().ok());
  const LogStats stats = (*log)->stats();
  ASSERT_TRUE((*log)->Shutdown().ok());

  EXPECT_GT(busy.load(), 0) << "producers faster than the disk must see busy";
  EXPECT_EQ(stats.busy_rejects, static_cast<uint64_t>(busy.load()));
  EXPECT_LE(stats.queue_peak_bytes, o.queue_bytes / 2) << "what waits never exceeds its half of the bound";
  size_t total = 0;
  auto events = test::QueryAll(dir.path(), {});
  for (int p = 0; p < kProducers; ++p) {
    total += acked[p].size();
    for (uint64_t seq : acked[p]) {
      ASSERT_LE(seq, events.size());
      EXPECT_EQ(events[seq - 1].actor, "p" + std::to_string(p));
    }
  }
  EXPECT_EQ(events.size(), total) << "every acknowledged event landed, and only those";
  EXPECT_EQ(total + static_cast<size_t>(busy.load()), size_t{kProducers * kPerProducer});
}

}  // namespace
}  // namespace stele

namespace stele {
namespace {

TEST(TaskThread, RunsEachTaskOnItsOwnThreadAndWaitPublishesItsWrites) {
  TaskThread worker("test-worker");
  uint64_t sum = 0;  // plain: Wait() is the happens-before edge (TSan checks it)
  const auto caller = std::this_thread::get_id();
  for (int i = 1; i <= 200; ++i) {
    worker.Run([&sum, i, caller] {
      if (std::this_thread::get_id() == caller) return Status::InvalidArgument("ran on the caller's thread");
      sum += static_cast<uint64_t>(i);
      return i % 50 == 0 ? Status::IOError("task " + std::to_string(i)) : Status::Ok();
    });
    const Status s = worker.Wait();
    if (i % 50 == 0) {
      EXPECT_EQ(s.code(), StatusCode::kIOError);
      EXPECT_EQ(s.message(), "task " + std::to_string(i));
    } else {
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
  }
  EXPECT_EQ(sum, 200u * 201u / 2);
}

TEST(TaskThread, DestructionFinishesATaskNobodyWaitedFor) {
  std::atomic<bool> ran{false};
  {
    TaskThread worker("test-worker");
    worker.Run([&ran] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ran = true;
      return Status::Ok();
    });
  }
  EXPECT_TRUE(ran);
}

// Batches above LogImpl's overlap threshold are indexed and hashed on the helper thread
// while the writer compresses them: the signed roots must still be the roots
// of exactly the stored events, in seq order.
TEST(Concurrency, LargeBatchesHashedBesideTheWriterVerify) {
  TempDir dir;
  Options o;
  o.dir = dir.path();
  o.checkpoint_every_events = 3000;
  o.segment_max_bytes = 512 << 10;
  {
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok());
    std::vector<std::thread> producers;
    for (int p = 0; p < 4; ++p) {
      producers.emplace_back([&, p] {
        for (int b = 0; b < 4; ++b) {
          std::string ndjson;
          for (int i = 0; i < 2000; ++i) ndjson += Event(p, b * 2000 + i) + "\n";
          ASSERT_GT(ndjson.size(), 64u << 10);
          auto r = (*log)->AppendBatch(ndjson);
          ASSERT_TRUE(r.ok()) << r.status().ToString();
          ASSERT_EQ(r->appended, 2000u);
        }
      });
    }
    for (auto& t : producers) t.join();
    ASSERT_TRUE((*log)->Shutdown().ok());
  }
  auto report = VerifyLog(dir.path(), {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->ok) << report->reason;
  EXPECT_EQ(report->events, 32000u);
  EXPECT_GE(report->checkpoints, 1u);
}

}  // namespace
}  // namespace stele
