// The query cache behind Log::QueryPage: hits, extension with new events
// only, never stale, bounded.
#include <gtest/gtest.h>

#include <random>

#include "test_util.h"
#include "workload/generator.h"

namespace stele {
namespace {

// The same query streamed without the cache, as NDJSON.
std::string Uncached(Log* log, const Query& q) {
  auto it = log->Query(q);
  EXPECT_TRUE(it.ok());
  std::string out;
  EventView e;
  while ((*it)->Next(&e)) {
    AppendEventJson(e, &out);
    out.push_back('\n');
  }
  return out;
}

class Cache : public ::testing::Test {
 protected:
  void SetUp() override {
    o_.dir = dir_.path();
    o_.frame_target_bytes = 4 << 10;
    auto log = Log::Open(o_);
    ASSERT_TRUE(log.ok());
    log_ = std::move(log).value();
    WorkloadGenerator::Config c;
    c.leads = 50;
    gen_ = std::make_unique<WorkloadGenerator>(c);
    Append(3000);
  }
  void Append(int n) {
    std::string batch;
    for (int i = 0; i < n; ++i) batch += gen_->Event(next_++) + "\n";
    ASSERT_TRUE(log_->AppendBatch(batch).ok());
  }
  test::TempDir dir_;
  Options o_;
  std::unique_ptr<Log> log_;
  std::unique_ptr<WorkloadGenerator> gen_;
  uint64_t next_ = 0;
};

TEST_F(Cache, ARepeatIsAHit) {
  Query q;
  q.lead_id = "L0000003";
  q.limit = 100;
  auto first = log_->QueryPage(q);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(log_->stats().cache_misses, 1u);
  auto again = log_->QueryPage(q);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(log_->stats().cache_hits, 1u);
  EXPECT_EQ(log_->stats().cache_extends, 0u);
  EXPECT_EQ(*first, Uncached(log_.get(), q));
}

TEST_F(Cache, AnAppendExtendsTheAnswerWithOnlyTheNewEvents) {
  Query asc;
  asc.type = "lead.*";
  asc.limit = 10'000;
  Query desc = asc;
  desc.descending = true;
  desc.limit = 50;
  ASSERT_TRUE(log_->QueryPage(asc).ok());
  ASSERT_TRUE(log_->QueryPage(desc).ok());
  Append(500);
  auto a = log_->QueryPage(asc);
  auto d = log_->QueryPage(desc);
  ASSERT_TRUE(a.ok() && d.ok());
  EXPECT_EQ(*a, Uncached(log_.get(), asc)) << "ascending: the new matches are appended";
  EXPECT_EQ(*d, Uncached(log_.get(), desc)) << "descending: the new matches come first";
  EXPECT_EQ(log_->stats().cache_extends, 2u);
}

TEST_F(Cache, AFullAscendingPageNeverChanges) {
  Query q;
  q.limit = 10;
  auto first = log_->QueryPage(q);
  Append(100);
  auto again = log_->QueryPage(q);
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(*again, Uncached(log_.get(), q));
}

TEST_F(Cache, InterleavedAppendsAndQueriesAreNeverStale) {
  std::mt19937_64 rng(11);
  const auto& types = WorkloadGenerator::Types();
  std::vector<Query> queries;
  for (int i = 0; i < 20; ++i) {
    Query q;
    if (rng() % 2) q.type = types[rng() % types.size()];
    if (rng() % 2) q.lead_id = "L" + std::string(7 - std::to_string(rng() % 50).size(), '0') + std::to_string(rng() % 50);
    if (rng() % 3 == 0) q.after = 1 + rng() % 3000;
    if (rng() % 4 == 0) q.where = {{"/status", "failed"}};
    q.descending = rng() % 2;
    q.limit = 1 + rng() % 300;
    queries.push_back(q);
  }
  for (int round = 0; round < 40; ++round) {
    if (rng() % 2) Append(1 + static_cast<int>(rng() % 200));
    const Query& q = queries[rng() % queries.size()];
    auto page = log_->QueryPage(q);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(*page, Uncached(log_.get(), q)) << "round " << round;
  }
  EXPECT_GT(log_->stats().cache_hits, 0u);
}

TEST_F(Cache, BoundedInBytesAndLimitsChecked) {
  ASSERT_TRUE(log_->Shutdown().ok());
  log_.reset();
  o_.query_cache_bytes = 64 << 10;
  auto log = Log::Open(o_);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 50; ++i) {
    Query q;
    q.after = static_cast<uint64_t>(i);
    q.limit = 100;
    ASSERT_TRUE((*log)->QueryPage(q).ok());
    EXPECT_LE((*log)->stats().cache_bytes, o_.query_cache_bytes);
  }
  Query unbounded;
  EXPECT_EQ((*log)->QueryPage(unbounded).status().code(), StatusCode::kInvalidArgument);
  Query huge;
  huge.limit = Log::kMaxPageEvents + 1;
  EXPECT_EQ((*log)->QueryPage(huge).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace stele
