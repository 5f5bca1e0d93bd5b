#include "security/rate_limiter.h"

#include <algorithm>
#include <functional>

namespace stele {

RateLimiter::RateLimiter(double rate_per_sec, double burst, size_t max_keys)
    : rate_(rate_per_sec), burst_(std::max(burst, 1.0)), max_per_shard_(std::max<size_t>(1, max_keys / kShards)) {}

size_t RateLimiter::keys() const {
  size_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard<std::mutex> g(s.mu);
    n += s.buckets.size();
  }
  return n;
}

void RateLimiter::MakeRoom(Shard* shard, int64_t now_ns) {
  auto& b = shard->buckets;
  for (auto it = b.begin(); it != b.end();) {
    const double refilled = it->second.tokens + rate_ * static_cast<double>(now_ns - it->second.updated_ns) / 1e9;
    it = refilled >= burst_ ? b.erase(it) : std::next(it);
  }
  while (b.size() >= max_per_shard_) {
    auto oldest = std::min_element(b.begin(), b.end(),
                                   [](const auto& x, const auto& y) { return x.second.updated_ns < y.second.updated_ns; });
    b.erase(oldest);
  }
}

bool RateLimiter::Allow(std::string_view key, double cost, int64_t now_ns, double* retry_after_s) {
  Shard& shard = shards_[std::hash<std::string_view>()(key) % kShards];
  std::lock_guard<std::mutex> g(shard.mu);
  auto it = shard.buckets.find(std::string(key));
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= max_per_shard_) MakeRoom(&shard, now_ns);
    it = shard.buckets.emplace(std::string(key), Bucket{burst_, now_ns}).first;
  }
  Bucket& b = it->second;
  if (now_ns > b.updated_ns) {
    b.tokens = std::min(burst_, b.tokens + rate_ * static_cast<double>(now_ns - b.updated_ns) / 1e9);
    b.updated_ns = now_ns;
  }
  if (b.tokens >= cost) {
    b.tokens -= cost;
    return true;
  }
  if (retry_after_s) {
    const double need = std::min(cost, burst_) - b.tokens;
    *retry_after_s = rate_ > 0 ? need / rate_ : 60.0;
  }
  return false;
}

}  // namespace stele
