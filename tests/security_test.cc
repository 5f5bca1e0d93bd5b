// Rate limiting and security monitoring (SPEC §6, §7): token buckets with a
// bounded key set, aggregated security events in the log itself.
#include <gtest/gtest.h>

#include <atomic>
#include <simdjson.h>

#include "security/rate_limiter.h"
#include "security/security_monitor.h"
#include "test_util.h"

namespace stele {
namespace {

constexpr int64_t kSec = 1'000'000'000;

TEST(RateLimiter, BurstThenRefillAtTheRate) {
  RateLimiter limiter(10, 5);
  int64_t t = 100 * kSec;
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Allow("k", 1, t));
  double retry = 0;
  EXPECT_FALSE(limiter.Allow("k", 1, t, &retry));
  EXPECT_NEAR(retry, 0.1, 1e-9);
  EXPECT_TRUE(limiter.Allow("other", 1, t));  // buckets are per key
  t += kSec / 10;                              // one token back
  EXPECT_TRUE(limiter.Allow("k", 1, t));
  EXPECT_FALSE(limiter.Allow("k", 1, t));
  t += 100 * kSec;  // never more than the burst
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.Allow("k", 1, t));
  EXPECT_FALSE(limiter.Allow("k", 1, t));
}

TEST(RateLimiter, InventedKeysCannotGrowMemoryWithoutBound) {
  RateLimiter limiter(1, 1, 1600);
  for (int i = 0; i < 200'000; ++i) limiter.Allow("key-" + std::to_string(i), 1, 5 * kSec);
  EXPECT_LE(limiter.keys(), 1600u);
  // A key that is being limited right now keeps its (empty) bucket when
  // idle ones can make room.
  RateLimiter small(1, 1, 32);
  ASSERT_TRUE(small.Allow("hot", 1, 10 * kSec));
  ASSERT_FALSE(small.Allow("hot", 1, 10 * kSec));
  for (int i = 0; i < 31; ++i) small.Allow("idle-" + std::to_string(i), 0, 1 * kSec);
  small.Allow("new", 1, 10 * kSec);
  EXPECT_FALSE(small.Allow("hot", 1, 10 * kSec));
}

TEST(SecurityMonitor, AFloodBecomesOneEventPerGroup) {
  std::vector<std::pair<std::string, std::string>> written;
  std::mutex mu;
  SecurityMonitor monitor(std::chrono::hours(1), 100, [&](std::string_view type, const std::string& data) {
    std::lock_guard<std::mutex> g(mu);
    written.emplace_back(std::string(type), data);
  });
  for (int i = 0; i < 10'000; ++i) monitor.Report("security.auth_failed", "key", "bad-key", "unknown key");
  for (int i = 0; i < 5'000; ++i) monitor.Report("security.rate_limited", "key", "k" + std::to_string(i), "key rate");
  monitor.Stop();
  EXPECT_EQ(monitor.incidents(), 15'000u);
  // 1 auth group + 99 distinct rate-limited keys + 1 overflow group.
  ASSERT_EQ(written.size(), 101u);
  uint64_t total = 0;
  simdjson::ondemand::parser parser;
  for (const auto& [type, data] : written) {
    simdjson::padded_string p(data);
    auto doc = parser.iterate(p);
    uint64_t count = 0;
    ASSERT_EQ(doc["count"].get(count), simdjson::SUCCESS) << data;
    total += count;
  }
  EXPECT_EQ(total, 15'000u);
  EXPECT_NE(written[0].second.find("\"count\":10000"), std::string::npos) << written[0].second;
}

TEST(SecurityMonitor, SubjectsFromOutsideAlwaysGiveValidJson) {
  std::vector<std::string> written;
  SecurityMonitor monitor(std::chrono::hours(1), 10, [&](std::string_view, const std::string& data) {
    written.push_back(data);
  });
  monitor.Report("security.auth_failed", "key", std::string("\xff\xfe\"\\\n\x01 \xe2\x82", 10), "bad");
  monitor.Stop();
  ASSERT_EQ(written.size(), 1u);
  simdjson::ondemand::parser parser;
  simdjson::padded_string p(written[0]);
  auto doc = parser.iterate(p);
  std::string_view key;
  ASSERT_EQ(doc["key"].get(key), simdjson::SUCCESS) << written[0];
}

TEST(LogSecurity, PerSourceLimitRejectsTheExcessAndRecordsItOnce) {
  test::TempDir dir;
  Options o;
  o.dir = dir.path();
  o.source_rate = 1;  // a token a second: nothing refills during the test
  o.source_burst = 100;
  {
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok());
    std::string batch;
    for (int i = 0; i < 300; ++i) batch += "{\"type\":\"lead.created\",\"source\":\"crm\"}\n";
    for (int i = 0; i < 10; ++i) batch += "{\"type\":\"lead.created\",\"source\":\"web\"}\n";
    batch += "{\"type\":\"Bad\"}\n";
    auto r = (*log)->AppendBatch(batch);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->appended, 110u);
    ASSERT_EQ(r->rejected.size(), 201u);
    EXPECT_EQ(r->rejected[0].line, 101u);
    EXPECT_EQ(r->rejected[0].status.code(), StatusCode::kRateLimited);
    EXPECT_NE(r->rejected[0].status.message().find("\"crm\""), std::string::npos);
    EXPECT_EQ(r->rejected.back().status.code(), StatusCode::kInvalidArgument);
    auto one = (*log)->Append("{\"type\":\"lead.created\",\"source\":\"crm\"}");
    EXPECT_EQ(one.status().code(), StatusCode::kRateLimited);
    const LogStats s = (*log)->stats();
    EXPECT_EQ(s.rate_limited_rejects, 201u);
    EXPECT_EQ(s.invalid_rejects, 1u);
    ASSERT_TRUE((*log)->Shutdown().ok());
  }
  Query q;
  q.type = "security.*";
  auto events = test::QueryAll(dir.path(), q);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "security.rate_limited");
  EXPECT_NE(events[0].data.find("\"source\":\"crm\""), std::string::npos) << events[0].data;
  EXPECT_NE(events[0].data.find("\"count\":201"), std::string::npos) << events[0].data;
  EXPECT_EQ(events[1].type, "security.validation_failed");
}

}  // namespace
}  // namespace stele
