// RateLimiter: token buckets keyed by a string (an API key's name, an event
// source), for SPEC §6's per-key and per-source limits.
//
// Each key gets a bucket of `burst` tokens refilled at `rate` per second.
// Memory is bounded: at most max_keys buckets are kept; when that is reached
// buckets that have refilled completely (idle keys, indistinguishable from
// new ones) are dropped first, then the least recently refilled.  Keys are
// outside input, so an attacker who invents keys only gets fresh buckets,
// never unbounded memory.  Thread-safe (sharded mutexes).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace stele {

class RateLimiter {
 public:
  RateLimiter(double rate_per_sec, double burst, size_t max_keys = 100'000);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Takes `cost` tokens from key's bucket if it holds them.  Otherwise
  // returns false and the seconds until it will (for Retry-After).
  bool Allow(std::string_view key, double cost, int64_t now_ns, double* retry_after_s = nullptr);

  double rate() const { return rate_; }
  double burst() const { return burst_; }
  size_t keys() const;

 private:
  struct Bucket {
    double tokens;
    int64_t updated_ns;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Bucket> buckets;
  };
  static constexpr size_t kShards = 16;
  void MakeRoom(Shard* shard, int64_t now_ns);

  const double rate_;
  const double burst_;
  const size_t max_per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace stele
