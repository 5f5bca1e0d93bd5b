// Micro-benchmarks of the hot path pieces (Google Benchmark).  The
// end-to-end, side-by-side figures come from `stele bench ingest`.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <zstd.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "event/record.h"
#include "index/live_index.h"
#include "index/segment_index.h"
#include "ingest/log_impl.h"
#include "query/filter.h"
#include "event/validator.h"
#include "integrity/sha256.h"
#include "integrity/sha256_x2.h"
#include "storage/frame_columns.h"
#include "stele/stele.h"
#include "util/coding.h"
#include "util/time.h"
#include "workload/generator.h"

namespace stele {
namespace {

std::vector<std::string> Lines(size_t n) {
  WorkloadGenerator gen({});
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back(gen.Event(i));
  return out;
}

void BM_Validate(benchmark::State& state) {
  auto lines = Lines(4096);
  EventValidator v;
  ValidationLimits limits;
  EventView e;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& l = lines[i++ % lines.size()];
    benchmark::DoNotOptimize(v.Validate(l, 0x7fffffffffffffff / 2, limits, &e).ok());
    bytes += l.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_Validate);

void BM_EncodeRecord(benchmark::State& state) {
  EventView e;
  e.seq = 1;
  e.type = "step.completed";
  e.actor = "worker-07";
  e.lead_id = "L0001234";
  e.data = R"({"step":"enrich_lead","status":"ok","attempt":1,"duration_ms":123})";
  std::string out;
  for (auto _ : state) {
    out.clear();
    AppendRecord(e, &out);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_EncodeRecord);

}  // namespace
}  // namespace stele


namespace stele {
namespace {

void BM_LeafHash(benchmark::State& state) {
  const std::string record(static_cast<size_t>(state.range(0)), 'x');
  Sha256 sha;
  for (auto _ : state) benchmark::DoNotOptimize(sha.LeafHash(record));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_LeafHash)->Arg(64)->Arg(256)->Arg(1024);

void BM_NodeHash(benchmark::State& state) {
  Sha256 sha;
  Hash a{}, b{};
  for (auto _ : state) benchmark::DoNotOptimize(a = sha.NodeHash(a, b));
}
BENCHMARK(BM_NodeHash);

// The batch forms the writer uses, 4,096 at a time: two messages
// interleaved on SHA-NI (arg 1) against one at a time through OpenSSL
// (arg 0, the fallback path), in the same run.  Per item.
void BM_LeafHashes(benchmark::State& state) {
  const std::string pool(4096 + 256 + 64, 'x');
  std::vector<std::string_view> records;
  for (size_t i = 0; i < 4096; ++i) records.emplace_back(pool.data() + i, 200 + i % 64);  // 200-263 bytes
  std::vector<Hash> out(records.size());
  sha256x2::ForceFallbackForTesting(state.range(0) == 0);
  for (auto _ : state) ThreadSha256().LeafHashes(records, out.data());
  sha256x2::ForceFallbackForTesting(false);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records.size()));
}
BENCHMARK(BM_LeafHashes)->Arg(0)->Arg(1);

void BM_NodeHashes(benchmark::State& state) {
  std::vector<Hash> children(8192), out(4096);
  sha256x2::ForceFallbackForTesting(state.range(0) == 0);
  for (auto _ : state) ThreadSha256().NodeHashes(children.data(), out.size(), out.data());
  sha256x2::ForceFallbackForTesting(false);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_NodeHashes)->Arg(0)->Arg(1);

}  // namespace
}  // namespace stele



namespace stele {
namespace {

// Field-index cost per event, against zstd-compressing the same frame.
// `n` consecutive frames of 1,000 reference events each.
constexpr size_t kPerFrame = 1000;
std::vector<std::string> ReferenceFrames(size_t n) {
  std::vector<std::string> frames;
  WorkloadGenerator gen({});
  EventValidator v;
  ValidationLimits limits;
  for (size_t f = 0; f < n; ++f) {
    std::string raw;
    for (size_t i = 0; i < kPerFrame; ++i) {
      std::string line = gen.Event(f * kPerFrame + i);
      EventView e;
      if (!v.Validate(line, 0x7fffffffffffffff / 2, limits, &e).ok()) std::abort();
      e.seq = f * kPerFrame + i + 1;
      AppendFramedRecord(e, &raw);
    }
    frames.push_back(std::move(raw));
  }
  return frames;
}

void BM_IndexAddFrame(benchmark::State& state) {
  const std::string frame = ReferenceFrames(1)[0];
  SegmentIndexBuilder b;
  uint32_t ordinal = 0;
  for (auto _ : state) b.AddFrame(ordinal++, frame);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 1000);
}
BENCHMARK(BM_IndexAddFrame);

// A segment's worth of distinct frames (256k events, most leads new
// under the Zipf workload), as the writer feeds them: unlike the loop
// above, new leads keep arriving, so the segment-wide tables grow.

void BM_IndexSegment(benchmark::State& state) {
  const size_t kFrames = static_cast<size_t>(state.range(0));
  const std::vector<std::string> frames = ReferenceFrames(kFrames);
  for (auto _ : state) {
    SegmentIndexBuilder b;
    for (uint32_t f = 0; f < kFrames; ++f) b.AddFrame(f, frames[f]);
    benchmark::DoNotOptimize(b.distinct_values());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kFrames * kPerFrame));
}
// 256 frames as before; 2,048 (2M events, about the 64 MiB budget's
// segment) has a lead table far larger than the caches.
BENCHMARK(BM_IndexSegment)->Arg(256)->Arg(2048)->Unit(benchmark::kMillisecond);

// Serializing and compressing a segment's index at seal (the .fidx bytes),
// which the indexer thread does while ingest goes on.
void BM_IndexFinish(benchmark::State& state) {
  const size_t kFrames = static_cast<size_t>(state.range(0));
  SegmentIndexBuilder b;
  {
    const std::vector<std::string> frames = ReferenceFrames(kFrames);
    for (uint32_t f = 0; f < kFrames; ++f) b.AddFrame(f, frames[f]);
  }
  size_t bytes = 0;
  for (auto _ : state) bytes = b.Finish().size();
  state.counters["fidx_bytes"] = static_cast<double>(bytes);
  state.counters["builder_bytes"] = static_cast<double>(b.memory_bytes());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kFrames * kPerFrame));
}
BENCHMARK(BM_IndexFinish)->Arg(2048)->Unit(benchmark::kMillisecond);

// The same segment as a live index (docs/format.md, "Live index"): frames
// added, a chunk cut, serialized, compressed and appended to the file every
// 65,536 events, then the seal's merge of the chunks.  Against
// BM_IndexSegment + BM_IndexFinish, the same work done by one builder.
void BM_LiveIndexSegmentAndMerge(benchmark::State& state) {
  const size_t kFrames = static_cast<size_t>(state.range(0));
  const std::vector<std::string> frames = ReferenceFrames(kFrames);
  const std::string dir = "/tmp/stele-bench-live-index";
  std::filesystem::create_directories(dir);
  const std::string segment = dir + "/00000000000000000001.seg";
  size_t bytes = 0, chunks = 0;
  for (auto _ : state) {
    LiveSegmentIndex live(1, Env::Default(), segment);
    for (uint32_t f = 0; f < kFrames; ++f) {
      live.AddFrame(f, frames[f], kPerFrame);
      if (live.ChunkDue()) {
        live.CutChunk();
        live.PersistCut();
      }
    }
    chunks = live.chunk_count();
    bytes = live.Finish()->size();
    live.RemoveFile();
  }
  std::filesystem::remove_all(dir);
  state.counters["fidx_bytes"] = static_cast<double>(bytes);
  state.counters["chunks"] = static_cast<double>(chunks);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kFrames * kPerFrame));
}
BENCHMARK(BM_LiveIndexSegmentAndMerge)->Arg(2048)->Unit(benchmark::kMillisecond);

// The single builder's whole job, for the row above: add every frame, then Finish().
void BM_IndexSegmentAndFinish(benchmark::State& state) {
  const size_t kFrames = static_cast<size_t>(state.range(0));
  const std::vector<std::string> frames = ReferenceFrames(kFrames);
  size_t bytes = 0;
  for (auto _ : state) {
    SegmentIndexBuilder b;
    for (uint32_t f = 0; f < kFrames; ++f) b.AddFrame(f, frames[f]);
    bytes = b.Finish().size();
  }
  state.counters["fidx_bytes"] = static_cast<double>(bytes);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kFrames * kPerFrame));
}
BENCHMARK(BM_IndexSegmentAndFinish)->Arg(2048)->Unit(benchmark::kMillisecond);

void BM_CompressFrame(benchmark::State& state) {
  const std::string frame = ReferenceFrames(1)[0];
  std::string out(ZSTD_compressBound(frame.size()), '\0');
  for (auto _ : state) {
    benchmark::DoNotOptimize(ZSTD_compress(out.data(), out.size(), frame.data(), frame.size(), 1));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 1000);
}
BENCHMARK(BM_CompressFrame);

// The writer's column split of a frame (codec 3) before zstd, per event.
void BM_EncodeFrameColumns(benchmark::State& state) {
  const std::string frame = ReferenceFrames(1)[0];
  std::string out;
  for (auto _ : state) {
    out.clear();
    if (!EncodeFrameColumns(frame, kPerFrame, 1, &out, DataColumns::kByKey)) std::abort();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kPerFrame);
}
BENCHMARK(BM_EncodeFrameColumns);

// A reader's rebuild of a frame's records from its columns: codec 3 (arg 0)
// and codec 4 with its packed ids (arg 1), per event.
void BM_DecodeFrameColumns(benchmark::State& state) {
  const std::string frame = ReferenceFrames(1)[0];
  const DataColumns layout = state.range(0) ? DataColumns::kByKeyPacked : DataColumns::kByKey;
  std::string columns, records;
  if (!EncodeFrameColumns(frame, kPerFrame, 1, &columns, layout)) std::abort();
  for (auto _ : state) {
    if (!DecodeFrameColumns(columns, kPerFrame, 1, static_cast<uint32_t>(frame.size()), &records, layout).ok()) {
      std::abort();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kPerFrame);
}
BENCHMARK(BM_DecodeFrameColumns)->Arg(0)->Arg(1);

// The same frame (codec 4) rebuilt for one lookup only (ScanIterator, a
// frame the cache will not keep): arg 0 a lead's records, arg 1 those
// whose data may hold "status":"failed" (tested on the key's column).
void BM_DecodeFrameColumnsSelected(benchmark::State& state) {
  const std::string frame = ReferenceFrames(1)[0];
  std::string columns, records;
  if (!EncodeFrameColumns(frame, kPerFrame, 1, &columns, DataColumns::kByKeyPacked)) std::abort();
  EventView first;
  if (!DecodeRecord(std::string_view(frame).substr(4, GetU32(frame.data())), &first)) std::abort();
  const std::string lead(first.lead_id);
  RecordSelector select;
  if (state.range(0) == 0) {
    select.column = 2;  // lead_id
    select.value = lead;
  } else {
    select.data = {{"status", "failed"}};
  }
  uint32_t kept = 0;
  for (auto _ : state) {
    if (!DecodeFrameColumns(columns, kPerFrame, 1, static_cast<uint32_t>(frame.size()), &records,
                            DataColumns::kByKeyPacked, &select, &kept)
             .ok()) {
      std::abort();
    }
  }
  state.counters["kept"] = kept;
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kPerFrame);
}
BENCHMARK(BM_DecodeFrameColumnsSelected)->Arg(0)->Arg(1);

// A --where over a frame's records one by one, as a frame-cache hit filters
// them (EventFilter::MatchRecords), per event.
void BM_WhereOverRecords(benchmark::State& state) {
  const std::string frame = ReferenceFrames(1)[0];
  std::vector<uint32_t> offsets, out;
  for (size_t pos = 0; pos < frame.size(); pos += 4 + GetU32(frame.data() + pos)) {
    offsets.push_back(static_cast<uint32_t>(pos));
  }
  Query q;
  q.where = {{"/status", "failed"}};
  auto filter = EventFilter::Create(q);
  if (!filter.ok()) std::abort();
  for (auto _ : state) {
    out.clear();
    if (!(*filter)->MatchRecords(frame, offsets, &out)) std::abort();
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["matched"] = static_cast<double>(out.size());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * kPerFrame);
}
BENCHMARK(BM_WhereOverRecords);

// A type + 10 % time-range count through an open Log, as `stele bench
// query` times it beside SQLite, on a log of 1M reference events in 16 MiB
// segments (several sealed, the active one open), built once.
void BM_CountTypeRange(benchmark::State& state) {
  static const std::string dir = [] {
    const std::string d = std::filesystem::temp_directory_path() / ("stele-micro-count-" + std::to_string(getpid()));
    std::filesystem::remove_all(d);
    Options o;
    o.dir = d;
    o.segment_max_bytes = 16ull << 20;
    auto log = Log::Open(o);
    if (!log.ok()) std::abort();
    WorkloadGenerator gen({});
    std::string batch;
    for (size_t i = 0; i < 1'000'000; ++i) {
      batch += gen.Event(i);
      batch += '\n';
      if (batch.size() > (1u << 20)) {
        if (!(*log)->AppendBatch(batch).ok()) std::abort();
        batch.clear();
      }
    }
    if (!(*log)->AppendBatch(batch).ok() || !(*log)->Shutdown().ok()) std::abort();
    std::atexit([] { std::filesystem::remove_all(dir); });
    return d;
  }();
  Options o;
  o.dir = dir;
  auto log = Log::Open(o);
  if (!log.ok()) std::abort();
  const auto& types = WorkloadGenerator::Types();
  const int64_t start = WorkloadGenerator::Config{}.start_ns, span = 1'000'000ll * 1'000'000;
  uint64_t rng = 7, total = 0;
  for (auto _ : state) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    Query q;
    q.type = types[(rng >> 40) % types.size()];
    const int64_t since = start + static_cast<int64_t>((rng >> 8) % static_cast<uint64_t>(span * 9 / 10));
    q.since_ns = since;
    q.until_ns = since + span / 10;
    auto n = (*log)->Count(q);
    if (!n.ok()) std::abort();
    total += *n;
  }
  benchmark::DoNotOptimize(total);
  if (!(*log)->Shutdown().ok()) std::abort();
}
BENCHMARK(BM_CountTypeRange)->Unit(benchmark::kMicrosecond);

}  // namespace
class EnqueueProbe {
 public:
  static Result<uint64_t> Enqueue(LogImpl* log, std::string* records) { return log->Enqueue(records, 1); }
};
namespace {

// The write queue alone (issue 7: enqueue median <= 100 ns, p99.9 <= 1 us
// under 8 producers): each producer enqueues a ready record (validation and
// encoding are left out) while the writer drains the queue (sync=batch).
// Producers offer 800k events/s in all, in bursts of 64 each, so the queue
// is what is measured, not back-pressure (ready records arrive ~20x faster
// than the writer persists them, and a full queue makes every producer wait
// for the writer by design).  The counters are percentiles over every timed
// call of every producer, in ns.
void BM_EnqueueLatency(benchmark::State& state) {
  const unsigned producers = static_cast<unsigned>(state.range(0));
  constexpr size_t kTimed = 800'000, kBurst = 64;
  constexpr double kOfferedPerSecond = 800'000;
  const std::string dir = std::filesystem::temp_directory_path() / ("stele-micro-enqueue-" + std::to_string(getpid()));
  std::vector<uint32_t> all;
  // Page faults and involuntary context switches of the producers while
  // they were timed: either one costs microseconds.
  std::atomic<uint64_t> timed_faults{0}, timed_switches{0};
  for (auto _ : state) {
    std::filesystem::remove_all(dir);
    Options o;
    o.dir = dir;
    // Warm buffers: a first touch of a queue page is a page fault of ~2 us
    // (a cold queue read p99 1.9 us with one producer).
    o.prefault_queue = true;
    auto log = LogImpl::Open(o);  // sync=batch, the default
    if (!log.ok()) std::abort();
    std::vector<std::vector<uint32_t>> ns(producers);
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < producers; ++t) {
      threads.emplace_back([&, t] {
        WorkloadGenerator gen({});
        std::string line = gen.Event(t), record;
        EventValidator v;
        EventView e;
        if (!v.Validate(line, 0x7fffffffffffffff / 2, ValidationLimits{}, &e).ok()) std::abort();
        AppendFramedRecord(e, &record);
        // Warm-up, untimed and unpaced: the writer's and the segment's
        // buffers reach their working size.
        for (size_t i = 0; i < 2 * (64u << 20) / record.size() / producers; ++i) {
          if (!EnqueueProbe::Enqueue(log->get(), &record).ok()) std::abort();
        }
        const size_t per_producer = kTimed / producers;
        const auto burst_gap = std::chrono::nanoseconds(static_cast<int64_t>(1e9 * kBurst * producers / kOfferedPerSecond));
        ns[t].assign(per_producer, 0);  // touched now, not while timing
        auto next = std::chrono::steady_clock::now();
        rusage before{};
        getrusage(RUSAGE_THREAD, &before);
        for (size_t i = 0; i < per_producer; ++i) {
          if (i % kBurst == 0) {
            std::this_thread::sleep_until(next);
            next += burst_gap;
          }
          const auto t0 = std::chrono::steady_clock::now();
          if (!EnqueueProbe::Enqueue(log->get(), &record).ok()) std::abort();
          ns[t][i] = static_cast<uint32_t>(
              std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
        }
        rusage after{};
        getrusage(RUSAGE_THREAD, &after);
        timed_faults += static_cast<uint64_t>(after.ru_minflt - before.ru_minflt);
        timed_switches += static_cast<uint64_t>(after.ru_nivcsw - before.ru_nivcsw);
      });
    }
    for (auto& t : threads) t.join();
    if (!(*log)->Shutdown().ok()) std::abort();
    for (auto& v : ns) all.insert(all.end(), v.begin(), v.end());
  }
  std::filesystem::remove_all(dir);
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) { return static_cast<double>(all[static_cast<size_t>(p * static_cast<double>(all.size() - 1))]); };
  state.counters["p50_ns"] = pct(0.5);
  state.counters["p99_ns"] = pct(0.99);
  state.counters["p99.9_ns"] = pct(0.999);
  state.counters["max_ns"] = static_cast<double>(all.back());
  state.counters["faults"] = static_cast<double>(timed_faults.load());
  state.counters["preempted"] = static_cast<double>(timed_switches.load());
  state.SetItemsProcessed(static_cast<int64_t>(all.size()));
}
BENCHMARK(BM_EnqueueLatency)->Arg(1)->Arg(8)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace stele

BENCHMARK_MAIN();
