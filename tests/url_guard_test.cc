// UrlGuard and WebhookSender (SPEC §7, issue 6): the SSRF table, DNS
// rebinding, redirects.  Host names resolve through a stub (this machine
// has no DNS); addresses are real, and the receivers are real sockets.
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "alerts/webhook_sender.h"
#include "security/url_guard.h"
#include "webhook_receiver.h"

namespace stele {
namespace {

// Answers from a table; a host with two answers gives the first on the
// first lookup and the second afterwards (a rebinding DNS server).
class StubResolver final : public Resolver {
 public:
  std::map<std::string, std::vector<std::vector<std::string>>> answers;
  Result<std::vector<IpAddress>> Resolve(const std::string& host) override {
    std::lock_guard<std::mutex> g(mu_);
    ++lookups[host];
    auto it = answers.find(host);
    if (it == answers.end()) return Status::NotFound("host \"" + host + "\" does not resolve (stub)");
    const auto& list = it->second[std::min(lookups[host] - 1, it->second.size() - 1)];
    std::vector<IpAddress> out;
    for (const std::string& a : list) out.push_back(*ParseIpLiteral(a));
    return out;
  }
  std::map<std::string, size_t> lookups;

 private:
  std::mutex mu_;
};

StubResolver* Stub() {
  static StubResolver* r = [] {
    auto* s = new StubResolver();
    s->answers = {
        {"hooks.example.com", {{"93.184.216.34"}}},
        {"public.test", {{"8.8.4.4"}}},
        {"v6public.test", {{"2606:4700::1"}}},
        {"loop.test", {{"127.0.0.1"}}},
        {"internal.test", {{"10.1.2.3"}}},
        {"mixed.test", {{"8.8.8.8", "10.0.0.1"}}},
        {"v6private.test", {{"fd00::1"}}},
        {"meta.test", {{"169.254.169.254"}}},
        {"mapped.test", {{"::ffff:127.0.0.1"}}},
    };
    return s;
  }();
  return r;
}

const std::vector<std::string> kBlocked = {
    // schemes
    "ftp://example.com/", "file:///etc/passwd", "gopher://127.0.0.1:70/_x", "dict://127.0.0.1:11211/",
    "javascript:alert(1)", "//example.com/x", "ws://8.8.8.8/",
    // loopback in every spelling
    "http://127.0.0.1/", "HTTP://127.0.0.1:8080/x", "http://127.1/", "http://127.0.1/", "http://2130706433/",
    "http://0177.0.0.1/", "http://0x7f.1/", "http://0x7f000001/", "http://017700000001/", "http://0x7f.0x0.0x0.0x1/",
    "http://127.000.000.001/", "http://127.0.0.1./", "http://127.255.255.254/", "http://[::1]/",
    "http://[0:0:0:0:0:0:0:1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[::127.0.0.1]/",
    "http://[64:ff9b::127.0.0.1]/", "http://[2002:7f00:1::]/", "http://[::ffff:0:127.0.0.1]/", "http://localhost/",
    "http://LOCALHOST:9000/", "http://foo.localhost/", "http://localhost./", "http://%31%32%37.0.0.1/",
    "http://loop.test/", "http://mapped.test/",
    // unspecified
    "http://0.0.0.0/", "http://0/", "http://[::]/", "http://0.0.0.0:8080/",
    // private, CGNAT, link-local
    "http://10.0.0.1/", "http://10.255.255.255/", "http://172.16.0.1/", "http://172.31.255.255/",
    "http://192.168.1.1/", "http://3232235777/", "http://0xc0a80101/", "http://[::ffff:10.0.0.1]/",
    "http://[::ffff:192.168.0.1]:443/", "http://internal.test/", "http://100.64.0.1/", "http://100.127.255.254/",
    "http://169.254.1.1/", "http://[fe80::1]/", "http://[fe80::1%25eth0]/",
    // cloud metadata
    "http://169.254.169.254/latest/meta-data/", "http://2852039166/", "http://0xa9fea9fe/",
    "http://0251.0376.0251.0376/", "http://169.254.43518/", "http://[fd00:ec2::254]/",
    "http://[::ffff:169.254.169.254]/", "https://[::ffff:a9fe:a9fe]/", "http://metadata.google.internal/computeMetadata/v1/",
    "http://100.100.100.200/", "http://168.63.129.16/", "http://meta.test/",
    // multicast, broadcast, reserved
    "http://224.0.0.1/", "http://239.255.255.250:1900/", "http://[ff02::1]/", "http://255.255.255.255/",
    "http://240.0.0.1/", "http://192.0.2.1/", "http://198.51.100.7/", "http://203.0.113.9/", "http://198.18.0.1/",
    "http://[2001:db8::1]/", "http://[2001:0::1]/", "http://[fc00::1]/", "http://[fd12:3456::1]/", "http://[fec0::1]/",
    "http://v6private.test/",
    // userinfo and parser tricks
    "http://good.example@127.0.0.1/", "http://user:pass@example.com/", "http://a@b@127.0.0.1/",
    "http://example.com\\@127.0.0.1/", "http://256.0.0.1/", "http://1.2.3.4.5/", "http:// 127.0.0.1/",
    "http://127.0.0.1%00.example.com/", "http://[::1/", "http://example.com:0/", "http://example.com:99999/",
    "http://mixed.test/", "http://unknown.test/", "http://0x7f.1#@hooks.example.com/",
};

const std::vector<std::string> kAllowed = {
    "http://8.8.8.8/", "https://1.1.1.1/dns-query", "http://93.184.216.34:8080/hook?x=1",
    "http://[2606:4700:4700::1111]/", "http://[::ffff:8.8.8.8]/", "https://hooks.example.com/services/T0/B0",
    "http://public.test#@127.0.0.1", "http://134744072/", "http://hooks.example.com./", "HTTPS://HOOKS.EXAMPLE.COM/x",
    "http://v6public.test/", "http://[2002:0808:0808::1]/", "http://172.32.0.1/", "http://100.128.0.1/", "http://11.0.0.1/",
};

TEST(UrlGuard, BlocksEveryCategoryInEverySpelling) {
  ASSERT_GE(kBlocked.size(), 60u);
  UrlGuard guard({}, Stub());
  for (const std::string& url : kBlocked) {
    auto r = guard.Check(url);
    EXPECT_FALSE(r.ok()) << url << " was allowed";
    if (!r.ok()) {
      EXPECT_TRUE(r.status().code() == StatusCode::kPermissionDenied || r.status().code() == StatusCode::kNotFound)
          << url << ": " << r.status().ToString();
    }
  }
}

TEST(UrlGuard, AllowsPublicAddressesAndNames) {
  ASSERT_GE(kAllowed.size(), 10u);
  UrlGuard guard({}, Stub());
  for (const std::string& url : kAllowed) {
    auto r = guard.Check(url);
    EXPECT_TRUE(r.ok()) << url << ": " << r.status().ToString();
  }
  auto t = guard.Check("http://public.test#@127.0.0.1");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->url.host, "public.test") << "the fragment is not the host";
  EXPECT_EQ(t->url.target, "/");
  EXPECT_EQ(t->addresses[0].ToString(), "8.8.4.4");
}

TEST(UrlGuard, ReasonsNameTheCategory) {
  UrlGuard guard({}, Stub());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://0x7f.1/", "loopback"},
      {"http://2852039166/", "cloud metadata"},
      {"http://[::ffff:10.0.0.1]/", "IPv4-mapped"},
      {"http://internal.test/", "\"internal.test\" resolves to it"},
      {"http://good@127.0.0.1/", "userinfo"},
      {"ftp://x/", "scheme"},
      {"http://100.64.0.1/", "carrier-grade NAT"},
      {"http://[fe80::1%25eth0]/", "link-local"},
  };
  for (const auto& [url, part] : cases) {
    auto r = guard.Check(url);
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.status().message().rfind("blocked: ", 0), 0u) << r.status().message();
    EXPECT_NE(r.status().message().find(part), std::string::npos) << url << ": " << r.status().message();
  }
}

TEST(UrlGuard, SpellingsParseToTheSameAddress) {
  for (const char* s : {"127.0.0.1", "2130706433", "0177.0.0.1", "0x7f.1", "127.1", "0x7f000001", "017700000001",
                        "127.0.1", "0x7F.0.0.01"}) {
    auto a = ParseIpLiteral(s);
    ASSERT_TRUE(a.has_value()) << s;
    EXPECT_EQ(a->ToString(), "127.0.0.1") << s;
  }
  EXPECT_FALSE(ParseIpLiteral("256.0.0.1").has_value());
  EXPECT_FALSE(ParseIpLiteral("1.2.3.4.5").has_value());
  EXPECT_FALSE(ParseIpLiteral("08.0.0.1").has_value()) << "8 is not an octal digit";
  EXPECT_FALSE(ParseIpLiteral("example.com").has_value());
  EXPECT_EQ(ParseIpLiteral("[fe80::1%eth0]")->ToString(), "fe80::1");
}

TEST(UrlGuard, TheAllowlistAdmitsExactlyItsHostAndPort) {
  test::WebhookReceiver receiver;
  const std::string port = std::to_string(receiver.port());
  UrlGuard guard({"127.0.0.1:" + port, "internal.test"}, Stub());
  EXPECT_TRUE(guard.Check("http://127.0.0.1:" + port + "/hook").ok());
  EXPECT_TRUE(guard.Check("http://0x7f.1:" + port + "/hook").ok()) << "same address, other spelling";
  EXPECT_FALSE(guard.Check("http://127.0.0.1:" + std::to_string(receiver.port() + 1) + "/").ok());
  EXPECT_FALSE(guard.Check("http://localhost:" + port + "/").ok());
  EXPECT_TRUE(guard.Check("http://internal.test/").ok());
  EXPECT_TRUE(guard.Check("http://internal.test:8443/").ok());
  EXPECT_FALSE(guard.Check("http://user@127.0.0.1:" + port + "/").ok()) << "userinfo is refused even for a listed host";
}

TEST(WebhookSender, DeliversToAnAllowlistedReceiver) {
  test::WebhookReceiver receiver;
  UrlGuard guard({"127.0.0.1:" + std::to_string(receiver.port())}, Stub());
  WebhookSender sender(&guard, {});
  auto r = sender.Send("http://127.0.0.1:" + std::to_string(receiver.port()) + "/hook?x=1#frag", "{\"a\":1}");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->delivered) << r->error;
  EXPECT_EQ(r->status, 200);
  auto reqs = receiver.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].rfind("POST /hook?x=1 HTTP/1.1\r\n", 0), 0u) << reqs[0];
  EXPECT_NE(reqs[0].find("Content-Type: application/json"), std::string::npos);
  EXPECT_TRUE(reqs[0].ends_with("\r\n\r\n{\"a\":1}"));
}

TEST(WebhookSender, ARebindingNameIsPinnedToTheCheckedAddress) {
  // The name answers a public address to the check and loopback afterwards;
  // the sender must never ask again, so the loopback receiver sees nothing.
  test::WebhookReceiver receiver;
  StubResolver resolver;
  resolver.answers["rebind.test"] = {{"192.88.98.1"}, {"127.0.0.1"}};  // public, then loopback
  UrlGuard guard({}, &resolver);
  WebhookOptions o;
  o.connect_timeout = std::chrono::milliseconds(300);
  o.retries = 2;
  o.backoff = std::chrono::milliseconds(1);
  WebhookSender sender(&guard, o);
  auto r = sender.Send("http://rebind.test:" + std::to_string(receiver.port()) + "/", "{}");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->delivered);
  EXPECT_EQ(r->attempts, 3);
  EXPECT_EQ(r->address, "192.88.98.1:" + std::to_string(receiver.port())) << "every attempt used the checked address";
  EXPECT_EQ(resolver.lookups["rebind.test"], 1u) << "one resolution for the check and all retries";
  EXPECT_EQ(receiver.connections(), 0u);
  // A second send resolves again, sees loopback, and is blocked before any connect.
  auto again = sender.Send("http://rebind.test:" + std::to_string(receiver.port()) + "/", "{}");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(again.status().message().find("loopback"), std::string::npos);
  EXPECT_EQ(receiver.connections(), 0u);
}

TEST(WebhookSender, ARedirectToMetadataIsNotFollowed) {
  test::WebhookReceiver receiver(
      "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\nContent-Length: 0\r\n\r\n");
  UrlGuard guard({"127.0.0.1:" + std::to_string(receiver.port())}, Stub());
  WebhookOptions o;
  o.backoff = std::chrono::milliseconds(1);
  WebhookSender sender(&guard, o);
  auto r = sender.Send("http://127.0.0.1:" + std::to_string(receiver.port()) + "/", "{}");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->delivered);
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->attempts, 1) << "a redirect is final, not retried";
  EXPECT_NE(r->error.find("not followed"), std::string::npos) << r->error;
  EXPECT_NE(r->error.find("169.254.169.254"), std::string::npos) << r->error;
  EXPECT_EQ(receiver.requests().size(), 1u);
}

TEST(WebhookSender, ServerErrorsAreRetriedWithBackoff) {
  test::WebhookReceiver receiver("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
  UrlGuard guard({"127.0.0.1:" + std::to_string(receiver.port())}, Stub());
  WebhookOptions o;
  o.retries = 2;
  o.backoff = std::chrono::milliseconds(5);
  WebhookSender sender(&guard, o);
  auto r = sender.Send("http://127.0.0.1:" + std::to_string(receiver.port()) + "/", "{}");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->delivered);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->attempts, 3);
  EXPECT_EQ(receiver.requests().size(), 3u);
}

}  // namespace
}  // namespace stele
