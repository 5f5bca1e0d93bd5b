#include "alerts/webhook_sender.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/http.hpp>
#include <cstring>
#include <memory>
#include <thread>

namespace stele {
namespace {

namespace http = boost::beast::http;

// A connected socket, plain or TLS, with the attempt's timeouts.
class Connection {
 public:
  ~Connection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
  }

  // Connects to address:port within `timeout`.  "" or the error.
  std::string Connect(const IpAddress& address, uint16_t port, std::chrono::milliseconds timeout,
                      std::chrono::milliseconds io_timeout) {
    sockaddr_storage ss;
    std::memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (address.v6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(port);
      std::memcpy(&a->sin6_addr, address.bytes.data(), 16);
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_port = htons(port);
      std::memcpy(&a->sin_addr, address.bytes.data(), 4);
      len = sizeof *a;
    }
    fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) return std::string("socket: ") + std::strerror(errno);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      if (errno != EINPROGRESS) return std::string("connect: ") + std::strerror(errno);
      pollfd p{fd_, POLLOUT, 0};
      const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (n == 0) return "connect: timed out";
      int err = 0;
      socklen_t el = sizeof err;
      ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &el);
      if (n < 0 || err != 0) return std::string("connect: ") + std::strerror(n < 0 ? errno : err);
    }
    // Blocking from here on, bounded by socket timeouts.
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
    timeval tv{static_cast<time_t>(io_timeout.count() / 1000), static_cast<suseconds_t>((io_timeout.count() % 1000) * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return "";
  }

  std::string StartTls(const std::string& host, bool host_is_ip) {
    static SSL_CTX* ctx = [] {
      SSL_CTX* c = SSL_CTX_new(TLS_client_method());
      SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
      SSL_CTX_set_default_verify_paths(c);
      SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
      return c;
    }();
    ssl_ = SSL_new(ctx);
    SSL_set_fd(ssl_, fd_);
    if (!host_is_ip) SSL_set_tlsext_host_name(ssl_, host.c_str());
    if (host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str()) != 1
                   : SSL_set1_host(ssl_, host.c_str()) != 1) {
      return "tls: cannot set the name to verify";
    }
    if (SSL_connect(ssl_) != 1) {
      const long v = SSL_get_verify_result(ssl_);
      char buf[256];
      ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
      return std::string("tls: ") + (v != X509_V_OK ? X509_verify_cert_error_string(v) : buf);
    }
    return "";
  }

  bool Write(std::string_view data) {
    while (!data.empty()) {
      const long n = ssl_ ? SSL_write(ssl_, data.data(), static_cast<int>(data.size()))
                          : ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        if (!ssl_ && n < 0 && errno == EINTR) continue;
        return false;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Bytes read, 0 at EOF, -1 on error or timeout.
  long Read(char* buf, size_t n) {
    while (true) {
      const long r = ssl_ ? SSL_read(ssl_, buf, static_cast<int>(n)) : ::recv(fd_, buf, n, 0);
      if (r < 0 && !ssl_ && errno == EINTR) continue;
      if (ssl_ && r <= 0) return SSL_get_error(ssl_, static_cast<int>(r)) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
      return r;
    }
  }

 private:
  int fd_ = -1;
  SSL* ssl_ = nullptr;
};

bool Retryable(const WebhookResult& r) {
  return r.status == 0 || r.status == 408 || r.status == 429 || r.status >= 500;
}

}  // namespace

void WebhookSender::Attempt(const UrlGuard::Target& target, std::string_view body, WebhookResult* result) const {
  result->status = 0;
  const WebhookUrl& url = target.url;
  std::string error = "no address";
  for (const IpAddress& a : target.addresses) {
    Connection conn;
    result->address = (a.v6 ? "[" + a.ToString() + "]" : a.ToString()) + ":" + std::to_string(url.port);
    error = conn.Connect(a, url.port, options_.connect_timeout, options_.io_timeout);
    if (!error.empty()) continue;  // the next checked address
    if (url.scheme == "https") {
      error = conn.StartTls(url.host, ParseIpLiteral(url.host).has_value());
      if (!error.empty()) break;
    }
    std::string request = "POST " + url.target + " HTTP/1.1\r\nHost: " + url.HostHeader() +
                          "\r\nUser-Agent: stele-alerts/1\r\nContent-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    request.append(body);
    if (!conn.Write(request)) {
      error = "send failed or timed out";
      break;
    }
    http::response_parser<http::empty_body> parser;
    parser.skip(true);  // the body is not needed, only the status and headers
    parser.header_limit(16 * 1024);
    char buf[4096];
    std::string pending;
    boost::beast::error_code ec;
    while (!parser.is_header_done()) {
      const long n = conn.Read(buf, sizeof buf);
      if (n <= 0) {
        error = n == 0 ? "the receiver closed the connection before answering" : "no answer in time";
        break;
      }
      pending.append(buf, static_cast<size_t>(n));
      const size_t used = parser.put(boost::asio::buffer(pending), ec);
      if (ec == http::error::need_more) ec = {};
      if (ec) {
        error = "bad HTTP answer: " + ec.message();
        break;
      }
      pending.erase(0, used);
    }
    if (!parser.is_header_done()) break;
    const auto& res = parser.get();
    result->status = static_cast<int>(res.result_int());
    if (result->status >= 200 && result->status < 300) {
      result->delivered = true;
      result->error.clear();
      return;
    }
    if (result->status >= 300 && result->status < 400) {
      error = "redirect to \"" + std::string(res[http::field::location]).substr(0, 200) + "\" not followed";
    } else {
      error = "answered " + std::to_string(result->status);
    }
    break;
  }
  result->error = error;
}

Result<WebhookResult> WebhookSender::Send(std::string_view url, std::string_view json_body) const {
  auto target = guard_->Check(url);  // the one resolution this send makes
  if (!target.ok()) return target.status();
  WebhookResult result;
  std::chrono::milliseconds backoff = options_.backoff;
  for (int attempt = 0; attempt <= options_.retries; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    ++result.attempts;
    Attempt(*target, json_body, &result);
    if (result.delivered || !Retryable(result)) break;  // a 3xx is final: never followed, never retried
  }
  return result;
}

}  // namespace stele
