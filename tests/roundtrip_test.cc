// Round trip of generated events through segments, rotation and every
// filter, each checked against a brute-force reference computed here.
#include <gtest/gtest.h>

#include <functional>
#include <random>

#include "test_util.h"
#include "util/time.h"
#include "workload/generator.h"

namespace stele {
namespace {

using test::StoredEvent;

class RoundTrip : public ::testing::Test {
 protected:
  static constexpr uint64_t kEvents = 60'000;

  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    expected_ = new std::vector<StoredEvent>();
    WorkloadGenerator gen({});
    Options o;
    o.dir = dir_->path();
    o.segment_max_bytes = 512 << 10;  // several sealed segments plus an active one
    o.frame_target_bytes = 32 << 10;
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok());
    std::string batch;
    for (uint64_t i = 0; i < kEvents; ++i) {
      std::string line = gen.Event(i);
      expected_->push_back(test::ExpectedFromLine(i + 1, line));
      if (i % 3 == 0) {
        auto seq = (*log)->Append(line);
        ASSERT_TRUE(seq.ok()) << seq.status().ToString();
        ASSERT_EQ(*seq, i + 1);
      } else {
        batch += line + "\n";
        if (i % 3 == 2) {
          auto r = (*log)->AppendBatch(batch);
          ASSERT_TRUE(r.ok());
          ASSERT_EQ(r->appended, 2u);
          ASSERT_EQ(r->first_seq, i);
          batch.clear();
        }
      }
    }
    if (!batch.empty()) {
      ASSERT_TRUE((*log)->AppendBatch(batch).ok());
    }
    ASSERT_TRUE((*log)->Shutdown().ok());
    ASSERT_GE((*log)->stats().segments_sealed, 3u);
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete expected_;
  }

  static std::vector<uint64_t> Reference(const Query& q) { return test::ReferenceQuery(*expected_, q); }

  static test::TempDir* dir_;
  static std::vector<StoredEvent>* expected_;
};

test::TempDir* RoundTrip::dir_ = nullptr;
std::vector<StoredEvent>* RoundTrip::expected_ = nullptr;

TEST_F(RoundTrip, EveryEventComesBackExactly) {
  auto events = test::QueryAll(dir_->path(), {});
  ASSERT_EQ(events.size(), kEvents);
  for (uint64_t i = 0; i < kEvents; ++i) ASSERT_EQ(events[i], (*expected_)[i]) << "seq " << i + 1;
}

TEST_F(RoundTrip, OutputFormIsTheSpecifiedJson) {
  Query q;
  q.limit = 1;
  auto it = QueryDirectory(dir_->path(), q);
  ASSERT_TRUE(it.ok());
  EventView e;
  ASSERT_TRUE((*it)->Next(&e));
  std::string out;
  AppendEventJson(e, &out);
  const StoredEvent& x = (*expected_)[0];
  EXPECT_EQ(out, "{\"seq\":1,\"ts\":\"" + FormatRfc3339(x.ts_ns) + "\",\"type\":\"" + x.type + "\",\"actor\":\"" +
                     x.actor + "\",\"source\":\"" + x.source + "\",\"lead_id\":\"" + x.lead_id +
                     "\",\"workflow_id\":\"" + x.workflow_id + "\",\"data\":" + x.data + "}");
}

TEST_F(RoundTrip, EachFilterMatchesTheReference) {
  const StoredEvent& probe = (*expected_)[12345];
  std::vector<std::pair<std::string, Query>> cases;
  auto add = [&](std::string name, std::function<void(Query&)> set) {
    Query q;
    set(q);
    cases.emplace_back(std::move(name), q);
  };
  add("type exact", [&](Query& q) { q.type = "email.bounced"; });
  add("type prefix", [&](Query& q) { q.type = "lead.*"; });
  add("type prefix step", [&](Query& q) { q.type = "step.*"; });
  add("type none", [&](Query& q) { q.type = "nothing.here"; });
  add("actor", [&](Query& q) { q.actor = probe.actor; });
  add("source", [&](Query& q) { q.source = probe.source; });
  add("lead", [&](Query& q) { q.lead_id = probe.lead_id; });
  add("hot lead", [&](Query& q) { q.lead_id = "L0000000"; });
  add("workflow", [&](Query& q) { q.workflow_id = probe.workflow_id; });
  add("since", [&](Query& q) { q.since_ns = probe.ts_ns; });
  add("until", [&](Query& q) { q.until_ns = probe.ts_ns; });
  add("window", [&](Query& q) {
    q.since_ns = probe.ts_ns;
    q.until_ns = probe.ts_ns + 5'000'000'000;
  });
  add("combined", [&](Query& q) {
    q.type = "step.*";
    q.source = probe.source;
    q.since_ns = (*expected_)[1000].ts_ns;
    q.until_ns = (*expected_)[50000].ts_ns;
  });
  add("lead+desc+limit", [&](Query& q) {
    q.lead_id = "L0000001";
    q.descending = true;
    q.limit = 7;
  });
  for (const auto& [name, q] : cases) {
    const auto want = Reference(q);
    const auto got = test::Seqs(test::QueryAll(dir_->path(), q));
    EXPECT_EQ(got, want) << name;
    if (name != "type none") {
      EXPECT_FALSE(want.empty()) << name << " should select something";
    }
  }
}

TEST_F(RoundTrip, PagingWithAfterCoversEverythingOnceInBothDirections) {
  for (bool desc : {false, true}) {
    Query q;
    q.type = "step.*";
    q.descending = desc;
    const auto all = Reference(q);
    std::vector<uint64_t> paged;
    q.limit = 997;
    while (true) {
      auto page = test::Seqs(test::QueryAll(dir_->path(), q));
      if (page.empty()) break;
      EXPECT_LE(page.size(), 997u);
      paged.insert(paged.end(), page.begin(), page.end());
      q.after = page.back();
    }
    EXPECT_EQ(paged, all) << (desc ? "desc" : "asc");
  }
}

TEST_F(RoundTrip, RandomFilterCombinationsMatchTheReference) {
  std::mt19937_64 rng(7);
  const auto& types = WorkloadGenerator::Types();
  for (int round = 0; round < 60; ++round) {
    Query q;
    const StoredEvent& p = (*expected_)[rng() % kEvents];
    if (rng() % 3 == 0) q.type = rng() % 2 ? types[rng() % types.size()] : p.type.substr(0, p.type.find('.') + 1) + "*";
    if (rng() % 4 == 0) q.actor = p.actor;
    if (rng() % 4 == 0) q.source = p.source;
    if (rng() % 5 == 0) q.lead_id = p.lead_id;
    if (rng() % 4 == 0) q.workflow_id = p.workflow_id;
    if (rng() % 3 == 0) q.since_ns = p.ts_ns - static_cast<int64_t>(rng() % 10'000'000'000);
    if (rng() % 3 == 0) q.until_ns = p.ts_ns + static_cast<int64_t>(rng() % 10'000'000'000);
    q.descending = rng() % 2;
    if (rng() % 2) q.limit = 1 + rng() % 50;
    if (rng() % 3 == 0) q.after = 1 + rng() % kEvents;
    EXPECT_EQ(test::Seqs(test::QueryAll(dir_->path(), q)), Reference(q)) << "round " << round;
  }
}

}  // namespace
}  // namespace stele
