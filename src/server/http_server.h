// HttpServer: HTTP/1.1 with keep-alive over Boost.Beast/Asio (Debian's
// libboost-dev, header-only; chosen because it is the maintained HTTP/1.1
// parser and serializer in Debian's archive, with hard header and body
// limits built into its parser).
//
// Owns the listening socket, `io_threads` threads doing only network I/O
// (a coroutine per connection, each on its own strand) and a pool of
// `workers` threads that run the handler, so a slow query or an fsync wait
// never stalls reading other connections.  What it promises:
//  * every request is bounded: header bytes and count, target length, body
//    bytes, and time (a header must arrive within header_timeout of the
//    previous response or of the connect, so an idle or slowloris client is
//    dropped; a body within body_timeout);
//  * a protocol violation gets one clean JSON error and the connection is
//    closed; nothing the client sends can crash or stall the server;
//  * Shutdown() stops accepting, lets every request already read finish
//    (its response is written), ends streams, then stops the threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "query/query_params.h"
#include "stele/status.h"

namespace stele {

struct HttpLimits {
  size_t max_header_bytes = 16u << 10;   // request line + headers
  size_t max_headers = 64;
  size_t max_target_bytes = 8u << 10;    // path + query string
  size_t max_body_bytes = 64u << 20;
  size_t max_connections = 1024;
  std::chrono::milliseconds header_timeout{15'000};  // includes keep-alive idle time
  std::chrono::milliseconds body_timeout{60'000};
  std::chrono::milliseconds write_timeout{60'000};
  std::chrono::milliseconds stream_poll{50};         // a waiting stream asks again after this
  std::chrono::milliseconds stream_heartbeat{15'000};
};

struct HttpRequest {
  std::string method;
  std::string target;  // as received
  std::string path;    // target before '?', percent-decoded
  QueryParams params;  // decoded query parameters, in order
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string peer;    // client IP address
  std::string_view Header(std::string_view lower_name) const;
};

enum class StreamStep { kData, kWait, kEnd };

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // A streamed body (chunked): called on a worker thread until kEnd.  kData
  // appends to *out; kWait means nothing yet (asked again after stream_poll;
  // the server sends `heartbeat` now and then meanwhile to notice a client
  // that left).  `stopping` is true once the server shuts down.
  std::function<StreamStep(std::string* out, bool stopping)> stream;
  std::string heartbeat;  // for kWait streams (SSE: ":\n\n")
  bool close = false;
};

// Builds the error body SPEC §6 specifies: {"error":{"code":..,"message":..}}.
HttpResponse JsonError(int status, std::string_view code, std::string_view message);
// A JSON body (a newline is added).
HttpResponse JsonResponse(int status, std::string body);

class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // On a worker thread; may block.
  virtual HttpResponse Handle(HttpRequest& request) = 0;
  // True when Handle() is quick for this request and never waits on the
  // disk (an append without wait=durable): it then runs on the I/O thread,
  // saving two thread hand-offs.  It may still wait on a full write queue,
  // which is the backpressure the client should feel anyway.
  virtual bool Quick(const HttpRequest& request) const = 0;
  // A request refused before it reached Handle (too large, malformed, too
  // many headers, too many connections): for metrics and security events.
  virtual void OnRefused(const std::string& peer, int status, std::string_view reason) = 0;
};

class HttpServer {
 public:
  HttpServer(HttpHandler* handler, HttpLimits limits, unsigned io_threads, unsigned workers);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (port 0 picks a free one) and starts serving.
  Status Start(const std::string& host, uint16_t port);
  uint16_t port() const { return port_; }
  // Graceful stop; see the class comment.  Idempotent.
  void Shutdown(std::chrono::milliseconds drain_timeout);

  uint64_t connections() const { return connections_.load(); }
  uint64_t requests() const { return requests_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
  std::atomic<uint64_t> connections_{0};
  std::atomic<uint64_t> requests_{0};
};

// Percent-decodes (and '+' -> ' ' when form is set).  False on a bad escape.
bool PercentDecode(std::string_view in, bool form, std::string* out);

}  // namespace stele
