// stele bench latency: append-to-durable latency under sync=always at a
// fixed offered load, beside the latency of a bare write + fdatasync on the
// same file system in the same run (the physical floor), optionally with an
// fsync delay injected through the file layer (SlowSyncEnv).
//
// Open loop: event i is due at start + i / rate whatever happened before,
// and its latency runs from when it was due to when Append returned (so a
// stall is charged to every event it delays: no coordinated omission).  A
// blocking Append needs one thread per event in flight, so the harness runs
// enough producer threads (small stacks) for rate x expected latency.
#include <pthread.h>
#include <sys/prctl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include "cli/commands.h"
#include "stele/log.h"
#include "util/confined_env.h"
#include "util/forwarding_env.h"
#include "util/stall_probe.h"
#include "workload/generator.h"

namespace stele::cli {
namespace {

using Clock = std::chrono::steady_clock;

// How events are offered: see DriveQueued() and DriveThreads().
enum class Harness { kQueued, kThreads };

struct LatencyFlags {
  std::vector<std::string> harnesses{"queued", "threads"};
  std::vector<uint64_t> rates{10'000, 50'000, 200'000};
  std::vector<double> delays_ms{0, 1, 10};
  double seconds = 3;
  unsigned max_producers = 2048;
  std::string work_dir = "./stele-bench-latency";
};

struct Percentiles {
  double p50 = 0, p99 = 0, p999 = 0, max = 0;  // microseconds
};

Percentiles Summarize(std::vector<double>* us) {
  Percentiles p;
  if (us->empty()) return p;
  std::sort(us->begin(), us->end());
  auto at = [&](double q) { return (*us)[static_cast<size_t>(q * static_cast<double>(us->size() - 1))]; };
  p.p50 = at(0.5);
  p.p99 = at(0.99);
  p.p999 = at(0.999);
  p.max = us->back();
  return p;
}

// Runs fn(t) on `threads` threads with small stacks (thousands of them may
// be needed; each mostly waits).
template <typename Fn>
bool RunThreads(unsigned threads, Fn fn) {
  struct Arg {
    Fn* fn;
    unsigned t;
  };
  std::vector<pthread_t> ids(threads);
  std::vector<Arg> args(threads);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256u << 10);
  unsigned started = 0;
  for (; started < threads; ++started) {
    args[started] = {&fn, started};
    auto body = [](void* p) -> void* {
      auto* a = static_cast<Arg*>(p);
      (*a->fn)(a->t);
      return nullptr;
    };
    if (pthread_create(&ids[started], &attr, body, &args[started]) != 0) break;
  }
  pthread_attr_destroy(&attr);
  for (unsigned t = 0; t < started; ++t) pthread_join(ids[t], nullptr);
  return started == threads;
}

// The floor: one 270-byte append + fdatasync at a time, as fast as it goes.
Result<Percentiles> FsyncFloor(Env* env, const std::string& path, unsigned samples) {
  auto f = env->OpenAppendable(path);
  if (!f.ok()) return f.status();
  const std::string line(270, 'x');
  std::vector<double> us;
  for (unsigned i = 0; i < samples; ++i) {
    const auto t0 = Clock::now();
    STELE_RETURN_IF_ERROR((*f)->Append(line));
    STELE_RETURN_IF_ERROR((*f)->Sync());
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  }
  STELE_RETURN_IF_ERROR((*f)->Close());
  return Summarize(&us);
}

// The upper bound of the LogStats fsync bucket holding the 99th percentile
// of the fdatasyncs between two snapshots (infinity in the last bucket).
double FsyncP99Bound(const LogStats& before, const LogStats& after) {
  const uint64_t n = after.fsyncs - before.fsyncs;
  uint64_t seen = 0;
  for (size_t b = 0; b < std::size(LogStats::kFsyncBucketsUs); ++b) {
    seen += after.fsync_buckets[b] - before.fsync_buckets[b];
    if (100 * seen >= 99 * n) return static_cast<double>(LogStats::kFsyncBucketsUs[b]);
  }
  return std::numeric_limits<double>::infinity();
}

struct LoadResult {
  double achieved = 0;  // events/s
  Percentiles latency;
  double events_per_fsync = 0;
  unsigned producers = 0;
  StallProbe::Stalls stalls;  // of the machine, during the load
  double stalled_share = 0;   // of the load's time spent in those stalls
  double fsync_p99_bound_us = 0;  // the log's own fdatasyncs during the load: p99 is at most this
  uint64_t failures = 0;
  std::string first_error;
};

Clock::time_point Due(Clock::time_point start, uint64_t i, uint64_t rate) {
  return start + std::chrono::nanoseconds(static_cast<int64_t>(1e9 * static_cast<double>(i) / static_cast<double>(rate)));
}

// What a harness measured: each counted event's latency from its due time
// to durable, in microseconds.
struct Driven {
  std::vector<double> us;
  unsigned producers = 0;
  uint64_t failures = 0;
  std::string first_error;
};

// Blocking Append() from a thread per event in flight, as a server with a
// thread per request calls it.
Driven DriveThreads(Log* log, const LatencyFlags& f, const std::vector<std::string>& lines, uint64_t n, uint64_t rate,
                    double delay_ms, Clock::time_point start) {
  Driven d;
  // Events in flight = rate x latency, and an event waits up to two
  // commits (the one in progress, then its own): 1.5 x rate x (2 x fsync
  // delay + 1 ms) threads keep the offered load up.  More would only add
  // scheduling noise on two cores (64 vs 200 threads at 50k/s: p99 1.5 vs
  // 4.1 ms); a thread that falls behind its schedule is still charged from
  // the due time.
  const double expected_s = 1.5 * (2 * delay_ms + 1) / 1000.0;
  d.producers = static_cast<unsigned>(
      std::clamp<double>(std::ceil(static_cast<double>(rate) * expected_s), 8, f.max_producers));
  std::vector<std::vector<double>> per_thread(d.producers);
  std::atomic<uint64_t> failures{0};
  std::mutex error_mu;
  const uint64_t warmup = n / 10;  // the first 10% settle the batch size
  RunThreads(d.producers, [&](unsigned t) {
    prctl(PR_SET_TIMERSLACK, 1UL);  // wake on time, not up to 50 us late
    auto& mine = per_thread[t];
    mine.reserve(n / d.producers + 1);
    for (uint64_t i = t; i < n; i += d.producers) {
      const auto due = Due(start, i, rate);
      std::this_thread::sleep_until(due);
      auto seq = log->Append(lines[i]);
      const double us = std::chrono::duration<double, std::micro>(Clock::now() - due).count();
      if (!seq.ok()) {
        if (failures.fetch_add(1) == 0) {
          std::lock_guard<std::mutex> g(error_mu);
          d.first_error = seq.status().ToString();
        }
        continue;
      }
      if (i >= warmup) mine.push_back(us);
    }
  });
  for (auto& v : per_thread) d.us.insert(d.us.end(), v.begin(), v.end());
  d.failures = failures.load();
  return d;
}

// AppendQueued() from one thread at each event's due time, while this one
// waits for each event to be durable in seq order (Log::WaitDurable): no
// thread per event in flight, so what is measured is the log rather than
// the scheduling of hundreds of blocked threads on two cores (which took
// 87 % of the CPU at 50k/s with a 1 ms fsync: docs/performance.md).
Driven DriveQueued(Log* log, const std::vector<std::string>& lines, uint64_t n, uint64_t rate,
                   Clock::time_point start) {
  Driven d;
  d.producers = 1;
  std::vector<uint64_t> seqs(n, 0);  // 0: refused
  std::atomic<uint64_t> appended{0};  // events [0, appended) have their seqs[] set
  uint64_t refused = 0;               // the pacer's, read after it is joined
  std::string first_refusal, first_loss;
  std::thread pacer([&] {
    prctl(PR_SET_TIMERSLACK, 1UL);
    for (uint64_t i = 0; i < n; ++i) {
      std::this_thread::sleep_until(Due(start, i, rate));
      auto seq = log->AppendQueued(lines[i]);
      if (seq.ok()) {
        seqs[i] = *seq;
      } else if (refused++ == 0) {
        first_refusal = seq.status().ToString();
      }
      appended.store(i + 1, std::memory_order_release);
      appended.notify_one();
    }
  });
  const uint64_t warmup = n / 10;  // the first 10% settle the batch size
  d.us.reserve(n - warmup);
  uint64_t lost = 0;
  for (uint64_t j = 0; j < n; ++j) {
    for (uint64_t a = appended.load(std::memory_order_acquire); a <= j; a = appended.load(std::memory_order_acquire)) {
      appended.wait(a, std::memory_order_acquire);
    }
    if (seqs[j] == 0) continue;
    if (Status s = log->WaitDurable(seqs[j]); !s.ok()) {
      if (lost++ == 0) first_loss = s.ToString();
      continue;
    }
    if (j >= warmup) d.us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - Due(start, j, rate)).count());
  }
  pacer.join();
  d.failures = refused + lost;
  d.first_error = refused > 0 ? first_refusal : first_loss;
  return d;
}

LoadResult RunLoad(const LatencyFlags& f, const std::vector<std::string>& lines, uint64_t rate, double delay_ms,
                   Harness harness) {
  LoadResult r;
  const std::string dir = f.work_dir + "/log";
  std::filesystem::remove_all(dir);
  ConfinedEnv confined(dir);
  SlowSyncEnv env(&confined, std::chrono::microseconds(static_cast<int64_t>(delay_ms * 1000)));
  Options options;
  options.dir = dir;
  options.env = &env;
  options.sync = SyncMode::kAlways;
  auto log = Log::Open(options);
  if (!log.ok()) {
    r.first_error = log.status().ToString();
    r.failures = 1;
    return r;
  }
  const uint64_t n = std::min<uint64_t>(lines.size(), static_cast<uint64_t>(static_cast<double>(rate) * f.seconds));
  const auto start = Clock::now() + std::chrono::milliseconds(50);
  const LogStats before = (*log)->stats();
  StallProbe probe;
  Driven d = harness == Harness::kQueued ? DriveQueued(log->get(), lines, n, rate, start)
                                         : DriveThreads(log->get(), f, lines, n, rate, delay_ms, start);
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  r.stalls = probe.Stop();
  r.stalled_share = r.stalls.total_ms / 1000.0 / elapsed;
  const LogStats after = (*log)->stats();
  (void)(*log)->Shutdown();
  std::filesystem::remove_all(dir);
  r.producers = d.producers;
  r.failures = d.failures;
  r.first_error = d.first_error;
  r.achieved = static_cast<double>(n - r.failures) / elapsed;
  r.latency = Summarize(&d.us);
  const uint64_t fsyncs = after.fsyncs - before.fsyncs;
  r.fsync_p99_bound_us = FsyncP99Bound(before, after);
  r.events_per_fsync = fsyncs == 0 ? 0 : static_cast<double>(n) / static_cast<double>(fsyncs);
  return r;
}

std::string BoundText(double us) {
  return std::isinf(us) ? std::string("> 1 s") : "<= " + std::to_string(static_cast<uint64_t>(us));
}

int RunBenchLatency(const LatencyFlags& f) {
  if (f.rates.empty() || f.delays_ms.empty() || f.seconds <= 0) {
    std::fprintf(stderr, "stele: --rates, --fsync-delays-ms and --seconds need values > 0\n");
    return kExitUsage;
  }
  std::vector<std::pair<std::string, Harness>> harnesses;
  for (const std::string& name : f.harnesses) {
    if (name != "queued" && name != "threads") {
      std::fprintf(stderr, "stele: --harness: \"%s\" is not queued or threads\n", name.c_str());
      return kExitUsage;
    }
    harnesses.emplace_back(name, name == "queued" ? Harness::kQueued : Harness::kThreads);
  }
  std::filesystem::create_directories(f.work_dir);
  const uint64_t max_rate = *std::max_element(f.rates.begin(), f.rates.end());
  const auto n = static_cast<uint64_t>(static_cast<double>(max_rate) * f.seconds);
  std::fprintf(stderr, "generating %llu reference events...\n", static_cast<unsigned long long>(n));
  WorkloadGenerator gen({});
  std::vector<std::string> lines(n);
  for (uint64_t i = 0; i < n; ++i) lines[i] = gen.Event(i);

  std::printf("sync=always append-to-durable latency, open loop, %.1f s per rate (first 10%% not counted)\n",
              f.seconds);
  // "fsync p99" bounds the log's own fdatasyncs during the load (from its
  // LogStats histogram: the disk as the writer saw it, where "floor" is the
  // disk just before).  The last three columns: how often the machine
  // stopped running the process during the load (StallProbe), the longest
  // stop, and the share of the load's time it was stopped.  On a VM these,
  // not the log, can set the tail: once more than 1 % of the time is
  // stalled, more than 1 % of the events fall due inside a stall and wait
  // for its end.
  std::printf("%-8s %-8s %-12s %10s %10s %9s %9s %9s %9s %8s %9s %9s %8s %10s %7s %9s %8s\n", "harness", "fsync+", "offered/s",
              "achieved/s", "producers", "p50 us", "p99 us", "p99.9 us", "max us", "ev/fsync", "floor p50",
              "floor p99", "p99/flr", "fsync p99", "stalls", "stall max", "stalled");
  for (const double delay : f.delays_ms) {
    ConfinedEnv confined(f.work_dir);
    SlowSyncEnv slow(&confined, std::chrono::microseconds(static_cast<int64_t>(delay * 1000)));
    auto floor = FsyncFloor(&slow, f.work_dir + "/floor.bin", delay >= 5 ? 100 : 1000);
    if (!floor.ok()) return ReportError(floor.status());
    std::filesystem::remove(f.work_dir + "/floor.bin");
    for (const auto& [harness_name, harness] : harnesses) {
    for (const uint64_t rate : f.rates) {
      std::fprintf(stderr, "%s harness, fsync delay %.0f ms, %llu events/s...\n", harness_name.c_str(), delay,
                   static_cast<unsigned long long>(rate));
      const LoadResult r = RunLoad(f, lines, rate, delay, harness);
      if (r.failures > 0) {
        std::fprintf(stderr, "stele: %llu appends failed, first: %s\n", static_cast<unsigned long long>(r.failures),
                     r.first_error.c_str());
        return kExitIOError;
      }
      std::printf("%-8s %-8s %-12llu %10.0f %10u %9.0f %9.0f %9.0f %9.0f %8.1f %9.0f %9.0f %7.1fx %10s %7llu %6.1f ms %7.1f%%\n",
                  harness_name.c_str(), (std::to_string(static_cast<int>(delay)) + " ms").c_str(),
                  static_cast<unsigned long long>(rate),
                  r.achieved, r.producers, r.latency.p50, r.latency.p99, r.latency.p999, r.latency.max,
                  r.events_per_fsync, floor->p50, floor->p99, r.latency.p99 / floor->p99,
                  BoundText(r.fsync_p99_bound_us).c_str(), static_cast<unsigned long long>(r.stalls.count), r.stalls.max_ms, 100 * r.stalled_share);
      std::printf(
          "{\"harness\":\"%s\",\"fsync_delay_ms\":%g,\"offered\":%llu,\"achieved\":%.0f,\"p50_us\":%.0f,\"p99_us\":%.0f,"
          "\"p999_us\":%.0f,\"max_us\":%.0f,\"events_per_fsync\":%.1f,\"floor_p50_us\":%.0f,\"floor_p99_us\":%.0f,"
          "\"fsync_p99_at_most_us\":%s,\"host_stalls\":%llu,\"host_stall_total_ms\":%.1f,\"host_stall_max_ms\":%.1f,\"host_stalled_share\":%.4f,\"stall_probe_realtime\":%s}\n",
          harness_name.c_str(), delay, static_cast<unsigned long long>(rate), r.achieved, r.latency.p50, r.latency.p99, r.latency.p999,
          r.latency.max, r.events_per_fsync, floor->p50, floor->p99,
          std::isinf(r.fsync_p99_bound_us) ? "null" : std::to_string(static_cast<uint64_t>(r.fsync_p99_bound_us)).c_str(),
          static_cast<unsigned long long>(r.stalls.count),
          r.stalls.total_ms, r.stalls.max_ms, r.stalled_share, r.stalls.realtime ? "true" : "false");
      std::fflush(stdout);
    }
    }
  }
  std::filesystem::remove_all(f.work_dir);
  return kExitOk;
}

}  // namespace

void RegisterBenchLatency(CLI::App* bench, std::function<int()>* run) {
  auto flags = std::make_shared<LatencyFlags>();
  CLI::App* sub = bench->add_subcommand(
      "latency", "sync=always append-to-durable latency at fixed offered loads, beside a bare fdatasync");
  sub->add_option("--harness", flags->harnesses,
                  "queued: one thread appends with AppendQueued() and another waits for each event; "
                  "threads: a blocking Append() per event in flight")
      ->delimiter(',')
      ->default_str("queued,threads");
  sub->add_option("--rates", flags->rates, "offered loads, events/s")->delimiter(',')->default_str("10000,50000,200000");
  sub->add_option("--fsync-delays-ms", flags->delays_ms, "delays injected before every fdatasync")
      ->delimiter(',')
      ->default_str("0,1,10");
  sub->add_option("--seconds", flags->seconds, "duration of each load")->default_str("3");
  sub->add_option("--max-producers", flags->max_producers, "cap on producer threads")->default_str("2048");
  sub->add_option("--work-dir", flags->work_dir, "scratch directory (removed afterwards)")
      ->default_str("./stele-bench-latency");
  *run = [sub, flags] { return sub->parsed() ? RunBenchLatency(*flags) : -1; };
}

}  // namespace stele::cli
