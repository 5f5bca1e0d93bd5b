// Fuzz target: HTTP request handling, as `stele serve` does it: the bytes
// go through the same Beast parser with the same limits, the same head
// checks and request building (server/http_request.h), then the real Api
// over a real log in a scratch directory.  Never crashes; every answer is
// a valid status.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "server/api.h"
#include "server/api_keys.h"
#include "server/http_request.h"
#include "server/server_config.h"
#include "stele/stele.h"

namespace {

struct World {
  std::string dir;
  std::unique_ptr<stele::Log> log;
  std::unique_ptr<stele::KeyStore> keys;
  std::unique_ptr<stele::Api> api;
  stele::ServerConfig config;
};

World& TheWorld() {
  static World* w = [] {
    auto* w = new World();
    const char* base = std::getenv("TMPDIR");
    w->dir = std::string(base ? base : "/tmp") + "/stele-fuzz-http-" + std::to_string(::getpid());
    std::filesystem::remove_all(w->dir);
    stele::Options o;
    o.dir = w->dir;
    o.security_interval = std::chrono::milliseconds(100);
    auto log = stele::Log::Open(o);
    if (!log.ok()) std::abort();
    w->log = std::move(log).value();
    (void)w->log->AppendBatch("{\"type\":\"lead.created\",\"lead_id\":\"L1\"}\n{\"type\":\"a.b\",\"data\":{\"x\":1}}\n");
    (void)w->log->Flush();
    w->keys = std::make_unique<stele::KeyStore>(w->dir);
    w->config.http.max_body_bytes = 64 << 10;
    w->api = std::make_unique<stele::Api>(w->log.get(), w->dir, w->keys.get(), w->config);
    return w;
  }();
  return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = TheWorld();
  stele::HttpParser parser;
  stele::ConfigureParser(w.config.http, &parser);
  parser.eager(true);
  boost::beast::error_code ec;
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty() && !parser.is_done()) {
    const size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
    if (ec == boost::beast::http::error::need_more) break;
    if (ec) {
      (void)stele::RefusalForReadError(ec, w.config.http);  // what the server would answer
      return 0;
    }
    rest.remove_prefix(used);
    if (used == 0) break;
  }
  if (!parser.is_header_done()) return 0;
  if (stele::CheckRequestHead(parser, w.config.http)) return 0;
  if (!parser.is_done()) return 0;
  stele::HttpRequest request;
  if (stele::BuildRequest(parser.release(), "127.0.0.1", &request)) return 0;
  // A tail is a never-ending stream and a verify rereads the whole log:
  // the fuzzer exercises their parameter parsing through other paths.
  if (request.path == "/v1/tail" || request.path == "/v1/verify") return 0;
  stele::HttpResponse res = w.api->Handle(request);
  if (res.status < 200 || res.status > 599) std::abort();
  if (res.stream) {
    std::string out;
    for (int i = 0; i < 8 && res.stream(&out, i == 7) == stele::StreamStep::kData; ++i) {
    }
  }
  return 0;
}
