// TopKOfSums: exact sums of the rows it reports, the true top k whenever it
// says complete, and no value summing above its floor left out of the top
// k, checked against sums made directly from the sources.
#include "query/top_k_of_sums.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace stele {
namespace {

using Source = std::map<std::string, uint64_t>;  // value -> count, each value once, ascending like an index

struct Reading {
  TopKOfSums::Outcome outcome;
  bool recounted = false;
};

Reading Feed(const std::vector<Source>& sources, size_t k, size_t per_source) {
  TopKOfSums top(k, per_source);
  for (const Source& s : sources) {
    for (const auto& [v, n] : s) top.Add(v, n);
    top.EndSource();
  }
  Reading run;
  run.recounted = top.NeedsRecount();
  if (run.recounted) {
    for (const Source& s : sources) {
      for (const auto& [v, n] : s) top.Recount(v, n);
    }
  }
  run.outcome = top.Finish();
  return run;
}

std::vector<StatsRow> TrueOrder(const std::vector<Source>& sources) {
  std::map<std::string, uint64_t> sums;
  for (const Source& s : sources) {
    for (const auto& [v, n] : s) sums[v] += n;
  }
  std::vector<StatsRow> rows;
  for (const auto& [v, n] : sums) rows.push_back({v, n});
  std::sort(rows.begin(), rows.end(),
            [](const StatsRow& a, const StatsRow& b) { return a.count != b.count ? a.count > b.count : a.key < b.key; });
  return rows;
}

// What every answer must satisfy, whatever the data.
void CheckAgainstTruth(const std::vector<Source>& sources, size_t k, const TopKOfSums::Outcome& out,
                       const std::string& what) {
  const std::vector<StatsRow> truth = TrueOrder(sources);
  std::map<std::string, uint64_t> sum;
  for (const StatsRow& r : truth) sum[r.key] = r.count;
  ASSERT_LE(out.rows.size(), k) << what;
  for (size_t i = 0; i < out.rows.size(); ++i) {
    EXPECT_EQ(out.rows[i].count, sum[out.rows[i].key]) << what << ": row " << i << " " << out.rows[i].key;
    if (i > 0) {
      EXPECT_GE(out.rows[i - 1].count, out.rows[i].count) << what;
    }
  }
  // A true top-k value summing above the floor is reported.
  for (size_t i = 0; i < std::min(k, truth.size()); ++i) {
    if (truth[i].count <= out.floor) continue;
    const bool found = std::any_of(out.rows.begin(), out.rows.end(),
                                   [&](const StatsRow& r) { return r.key == truth[i].key; });
    EXPECT_TRUE(found) << what << ": " << truth[i].key << " (" << truth[i].count << ") above floor " << out.floor;
  }
  if (out.complete) {
    ASSERT_EQ(out.rows.size(), std::min(k, truth.size())) << what;
    for (size_t i = 0; i < out.rows.size(); ++i) {
      EXPECT_EQ(out.rows[i].key, truth[i].key) << what << ": row " << i;
    }
  }
}

// Zipf values, as leads are: every source keeps the top values, so they
// are exact after one reading and the answer is complete.
TEST(TopKOfSums, SkewedValuesNeedNoSecondReading) {
  std::mt19937_64 rng(3);
  std::vector<Source> sources(12);
  std::vector<double> cdf;
  double total = 0;
  for (int r = 1; r <= 20000; ++r) cdf.push_back(total += 1.0 / r);
  for (Source& s : sources) {
    for (int e = 0; e < 30000; ++e) {
      const double x = std::uniform_real_distribution<double>(0, total)(rng);
      const size_t rank = std::lower_bound(cdf.begin(), cdf.end(), x) - cdf.begin();
      ++s["L" + std::to_string(1000000 + rank)];
    }
  }
  for (size_t k : {1, 10, 50}) {
    Reading run = Feed(sources, k, 400);
    CheckAgainstTruth(sources, k, run.outcome, "zipf k=" + std::to_string(k));
    EXPECT_TRUE(run.outcome.complete) << k;
    EXPECT_FALSE(run.recounted) << k;
    EXPECT_EQ(run.outcome.rows.size(), k);
    EXPECT_LE(run.outcome.candidates, 12u * 400u) << "memory follows the sources, not the 20,000 values";
  }
}

// Values that are large in some sources and absent from others: candidates
// whose sums are not settled by the first reading are recounted.
TEST(TopKOfSums, UnsettledCandidatesAreRecounted) {
  std::mt19937_64 rng(11);
  int recounts = 0, completes = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const size_t n_sources = 1 + rng() % 8, values = 5 + rng() % 300, per_source = 2 + rng() % 40;
    const size_t k = 1 + rng() % 12;
    std::vector<Source> sources(n_sources);
    for (Source& s : sources) {
      const size_t present = 1 + rng() % values;
      for (size_t i = 0; i < present; ++i) {
        const size_t v = rng() % values;
        // Skewed with each source's own heavy values (small floors, so the
        // top values are unsettled where a source did not keep them),
        // uniform and wide, or tied.
        const uint64_t n = trial % 3 == 0 ? 1 + 5000 / (1 + i) : 1 + rng() % (trial % 3 == 1 ? 1000 : 5);
        s["v" + std::to_string(v)] = n;
      }
    }
    Reading run = Feed(sources, k, per_source);
    CheckAgainstTruth(sources, k, run.outcome, "trial " + std::to_string(trial));
    recounts += run.recounted;
    completes += run.outcome.complete;
  }
  EXPECT_GT(recounts, 20) << "the trials exercise the second reading";
  EXPECT_GT(completes, 20);
  EXPECT_LT(completes, 200) << "and answers that cannot be proven complete";
}

// A value kept by one source but not by another, whose count there the
// first reading only bounds: recounted, it is the exact top 1.
TEST(TopKOfSums, ACandidateMissingFromASourceIsRecounted) {
  Source a{{"a1", 1}, {"a2", 1}, {"a3", 1}, {"a4", 1}, {"x", 1000}, {"y", 990}};  // keeps x, y, an a: t = 1
  Source b{{"b1", 2}, {"b2", 2}, {"w", 994}, {"x", 2}, {"z", 995}};               // keeps w, z, a b: t = 2
  Reading run = Feed({a, b}, 1, 3);
  EXPECT_TRUE(run.recounted);
  EXPECT_TRUE(run.outcome.complete);
  ASSERT_EQ(run.outcome.rows.size(), 1u);
  EXPECT_EQ(run.outcome.rows[0].key, "x");
  EXPECT_EQ(run.outcome.rows[0].count, 1002u);
  EXPECT_EQ(run.outcome.floor, 3u);
  CheckAgainstTruth({a, b}, 1, run.outcome, "two sources");
}

// The case TPUT cannot see: a value that is never among any source's kept
// counts but sums above every value that is.  The answer says so (not
// complete), and the floor covers the missing value.
TEST(TopKOfSums, AValueNoSourceKeptIsCoveredByTheFloor) {
  std::vector<Source> sources(10);
  for (size_t s = 0; s < sources.size(); ++s) {
    for (int i = 0; i < 4; ++i) sources[s]["local-" + std::to_string(s) + "-" + std::to_string(i)] = 100;
    sources[s]["global"] = 50;  // 500 in all, above every local value
  }
  Reading run = Feed(sources, 1, 4);
  CheckAgainstTruth(sources, 1, run.outcome, "hidden global");
  EXPECT_FALSE(run.outcome.complete);
  ASSERT_EQ(run.outcome.rows.size(), 1u);
  EXPECT_EQ(run.outcome.rows[0].count, 100u) << "a local value, counted exactly";
  EXPECT_GE(run.outcome.floor, 500u) << "the floor says a value up to it may be missing";
  // With room for one more count per source, it is found, and proven.
  Reading wider = Feed(sources, 1, 5);
  EXPECT_TRUE(wider.outcome.complete);
  ASSERT_EQ(wider.outcome.rows.size(), 1u);
  EXPECT_EQ(wider.outcome.rows[0].key, "global");
  EXPECT_EQ(wider.outcome.rows[0].count, 500u);
}

}  // namespace
}  // namespace stele
