// ServerConfig: everything `stele serve` is told, from flags and an optional
// TOML file (--config, docs/server.md lists every key).  Log settings go into
// stele::Options; HTTP and auth settings stay here.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "alerts/alert_dispatcher.h"
#include "server/http_server.h"
#include "stele/options.h"

namespace stele {

struct ServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  unsigned io_threads = 0;  // 0: half the cores, at least one (network I/O and quick appends)
  unsigned workers = 8;  // handler threads (a wait=durable request holds one during its fsync)
  HttpLimits http;
  size_t max_lines_per_request = 100'000;
  size_t max_regex_bytes = 4096;                // a query's regex pattern
  size_t max_regex_program_bytes = 8u << 20;    // its compiled RE2 program
  // Per-API-key token bucket, in requests per second (0: off).
  double key_rate = 0;
  double key_burst = 0;  // 0: one second's worth
  std::chrono::milliseconds drain_timeout{30'000};
  // [[alerts]] rules and the [webhooks] settings (docs/security.md).
  AlertConfig alerts;
};

// "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:80".
Status ParseListen(std::string_view text, std::string* host, uint16_t* port);
bool IsLoopback(const std::string& host);

// Reads a TOML config file into *options and *config; unknown keys and bad
// values are errors that name the key.
Status LoadServerConfig(const std::string& path, Options* options, ServerConfig* config);

}  // namespace stele
