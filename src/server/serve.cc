#include "server/serve.h"

#include <signal.h>

#include <cstdio>

#include "server/api.h"
#include "server/api_keys.h"
#include "server/http_server.h"
#include "stele/log.h"
#include "util/confined_env.h"
#include "util/env.h"

namespace stele {

int RunServer(const Options& options, const ServerConfig& config,
              const std::function<void(const std::string& address)>& on_listening) {
  // Signals are taken synchronously by this thread (sigwait), so no handler
  // runs on an arbitrary thread; every other thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  KeyStore keys(options.dir);
  if (Status s = keys.Reload(); !s.ok()) {
    std::fprintf(stderr, "stele: %s\n", s.ToString().c_str());
    return 3;
  }
  if (!IsLoopback(config.host) && !keys.HasActiveKeys()) {
    std::fprintf(stderr,
                 "stele: refusing to listen on %s without API keys; add one with `stele keys add NAME --scope ...`\n",
                 config.host.c_str());
    return 2;
  }
  auto log = Log::Open(options);
  if (!log.ok()) {
    std::fprintf(stderr, "stele: %s\n", log.status().ToString().c_str());
    return log.status().code() == StatusCode::kLocked ? 4 : 3;
  }
  AlertDispatcher alerts(log->get(), config.alerts);
  if (Status s = alerts.Start(); !s.ok()) {
    std::fprintf(stderr, "stele: %s\n", s.ToString().c_str());
    (void)(*log)->Shutdown();  // records the security.ssrf_blocked event
    return 2;
  }
  Api api(log->get(), options.dir, &keys, config);
  api.set_alerts(&alerts);
  HttpServer server(&api, config.http, config.io_threads, config.workers);
  api.set_server(&server);
  if (Status s = server.Start(config.host, config.port); !s.ok()) {
    std::fprintf(stderr, "stele: %s\n", s.ToString().c_str());
    return 3;
  }
  const std::string address =
      (config.host.find(':') != std::string::npos ? "[" + config.host + "]" : config.host) + ":" + std::to_string(server.port());
  on_listening(address);

  // Wait for a signal; once a second meanwhile, sample the ingest rate and
  // publish the live counters for `stele stats --engine`.
  const std::string status_path = options.dir + "/serve-status.json";
  ConfinedEnv data_dir(options.dir);
  int sig = 0;
  while (true) {
    api.SampleIngestRate();
    (void)WriteFileAtomically(&data_dir, status_path, api.StatusJson(address) + "\n");
    timespec one_second{1, 0};
    sig = sigtimedwait(&signals, nullptr, &one_second);
    if (sig == SIGTERM || sig == SIGINT) break;
  }
  (void)data_dir.Remove(status_path);
  std::fprintf(stderr, "stele: %s: draining and shutting down\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  server.Shutdown(config.drain_timeout);
  alerts.Stop();
  Status s = (*log)->Shutdown();  // drains, flushes, writes the final checkpoint
  if (!s.ok()) {
    std::fprintf(stderr, "stele: shutdown: %s\n", s.ToString().c_str());
    return 3;
  }
  const LogStats st = (*log)->stats();
  std::fprintf(stderr, "stele: stopped cleanly at seq %llu\n", static_cast<unsigned long long>(st.durable_seq));
  return 0;
}

}  // namespace stele
