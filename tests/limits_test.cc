// Input limits (issue 6): one test per limit on outside bytes, each set to
// a small configured value to show it is configurable, each answered with an
// error that names the field and the limit, and none sinking its batch.
// The table of limits is in docs/security.md.
#include <gtest/gtest.h>

#include "server_fixture.h"
#include "stele/stele.h"

namespace stele {
namespace {

using test::HttpClient;
using test::HttpReply;

class Limits : public ::testing::Test {
 protected:
  // Opens a log with `tweak` applied, appends `bad` between two good events
  // in one batch, and returns the bad line's error.
  std::string RejectInBatch(const std::function<void(Options*)>& tweak, const std::string& bad) {
    Options o;
    o.dir = dir_.Sub("log" + std::to_string(++logs_));
    tweak(&o);
    auto log = Log::Open(o);
    EXPECT_TRUE(log.ok());
    auto r = (*log)->AppendBatch("{\"type\":\"a.b\"}\n" + bad + "\n{\"type\":\"a.c\"}\n");
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r->appended, 2u) << "the good lines land";
    EXPECT_EQ(r->rejected.size(), 1u);
    std::string error = r->rejected.empty() ? "" : r->rejected[0].status.ToString();
    EXPECT_TRUE((*log)->Shutdown().ok());
    return error;
  }
  static std::string Nested(int depth) {
    std::string d = "1";
    for (int i = 0; i < depth; ++i) d = "{\"a\":" + d + "}";
    return "{\"type\":\"a.b\",\"data\":" + d + "}";
  }

  test::TempDir dir_;
  int logs_ = 0;
};

TEST_F(Limits, EventBytes) {
  const std::string bad = "{\"type\":\"a.b\",\"data\":{\"x\":\"" + std::string(300, 'x') + "\"}}";
  EXPECT_EQ(RejectInBatch([](Options* o) { o->max_event_bytes = 200; }, bad),
            "invalid argument: event: is " + std::to_string(bad.size()) + " bytes; limit is 200");
}

TEST_F(Limits, Depth) {
  const std::string error = RejectInBatch([](Options* o) { o->max_depth = 4; }, Nested(5));
  // data is level 1, so its fourth nested object is the fifth level.
  EXPECT_EQ(error, "invalid argument: field \"data/a/a/a\": nesting deeper than 4 (the depth limit)");
  EXPECT_NE(RejectInBatch([](Options*) {}, Nested(70)).find("nesting deeper than 64 (the depth limit)"), std::string::npos)
      << "SPEC §1's default";
}

TEST_F(Limits, KeysPerObject) {
  const std::string error =
      RejectInBatch([](Options* o) { o->max_object_keys = 3; }, "{\"type\":\"a.b\",\"data\":{\"o\":{\"a\":1,\"b\":2,\"c\":3,\"d\":4}}}");
  EXPECT_EQ(error, "invalid argument: field \"data/o\": object has more than 3 keys (the key-count limit)");
}

TEST_F(Limits, StringAndKeyBytes) {
  EXPECT_EQ(RejectInBatch([](Options* o) { o->max_string_bytes = 10; },
                          "{\"type\":\"a.b\",\"data\":{\"s\":\"" + std::string(11, 's') + "\"}}"),
            "invalid argument: field \"data/s\": string is 11 bytes; the string limit is 10");
  EXPECT_EQ(RejectInBatch([](Options* o) { o->max_string_bytes = 10; },
                          "{\"type\":\"a.b\",\"data\":{\"" + std::string(12, 'k') + "\":1}}"),
            "invalid argument: field \"data\": key is 12 bytes; the string limit is 10");
}

TEST_F(Limits, IndexedFieldAndTypeBytesAreTheSpecsFixedLimits) {
  EXPECT_EQ(RejectInBatch([](Options*) {}, "{\"type\":\"a.b\",\"lead_id\":\"" + std::string(257, 'L') + "\"}"),
            "invalid argument: field \"lead_id\": is 257 bytes; limit is 256");
  EXPECT_EQ(RejectInBatch([](Options*) {}, "{\"type\":\"" + std::string(65, 't') + "\"}"),
            "invalid argument: field \"type\": is 65 bytes; limit is 64");
}

TEST_F(Limits, RegexPatternBytes) {
  Query q;
  q.regex = std::string(20, 'a');
  q.max_regex_bytes = 16;
  auto it = QueryDirectory(dir_.path(), q);
  ASSERT_FALSE(it.ok());
  EXPECT_EQ(it.status().ToString(), "invalid argument: --regex: pattern is 20 bytes; the regex limit is 16");
}

TEST_F(Limits, RegexProgramBytes) {
  Query q;
  q.regex = "([a-z]+[0-9]+\\s+){500}";
  q.max_regex_program_bytes = 64 << 10;
  auto it = QueryDirectory(dir_.path(), q);
  ASSERT_FALSE(it.ok());
  EXPECT_NE(it.status().message().find("regex program limit of 65536 bytes"), std::string::npos)
      << it.status().ToString();
  q.max_regex_program_bytes = 64 << 20;  // the same pattern fits a larger limit
  Options o;
  o.dir = dir_.Sub("small");
  {
    auto log = Log::Open(o);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append("{\"type\":\"a.b\"}").ok());
    ASSERT_TRUE((*log)->Shutdown().ok());
  }
  EXPECT_TRUE(QueryDirectory(o.dir, q).ok());
}

// The server's limits, configured small.
class ServerLimits : public Server {
 protected:
  void SetUp() override {
    Start(Config("[limits]\nmax_target_bytes = 256\nmax_headers = 8\nmax_header_bytes = 1024\nmax_body_bytes = 4096\n"
                 "max_lines_per_request = 10\nmax_depth = 3\nmax_object_keys = 4\nmax_string_bytes = 32\n"
                 "max_regex_bytes = 16\nmax_event_bytes = 2048\n"));
  }
  HttpReply Get(const std::string& target, const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    HttpClient c(server_->port());
    return c.Request("GET", target, "", headers);
  }
  HttpReply Post(const std::string& body) {
    HttpClient c(server_->port());
    return c.Request("POST", "/v1/events", body, {{"Content-Type", "application/x-ndjson"}});
  }
};

TEST_F(ServerLimits, QueryStringLength) {
  HttpReply r = Get("/v1/events?type=" + std::string(300, 'a'));
  EXPECT_EQ(r.status, 414);
  EXPECT_NE(r.body.find("request target is over 256 bytes"), std::string::npos) << r.body;
}

TEST_F(ServerLimits, HeaderCount) {
  std::vector<std::pair<std::string, std::string>> headers;
  for (int i = 0; i < 10; ++i) headers.emplace_back("X-H" + std::to_string(i), "v");
  HttpReply r = Get("/healthz", headers);
  EXPECT_EQ(r.status, 431);
  EXPECT_NE(r.body.find("more than 8 request headers"), std::string::npos) << r.body;
}

TEST_F(ServerLimits, HeaderBytes) {
  HttpReply r = Get("/healthz", {{"X-Big", std::string(2000, 'h')}});
  EXPECT_EQ(r.status, 431);
  EXPECT_NE(r.body.find("request headers are over 1024 bytes"), std::string::npos) << r.body;
}

TEST_F(ServerLimits, BodyBytes) {
  HttpReply r = Post(std::string(5000, ' '));
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("request body is over 4096 bytes"), std::string::npos) << r.body;
}

TEST_F(ServerLimits, LinesPerRequest) {
  std::string body;
  for (int i = 0; i < 11; ++i) body += "{\"type\":\"a.b\"}\n";
  HttpReply r = Post(body);
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("the body has 11 lines; the limit is 10 a request"), std::string::npos) << r.body;
}

TEST_F(ServerLimits, EventLimitsComeFromTheConfigAndRejectOnlyTheirLine) {
  HttpReply r = Post("{\"type\":\"a.b\",\"data\":{\"a\":{\"b\":{\"c\":{\"d\":1}}}}}\n"
                     "{\"type\":\"a.b\",\"data\":{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5}}\n"
                     "{\"type\":\"a.b\",\"data\":{\"s\":\"" + std::string(40, 's') + "\"}}\n"
                     "{\"type\":\"a.b\",\"data\":{\"ok\":true}}\n");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"appended\":1"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("nesting deeper than 3 (the depth limit)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("object has more than 4 keys (the key-count limit)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("string is 40 bytes; the string limit is 32"), std::string::npos) << r.body;
  HttpReply big = Post("{\"type\":\"a.b\",\"data\":{\"s\":\"" + std::string(3000, 's') + "\"}}");
  EXPECT_EQ(big.status, 400);
  EXPECT_NE(big.body.find("limit is 2048"), std::string::npos) << big.body;
}

TEST_F(ServerLimits, RegexBytes) {
  HttpReply r = Get("/v1/events?regex=" + std::string(20, 'a'));
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("pattern is 20 bytes; the regex limit is 16"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace stele
