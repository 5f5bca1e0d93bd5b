#include "server/http_server.h"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cctype>
#include <condition_variable>
#include <mutex>

#include "server/http_request.h"
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

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.body.push_back('\n');
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
  auto refuse = [&](HttpRefusal refusal) -> net::awaitable<void> {
    handler->OnRefused(peer, refusal.status, refusal.message);
    HttpResponse r = RefusalResponse(refusal);
    co_await Write(stream, r, false);
  };
  if (open > limits.max_connections) {
    co_await refuse({503, "too many connections (" + std::to_string(limits.max_connections) + ")"});
    co_return;
  }
  beast::flat_buffer buffer;
  while (!stopping) {
    HttpParser parser;
    ConfigureParser(limits, &parser);
    stream.expires_after(limits.header_timeout);
    co_await http::async_read_header(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    if (ec) {
      if (auto refusal = RefusalForReadError(ec, limits)) co_await refuse(*refusal);
      break;  // the client left, idled past the timeout, or was refused
    }
    if (auto refusal = CheckRequestHead(parser, limits)) {
      co_await refuse(*refusal);
      break;
    }
    const auto& header = parser.get();
    if (header.has_content_length() || header.chunked()) {
      stream.expires_after(limits.body_timeout);
      co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
      if (ec == beast::error::timeout) {
        co_await refuse({408, "request body did not arrive in time"});
        break;
      }
      if (ec) {
        if (auto refusal = RefusalForReadError(ec, limits)) co_await refuse(*refusal);
        break;
      }
    }
    ++busy;
    ++owner->requests_;
    auto req = parser.release();
    const bool keep_alive = req.keep_alive();
    HttpRequest r;
    std::optional<HttpRefusal> bad_request = BuildRequest(std::move(req), peer, &r);
    HttpResponse res;
    if (stopping) {
      res = JsonError(503, "shutting_down", "the server is shutting down");
      res.headers.emplace_back("Retry-After", "1");
    } else if (bad_request) {
      res = RefusalResponse(*bad_request);
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
