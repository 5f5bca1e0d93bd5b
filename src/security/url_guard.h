// UrlGuard: decides whether stele may send a webhook to a URL (SPEC §7,
// SSRF).  It parses the URL strictly, resolves the host ONCE, and classifies
// every resolved address; the caller must then connect to exactly those
// addresses (WebhookSender does), so a DNS answer that changes between the
// check and the connect (rebinding) cannot redirect the request.
//
// Blocked: any scheme but http/https; userinfo ("http://good@127.0.0.1"),
// backslashes, whitespace, control and non-ASCII bytes; localhost names and
// well-known metadata names; and any address that is loopback, RFC 1918,
// CGNAT, link-local, cloud metadata, multicast, broadcast, unspecified,
// reserved or documentation space, IPv6 ULA/link-local/site-local, or an
// IPv4-mapped/compatible/SIIT/NAT64/6to4/Teredo form of a blocked IPv4 —
// however the address is spelled (2130706433, 0177.0.0.1, 0x7f.1, 127.1,
// [::ffff:7f00:1], [fe80::1%25eth0], %-escaped hosts).  A host on the
// allowlist ("host" or "host:port", e.g. a test receiver on loopback) skips
// classification, but is still resolved once and pinned.
//
// Thread-safe once constructed; the Resolver must be too.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stele/status.h"

namespace stele {

struct IpAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // IPv4 in bytes[0..3]
  std::string ToString() const;
  bool operator==(const IpAddress&) const = default;
};

// Every spelling of an IPv4 address that inet_aton accepts (1 to 4 parts,
// each decimal, octal with a leading 0, or hex with 0x), or an IPv6 address
// (brackets and a zone id "%eth0" / "%25eth0" removed).  nullopt: not an
// address literal.
std::optional<IpAddress> ParseIpLiteral(std::string_view host);
// True when a host name would be taken for an IPv4 address by a URL parser
// (its last label is numeric): then it must parse as one, or it is refused.
bool LooksLikeIpv4(std::string_view host);

// Why an address must not be contacted ("loopback", "private (RFC 1918)",
// "cloud metadata", ...), or nullopt for a public unicast address.
std::optional<std::string> BlockedAddressReason(const IpAddress& address);

struct WebhookUrl {
  std::string scheme;  // "http" | "https"
  std::string host;    // lower-case; an IPv6 literal without brackets
  uint16_t port = 0;
  std::string target;  // path and query ("/" when empty); the fragment is dropped
  std::string HostHeader() const;
};
// Strict parse; kInvalidArgument with the reason.
Result<WebhookUrl> ParseWebhookUrl(std::string_view url);

class Resolver {
 public:
  virtual ~Resolver() = default;
  // Every address `host` resolves to now.
  virtual Result<std::vector<IpAddress>> Resolve(const std::string& host) = 0;
  static Resolver* System();  // getaddrinfo; lives for the program's lifetime
};

class UrlGuard {
 public:
  // Allowlist entries: "host" or "host:port" ("[::1]:9000" for IPv6).
  explicit UrlGuard(std::vector<std::string> allowlist = {}, Resolver* resolver = Resolver::System());

  struct Target {
    WebhookUrl url;
    std::vector<IpAddress> addresses;  // connect to these and nothing else
    bool allowlisted = false;
  };
  // kPermissionDenied "blocked: <reason>" for a refused URL (the message is
  // what `stele alerts check` prints), kInvalidArgument for one that does
  // not parse, kNotFound when the name does not resolve.
  Result<Target> Check(std::string_view url) const;

 private:
  bool Allowlisted(const WebhookUrl& url) const;

  std::vector<std::string> allowlist_;  // normalized: lower-case host, optional ":port"
  Resolver* resolver_;
};

}  // namespace stele
