// TopKOfSums: the k values with the largest counts summed over many
// sources, counted exactly, in memory that follows the number of sources
// times `per_source` rather than the number of distinct values.  What
// `stele stats --by lead --top K` needs over millions of distinct leads,
// where each sealed segment's field index already holds its own per-value
// counts.
//
// The method is TPUT (Cao & Wang, "Efficient top-K query calculation in
// distributed networks", PODC 2004), with the sources read one at a time:
//  1. Each source (an index's value table, or the exact counts of events
//     read) is seen once, whole.  Its `per_source` largest counts become
//     candidates; the smallest of them, t_s, bounds the count in that
//     source of every value it did not keep (t_s = 0 when it kept all).
//  2. A candidate's counts so far sum to a lower bound; adding t_s for each
//     source that did not keep it gives an upper bound.  A value no source
//     kept sums to at most tau = the sum of every t_s.
//  3. Candidates that are not exact and whose upper bound reaches the k-th
//     largest lower bound must be recounted: the caller reads the sources
//     again and hands every (value, count) to Recount().  With skewed data
//     (Zipf leads) the top values are kept by every source and need none.
// The rows are exact.  They are the true top k when the k-th count exceeds
// tau (`complete`); otherwise a value whose sum is at most tau may be
// missing from them, and tau is reported as the membership floor.
//
// Not thread-safe: one query's object.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "stele/stats.h"
#include "util/hash.h"

namespace stele {

// The order of stats rows: count descending, then key ascending.
bool StatsRowBefore(const StatsRow& a, const StatsRow& b);

class TopKOfSums {
 public:
  TopKOfSums(size_t k, size_t per_source);
  TopKOfSums(const TopKOfSums&) = delete;
  TopKOfSums& operator=(const TopKOfSums&) = delete;

  // One source: each of its values once, then EndSource().
  void Add(std::string_view value, uint64_t count);
  void EndSource();

  // After the last source: whether Recount() must be fed a second reading
  // of every source before Finish().
  bool NeedsRecount();
  void Recount(std::string_view value, uint64_t count);

  struct Outcome {
    std::vector<StatsRow> rows;  // exact counts, by count descending then key, at most k
    bool complete = false;       // the rows are the true top k
    uint64_t floor = 0;          // tau: a value summing to at most this may be missing
    size_t candidates = 0;
    size_t recounted = 0;        // candidates Recount() made exact
  };
  Outcome Finish();

 private:
  struct Candidate {
    uint64_t lower = 0;    // sum of the counts of the sources that kept it
    uint64_t covered = 0;  // sum of t_s over those sources
    bool recount = false;  // to be made exact by Recount()
    uint64_t exact = 0;    // Recount()'s sum
  };
  uint64_t Slack(const Candidate& c) const { return tau_ - c.covered; }

  const size_t k_;
  const size_t per_source_;
  // The current source's largest counts: a min-heap of (count, value).
  std::vector<std::pair<uint64_t, std::string>> heap_;
  uint64_t source_values_ = 0;
  uint64_t tau_ = 0;
  std::unordered_map<std::string, Candidate, TransparentHash, std::equal_to<>> candidates_;  // not KeyCounts: bounds too
  bool recounting_ = false;
};

}  // namespace stele
