// Micro-benchmarks of the hot path pieces (Google Benchmark).  The
// end-to-end, side-by-side figures come from `stele bench ingest`.
#include <benchmark/benchmark.h>

#include <zstd.h>

#include "event/record.h"
#include "index/segment_index.h"
#include "event/validator.h"
#include "integrity/sha256.h"
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

}  // namespace
}  // namespace stele



namespace stele {
namespace {

// Field-index cost per event, against zstd-compressing the same frame.
std::string ReferenceFrame(size_t events) {
  WorkloadGenerator gen({});
  EventValidator v;
  ValidationLimits limits;
  std::string raw;
  for (size_t i = 0; i < events; ++i) {
    std::string line = gen.Event(i);
    EventView e;
    if (!v.Validate(line, 0x7fffffffffffffff / 2, limits, &e).ok()) std::abort();
    e.seq = i + 1;
    AppendFramedRecord(e, &raw);
  }
  return raw;
}

void BM_IndexAddFrame(benchmark::State& state) {
  const std::string frame = ReferenceFrame(1000);
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
  constexpr size_t kPerFrame = 1000;
  std::vector<std::string> frames;
  {
    WorkloadGenerator gen({});
    EventValidator v;
    ValidationLimits limits;
    for (size_t f = 0; f < kFrames; ++f) {
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
  }
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

void BM_CompressFrame(benchmark::State& state) {
  const std::string frame = ReferenceFrame(1000);
  std::string out(ZSTD_compressBound(frame.size()), '\0');
  for (auto _ : state) {
    benchmark::DoNotOptimize(ZSTD_compress(out.data(), out.size(), frame.data(), frame.size(), 1));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 1000);
}
BENCHMARK(BM_CompressFrame);

}  // namespace
}  // namespace stele

BENCHMARK_MAIN();
