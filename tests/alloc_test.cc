// The hot path allocates nothing per event: a counting global operator new
// (this binary only; it forwards to malloc) counts every heap allocation of
// every thread (producers, writer, hasher) while events are appended.
//
// Per batch or amortised growth (the queue's and the index's arrays
// doubling, a checkpoint signed) is allowed; one allocation per event is
// not, so the budget is far below one per event.  Not built under
// sanitizers, which replace operator new themselves.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>
#include <vector>

#include "stele/log.h"
#include "test_util.h"
#include "workload/generator.h"

namespace {
std::atomic<uint64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  const size_t align = static_cast<size_t>(a);
  if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace stele {
namespace {

struct Measured {
  uint64_t events = 0;
  uint64_t allocations = 0;
};

// Appends 30k reference events to warm up, then counts the allocations of
// appending 200k more from `producers` threads (or in AppendBatch requests
// of 1,000 lines), up to the Flush() that makes them durable.
Measured CountAllocations(SyncMode sync, unsigned producers, bool batch_api) {
  test::TempDir dir;
  Options o;
  o.dir = dir.path();
  o.sync = sync;
  auto log = Log::Open(o);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  if (!log.ok()) return {};
  WorkloadGenerator gen({});
  constexpr uint64_t kWarmup = 30'000, kMeasured = 200'000;
  std::vector<std::string> lines;
  for (uint64_t i = 0; i < kWarmup + kMeasured; ++i) lines.push_back(gen.Event(i));
  std::string ndjson;
  for (uint64_t i = kWarmup; i < kWarmup + kMeasured; ++i) ndjson += lines[i] + "\n";
  std::vector<std::thread> threads;
  for (uint64_t i = 0; i < kWarmup; ++i) EXPECT_TRUE((*log)->Append(lines[i]).ok());
  EXPECT_TRUE((*log)->Flush().ok());
  auto produce = [&](unsigned p, uint64_t from, uint64_t to) {
    for (uint64_t i = from + p; i < to; i += producers) {
      auto seq = (*log)->Append(lines[i]);
      if (!seq.ok()) ADD_FAILURE() << seq.status().ToString();
    }
  };
  const uint64_t before = g_allocations.load();
  if (batch_api) {
    // One request of 1,000 lines at a time, as the server's bulk endpoint.
    for (size_t at = 0; at < ndjson.size();) {
      size_t end = at;
      for (int k = 0; k < 1000 && end < ndjson.size(); ++k) end = ndjson.find('\n', end) + 1;
      auto r = (*log)->AppendBatch(std::string_view(ndjson).substr(at, end - at));
      EXPECT_TRUE(r.ok() && r->rejected.empty());
      at = end;
    }
  } else {
    for (unsigned p = 0; p < producers; ++p) threads.emplace_back(produce, p, kWarmup, kWarmup + kMeasured);
    for (auto& t : threads) t.join();
  }
  EXPECT_TRUE((*log)->Flush().ok());
  const uint64_t after = g_allocations.load();
  EXPECT_TRUE((*log)->Shutdown().ok());
  return {kMeasured, after - before};  // includes starting the producer threads
}

TEST(HotPathAllocations, AppendAllocatesNothingPerEvent) {
  const Measured m = CountAllocations(SyncMode::kBatch, 1, false);
  std::printf("Append, 1 producer: %llu allocations for %llu events\n",
              static_cast<unsigned long long>(m.allocations), static_cast<unsigned long long>(m.events));
  EXPECT_LT(m.allocations, m.events / 100);
}

TEST(HotPathAllocations, ConcurrentProducersAllocateNothingPerEvent) {
  const Measured m = CountAllocations(SyncMode::kBatch, 4, false);
  std::printf("Append, 4 producers: %llu allocations for %llu events\n",
              static_cast<unsigned long long>(m.allocations), static_cast<unsigned long long>(m.events));
  EXPECT_LT(m.allocations, m.events / 100);
}

TEST(HotPathAllocations, AppendBatchAllocatesNothingPerEvent) {
  const Measured m = CountAllocations(SyncMode::kBatch, 1, true);
  std::printf("AppendBatch of 1,000: %llu allocations for %llu events\n",
              static_cast<unsigned long long>(m.allocations), static_cast<unsigned long long>(m.events));
  EXPECT_LT(m.allocations, m.events / 100);
}

}  // namespace
}  // namespace stele
