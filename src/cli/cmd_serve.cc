// stele serve: the HTTP server (SPEC §6) on the --dir data directory.
#include <cstdio>

#include "cli/commands.h"
#include "server/serve.h"

namespace stele::cli {
namespace {

struct ServeFlags {
  std::string listen;
  std::string config;
  std::string sync;
  std::string profile;
  unsigned workers = 0;
};

int RunServe(const GlobalFlags& global, const ServeFlags& flags) {
  Options options;
  options.dir = global.dir;
  ServerConfig config;
  // The profile first, so the config file and flags override it.
  if (!flags.profile.empty()) {
    if (Status s = ApplyProfile(flags.profile, &options); !s.ok()) return ReportError(s);
  }
  if (!flags.config.empty()) {
    if (Status s = LoadServerConfig(flags.config, &options, &config); !s.ok()) return ReportError(s);
  }
  // Flags override the file.
  if (!flags.listen.empty()) {
    if (Status s = ParseListen(flags.listen, &config.host, &config.port); !s.ok()) return ReportError(s);
  }
  if (!flags.sync.empty() && !ParseSyncMode(flags.sync, &options.sync)) {
    return ReportError(Status::InvalidArgument("--sync \"" + flags.sync + "\": must be always, batch or none"));
  }
  if (flags.workers > 0) config.workers = flags.workers;
  return RunServer(options, config, [&](const std::string& address) {
    std::printf("{\"listening\":\"%s\",\"dir\":%s}\n", address.c_str(), JsonString(options.dir).c_str());
    std::fflush(stdout);
  });
}

}  // namespace

Command RegisterServe(CLI::App& app, const GlobalFlags& global) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve the log over HTTP (ingest, query, proofs, metrics)");
  cmd->add_option("--listen", flags->listen, "HOST:PORT to listen on (default 127.0.0.1:8080; port 0 picks one)");
  cmd->add_option("--config", flags->config, "TOML config file (docs/server.md)");
  cmd->add_option("--sync", flags->sync, "always | batch | none (default batch)");
  cmd->add_option("--profile", flags->profile, "high-throughput | low-latency | storage-optimized | lookup-optimized");
  cmd->add_option("--workers", flags->workers, "handler threads (default 8)");
  cmd->footer("Prints {\"listening\":\"HOST:PORT\"} once it accepts connections. SIGTERM/SIGINT drain, flush, "
              "checkpoint and exit 0.");
  return {cmd, [&global, flags] { return RunServe(global, *flags); }};
}

}  // namespace stele::cli
