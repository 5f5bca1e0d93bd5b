// stele retain: applies a retention policy once (SPEC §2).  Opens the log as
// its writer (so it waits for no one and nobody writes meanwhile), removes the
// oldest sealed segments the policy no longer keeps, and reports what is left.
#include <cstdio>

#include "cli/commands.h"
#include "stele/log.h"

namespace stele::cli {
namespace {

struct RetainFlags {
  std::string max_age;    // "30d", "12h", "90m", "45s"
  std::string max_bytes;  // "10G", "512M", "4096"
};

int RunRetain(const GlobalFlags& global, const RetainFlags& flags) {
  Options options;
  options.dir = global.dir;
  if (flags.max_age.empty() && flags.max_bytes.empty()) {
    std::fprintf(stderr, "stele: retain needs --max-age and/or --max-bytes\n");
    return kExitUsage;
  }
  if (!flags.max_age.empty()) {
    auto age = ParseDuration(flags.max_age);
    if (!age.ok()) return ReportError(Status::InvalidArgument("--max-age: " + age.status().message()));
    options.retention_max_age = std::chrono::duration_cast<std::chrono::seconds>(*age);
  }
  if (!flags.max_bytes.empty()) {
    auto bytes = ParseByteSize(flags.max_bytes);
    if (!bytes.ok()) return ReportError(Status::InvalidArgument("--max-bytes: " + bytes.status().message()));
    options.retention_max_bytes = *bytes;
  }
  auto log = Log::Open(options);  // applies the policy before anything is written
  if (!log.ok()) return ReportError(log.status());
  const LogStats s = (*log)->stats();
  Status st = (*log)->Shutdown();
  if (!st.ok()) return ReportError(st);
  std::printf("{\"segments_removed\":%llu,\"first_seq\":%llu,\"last_seq\":%llu}\n",
              static_cast<unsigned long long>(s.segments_removed), static_cast<unsigned long long>(s.first_seq),
              static_cast<unsigned long long>(s.written_seq));
  return kExitOk;
}

}  // namespace

Command RegisterRetain(CLI::App& app, const GlobalFlags& global) {
  auto flags = std::make_shared<RetainFlags>();
  CLI::App* cmd = app.add_subcommand("retain", "Remove the oldest sealed segments a retention policy no longer keeps");
  cmd->add_option("--max-age", flags->max_age, "Remove segments whose newest event is older than this (e.g. 30d, 12h)");
  cmd->add_option("--max-bytes", flags->max_bytes, "Remove oldest segments while the log is larger (e.g. 10G, 512M)");
  return {cmd, [&global, flags] { return RunRetain(global, *flags); }};
}

}  // namespace stele::cli
