#include "security/url_guard.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "util/units.h"

namespace stele {
namespace {

// One part of an inet_aton-style IPv4 address: decimal, 0-octal or 0x-hex.
std::optional<uint64_t> ParseIpv4Part(std::string_view p) {
  if (p.empty()) return std::nullopt;
  int base = 10;
  if (p.size() >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
    base = 16;
    p.remove_prefix(2);
    if (p.empty()) return 0;  // "0x" is 0 to inet_aton and to WHATWG
  } else if (p.size() >= 2 && p[0] == '0') {
    base = 8;
    p.remove_prefix(1);
  }
  uint64_t v = 0;
  for (char c : p) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return std::nullopt;
    if (d >= base) return std::nullopt;
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    if (v > 0xFFFFFFFFull) return std::nullopt;
  }
  return v;
}

std::optional<IpAddress> ParseIpv4Loose(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);  // "127.0.0.1." is the same host
  std::vector<uint64_t> parts;
  for (size_t start = 0;;) {
    const size_t dot = host.find('.', start);
    auto v = ParseIpv4Part(host.substr(start, dot == std::string_view::npos ? host.npos : dot - start));
    if (!v) return std::nullopt;
    parts.push_back(*v);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.empty() || parts.size() > 4) return std::nullopt;
  // All but the last part are single bytes; the last fills the rest.
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (parts[i] > 255) return std::nullopt;
  }
  const unsigned rest_bits = 8 * static_cast<unsigned>(5 - parts.size());
  if (rest_bits < 32 && parts.back() >= (1ull << rest_bits)) return std::nullopt;
  uint32_t value = static_cast<uint32_t>(parts.back());
  for (size_t i = 0; i + 1 < parts.size(); ++i) value |= static_cast<uint32_t>(parts[i]) << (24 - 8 * i);
  IpAddress a;
  a.bytes[0] = static_cast<uint8_t>(value >> 24);
  a.bytes[1] = static_cast<uint8_t>(value >> 16);
  a.bytes[2] = static_cast<uint8_t>(value >> 8);
  a.bytes[3] = static_cast<uint8_t>(value);
  return a;
}

bool InV4(const uint8_t* b, uint8_t a0, uint8_t a1, uint8_t a2, uint8_t a3, int prefix) {
  const uint32_t addr = (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | b[3];
  const uint32_t net = (uint32_t{a0} << 24) | (uint32_t{a1} << 16) | (uint32_t{a2} << 8) | a3;
  const uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return (addr & mask) == (net & mask);
}

std::optional<std::string> BlockedV4(const uint8_t* b) {
  struct Range {
    uint8_t a0, a1, a2, a3;
    int prefix;
    const char* reason;
  };
  // Most specific first: the metadata addresses sit inside larger ranges.
  static constexpr Range kBlocked[] = {
      {169, 254, 169, 254, 32, "cloud metadata (169.254.169.254)"},
      {168, 63, 129, 16, 32, "cloud metadata (Azure 168.63.129.16)"},
      {100, 100, 100, 200, 32, "cloud metadata (Alibaba 100.100.100.200)"},
      {255, 255, 255, 255, 32, "broadcast"},
      {0, 0, 0, 0, 8, "unspecified (0.0.0.0/8)"},
      {10, 0, 0, 0, 8, "private (RFC 1918 10/8)"},
      {100, 64, 0, 0, 10, "carrier-grade NAT (100.64/10)"},
      {127, 0, 0, 0, 8, "loopback (127/8)"},
      {169, 254, 0, 0, 16, "link-local (169.254/16)"},
      {172, 16, 0, 0, 12, "private (RFC 1918 172.16/12)"},
      {192, 0, 0, 0, 24, "reserved (IETF 192.0.0/24)"},
      {192, 0, 2, 0, 24, "reserved (documentation 192.0.2/24)"},
      {192, 88, 99, 0, 24, "reserved (6to4 relay 192.88.99/24)"},
      {192, 168, 0, 0, 16, "private (RFC 1918 192.168/16)"},
      {198, 18, 0, 0, 15, "reserved (benchmarking 198.18/15)"},
      {198, 51, 100, 0, 24, "reserved (documentation 198.51.100/24)"},
      {203, 0, 113, 0, 24, "reserved (documentation 203.0.113/24)"},
      {224, 0, 0, 0, 4, "multicast (224/4)"},
      {240, 0, 0, 0, 4, "reserved (240/4)"},
  };
  for (const Range& r : kBlocked) {
    if (InV4(b, r.a0, r.a1, r.a2, r.a3, r.prefix)) return std::string(r.reason);
  }
  return std::nullopt;
}

bool AllZero(const uint8_t* b, size_t n) {
  return std::all_of(b, b + n, [](uint8_t x) { return x == 0; });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool Hex(char c, int* v) {
  if (c >= '0' && c <= '9') *v = c - '0';
  else if (c >= 'a' && c <= 'f') *v = c - 'a' + 10;
  else if (c >= 'A' && c <= 'F') *v = c - 'A' + 10;
  else return false;
  return true;
}

class SystemResolver final : public Resolver {
 public:
  Result<std::vector<IpAddress>> Resolve(const std::string& host) override {
    addrinfo hints;
    std::memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0) return Status::NotFound("host \"" + host + "\" does not resolve: " + ::gai_strerror(rc));
    std::vector<IpAddress> out;
    for (addrinfo* p = res; p != nullptr; p = p->ai_next) {
      IpAddress a;
      if (p->ai_family == AF_INET) {
        std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr, 4);
      } else if (p->ai_family == AF_INET6) {
        a.v6 = true;
        std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr, 16);
      } else {
        continue;
      }
      if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
    }
    ::freeaddrinfo(res);
    if (out.empty()) return Status::NotFound("host \"" + host + "\" has no address");
    return out;
  }
};

}  // namespace

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN];
  ::inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf);
  return buf;
}

bool LooksLikeIpv4(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  const size_t dot = host.rfind('.');
  const std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  if (std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; })) return true;
  return last.size() >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') &&
         std::all_of(last.begin() + 2, last.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

std::optional<IpAddress> ParseIpLiteral(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.find(':') != std::string_view::npos) {
    const size_t zone = host.find('%');
    const std::string text(host.substr(0, zone));
    IpAddress a;
    a.v6 = true;
    if (::inet_pton(AF_INET6, text.c_str(), a.bytes.data()) != 1) return std::nullopt;
    return a;
  }
  return ParseIpv4Loose(host);
}

std::optional<std::string> BlockedAddressReason(const IpAddress& address) {
  const uint8_t* b = address.bytes.data();
  if (!address.v6) return BlockedV4(b);
  // Forms that embed an IPv4 address are judged by it.
  auto embedded = [&](const uint8_t* v4, const char* form) -> std::optional<std::string> {
    if (auto r = BlockedV4(v4)) return *r + " in " + form + " form";
    return std::nullopt;
  };
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static constexpr uint8_t kSiit[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0};
  static constexpr uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  static constexpr uint8_t kMetadataV6[16] = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
  if (std::memcmp(b, kMetadataV6, 16) == 0) return std::string("cloud metadata (fd00:ec2::254)");
  if (AllZero(b, 16)) return std::string("unspecified (::)");
  if (AllZero(b, 15) && b[15] == 1) return std::string("loopback (::1)");
  if (std::memcmp(b, kMapped, 12) == 0) {
    if (auto r = embedded(b + 12, "IPv4-mapped")) return r;
    return std::nullopt;  // a mapped public address is that address
  }
  if (std::memcmp(b, kSiit, 12) == 0) {
    if (auto r = embedded(b + 12, "IPv4-translated")) return r;
    return std::nullopt;
  }
  if (AllZero(b, 12)) {
    if (auto r = embedded(b + 12, "IPv4-compatible")) return r;
    return std::string("reserved (deprecated IPv4-compatible ::/96)");
  }
  if (std::memcmp(b, kNat64, 12) == 0) {
    if (auto r = embedded(b + 12, "NAT64")) return r;
    return std::nullopt;
  }
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1) {
    return std::string("reserved (local-use NAT64 64:ff9b:1::/48)");
  }
  if (b[0] == 0x20 && b[1] == 0x02) {
    if (auto r = embedded(b + 2, "6to4")) return r;
    return std::nullopt;
  }
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) return std::string("reserved (Teredo 2001::/32)");
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) {
    return std::string("reserved (documentation 2001:db8::/32)");
  }
  if (b[0] == 0x01 && AllZero(b + 1, 7)) return std::string("reserved (discard 100::/64)");
  if ((b[0] & 0xfe) == 0xfc) return std::string("unique local (fc00::/7)");
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return std::string("link-local (fe80::/10)");
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return std::string("site-local (fec0::/10)");
  if (b[0] == 0xff) return std::string("multicast (ff00::/8)");
  if ((b[0] & 0xe0) != 0x20) return std::string("reserved (outside global unicast 2000::/3)");
  return std::nullopt;
}

std::string WebhookUrl::HostHeader() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  const bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  return default_port ? h : h + ":" + std::to_string(port);
}

Result<WebhookUrl> ParseWebhookUrl(std::string_view url) {
  auto bad = [](const std::string& why) { return Status::InvalidArgument("webhook URL: " + why); };
  if (url.empty()) return bad("empty");
  if (url.size() > 2048) return bad("longer than 2048 bytes");
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f) return bad("holds whitespace, a control or a non-ASCII byte (use punycode and %-escapes)");
    if (c == '\\') return bad("holds a backslash (parsers disagree on what it means)");
  }
  WebhookUrl u;
  const size_t colon = url.find("://");
  if (colon == std::string_view::npos) return bad("want scheme://host");
  u.scheme = Lower(url.substr(0, colon));
  if (u.scheme != "http" && u.scheme != "https") return bad("scheme \"" + u.scheme + "\" is not http or https");
  std::string_view rest = url.substr(colon + 3);
  if (const size_t hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);  // never sent
  const size_t end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, end);
  u.target = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
  if (u.target[0] == '?') u.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) {
    return bad("userinfo (\"user@host\") is not allowed: it is a classic way to disguise the real host");
  }
  std::string_view host = authority, port;
  if (!host.empty() && host[0] == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) return bad("unclosed [ in the host");
    port = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!port.empty() && port[0] != ':') return bad("junk after ]");
    if (!port.empty()) port.remove_prefix(1);
  } else if (const size_t c = host.rfind(':'); c != std::string_view::npos) {
    port = host.substr(c + 1);
    host = host.substr(0, c);
  }
  if (host.empty()) return bad("no host");
  // %-escapes in a host are decoded by URL parsers, so decode them before
  // judging it ("%31%32%37.0.0.1" is 127.0.0.1).  Inside brackets "%25" is a
  // zone id separator, which ParseIpLiteral drops.
  std::string decoded;
  if (host[0] != '[') {
    for (size_t i = 0; i < host.size(); ++i) {
      int hi, lo;
      if (host[i] == '%' && i + 2 < host.size() && Hex(host[i + 1], &hi) && Hex(host[i + 2], &lo)) {
        decoded.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
      } else if (host[i] == '%') {
        return bad("bad %-escape in the host");
      } else {
        decoded.push_back(host[i]);
      }
    }
    for (unsigned char c : decoded) {
      if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_')) return bad("the host holds a character no host name has");
    }
  } else {
    decoded = std::string(host);
  }
  u.host = Lower(decoded);
  if (auto ip = ParseIpLiteral(u.host)) {
    u.host = ip->ToString();  // canonical: 0x7f.1 -> 127.0.0.1
  } else if (u.host[0] == '[' || u.host.find(':') != std::string::npos) {
    return bad("bad IPv6 address " + u.host);
  } else if (LooksLikeIpv4(u.host)) {
    return bad("\"" + u.host + "\" ends in a number but is not a valid IPv4 address");
  } else if (u.host.back() == '.') {
    u.host.pop_back();
  }
  if (port.empty()) {
    u.port = u.scheme == "https" ? 443 : 80;
  } else {
    uint64_t p = 0;
    if (!ParseU64(port, &p) || p == 0 || p > 65535) return bad("port \"" + std::string(port) + "\" is not 1-65535");
    u.port = static_cast<uint16_t>(p);
  }
  return u;
}

Resolver* Resolver::System() {
  static SystemResolver* r = new SystemResolver();
  return r;
}

UrlGuard::UrlGuard(std::vector<std::string> allowlist, Resolver* resolver) : resolver_(resolver) {
  for (const std::string& entry : allowlist) {
    // Normalize like a URL's authority: "http://" + entry parses it.
    auto u = ParseWebhookUrl("http://" + entry + "/");
    if (!u.ok()) continue;
    const bool has_port = entry.rfind(':') != std::string::npos && entry.back() != ']';
    allowlist_.push_back(has_port ? u->host + ":" + std::to_string(u->port) : u->host);
  }
}

bool UrlGuard::Allowlisted(const WebhookUrl& url) const {
  const std::string with_port = url.host + ":" + std::to_string(url.port);
  return std::any_of(allowlist_.begin(), allowlist_.end(),
                     [&](const std::string& a) { return a == url.host || a == with_port; });
}

Result<UrlGuard::Target> UrlGuard::Check(std::string_view text) const {
  auto url = ParseWebhookUrl(text);
  if (!url.ok()) return Status::PermissionDenied("blocked: " + url.status().message());
  Target t;
  t.url = std::move(url).value();
  t.allowlisted = Allowlisted(t.url);
  const std::string& host = t.url.host;
  if (!t.allowlisted) {
    if (host == "localhost" || host.ends_with(".localhost") || host == "localhost.localdomain") {
      return Status::PermissionDenied("blocked: \"" + host + "\" is a loopback name");
    }
    if (host == "metadata" || host == "metadata.google.internal" || host.ends_with(".metadata.google.internal") ||
        host == "instance-data" || host.ends_with(".internal")) {
      return Status::PermissionDenied("blocked: \"" + host + "\" is a cloud metadata or internal name");
    }
  }
  if (auto ip = ParseIpLiteral(host)) {
    t.addresses.push_back(*ip);
  } else {
    auto resolved = resolver_->Resolve(host);
    if (!resolved.ok()) return resolved.status();
    t.addresses = std::move(resolved).value();
    if (t.addresses.empty()) return Status::NotFound("host \"" + host + "\" has no address");
  }
  if (!t.allowlisted) {
    // Every address must pass: a client may connect to any of them.
    for (const IpAddress& a : t.addresses) {
      if (auto why = BlockedAddressReason(a)) {
        return Status::PermissionDenied("blocked: " + a.ToString() + " is " + *why +
                                        (host == a.ToString() ? "" : " (\"" + host + "\" resolves to it)"));
      }
    }
  }
  return t;
}

}  // namespace stele
