// Write and fsync failures: the log turns read-only with the reason, never
// retries, never reports a failed write as success, and loses nothing that
// was acknowledged before the failure.
#include <gtest/gtest.h>

#include "fault_env.h"
#include "test_util.h"

namespace stele {
namespace {

using test::FaultEnv;
using test::QueryAll;
using test::TempDir;

std::string Event(int i) { return R"({"type":"a","data":{"i":)" + std::to_string(i) + "}}"; }

TEST(Fault, FsyncFailureMakesLogReadOnly) {
  TempDir dir;
  FaultEnv env;
  Options o;
  o.dir = dir.path();
  o.env = &env;
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok());
  for (int i = 1; i <= 50; ++i) ASSERT_TRUE((*log)->Append(Event(i)).ok());
  ASSERT_TRUE((*log)->Flush().ok());  // 1..50 acknowledged durable

  env.fail_sync = true;
  (void)(*log)->Append(Event(51));  // enqueued; its batch's sync will fail
  Status flush = (*log)->Flush();
  ASSERT_FALSE(flush.ok());
  EXPECT_EQ(flush.code(), StatusCode::kReadOnly);
  EXPECT_NE(flush.message().find("fdatasync"), std::string::npos) << flush.message();

  env.fail_sync = false;  // even if the disk recovers, the log stays read-only
  auto later = (*log)->Append(Event(52));
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.status().code(), StatusCode::kReadOnly);
  EXPECT_EQ((*log)->health().code(), StatusCode::kReadOnly);
  EXPECT_FALSE((*log)->Flush().ok()) << "the failure is sticky";
  (void)(*log)->Shutdown();
  log->reset();

  Options plain;
  plain.dir = dir.path();
  auto reopened = Log::Open(plain);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  auto events = QueryAll(dir.path(), {});
  ASSERT_GE(events.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(events[i].data, R"({"i":)" + std::to_string(i + 1) + "}");
}

TEST(Fault, WriteFailureUnderSyncAlwaysFailsTheAppendAndKeepsEarlierEvents) {
  TempDir dir;
  FaultEnv env;
  Options o;
  o.dir = dir.path();
  o.env = &env;
  o.sync = SyncMode::kAlways;
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok());
  for (int i = 1; i <= 20; ++i) ASSERT_TRUE((*log)->Append(Event(i)).ok());
  env.write_budget = 30;  // the next frame is cut short: a full disk
  auto r = (*log)->Append(Event(21));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kReadOnly);
  EXPECT_NE(r.status().message().find("No space left"), std::string::npos) << r.status().message();
  auto r2 = (*log)->Append(Event(22));
  EXPECT_EQ(r2.status().code(), StatusCode::kReadOnly);
  (void)(*log)->Shutdown();
  log->reset();

  Options plain;
  plain.dir = dir.path();
  auto reopened = Log::Open(plain);
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->recovery().last_seq, 20u);
  EXPECT_EQ((*reopened)->recovery().dropped_bytes, 30u) << "the short write is a torn tail";
  EXPECT_EQ(*(*reopened)->Append(Event(21)), 21u);
}

TEST(Fault, FailureWhileSealingIsAlsoTerminal) {
  TempDir dir;
  FaultEnv env;
  Options o;
  o.dir = dir.path();
  o.env = &env;
  o.segment_max_bytes = 2048;
  auto log = Log::Open(o);
  ASSERT_TRUE(log.ok());
  int acked = 0;
  Status st;
  for (int i = 1; i <= 400 && st.ok(); ++i) {
    if (i == 200) env.fail_sync = true;
    auto r = (*log)->Append(Event(i));
    if (r.ok()) st = (*log)->Flush();
    else st = r.status();
    if (st.ok()) acked = i;
  }
  EXPECT_EQ(st.code(), StatusCode::kReadOnly);
  EXPECT_EQ(acked, 199);
  (void)(*log)->Shutdown();
  log->reset();
  Options plain;
  plain.dir = dir.path();
  auto reopened = Log::Open(plain);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  auto events = QueryAll(dir.path(), {});
  ASSERT_GE(events.size(), 199u);
  for (int i = 0; i < 199; ++i) ASSERT_EQ(events[i].seq, static_cast<uint64_t>(i + 1));
}

}  // namespace
}  // namespace stele
