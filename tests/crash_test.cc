// Crash safety with real processes: a forked writer under sync=always is
// killed with SIGKILL at random instants; after each kill the log reopens,
// every acknowledged event is present with exact content, and seqs have no
// gaps.  (Slow suite.)
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

#include "index/lead_runs.h"
#include "index/live_index.h"
#include "test_util.h"

namespace stele {
namespace {

std::string Payload(uint64_t producer, uint64_t counter) {
  return R"({"p":)" + std::to_string(producer) + R"(,"c":)" + std::to_string(counter) + R"(,"pad":")" +
         std::string(40 + (counter * 7) % 200, 'a' + static_cast<char>(counter % 26)) + "\"}";
}

struct Ack {
  uint64_t seq, producer, counter;
};

// With lead runs, events name one of a few leads, so every sealed segment
// gets runs (and a kill can land while the indexer thread writes them).
constexpr uint64_t kLeadRunMinEvents = 4;
std::string LeadOf(uint64_t counter) { return "L" + std::to_string(counter % 5); }

// Child: appends forever from `producers` threads, writing an Ack to the
// pipe after each Append returns.  Never returns.
// The modes: plain; with lead runs; with an active segment of many live
// index chunks (so kills land while .lidx chunks are written and resumed).
enum class Mode { kPlain, kLeadRuns, kLiveIndex };

Options CrashOptions(const std::string& dir, Mode mode) {
  Options o;
  o.dir = dir;
  if (mode == Mode::kLeadRuns) o.lead_run_min_events = kLeadRunMinEvents;
  if (mode == Mode::kLiveIndex) {
    o.segment_max_bytes = 1 << 20;
    o.live_index_chunk_events = 40;
  }
  return o;
}

[[noreturn]] void ChildWriter(const std::string& dir, int fd, int producers, uint64_t generation, Mode mode) {
  Options o = CrashOptions(dir, mode);
  o.sync = SyncMode::kAlways;
  if (mode != Mode::kLiveIndex) o.segment_max_bytes = 32 << 10;  // crash across rotations and seals too
  o.frame_target_bytes = 2 << 10;
  o.checkpoint_every_events = 300;  // crash around checkpoint writes too
  const bool lead_runs = mode != Mode::kPlain;
  auto log = Log::Open(o);
  if (!log.ok()) _exit(3);
  Ack ready{0, 0, 0};  // seq 0: "open, appending from now on"
  if (write(fd, &ready, sizeof ready) != sizeof ready) _exit(5);
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      const uint64_t producer = generation * 100 + static_cast<uint64_t>(p);
      for (uint64_t c = 0;; ++c) {
        const std::string lead = lead_runs ? R"("lead_id":")" + LeadOf(c) + R"(",)" : "";
        auto seq = (*log)->Append(R"({"type":"crash.test",)" + lead + R"("data":)" + Payload(producer, c) + "}");
        if (!seq.ok()) _exit(4);
        Ack a{*seq, producer, c};
        if (write(fd, &a, sizeof a) != sizeof a) _exit(5);
      }
    });
  }
  for (auto& t : threads) t.join();
  _exit(0);
}

void CrashLoop(int producers, int iterations, Mode mode = Mode::kPlain) {
  const bool lead_runs = mode != Mode::kPlain;
  test::TempDir dir;
  std::mt19937_64 rng(12345 + static_cast<uint64_t>(producers));
  std::vector<Ack> acked;
  for (int it = 0; it < iterations; ++it) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      ChildWriter(dir.path(), fds[1], producers, static_cast<uint64_t>(it), mode);
    }
    close(fds[1]);
    // Read acks while the child runs, then kill it at a random instant:
    // one time in four counted from the fork (so some kills land inside
    // open and recovery), otherwise from when the child is appending (so a
    // slow, sanitized or loaded machine still makes progress).
    const bool from_fork = rng() % 4 == 0;
    const auto delay = std::chrono::microseconds(2000 + rng() % 30000);
    auto kill_at = std::chrono::steady_clock::now() + (from_fork ? delay : std::chrono::seconds(10));
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    Ack a;
    while (std::chrono::steady_clock::now() < kill_at) {
      while (read(fds[0], &a, sizeof a) == sizeof a) {
        if (a.seq == 0) {
          if (!from_fork) kill_at = std::chrono::steady_clock::now() + delay;
          continue;
        }
        acked.push_back(a);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with " << WEXITSTATUS(status);
    while (read(fds[0], &a, sizeof a) == sizeof a) {
      if (a.seq != 0) acked.push_back(a);
    }
    close(fds[0]);

    // Reopen as the writer (recovery), then check every acknowledged event.
    auto log = Log::Open(CrashOptions(dir.path(), mode));
    ASSERT_TRUE(log.ok()) << "iteration " << it << ": " << log.status().ToString();
    const uint64_t last = (*log)->recovery().last_seq;
    // Lookups through the reopened log's index (a resumed .lidx and the
    // frames after it), checked below against the events read in full.
    std::vector<std::pair<uint64_t, uint64_t>> counted;  // lead, count
    if (lead_runs) {
      for (uint64_t k = 0; k < 5; ++k) {
        Query q;
        q.lead_id = LeadOf(k);
        auto n = (*log)->Count(q);
        ASSERT_TRUE(n.ok()) << n.status().ToString();
        counted.emplace_back(k, *n);
      }
    }
    ASSERT_TRUE((*log)->Shutdown().ok());
    auto events = test::QueryAll(dir.path(), {});
    ASSERT_EQ(events.size(), last) << "iteration " << it;
    for (size_t k = 0; k < events.size(); ++k) ASSERT_EQ(events[k].seq, k + 1) << "gap at iteration " << it;
    // The Merkle tree and every signed checkpoint survive the crash too.
    auto report = VerifyLog(dir.path(), {});
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    ASSERT_TRUE(report->ok) << "iteration " << it << ": seq " << report->first_bad_seq << ": " << report->reason;
    for (const Ack& x : acked) {
      ASSERT_LE(x.seq, last) << "acknowledged seq " << x.seq << " lost at iteration " << it;
      ASSERT_EQ(events[x.seq - 1].data, Payload(x.producer, x.counter)) << "seq " << x.seq;
    }
    if (lead_runs) {
      // Verify checked the runs against their segments; lookups through
      // them (or the frames, where a run is missing) find every event.
      for (uint64_t k = 0; k < 5; ++k) {
        Query q;
        q.lead_id = LeadOf(k);
        std::vector<uint64_t> want;
        for (const auto& e : events) {
          if (e.lead_id == *q.lead_id) want.push_back(e.seq);
        }
        ASSERT_EQ(test::Seqs(test::QueryAll(dir.path(), q)), want) << "iteration " << it;
        ASSERT_EQ(counted[k].second, want.size()) << "iteration " << it;
      }
    }
  }
  if (mode == Mode::kLeadRuns) {
    size_t runs = 0;
    for (const auto& f : test::SegmentFiles(dir.path())) runs += std::filesystem::exists(LeadRunsPath(f));
    EXPECT_GT(runs, 0u);
  }
  if (mode == Mode::kLiveIndex) {
    EXPECT_TRUE(std::filesystem::exists(LiveIndexPath(test::SegmentFiles(dir.path()).back())));
  }
  EXPECT_GT(acked.size(), static_cast<size_t>(iterations)) << "the writer made progress";
}

TEST(Crash, KillNineSingleProducerLosesNothingAcknowledged) { CrashLoop(1, 100); }
TEST(Crash, KillNineFourProducersLosesNothingAcknowledged) { CrashLoop(4, 60); }
TEST(Crash, KillNineWithLeadRunsLosesNothingAndEveryRunStaysTrue) { CrashLoop(1, 60, Mode::kLeadRuns); }
TEST(Crash, KillNineWhileLiveIndexChunksAreWrittenLeavesEveryLookupExact) {
  CrashLoop(1, 60, Mode::kLiveIndex);
}

}  // namespace
}  // namespace stele
