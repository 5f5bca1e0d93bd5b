// Webhook alerts end to end (issue 6): a `stele serve` process with
// [[alerts]] rules posts to a real receiver on loopback (admitted by the
// [webhooks] allowlist), audits each send in the log, and refuses to start
// with a rule whose URL the SSRF guard blocks.
#include <thread>

#include "server_fixture.h"
#include "stele/stele.h"
#include "webhook_receiver.h"

namespace stele {
namespace {

using test::HttpClient;
using test::HttpReply;

bool WaitFor(const std::function<bool()>& done, std::chrono::seconds limit = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

TEST_F(Server, AlertsFireAtTheirThresholdAndAreAudited) {
  test::WebhookReceiver receiver;
  const std::string hook = "http://127.0.0.1:" + std::to_string(receiver.port());
  Start(Config("[webhooks]\nallow = [\"127.0.0.1:" + std::to_string(receiver.port()) +
               "\"]\npoll = \"50ms\"\n[log]\nsecurity_interval = \"200ms\"\n"
               "[[alerts]]\nname = \"payments\"\ntype = \"payment.failed\"\nthreshold = 3\nwindow = \"1h\"\nurl = \"" +
               hook + "/payments\"\n"
               "[[alerts]]\nname = \"all-leads\"\ntype = \"lead.*\"\nurl = \"" + hook + "/leads\"\n"));
  HttpClient c(server_->port());
  auto post = [&](const std::string& body) {
    ASSERT_EQ(c.Request("POST", "/v1/events", body, {{"Content-Type", "application/x-ndjson"}}).status, 200);
  };
  post("{\"type\":\"payment.failed\",\"lead_id\":\"L1\"}\n{\"type\":\"payment.ok\"}\n{\"type\":\"payment.failed\"}\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // several polls
  for (const std::string& r : receiver.requests()) EXPECT_EQ(r.find("/payments"), std::string::npos) << "below threshold";
  post("{\"type\":\"payment.failed\",\"lead_id\":\"L3\"}\n{\"type\":\"lead.created\",\"lead_id\":\"L9\"}\n");
  ASSERT_TRUE(WaitFor([&] { return receiver.requests().size() >= 2; }));
  std::string payments, leads;
  for (const std::string& r : receiver.requests()) (r.find("POST /payments") == 0 ? payments : leads) = r;
  EXPECT_NE(payments.find("\"alert\":\"payments\""), std::string::npos) << payments;
  EXPECT_NE(payments.find("\"count\":3"), std::string::npos) << payments;
  EXPECT_NE(payments.find("\"first_seq\":1,\"last_seq\":4"), std::string::npos) << payments;
  EXPECT_NE(payments.find("\"lead_id\":\"L3\""), std::string::npos);
  EXPECT_EQ(payments.find("payment.ok"), std::string::npos);
  EXPECT_NE(leads.find("\"type\":\"lead.created\""), std::string::npos) << leads;
  EXPECT_EQ(leads.find("payment"), std::string::npos) << leads;
  HttpReply m = c.Request("GET", "/metrics");
  EXPECT_NE(m.body.find("stele_alerts_total{outcome=\"sent\"} 2"), std::string::npos);
  EXPECT_EQ(StopGracefully(), 0);
  // Two alerts, so exactly two more payment/lead POSTs would be wrong; the audit says so too.
  EXPECT_EQ(receiver.requests().size(), 2u);
  Query q;
  q.type = "security.alert_sent";
  auto sent = test::QueryAll(data_, q);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_NE(sent[0].data.find("127.0.0.1:" + std::to_string(receiver.port())), std::string::npos) << sent[0].data;
}

TEST_F(Server, AnAlertToABlockedAddressStopsTheServerAtStart) {
  const std::vector<std::string> flags =
      Config("[[alerts]]\ntype = \"security.*\"\nurl = \"http://0251.0376.0251.0376/latest/meta-data/\"\n");
  test::ServerProcess server(data_, flags);
  EXPECT_FALSE(server.started());
  const std::string err = StderrOf(server);
  EXPECT_NE(err.find("alerts[0].url: blocked: 169.254.169.254 is cloud metadata"), std::string::npos) << err;
  Query q;
  q.type = "security.ssrf_blocked";
  auto blocked = test::QueryAll(data_, q);
  ASSERT_EQ(blocked.size(), 1u);
  EXPECT_NE(blocked[0].data.find("cloud metadata"), std::string::npos) << blocked[0].data;
}

TEST_F(Server, AFailingReceiverIsRetriedAndTheFailureAudited) {
  test::WebhookReceiver receiver("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
  Start(Config("[webhooks]\nallow = [\"127.0.0.1\"]\npoll = \"50ms\"\nretries = 2\nbackoff = \"10ms\"\n"
               "[[alerts]]\ntype = \"deploy.failed\"\nurl = \"http://127.0.0.1:" +
               std::to_string(receiver.port()) + "/\"\n"));
  HttpClient c(server_->port());
  ASSERT_EQ(c.Request("POST", "/v1/events", "{\"type\":\"deploy.failed\"}").status, 200);
  ASSERT_TRUE(WaitFor([&] { return receiver.requests().size() >= 3; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(receiver.requests().size(), 3u) << "one try and two retries";
  EXPECT_EQ(StopGracefully(), 0);
  Query q;
  q.type = "security.alert_failed";
  auto failed = test::QueryAll(data_, q);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0].data.find("answered 500"), std::string::npos) << failed[0].data;
}

}  // namespace
}  // namespace stele
