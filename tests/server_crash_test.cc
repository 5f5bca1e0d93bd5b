// The server under load from several clients: SIGTERM loses nothing that was
// acknowledged, and kill -9 loses nothing acknowledged with wait=durable.
// Each acknowledged first_seq..last_seq must hold exactly the events that
// request carried, after a restart.  (Slow suite.)
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "http_client.h"
#include "test_util.h"

namespace stele {
namespace {

struct Ack {
  uint64_t client, batch, first, last;
};

constexpr uint64_t kBatch = 50;

std::string BatchBody(uint64_t client, uint64_t batch) {
  std::string body;
  for (uint64_t i = 0; i < kBatch; ++i) {
    body += "{\"type\":\"load.event\",\"source\":\"c" + std::to_string(client) + "\",\"data\":{\"c\":" +
            std::to_string(client) + ",\"b\":" + std::to_string(batch) + ",\"i\":" + std::to_string(i) + "}}\n";
  }
  return body;
}

uint64_t JsonU64(const std::string& body, const std::string& key) {
  const size_t at = body.find("\"" + key + "\":");
  return at == std::string::npos ? 0 : std::strtoull(body.c_str() + at + key.size() + 3, nullptr, 10);
}

// Runs `clients` posting threads until the server stops answering; stops the
// server with `sig` after `run_for`.  Returns the acknowledged requests.
std::vector<Ack> LoadAndStop(test::ServerProcess* server, int sig, const std::string& target, int clients,
                             std::chrono::milliseconds run_for, int* exit_code) {
  std::vector<Ack> acks;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      test::HttpClient http(server->port());
      for (uint64_t b = 0;; ++b) {
        test::HttpReply r = http.Request("POST", target, BatchBody(static_cast<uint64_t>(c), b));
        if (r.status != 200) return;  // 503 while draining, or the connection is gone
        if (JsonU64(r.body, "appended") != kBatch) return;
        std::lock_guard<std::mutex> g(mu);
        acks.push_back({static_cast<uint64_t>(c), b, JsonU64(r.body, "first_seq"), JsonU64(r.body, "last_seq")});
      }
    });
  }
  std::this_thread::sleep_for(run_for);
  *exit_code = server->Stop(sig);
  for (auto& t : threads) t.join();
  return acks;
}

void ExpectAcksPresent(const std::string& dir, const std::vector<Ack>& acks) {
  auto events = test::QueryAll(dir, Query{});
  std::map<uint64_t, const test::StoredEvent*> by_seq;
  for (const auto& e : events) by_seq[e.seq] = &e;
  ASSERT_GT(acks.size(), 10u);
  for (const Ack& a : acks) {
    ASSERT_EQ(a.last - a.first + 1, kBatch);
    for (uint64_t i = 0; i < kBatch; ++i) {
      auto it = by_seq.find(a.first + i);
      ASSERT_NE(it, by_seq.end()) << "acknowledged seq " << a.first + i << " is missing";
      EXPECT_EQ(it->second->data, "{\"c\":" + std::to_string(a.client) + ",\"b\":" + std::to_string(a.batch) +
                                      ",\"i\":" + std::to_string(i) + "}");
    }
  }
  auto report = VerifyLog(dir, VerifyOptions{});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->reason;
}

TEST(ServerCrash, SigtermUnderLoadKeepsEveryAcknowledgedEvent) {
  test::TempDir dir;
  const std::string data = dir.Sub("data");
  for (int round = 0; round < 3; ++round) {
    test::ServerProcess server(data);
    ASSERT_TRUE(server.started());
    int code = -1;
    auto acks = LoadAndStop(&server, SIGTERM, "/v1/events", 4, std::chrono::milliseconds(800), &code);
    EXPECT_EQ(code, 0);
    ExpectAcksPresent(data, acks);
  }
}

TEST(ServerCrash, KillDashNineKeepsEveryDurableAcknowledgement) {
  test::TempDir dir;
  const std::string data = dir.Sub("data");
  for (int round = 0; round < 3; ++round) {
    test::ServerProcess server(data);
    ASSERT_TRUE(server.started());
    int code = 0;
    auto acks = LoadAndStop(&server, SIGKILL, "/v1/events?wait=durable", 4, std::chrono::milliseconds(600), &code);
    EXPECT_EQ(code, -SIGKILL);
    // Reopening recovers (drops a torn unacknowledged tail, if any).
    {
      Options o;
      o.dir = data;
      auto log = Log::Open(o);
      ASSERT_TRUE(log.ok()) << log.status().ToString();
      ASSERT_TRUE((*log)->Shutdown().ok());
    }
    ExpectAcksPresent(data, acks);
  }
}

}  // namespace
}  // namespace stele
