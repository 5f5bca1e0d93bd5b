#include "query/top_k_of_sums.h"

#include <algorithm>

namespace stele {
namespace {

// std::push_heap and friends build a max-heap; this order makes the
// smallest count the top.
bool LargerCount(const std::pair<uint64_t, std::string>& a, const std::pair<uint64_t, std::string>& b) {
  return a.first > b.first;
}

}  // namespace

bool StatsRowBefore(const StatsRow& a, const StatsRow& b) {
  return a.count != b.count ? a.count > b.count : a.key < b.key;
}

TopKOfSums::TopKOfSums(size_t k, size_t per_source) : k_(std::max<size_t>(1, k)), per_source_(std::max(k_, per_source)) {
  heap_.reserve(per_source_);
}

void TopKOfSums::Add(std::string_view value, uint64_t count) {
  ++source_values_;
  if (heap_.size() < per_source_) {
    heap_.emplace_back(count, std::string(value));
    std::push_heap(heap_.begin(), heap_.end(), LargerCount);
  } else if (count > heap_.front().first) {
    std::pop_heap(heap_.begin(), heap_.end(), LargerCount);
    heap_.back().first = count;
    heap_.back().second.assign(value);
    std::push_heap(heap_.begin(), heap_.end(), LargerCount);
  }
}

void TopKOfSums::EndSource() {
  // Every value this source did not keep counts at most t_s in it.
  const uint64_t t = source_values_ > heap_.size() ? heap_.front().first : 0;
  tau_ += t;
  for (auto& [count, value] : heap_) {
    Candidate& c = candidates_[std::move(value)];
    c.lower += count;
    c.covered += t;
  }
  heap_.clear();
  source_values_ = 0;
}

bool TopKOfSums::NeedsRecount() {
  // The k-th largest lower bound: a candidate whose upper bound stays below
  // it cannot be in the top k.
  std::vector<uint64_t> lowers;
  lowers.reserve(candidates_.size());
  for (const auto& [value, c] : candidates_) lowers.push_back(c.lower);
  uint64_t kth = 0;
  if (lowers.size() >= k_) {
    std::nth_element(lowers.begin(), lowers.begin() + static_cast<long>(k_ - 1), lowers.end(), std::greater<>());
    kth = lowers[k_ - 1];
  }
  for (auto& [value, c] : candidates_) {
    c.recount = Slack(c) > 0 && c.lower + Slack(c) >= kth;
    recounting_ |= c.recount;
  }
  return recounting_;
}

void TopKOfSums::Recount(std::string_view value, uint64_t count) {
  auto it = candidates_.find(value);
  if (it != candidates_.end() && it->second.recount) it->second.exact += count;
}

TopKOfSums::Outcome TopKOfSums::Finish() {
  Outcome out;
  out.candidates = candidates_.size();
  out.floor = tau_;
  // Only exact candidates are rows: those no source left out (slack 0) and
  // those recounted.  The k candidates with the largest lower bounds are
  // among them (NeedsRecount), so the rows are the top k of the candidates.
  for (const auto& [value, c] : candidates_) {
    if (c.recount) {
      out.rows.push_back({value, c.exact});
      ++out.recounted;
    } else if (Slack(c) == 0) {
      out.rows.push_back({value, c.lower});
    }
  }
  if (out.rows.size() > k_) {
    std::partial_sort(out.rows.begin(), out.rows.begin() + static_cast<long>(k_), out.rows.end(), StatsRowBefore);
    out.rows.resize(k_);
  } else {
    std::sort(out.rows.begin(), out.rows.end(), StatsRowBefore);
  }
  // A value no source kept sums to at most tau: below the k-th row, it
  // cannot displace it.
  out.complete = tau_ == 0 || (out.rows.size() == k_ && out.rows.back().count > tau_);
  return out;
}

}  // namespace stele
