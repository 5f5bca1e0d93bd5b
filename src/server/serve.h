// RunServer: `stele serve` as a function — opens the log, checks the auth
// policy, serves until SIGTERM/SIGINT, then shuts down gracefully (SPEC §6):
// stop accepting, finish the requests already read, drain the queue, flush,
// write a final checkpoint, return 0.  Every event acknowledged to a client
// is on disk when it returns.
#pragma once

#include <functional>
#include <string>

#include "server/server_config.h"
#include "stele/options.h"

namespace stele {

// `on_listening` is told the bound address once the server accepts
// connections (the CLI prints it, so a caller that asked for port 0 learns
// the port).  Returns a process exit code.
int RunServer(const Options& options, const ServerConfig& config,
              const std::function<void(const std::string& address)>& on_listening);

}  // namespace stele
