// `stele serve` end to end: a real server process on 127.0.0.1, real
// sockets.  Ingest and query back exact, filters, stats, proofs, the SSE
// tail, the auth matrix, rate limits with bounded security events, and
// abuse that must get a clean error while the server keeps serving.
#include <gtest/gtest.h>

#include <signal.h>

#include <fstream>
#include <thread>

#include "http_client.h"
#include "server_fixture.h"
#include "server/api_keys.h"
#include "test_util.h"
#include "workload/generator.h"

namespace stele {
namespace {

using test::HttpClient;
using test::HttpReply;

uint64_t JsonU64(const std::string& body, const std::string& key) {
  const size_t at = body.find("\"" + key + "\":");
  if (at == std::string::npos) return UINT64_MAX;
  size_t p = at + key.size() + 3;
  if (body[p] == '"') ++p;
  return std::strtoull(body.c_str() + p, nullptr, 10);
}

std::string Output(const std::vector<test::StoredEvent>& events) {
  std::string out;
  for (const auto& s : events) {
    AppendEventJson(s.View(), &out);
    out.push_back('\n');
  }
  return out;
}

TEST_F(Server, BulkIngestQueriesStatsProofsAndTailEndToEnd) {
  // Security events (reads are recorded) are held until shutdown, so the
  // seqs below are exactly the ones this test posts, however slow the build.
  Start(Config("[log]\nsecurity_interval = \"1h\"\n"));
  HttpClient c(server_->port());
  WorkloadGenerator::Config cfg;
  cfg.leads = 500;
  WorkloadGenerator gen(cfg);
  constexpr uint64_t kEvents = 100'000, kChunk = 5'000;
  std::vector<test::StoredEvent> expected;
  for (uint64_t i = 0; i < kEvents; i += kChunk) {
    std::string body;
    for (uint64_t k = i; k < i + kChunk; ++k) {
      const std::string line = gen.Event(k);
      body += line + "\n";
      expected.push_back(test::ExpectedFromLine(k + 1, line));
    }
    HttpReply r = c.Request("POST", "/v1/events", body, {{"Content-Type", "application/x-ndjson"}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(JsonU64(r.body, "appended"), kChunk);
    EXPECT_EQ(JsonU64(r.body, "first_seq"), i + 1);  // contiguous, in body order
    EXPECT_EQ(JsonU64(r.body, "last_seq"), i + kChunk);
  }

  // Everything back, exact, as a stream.
  HttpReply all = c.Request("GET", "/v1/events");
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(all.headers["content-type"], "application/x-ndjson");
  EXPECT_TRUE(all.body == Output(expected)) << all.body.substr(0, 300);

  // Filters, against a reference computed here.
  Query q;
  q.lead_id = "L0000003";
  q.type = "email.*";
  HttpReply filtered = c.Request("GET", "/v1/events?lead=L0000003&type=email.*");
  ASSERT_EQ(filtered.status, 200);
  std::vector<test::StoredEvent> want;
  for (uint64_t seq : test::ReferenceQuery(expected, q)) want.push_back(expected[seq - 1]);
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(filtered.body, Output(want));
  HttpReply counted = c.Request("GET", "/v1/events?lead=L0000003&type=email.*&format=count");
  EXPECT_EQ(counted.body, "{\"count\":" + std::to_string(want.size()) + "}\n");
  Query email;
  email.type = "email.*";
  EXPECT_EQ(c.Request("GET", "/v1/events?type=email.*&format=count").body,
            "{\"count\":" + std::to_string(test::ReferenceQuery(expected, email).size()) + "}\n");

  // JSON pages with a cursor, descending, equal the same reference reversed.
  std::string paged;
  std::string after;
  for (int guard = 0; guard < 1000; ++guard) {
    HttpReply page = c.Request("GET", "/v1/events?lead=L0000003&type=email.*&desc=true&limit=7" + after,
                               "", {{"Accept", "application/json"}});
    ASSERT_EQ(page.status, 200) << page.body;
    const size_t open = page.body.find('[') + 1, close = page.body.rfind(']');
    std::string events = page.body.substr(open, close - open);
    for (size_t p; (p = events.find("},{\"seq\"")) != std::string::npos;) events.replace(p, 2, "}\n");
    if (!events.empty()) paged += events + "\n";
    const uint64_t next = JsonU64(page.body, "next");
    if (page.body.find("\"next\":null") != std::string::npos) break;
    after = "&after=" + std::to_string(next);
  }
  std::reverse(want.begin(), want.end());
  EXPECT_EQ(paged, Output(want));

  // Stats by type, counted here independently.
  std::map<std::string, uint64_t> counts;
  for (const auto& e : expected) ++counts[e.type];
  HttpReply stats = c.Request("GET", "/v1/stats?by=type&top=100");
  ASSERT_EQ(stats.status, 200);
  EXPECT_EQ(JsonU64(stats.body, "total"), kEvents);
  for (const auto& [type, n] : counts) {
    EXPECT_NE(stats.body.find("{\"key\":\"" + type + "\",\"count\":" + std::to_string(n) + "}"), std::string::npos)
        << type << " " << stats.body;
  }

  // Proofs an offline verifier accepts; the checkpoint; verify.
  HttpReply inc = c.Request("GET", "/v1/proof/inclusion?seq=12345&size=100000");
  ASSERT_EQ(inc.status, 200) << inc.body;
  EXPECT_TRUE(VerifyProofJson(inc.body).ok()) << inc.body;
  HttpReply cons = c.Request("GET", "/v1/proof/consistency?old=1000&new=100000");
  ASSERT_EQ(cons.status, 200) << cons.body;
  EXPECT_TRUE(VerifyProofJson(cons.body).ok()) << cons.body;
  EXPECT_EQ(c.Request("GET", "/v1/checkpoint").status, 200);
  HttpReply v = c.Request("GET", "/v1/verify");
  ASSERT_EQ(v.status, 200);
  EXPECT_NE(v.body.find("\"ok\":true"), std::string::npos) << v.body;

  // The SSE tail resumes after Last-Event-ID and receives new events in order.
  HttpClient tail(server_->port());
  ASSERT_TRUE(tail.SendRaw("GET /v1/tail?type=tail.* HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 100000\r\n\r\n"));
  HttpReply head = tail.ReadHead();
  ASSERT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-type"], "text/event-stream");
  std::string more;
  for (int i = 0; i < 10; ++i) more += "{\"type\":\"other.x\"}\n{\"type\":\"tail.e\",\"data\":{\"i\":" + std::to_string(i) + "}}\n";
  ASSERT_EQ(c.Request("POST", "/v1/events", more).status, 200);
  std::string sse;
  for (int i = 0; i < 100 && std::count(sse.begin(), sse.end(), '\n') < 40; ++i) sse += tail.ReadChunk(std::chrono::milliseconds(200));
  std::string want_sse;
  for (int i = 0; i < 10; ++i) {
    const uint64_t seq = kEvents + 2 + 2 * static_cast<uint64_t>(i);
    want_sse += "id: " + std::to_string(seq) + "\nevent: event\ndata: {\"seq\":" + std::to_string(seq);
  }
  std::string got_ids;
  for (size_t p = 0; (p = sse.find("id: ", p)) != std::string::npos; p += 4) {
    got_ids += sse.substr(p, sse.find(",\"ts\"", p) - p);
  }
  EXPECT_EQ(got_ids, want_sse) << sse.substr(0, 500);

  HttpReply metrics = c.Request("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("stele_events_appended_total 100020\n"), std::string::npos);
  EXPECT_NE(metrics.body.find("stele_fsync_seconds_bucket{le=\"+Inf\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("\nstele_queue_events "), std::string::npos);
  EXPECT_EQ(StopGracefully(), 0) << StderrOf(*server_);
  // Reads were recorded, aggregated.
  Query sec;
  sec.type = "security.read";
  EXPECT_FALSE(test::QueryAll(data_, sec).empty());
}

TEST_F(Server, EveryEndpointChecksKeyAndScope) {
  KeyStore keys(data_);
  auto app = keys.Add("app", kScopeAppend);
  auto rd = keys.Add("rd", kScopeRead);
  auto adm = keys.Add("adm", kScopeAdmin);
  ASSERT_TRUE(app.ok() && rd.ok() && adm.ok());
  Start();
  HttpClient c(server_->port());
  // Something to prove and read.
  ASSERT_EQ(c.Request("POST", "/v1/events?wait=durable", "{\"type\":\"a.b\"}\n{\"type\":\"a.c\"}",
                      {{"Authorization", "Bearer " + *app}})
                .status,
            200);
  struct Endpoint {
    std::string method, target, body;
    Scope scope;
  };
  const std::vector<Endpoint> endpoints = {
      {"POST", "/v1/events", "{\"type\":\"a.d\"}", kScopeAppend},
      {"GET", "/v1/events?limit=1", "", kScopeRead},
      {"GET", "/v1/stats?by=type", "", kScopeRead},
      {"GET", "/v1/checkpoint", "", kScopeRead},
      {"GET", "/v1/proof/inclusion?seq=1&size=2", "", kScopeRead},
      {"GET", "/v1/proof/consistency?old=1&new=2", "", kScopeRead},
      {"GET", "/v1/verify", "", kScopeAdmin},
      {"GET", "/metrics", "", kScopeRead},
      {"GET", "/v1/tail?after=0&type=none", "", kScopeRead},
      {"GET", "/v1/segments", "", kScopeAdmin},
      {"GET", "/v1/checkpoints", "", kScopeRead},
  };
  auto right = [&](Scope s) { return s == kScopeAppend ? *app : s == kScopeRead ? *rd : *adm; };
  auto wrong = [&](Scope s) { return s == kScopeAppend ? *rd : s == kScopeRead ? *app : *rd; };
  for (const Endpoint& e : endpoints) {
    SCOPED_TRACE(e.method + " " + e.target);
    HttpClient k(server_->port());
    EXPECT_EQ(k.Request(e.method, e.target, e.body).status, 401);
    HttpReply bad = k.Request(e.method, e.target, e.body, {{"Authorization", "Bearer stele_0123"}});
    EXPECT_EQ(bad.status, 401);
    EXPECT_NE(bad.body.find("\"code\":\"unauthorized\""), std::string::npos) << bad.body;
    EXPECT_EQ(k.Request(e.method, e.target, e.body, {{"X-API-Key", wrong(e.scope)}}).status, 403);
    if (e.target.rfind("/v1/tail", 0) == 0) {
      ASSERT_TRUE(k.SendRaw("GET " + e.target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + right(e.scope) + "\r\n\r\n"));
      EXPECT_EQ(k.ReadHead().status, 200);
    } else {
      EXPECT_EQ(k.Request(e.method, e.target, e.body, {{"Authorization", "Bearer " + right(e.scope)}}).status, 200);
    }
  }
  EXPECT_EQ(c.Request("GET", "/healthz").status, 200);  // probes need no key
  // A revoked key stops working on the running server.
  ASSERT_TRUE(keys.Revoke("rd").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  HttpReply revoked = c.Request("GET", "/v1/events?limit=1", "", {{"Authorization", "Bearer " + *rd}});
  EXPECT_EQ(revoked.status, 401);
  EXPECT_NE(revoked.body.find("revoked"), std::string::npos);
  EXPECT_EQ(StopGracefully(), 0);
  Query q;
  q.type = "security.auth_failed";
  auto failures = test::QueryAll(data_, q);
  EXPECT_FALSE(failures.empty());
  EXPECT_LE(failures.size(), 10u);  // aggregated per subject and reason
}

TEST_F(Server, KeyRateLimitAnswers429AndAFloodLeavesFewSecurityEvents) {
  Start(Config("[rate_limits]\nkey_rate = 20\nkey_burst = 20\n[log]\nsecurity_interval = \"1s\"\n"));
  HttpClient c(server_->port());
  const auto start = std::chrono::steady_clock::now();
  uint64_t ok = 0, limited = 0;
  for (int i = 0; i < 10'000; ++i) {
    HttpReply r = c.Request("GET", "/v1/checkpoint");
    if (r.status == 429) {
      ++limited;
      if (limited == 1) {
        EXPECT_FALSE(r.headers["retry-after"].empty());
        EXPECT_NE(r.body.find("\"rate_limited\""), std::string::npos);
      }
    } else {
      ++ok;  // 200 or 404 (no checkpoint yet): it got through the limiter
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(ok + limited, 10'000u);
  EXPECT_LE(static_cast<double>(ok), 20 + 20 * secs + 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  HttpReply m = c.Request("GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("stele_rate_limit_hits_total{scope=\"key\"} " + std::to_string(limited) + "\n"), std::string::npos)
      << m.body;
  // The live counters also reach `stele stats --engine`, another process.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  std::string engine;
  {
    FILE* p = popen((std::string(STELE_BINARY) + " stats --engine --dir " + data_).c_str(), "r");
    ASSERT_NE(p, nullptr);
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) engine.append(buf, n);
    EXPECT_EQ(pclose(p), 0);
  }
  EXPECT_NE(engine.find("\"rate_limited_requests\":" + std::to_string(limited)), std::string::npos) << engine;
  EXPECT_NE(engine.find("\"cache_hits\":"), std::string::npos) << engine;
  EXPECT_EQ(StopGracefully(), 0);
  Query q;
  q.type = "security.rate_limited";
  auto events = test::QueryAll(data_, q);
  ASSERT_FALSE(events.empty());
  EXPECT_LE(static_cast<double>(events.size()), secs + 3);  // one a second at most, plus the final flush
  uint64_t counted = 0;
  for (const auto& e : events) counted += JsonU64(e.data, "count");
  EXPECT_EQ(counted, limited);
}

TEST_F(Server, AbuseGetsACleanErrorAndTheServerKeepsServing) {
  Start(Config("[limits]\nmax_body_bytes = \"1M\"\nheader_timeout = \"1s\"\nmax_lines_per_request = 1000\n"));
  const uint16_t port = server_->port();
  auto healthy = [&] {
    HttpClient h(port);
    return h.Request("GET", "/healthz").status == 200;
  };
  {  // A body over the limit, announced.
    HttpClient c(port);
    ASSERT_TRUE(c.SendRaw("POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n"));
    HttpReply r = c.ReadReply();
    EXPECT_EQ(r.status, 413);
    EXPECT_NE(r.body.find("\"too_large\""), std::string::npos) << r.body;
  }
  {  // ... and chunked, so the size is only known as it arrives.
    HttpClient c(port);
    std::string req = "POST /v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    const std::string piece(64 << 10, ' ');
    for (int i = 0; i < 20; ++i) req += "10000\r\n" + piece + "\r\n";
    c.SendRaw(req);
    EXPECT_EQ(c.ReadReply().status, 413);
  }
  {  // Too many lines in one request.
    HttpClient c(port);
    std::string body;
    for (int i = 0; i < 1001; ++i) body += "{\"type\":\"a.b\"}\n";
    EXPECT_EQ(c.Request("POST", "/v1/events", body).status, 413);
  }
  {  // A slow client is dropped; others are served meanwhile.
    HttpClient slow(port);
    ASSERT_TRUE(slow.SendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
    EXPECT_TRUE(healthy());
    EXPECT_TRUE(slow.WaitClosed(std::chrono::milliseconds(5000)));
  }
  {  // Malformed HTTP.
    HttpClient c(port);
    ASSERT_TRUE(c.SendRaw("GARBAGE\x01 / NOPE\r\n\r\n"));
    HttpReply r = c.ReadReply();
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("\"error\""), std::string::npos);
  }
  {  // A header flood, and one huge header.
    HttpClient c(port);
    std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 200; ++i) req += "X-H" + std::to_string(i) + ": v\r\n";
    ASSERT_TRUE(c.SendRaw(req + "\r\n"));
    EXPECT_EQ(c.ReadReply().status, 431);
    HttpClient d(port);
    ASSERT_TRUE(d.SendRaw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n"));
    EXPECT_EQ(d.ReadReply().status, 431);
  }
  HttpClient c(port);
  // A huge query string.
  EXPECT_EQ(c.Request("GET", "/v1/events?type=" + std::string(10000, 'a')).status, 414);
  // Invalid UTF-8 in an event: that line is refused, its neighbours land.
  HttpReply utf = c.Request("POST", "/v1/events", "{\"type\":\"a.b\"}\n{\"type\":\"a.b\",\"actor\":\"\xff\xfe\"}\n");
  EXPECT_EQ(utf.status, 200);
  EXPECT_EQ(JsonU64(utf.body, "appended"), 1u);
  EXPECT_NE(utf.body.find("{\"line\":2,\"code\":\"invalid_argument\",\"error\":\"field \\\"actor\\\""), std::string::npos)
      << utf.body;
  // All lines bad: 400, and the body still lists them.
  HttpReply bad = c.Request("POST", "/v1/events", "not json\n");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("\"line\":1"), std::string::npos);
  // A cursor for a seq that does not exist, and other bad parameters.
  HttpReply cursor = c.Request("GET", "/v1/events?after=999999");
  EXPECT_EQ(cursor.status, 400);
  EXPECT_NE(cursor.body.find("parameter \\\"after\\\""), std::string::npos) << cursor.body;
  EXPECT_EQ(c.Request("GET", "/v1/events?since=yesterday").status, 400);
  EXPECT_EQ(c.Request("GET", "/v1/events?regex=(a").status, 400);
  EXPECT_EQ(c.Request("GET", "/v1/events?regex=(a)%5C1").status, 400);  // backreference
  EXPECT_EQ(c.Request("GET", "/v1/events?bogus=1").status, 400);
  EXPECT_EQ(c.Request("GET", "/v1/events?type=%zz").status, 400);
  EXPECT_EQ(c.Request("GET", "/v1/stats?by=planet").status, 400);
  EXPECT_EQ(c.Request("GET", "/v1/proof/inclusion?seq=99&size=1").status, 400);
  EXPECT_EQ(c.Request("DELETE", "/v1/events").status, 405);
  EXPECT_EQ(c.Request("GET", "/etc/passwd").status, 404);
  // Still serving, and still writing.
  EXPECT_TRUE(healthy());
  HttpReply after = c.Request("POST", "/v1/events?wait=durable", "{\"type\":\"still.alive\"}");
  EXPECT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(StopGracefully(), 0);
  Query q;
  q.type = "security.request_refused";
  EXPECT_FALSE(test::QueryAll(data_, q).empty());
}

TEST_F(Server, NonLoopbackListenerNeedsKeys) {
  test::ServerProcess open(data_, {"--listen", "0.0.0.0:0"});
  EXPECT_FALSE(open.started());
  EXPECT_EQ(open.Stop(SIGTERM), 2);
}

}  // namespace
}  // namespace stele
