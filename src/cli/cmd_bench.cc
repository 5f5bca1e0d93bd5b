// stele bench ingest: the reference workload into an embedded log, side by
// side with spdlog's async file logger writing the same lines in the same run.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include <spdlog/async.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "stele/integrity.h"
#include "stele/log.h"
#include "util/task_thread.h"
#include "workload/generator.h"

namespace stele::cli {
namespace {

struct BenchFlags {
  uint64_t events = 1'000'000;
  unsigned producers = 2;
  std::string sync = "batch";
  std::string work_dir = "./stele-bench";
  bool keep = false;
  bool no_baseline = false;
  bool integrity_row = false;  // also run stele with Merkle + checkpoints off
  bool index_row = false;      // also run stele with the field index off
  int zstd_level = 1;
  unsigned repeat = 3;
  int64_t commit_delay_us = -1;  // -1: the Options default
};

// A /proc/self/status figure in KiB: VmHWM (peak RSS since the last
// ResetPeakRss()) or VmRSS (now).
long StatusKiB(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::stol(line.substr(std::strlen(key)));
  }
  return -1;
}
void ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
}

struct PhaseResult {
  double seconds = 0;
  uint64_t disk_bytes = 0;
  long peak_rss_kib = 0;  // peak RSS of the phase above the RSS before it (the generated lines)
  std::string error;
};

// Runs `producers` threads, each calling fn(i) for its share of [0, n).
template <typename Fn>
double RunProducers(unsigned producers, uint64_t n, Fn fn) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (unsigned p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      SetThreadName("bench-producer");
      for (uint64_t i = p; i < n; i += producers) fn(i);
    });
  }
  for (auto& t : threads) t.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

PhaseResult RunStele(const BenchFlags& f, const std::vector<std::string>& lines, SyncMode sync, bool integrity,
                     bool field_index = true) {
  PhaseResult r;
  const bool variant = !integrity || !field_index;
  const std::string dir = f.work_dir + (variant ? "/stele-variant" : "/stele");
  std::filesystem::remove_all(dir);
  Options options;
  options.dir = dir;
  options.integrity = integrity;
  options.field_index = field_index;
  options.sync = sync;
  options.zstd_level = f.zstd_level;
  if (f.commit_delay_us >= 0) options.batch_commit_delay = std::chrono::microseconds(f.commit_delay_us);
  ResetPeakRss();
  const long rss_before = StatusKiB("VmRSS:");
  const auto start = std::chrono::steady_clock::now();
  auto log = Log::Open(options);
  if (!log.ok()) {
    r.error = log.status().ToString();
    return r;
  }
  std::atomic<uint64_t> failures{0};
  std::string first_error;
  RunProducers(f.producers, lines.size(), [&](uint64_t i) {
    auto seq = (*log)->Append(lines[i]);
    if (!seq.ok() && failures.fetch_add(1) == 0) first_error = seq.status().ToString();
  });
  Status s = (*log)->Flush();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (s.ok()) s = (*log)->Shutdown();
  if (!s.ok()) r.error = s.ToString();
  if (failures > 0) r.error = std::to_string(failures.load()) + " appends failed, first: " + first_error;
  r.peak_rss_kib = StatusKiB("VmHWM:") - rss_before;
  r.disk_bytes = DiskBytes(dir);
  if (variant) std::filesystem::remove_all(dir);
  return r;
}

PhaseResult RunSpdlog(const BenchFlags& f, const std::vector<std::string>& lines) {
  PhaseResult r;
  const std::string path = f.work_dir + "/spdlog.log";
  std::filesystem::remove(path);
  ResetPeakRss();
  const long rss_before = StatusKiB("VmRSS:");
  const auto start = std::chrono::steady_clock::now();
  spdlog::init_thread_pool(8192, 1);
  auto logger = spdlog::basic_logger_mt<spdlog::async_factory>("bench", path, true);
  logger->set_pattern("%v");
  RunProducers(f.producers, lines.size(), [&](uint64_t i) {
    logger->log(spdlog::level::info, spdlog::string_view_t(lines[i].data(), lines[i].size()));
  });
  logger->flush();
  logger.reset();
  spdlog::shutdown();  // drains the async queue and joins its thread
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.peak_rss_kib = StatusKiB("VmHWM:") - rss_before;
  r.disk_bytes = DiskBytes(f.work_dir) - DiskBytes(f.work_dir + "/stele");
  return r;
}

int RunBenchIngest(const BenchFlags& f) {
  SyncMode sync;
  if (!ParseSyncMode(f.sync, &sync)) {
    std::fprintf(stderr, "stele: --sync \"%s\": must be always, batch or none\n", f.sync.c_str());
    return kExitUsage;
  }
  if (f.producers == 0 || f.events == 0 || f.repeat == 0) {
    std::fprintf(stderr, "stele: --events, --producers and --repeat must be > 0\n");
    return kExitUsage;
  }
  std::filesystem::create_directories(f.work_dir);
  std::fprintf(stderr, "generating %llu reference events...\n", static_cast<unsigned long long>(f.events));
  WorkloadGenerator gen({});
  std::vector<std::string> lines(f.events);
  uint64_t raw_bytes = 0;
  for (uint64_t i = 0; i < f.events; ++i) {
    lines[i] = gen.Event(i);
    raw_bytes += lines[i].size() + 1;  // as NDJSON
  }
  // Alternate the engines `repeat` times and keep each one's median run, so
  // a burst of noise on the shared machine does not decide the ratio.
  std::vector<PhaseResult> stele_runs, base_runs, plain_runs, noindex_runs;
  for (unsigned k = 0; k < f.repeat; ++k) {
    std::fprintf(stderr, "run %u/%u: stele (sync=%s, %u producers)...\n", k + 1, f.repeat, f.sync.c_str(),
                 f.producers);
    stele_runs.push_back(RunStele(f, lines, sync, true));
    if (!stele_runs.back().error.empty()) {
      std::fprintf(stderr, "stele: bench failed: %s\n", stele_runs.back().error.c_str());
      return kExitIOError;
    }
    if (f.integrity_row) {
      std::fprintf(stderr, "run %u/%u: stele with Merkle tree and checkpoints off...\n", k + 1, f.repeat);
      plain_runs.push_back(RunStele(f, lines, sync, false));
    }
    if (f.index_row) {
      std::fprintf(stderr, "run %u/%u: stele with the field index off...\n", k + 1, f.repeat);
      noindex_runs.push_back(RunStele(f, lines, sync, true, false));
    }
    if (!f.no_baseline) {
      std::fprintf(stderr, "run %u/%u: spdlog async file logger (same lines)...\n", k + 1, f.repeat);
      base_runs.push_back(RunSpdlog(f, lines));
    }
  }
  auto median = [](std::vector<PhaseResult> runs) {
    std::sort(runs.begin(), runs.end(), [](const PhaseResult& a, const PhaseResult& b) { return a.seconds < b.seconds; });
    return runs[runs.size() / 2];
  };
  const PhaseResult stele = median(stele_runs);
  const PhaseResult base = f.no_baseline ? PhaseResult{} : median(base_runs);
  const double n = static_cast<double>(f.events);
  const double mb = static_cast<double>(raw_bytes) / 1e6;
  std::printf(
      "workload: %llu events, %.1f MB raw NDJSON (%.0f B/event), %u producers, sync=%s, zstd %d, median of %u\n",
      static_cast<unsigned long long>(f.events), mb, static_cast<double>(raw_bytes) / n, f.producers, f.sync.c_str(),
      f.zstd_level, f.repeat);
  std::printf("%-22s %14s %10s %14s %12s\n", "engine", "events/s", "MB/s", "disk/raw", "+RSS MiB");
  auto row = [&](const char* name, const PhaseResult& r) {
    std::printf("%-22s %14.0f %10.1f %14.3f %12.1f\n", name, n / r.seconds, mb / r.seconds,
                static_cast<double>(r.disk_bytes) / static_cast<double>(raw_bytes), r.peak_rss_kib / 1024.0);
  };
  row("stele", stele);
  if (f.integrity_row) {
    const PhaseResult plain = median(plain_runs);
    row("stele, integrity off", plain);
    std::printf("integrity cost: %.1f%% of ingest throughput\n", 100.0 * (1.0 - plain.seconds / stele.seconds));
  }
  if (f.index_row) {
    const PhaseResult plain = median(noindex_runs);
    row("stele, field index off", plain);
    std::printf("field index cost: %.1f%% of ingest throughput\n", 100.0 * (1.0 - plain.seconds / stele.seconds));
  }
  if (!f.no_baseline) {
    row("spdlog async (no fsync)", base);
    std::printf("ratio stele/spdlog events/s: %.2fx\n", base.seconds / stele.seconds);
  }
  std::printf(
      "{\"events\":%llu,\"raw_bytes\":%llu,\"stele_events_per_s\":%.0f,\"stele_disk_per_raw\":%.4f,"
      "\"stele_peak_rss_kib\":%ld,\"spdlog_events_per_s\":%.0f,\"ratio\":%.3f}\n",
      static_cast<unsigned long long>(f.events), static_cast<unsigned long long>(raw_bytes), n / stele.seconds,
      static_cast<double>(stele.disk_bytes) / static_cast<double>(raw_bytes), stele.peak_rss_kib,
      f.no_baseline ? 0.0 : n / base.seconds, f.no_baseline ? 0.0 : base.seconds / stele.seconds);
  if (!f.keep) std::filesystem::remove_all(f.work_dir);
  return kExitOk;
}

// Latency of inclusion and consistency proofs for random seqs of a log:
// "cold" opens the log for every proof (as the CLI does), "warm" reuses one
// Prover (as a server does).
int RunBenchProve(const std::string& dir, unsigned samples) {
  auto warm = Prover::Open(dir);
  if (!warm.ok()) return ReportError(warm.status());
  const uint64_t size = (*warm)->size();
  if (size == 0) return ReportError(Status::InvalidArgument(dir + ": the log is empty"));
  uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return state >> 11;
  };
  std::vector<double> lat[4];  // cold inclusion, cold consistency, warm inclusion, warm consistency
  for (unsigned i = 0; i < samples; ++i) {
    const uint64_t seq = 1 + next() % size;
    auto time = [](auto&& fn, std::vector<double>* out) {
      const auto t0 = std::chrono::steady_clock::now();
      Result<std::string> r = fn();
      out->push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
      return r.status();
    };
    Status s = time([&] { return ProveInclusionJson(dir, seq, size); }, &lat[0]);
    if (s.ok()) s = time([&] { return ProveConsistencyJson(dir, seq, size); }, &lat[1]);
    if (s.ok()) s = time([&] { return (*warm)->InclusionJson(seq, size); }, &lat[2]);
    if (s.ok()) s = time([&] { return (*warm)->ConsistencyJson(seq, size); }, &lat[3]);
    if (!s.ok()) return ReportError(s);
  }
  auto pct = [](std::vector<double> v, double q) {
    std::sort(v.begin(), v.end());
    return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
  };
  std::printf("proofs on a log of %llu events, %u random seqs, tree size = the whole log\n",
              static_cast<unsigned long long>(size), samples);
  const char* names[] = {"inclusion, cold", "consistency, cold", "inclusion, warm", "consistency, warm"};
  for (int k = 0; k < 4; ++k) {
    std::printf("%-18s p50 %7.0f us  p99 %7.0f us\n", names[k], pct(lat[k], 0.5), pct(lat[k], 0.99));
  }
  return kExitOk;
}

int RunGenerate(uint64_t events, uint64_t seed) {
  WorkloadGenerator::Config config;
  config.seed = seed;
  WorkloadGenerator gen(config);
  std::string buf;
  for (uint64_t i = 0; i < events; ++i) {
    buf += gen.Event(i);
    buf.push_back('\n');
    if (buf.size() >= (1u << 20) || i + 1 == events) {
      if (std::fwrite(buf.data(), 1, buf.size(), stdout) != buf.size()) return kExitIOError;
      buf.clear();
    }
  }
  return std::fflush(stdout) == 0 ? kExitOk : kExitIOError;
}

}  // namespace

Command RegisterBench(CLI::App& app, const GlobalFlags& global) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* sub = app.add_subcommand("bench", "built-in workload generator and benchmarks");
  sub->require_subcommand(1);
  CLI::App* ingest = sub->add_subcommand("ingest", "embedded ingest of the reference workload vs spdlog async");
  ingest->add_option("--events", flags->events, "events to append")->default_str("1000000");
  ingest->add_option("--producers", flags->producers, "producer threads")->default_str("2");
  ingest->add_option("--sync", flags->sync, "always | batch | none")->default_str("batch");
  ingest->add_option("--work-dir", flags->work_dir, "scratch directory (removed afterwards)")
      ->default_str("./stele-bench");
  ingest->add_option("--zstd-level", flags->zstd_level, "zstd level for frames")->default_str("1");
  ingest->add_option("--repeat", flags->repeat, "alternating runs per engine; the median is reported")
      ->default_str("3");
  ingest->add_flag("--keep", flags->keep, "keep the scratch directory");
  ingest->add_option("--commit-delay-us", flags->commit_delay_us, "group-commit window under sync=batch (default 1000)");
  ingest->add_flag("--no-baseline", flags->no_baseline, "skip the spdlog run");
  ingest->add_flag("--index-row", flags->index_row, "also run stele with the field index off, to show its cost");
  ingest->add_flag("--integrity-row", flags->integrity_row,
                   "also run stele with the Merkle tree and checkpoints off, to show their cost");
  auto gen_events = std::make_shared<uint64_t>(100000);
  auto gen_seed = std::make_shared<uint64_t>(42);
  CLI::App* generate = sub->add_subcommand("generate", "print the reference workload as NDJSON (pipe it to append)");
  generate->add_option("--events", *gen_events, "events to print")->default_str("100000");
  generate->add_option("--seed", *gen_seed, "generator seed")->default_str("42");
  auto run_query = std::make_shared<std::function<int()>>();
  RegisterBenchQuery(sub, run_query.get());
  auto run_http = std::make_shared<std::function<int()>>();
  RegisterBenchHttp(sub, run_http.get());
  auto run_latency = std::make_shared<std::function<int()>>();
  RegisterBenchLatency(sub, run_latency.get());
  auto prove_samples = std::make_shared<unsigned>(1000);
  CLI::App* prove = sub->add_subcommand("prove", "latency of inclusion and consistency proofs on the --dir log");
  prove->add_option("--samples", *prove_samples, "random seqs to prove")->default_str("1000");
  return {sub, [&global, flags, generate, gen_events, gen_seed, prove, prove_samples, run_query, run_http, run_latency] {
            if (const int code = (*run_query)(); code >= 0) return code;
            if (const int code = (*run_http)(); code >= 0) return code;
            if (const int code = (*run_latency)(); code >= 0) return code;
            if (generate->parsed()) return RunGenerate(*gen_events, *gen_seed);
            if (prove->parsed()) return RunBenchProve(global.dir, *prove_samples);
            return RunBenchIngest(*flags);
          }};
}

}  // namespace stele::cli
