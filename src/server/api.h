// Api: the HTTP endpoints of `stele serve` (SPEC §6) over one open Log.
//
// Owns nothing but counters: the Log, the KeyStore and the config belong to
// the caller and outlive it.  Every request is authenticated (unless the
// server runs keyless on loopback), scope-checked, rate-limited per key, and
// answered with JSON errors {"error":{"code","message"}} and the right
// status.  Refusals are reported to the log's security monitor, so they land
// in the log as aggregated security.* events.  Thread-safe: Handle() runs
// on many worker threads at once.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "alerts/alert_dispatcher.h"
#include "security/rate_limiter.h"
#include "server/api_keys.h"
#include "server/http_server.h"
#include "server/server_config.h"
#include "stele/log.h"

namespace stele {

class Api final : public HttpHandler {
 public:
  Api(Log* log, std::string dir, KeyStore* keys, const ServerConfig& config);

  HttpResponse Handle(HttpRequest& request) override;
  bool Quick(const HttpRequest& request) const override;
  void OnRefused(const std::string& peer, int status, std::string_view reason) override;

  // Prometheus text exposition of the log's and the server's counters.
  std::string MetricsText();
  void set_server(const HttpServer* server) { server_ = server; }
  void set_alerts(const AlertDispatcher* alerts) { alerts_ = alerts; }
  // Sampled once a second by the server: events appended per second.
  void SampleIngestRate();
  // The serving process's live counters as one JSON object, written to
  // <dir>/serve-status.json each second so `stele stats --engine` (another
  // process) can show them: cache, rate limits, auth, security events.
  std::string StatusJson(const std::string& address);

 private:
  struct Principal {
    std::string name;
    uint32_t scopes = 0;
  };
  // The caller's key, or the refusal to send (401, 403, 429).
  std::optional<Principal> Authorize(const HttpRequest& request, Scope need, HttpResponse* refusal);

  HttpResponse PostEvents(HttpRequest& request);
  HttpResponse GetEvents(HttpRequest& request, const Principal& who);
  HttpResponse GetStats(HttpRequest& request, const Principal& who);
  HttpResponse GetTail(HttpRequest& request, const Principal& who);
  HttpResponse GetCheckpoint();
  HttpResponse GetProof(HttpRequest& request, bool inclusion);
  HttpResponse GetVerify();
  // Data files for backup (api_files.cc).
  HttpResponse ListDataFiles(bool segments);
  HttpResponse GetDataFile(const HttpRequest& request, const std::string& who, bool segment);
  // 400 invalid_path, recorded as a security.path_rejected event.
  HttpResponse RejectPath(const HttpRequest& request, std::string_view subject_kind, std::string_view subject,
                          std::string_view why);
  // True when a decoded path has a "." or ".." component, a backslash or a NUL.
  static bool HasTraversal(std::string_view path);
  HttpResponse Health();
  HttpResponse FromStatus(const Status& status);
  // The request's query parameters, with the configured regex limits.
  Result<Query> ParseQuery(const HttpRequest& request) const;
  void CountStatus(int status);

  Log* const log_;
  const std::string dir_;
  KeyStore* const keys_;
  const ServerConfig config_;
  const bool loopback_;
  const HttpServer* server_ = nullptr;
  const AlertDispatcher* alerts_ = nullptr;
  std::unique_ptr<RateLimiter> key_limiter_;
  std::atomic<int64_t> keys_checked_ns_{0};
  std::atomic<int64_t> fresh_checkpoint_ns_{0};

  std::mutex counters_mu_;
  std::map<int, uint64_t> responses_;                  // by status code
  std::map<std::string, uint64_t> refusals_;           // auth and rate-limit refusals by reason
  std::atomic<uint64_t> tails_open_{0};
  std::atomic<uint64_t> ingest_rate_{0};
  uint64_t last_appended_ = 0;                          // SampleIngestRate's previous reading
  std::chrono::steady_clock::time_point last_sample_{};
};

}  // namespace stele
