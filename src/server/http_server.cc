#include "server/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cctype>
#include <condition_variable>
#include <mutex>

#include "util/json_escape.h"

namespace stele {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

std::string_view HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

HttpResponse JsonError(int status, std::string_view code, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = "{\"error\":{\"code\":" + JsonString(code) + ",\"message\":" + JsonString(message) + "}}\n";
  return r;
}

bool PercentDecode(std::string_view in, bool form, std::string* out) {
  out->clear();
  out->reserve(in.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && form) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

namespace {

// Splits and decodes a query string; false on a bad escape.
bool ParseQueryString(std::string_view qs, QueryParams* out, std::string* bad) {
  while (!qs.empty()) {
    const size_t amp = qs.find('&');
    std::string_view part = qs.substr(0, amp);
    qs.remove_prefix(amp == std::string_view::npos ? qs.size() : amp + 1);
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    std::string name, value;
    if (!PercentDecode(part.substr(0, eq), true, &name) ||
        !PercentDecode(eq == std::string_view::npos ? "" : part.substr(eq + 1), true, &value)) {
      *bad = std::string(part.substr(0, 64));
      return false;
    }
    out->emplace_back(std::move(name), std::move(value));
  }
  return true;
}

const char* ReasonCode(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 408: return "timeout";
    case 413: return "too_large";
    case 414: return "uri_too_long";
    case 431: return "headers_too_large";
    case 503: return "unavailable";
    default: return "error";
  }
}

}  // namespace

struct HttpServer::Impl {
  Impl(HttpServer* owner, HttpHandler* handler, HttpLimits limits, unsigned io_threads, unsigned workers)
      : owner(owner), handler(handler), limits(limits),
        io_count(io_threads > 0 ? io_threads : std::max(1u, std::thread::hardware_concurrency() / 2)),
        pool(std::max(1u, workers)), acceptor(ioc) {}

  HttpServer* owner;
  HttpHandler* handler;
  const HttpLimits limits;
  const unsigned io_count;
  net::io_context ioc;
  net::thread_pool pool;
  tcp::acceptor acceptor;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> busy{0};  // requests read and not yet answered, plus open streams
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool shut_down = false;

  net::awaitable<void> Accept();
  net::awaitable<void> Session(tcp::socket socket);
  // Writes a complete response; false if the connection broke.
  net::awaitable<bool> Write(beast::tcp_stream& stream, HttpResponse& res, bool keep_alive);
  net::awaitable<bool> WriteStream(beast::tcp_stream& stream, HttpResponse& res);
  net::awaitable<HttpResponse> RunHandler(HttpRequest& req) {
    return net::co_spawn(
        pool, [this, &req]() -> net::awaitable<HttpResponse> { co_return handler->Handle(req); }, net::use_awaitable);
  }
  void Done() {
    if (--busy == 0) {
      std::lock_guard<std::mutex> g(stop_mu);
      stop_cv.notify_all();
    }
  }
};

net::awaitable<void> HttpServer::Impl::Accept() {
  while (!stopping) {
    beast::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(net::make_strand(ioc), net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      if (stopping || ec == net::error::operation_aborted) co_return;
      continue;  // EMFILE and the like: keep serving the others
    }
    net::co_spawn(socket.get_executor(), Session(std::move(socket)), net::detached);
  }
}

net::awaitable<bool> HttpServer::Impl::Write(beast::tcp_stream& stream, HttpResponse& res, bool keep_alive) {
  http::response<http::string_body> out{static_cast<http::status>(res.status), 11};
  out.set(http::field::server, "stele");
  out.set(http::field::content_type, res.content_type);
  for (const auto& [k, v] : res.headers) out.set(k, v);
  out.body() = std::move(res.body);
  out.keep_alive(keep_alive);
  out.prepare_payload();
  stream.expires_after(limits.write_timeout);
  beast::error_code ec;
  co_await http::async_write(stream, out, net::redirect_error(net::use_awaitable, ec));
  co_return !ec;
}

net::awaitable<bool> HttpServer::Impl::WriteStream(beast::tcp_stream& stream, HttpResponse& res) {
  http::response<http::empty_body> head{static_cast<http::status>(res.status), 11};
  head.set(http::field::server, "stele");
  head.set(http::field::content_type, res.content_type);
  for (const auto& [k, v] : res.headers) head.set(k, v);
  head.chunked(true);
  head.keep_alive(false);
  http::response_serializer<http::empty_body> sr{head};
  beast::error_code ec;
  stream.expires_after(limits.write_timeout);
  co_await http::async_write_header(stream, sr, net::redirect_error(net::use_awaitable, ec));
  if (ec) co_return false;
  std::string chunk;
  auto last_write = std::chrono::steady_clock::now();
  auto& producer = res.stream;
  while (true) {
    chunk.clear();
    const bool stop = stopping.load();
    StreamStep step = co_await net::co_spawn(
        pool, [&]() -> net::awaitable<StreamStep> { co_return producer(&chunk, stop); }, net::use_awaitable);
    if (!chunk.empty()) {
      stream.expires_after(limits.write_timeout);
      co_await net::async_write(stream, http::make_chunk(net::buffer(chunk)), net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return false;
      last_write = std::chrono::steady_clock::now();
    }
    if (step == StreamStep::kEnd) break;
    if (step == StreamStep::kWait) {
      if (stop) break;
      if (!res.heartbeat.empty() && std::chrono::steady_clock::now() - last_write > limits.stream_heartbeat) {
        stream.expires_after(limits.write_timeout);
        co_await net::async_write(stream, http::make_chunk(net::buffer(res.heartbeat)),
                                  net::redirect_error(net::use_awaitable, ec));
        if (ec) co_return false;
        last_write = std::chrono::steady_clock::now();
      }
      net::steady_timer timer(stream.get_executor(), limits.stream_poll);
      co_await timer.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
  }
  stream.expires_after(limits.write_timeout);
  co_await net::async_write(stream, http::make_chunk_last(), net::redirect_error(net::use_awaitable, ec));
  co_return !ec;
}

net::awaitable<void> HttpServer::Impl::Session(tcp::socket socket) {
  beast::error_code ec;
  std::string peer;
  if (auto ep = socket.remote_endpoint(ec); !ec) peer = ep.address().to_string();
  beast::tcp_stream stream(std::move(socket));
  const uint64_t open = ++owner->connections_;
  struct Closer {
    HttpServer* owner;
    ~Closer() { --owner->connections_; }
  } closer{owner};
  auto refuse = [&](int status, std::string message) -> net::awaitable<void> {
    handler->OnRefused(peer, status, message);
    HttpResponse r = JsonError(status, ReasonCode(status), message);
    co_await Write(stream, r, false);
  };
  if (open > limits.max_connections) {
    co_await refuse(503, "too many connections (" + std::to_string(limits.max_connections) + ")");
    co_return;
  }
  beast::flat_buffer buffer;
  while (!stopping) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
    stream.expires_after(limits.header_timeout);
    co_await http::async_read_header(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
      break;  // the client left, or idled past the timeout
    }
    if (ec == http::error::body_limit) {  // a Content-Length over the limit
      co_await refuse(413, "request body is over " + std::to_string(limits.max_body_bytes) + " bytes");
      break;
    }
    if (ec == http::error::header_limit) {
      co_await refuse(431, "request headers are over " + std::to_string(limits.max_header_bytes) + " bytes");
      break;
    }
    if (ec) {
      co_await refuse(400, "malformed HTTP request: " + ec.message());
      break;
    }
    const auto& header = parser.get();
    size_t count = 0;
    for (auto it = header.begin(); it != header.end(); ++it) ++count;
    if (count > limits.max_headers) {
      co_await refuse(431, "more than " + std::to_string(limits.max_headers) + " request headers");
      break;
    }
    if (header.target().size() > limits.max_target_bytes) {
      co_await refuse(414, "request target is over " + std::to_string(limits.max_target_bytes) + " bytes");
      break;
    }
    if (header.has_content_length() || header.chunked()) {
      if (auto len = parser.content_length(); len && *len > limits.max_body_bytes) {
        co_await refuse(413, "request body is over " + std::to_string(limits.max_body_bytes) + " bytes");
        break;
      }
      stream.expires_after(limits.body_timeout);
      co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
      if (ec == http::error::body_limit) {
        co_await refuse(413, "request body is over " + std::to_string(limits.max_body_bytes) + " bytes");
        break;
      }
      if (ec == beast::error::timeout) {
        co_await refuse(408, "request body did not arrive in time");
        break;
      }
      if (ec) {
        if (ec != http::error::end_of_stream && ec != net::error::eof) {
          co_await refuse(400, "malformed HTTP body: " + ec.message());
        }
        break;
      }
    }
    ++busy;
    ++owner->requests_;
    auto req = parser.release();
    const bool keep_alive = req.keep_alive();
    HttpRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.peer = peer;
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers.emplace_back(std::move(name), std::string(f.value()));
    }
    r.body = std::move(req.body());
    HttpResponse res;
    const std::string_view target = r.target;
    const size_t q = target.find('?');
    std::string bad;
    if (stopping) {
      res = JsonError(503, "shutting_down", "the server is shutting down");
      res.headers.emplace_back("Retry-After", "1");
    } else if (!PercentDecode(target.substr(0, q), false, &r.path)) {
      res = JsonError(400, "bad_request", "request path has a bad %-escape");
    } else if (q != std::string_view::npos && !ParseQueryString(target.substr(q + 1), &r.params, &bad)) {
      res = JsonError(400, "bad_request", "query parameter \"" + bad + "\" has a bad %-escape");
    } else if (handler->Quick(r)) {
      res = handler->Handle(r);
    } else {
      res = co_await RunHandler(r);
    }
    bool ok;
    if (res.stream) {
      ok = co_await WriteStream(stream, res);
      Done();
      break;  // streamed responses end the connection
    }
    const bool again = keep_alive && !res.close && !stopping;
    ok = co_await Write(stream, res, again);
    Done();
    if (!ok || !again) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  co_return;
}

HttpServer::HttpServer(HttpHandler* handler, HttpLimits limits, unsigned io_threads, unsigned workers)
    : impl_(std::make_unique<Impl>(this, handler, limits, io_threads, workers)) {}

HttpServer::~HttpServer() { Shutdown(std::chrono::milliseconds(0)); }

Status HttpServer::Start(const std::string& host, uint16_t port) {
  beast::error_code ec;
  auto address = net::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument("listen address \"" + host + "\": not an IP address");
  tcp::endpoint endpoint(address, port);
  auto& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError("listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  port_ = a.local_endpoint().port();
  net::co_spawn(a.get_executor(), impl_->Accept(), net::detached);
  for (unsigned i = 0; i < impl_->io_count; ++i) impl_->threads.emplace_back([this] { impl_->ioc.run(); });
  return Status::Ok();
}

void HttpServer::Shutdown(std::chrono::milliseconds drain_timeout) {
  Impl& im = *impl_;
  {
    std::lock_guard<std::mutex> g(im.stop_mu);
    if (im.shut_down) return;
    im.shut_down = true;
  }
  im.stopping = true;
  net::post(im.acceptor.get_executor(), [&im] {
    beast::error_code ec;
    im.acceptor.close(ec);
  });
  {
    std::unique_lock<std::mutex> l(im.stop_mu);
    im.stop_cv.wait_for(l, drain_timeout, [&] { return im.busy.load() <= 0; });
  }
  im.ioc.stop();
  for (auto& t : im.threads) t.join();
  im.pool.join();
}

}  // namespace stele
