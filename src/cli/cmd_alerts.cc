// stele alerts check URL: says whether a webhook URL passes the SSRF guard
// (SPEC §7), with the same allowlist `stele serve` would use.
#include <cstdio>

#include "cli/commands.h"
#include "security/url_guard.h"
#include "server/server_config.h"

namespace stele::cli {
namespace {

struct AlertsFlags {
  std::string url;
  std::string config;
  std::vector<std::string> allow;
};

int RunCheck(const AlertsFlags& f) {
  std::vector<std::string> allow = f.allow;
  if (!f.config.empty()) {
    Options options;
    ServerConfig config;
    if (Status s = LoadServerConfig(f.config, &options, &config); !s.ok()) return ReportError(s);
    allow.insert(allow.end(), config.alerts.allow.begin(), config.alerts.allow.end());
  }
  UrlGuard guard(allow);
  auto t = guard.Check(f.url);
  if (!t.ok()) {
    const std::string& m = t.status().message();
    std::printf("%s\n", m.rfind("blocked: ", 0) == 0 ? m.c_str() : ("blocked: " + m).c_str());
    return kExitUsage;
  }
  std::string addresses;
  for (const IpAddress& a : t->addresses) addresses += (addresses.empty() ? "" : ", ") + a.ToString();
  std::printf("allowed (%s%s port %u)\n", t->allowlisted ? "allowlisted; " : "", addresses.c_str(),
              static_cast<unsigned>(t->url.port));
  return kExitOk;
}

}  // namespace

Command RegisterAlerts(CLI::App& app, const GlobalFlags&) {
  auto flags = std::make_shared<AlertsFlags>();
  CLI::App* cmd = app.add_subcommand("alerts", "Webhook alerts");
  cmd->require_subcommand(1);
  CLI::App* check = cmd->add_subcommand("check", "Say whether a webhook URL passes the SSRF guard");
  check->add_option("URL", flags->url, "http(s) URL")->required();
  check->add_option("--allow", flags->allow, "allowlist entry, \"host\" or \"host:port\" (repeatable)");
  check->add_option("--config", flags->config, "take the [webhooks] allow list from this stele serve config");
  check->footer("Prints \"allowed (...)\" and exits 0, or \"blocked: <reason>\" and exits 2.");
  return {cmd, [flags] { return RunCheck(*flags); }};
}

}  // namespace stele::cli
