// WorkloadGenerator: the reference workload of SPEC §8 — orchestrator-like
// events of about 250 bytes, lead ids Zipf-distributed over 1M leads.
// Deterministic for a given seed, so tests and benchmarks can regenerate the
// exact lines they appended.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stele {

class WorkloadGenerator {
 public:
  struct Config {
    uint64_t seed = 42;
    uint32_t leads = 1'000'000;
    double zipf_s = 1.0;
    int64_t start_ns = 1'767'225'600'000'000'000;  // 2026-01-01T00:00:00Z
    int64_t step_ns = 1'000'000;                    // 1 ms between events
  };

  explicit WorkloadGenerator(const Config& config);

  // The i-th event of the stream as one JSON line (no newline).
  std::string Event(uint64_t i);
  // Lead id of the i-th event ("L0001234").
  uint32_t LeadOf(uint64_t i);

  static const std::vector<std::string>& Types();

 private:
  // SplitMix64: a tiny, seedable, well-mixed PRNG; one per event keeps
  // Event(i) a pure function of (seed, i) without std::mt19937's costly seeding.
  struct Rng {
    uint64_t state;
    uint64_t operator()() {
      uint64_t z = (state += 0x9E3779B97F4A7C15ull);
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
      return z ^ (z >> 31);
    }
  };
  uint32_t ZipfRank(Rng& rng);

  Config config_;
  std::vector<double> cdf_;  // cumulative Zipf weights over ranks 1..leads
};

}  // namespace stele
