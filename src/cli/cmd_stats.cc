// stele stats: counts by field or time bucket over any filter.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "util/confined_env.h"
#include "cli/commands.h"
#include "stele/stats.h"
#include "util/env.h"

namespace stele::cli {
namespace {

struct StatsFlags {
  bool engine = false;
  FilterFlags filters;
  std::string by = "type";
  size_t top = 20;
  std::string format;
};

// What the data directory holds, read without the writer lock.  Query-cache
// counters live in the process that serves queries (Log::stats(); the
// server exposes them); a CLI process has none to report.
int RunEngineStats(const GlobalFlags& global) {
  const std::string seg_dir = global.dir + "/segments";
  std::error_code ec;
  if (!std::filesystem::is_directory(seg_dir, ec)) {
    return ReportError(Status::NotFound(global.dir + ": no stele log here"));
  }
  uint64_t segments = 0, sealed_indexes = 0, segment_bytes = 0, index_bytes = 0, lead_run_bytes = 0;
  for (auto& e : std::filesystem::directory_iterator(seg_dir, ec)) {
    if (!std::filesystem::is_regular_file(e.symlink_status(ec))) continue;  // symlinks are not followed
    const std::string ext = e.path().extension().string();
    if (ext == ".seg") {
      ++segments;
      segment_bytes += e.file_size(ec);
    } else if (ext == ".fidx") {
      ++sealed_indexes;
      index_bytes += e.file_size(ec);
    } else if (ext == ".idx" || ext == ".lidx") {
      index_bytes += e.file_size(ec);
    } else if (ext == ".lrun") {
      lead_run_bytes += e.file_size(ec);
    }
  }
  uint64_t checkpoints = 0;
  for (auto& e : std::filesystem::directory_iterator(global.dir + "/checkpoints", ec)) {
    if (e.path().extension() == ".cp") ++checkpoints;
  }
  Query edge;
  edge.limit = 1;
  uint64_t first_seq = 0, last_seq = 0;
  EventView e;
  if (auto it = QueryDirectory(global.dir, edge); it.ok() && (*it)->Next(&e)) first_seq = e.seq;
  edge.descending = true;
  if (auto it = QueryDirectory(global.dir, edge); it.ok() && (*it)->Next(&e)) last_seq = e.seq;
  const uint64_t events = first_seq == 0 ? 0 : last_seq - first_seq + 1;
  // A running `stele serve` publishes its live counters (query cache, rate
  // limits, auth failures) here once a second.
  std::string serving = "null";
  ConfinedEnv data_dir(global.dir);
  if (auto text = ReadFileToString(&data_dir, global.dir + "/serve-status.json", 1 << 16); text.ok()) {
    const size_t pid_at = text->find("\"pid\":");
    const long pid = pid_at == std::string::npos ? 0 : std::strtol(text->c_str() + pid_at + 6, nullptr, 10);
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) == 0) {
      serving = *text;
      while (!serving.empty() && serving.back() == '\n') serving.pop_back();
    }
  }
  std::printf("{\"first_seq\":%llu,\"last_seq\":%llu,\"events\":%llu,\"segments\":%llu,\"sealed_with_index\":%llu,\"segment_bytes\":%llu,"
              "\"index_bytes\":%llu,\"lead_run_bytes\":%llu,\"merkle_bytes\":%llu,\"checkpoints\":%llu,\"disk_bytes\":%llu,"
              "\"serving\":%s}\n",
              static_cast<unsigned long long>(first_seq), static_cast<unsigned long long>(last_seq),
              static_cast<unsigned long long>(events), static_cast<unsigned long long>(segments),
              static_cast<unsigned long long>(sealed_indexes), static_cast<unsigned long long>(segment_bytes),
              static_cast<unsigned long long>(index_bytes), static_cast<unsigned long long>(lead_run_bytes),
              static_cast<unsigned long long>(DiskBytes(global.dir + "/merkle")),
              static_cast<unsigned long long>(checkpoints), static_cast<unsigned long long>(DiskBytes(global.dir)),
              serving.c_str());
  return kExitOk;
}

int RunStats(const GlobalFlags& global, const StatsFlags& flags) {
  if (flags.engine) return RunEngineStats(global);
  auto query = flags.filters.ToQuery();
  if (!query) return kExitUsage;
  StatsBy by;
  if (!ParseStatsBy(flags.by, &by)) {
    std::fprintf(stderr, "stele: --by \"%s\": must be type, actor, source, workflow, lead, minute, hour or day\n",
                 flags.by.c_str());
    return kExitUsage;
  }
  std::string format = flags.format.empty() ? (::isatty(STDOUT_FILENO) ? "table" : "json") : flags.format;
  if (format != "table" && format != "json") {
    std::fprintf(stderr, "stele: --format \"%s\": must be table or json\n", format.c_str());
    return kExitUsage;
  }
  auto r = StatsDirectory(global.dir, *query, by, flags.top);
  if (!r.ok()) return ReportError(r.status());
  if (format == "json") {
    const std::string out = StatsToJson(flags.by, *r) + "\n";
    std::fputs(out.c_str(), stdout);
  } else {
    std::printf("%-40s %12s\n", flags.by.c_str(), "count");
    for (const auto& row : r->rows) {
      std::printf("%-40s %12llu\n", row.key.c_str(), static_cast<unsigned long long>(row.count));
    }
    std::printf("%-40s %12llu  (%s%llu groups%s)\n", "total", static_cast<unsigned long long>(r->total),
                r->groups_exact ? "" : "at least ", static_cast<unsigned long long>(r->groups),
                r->without ? (", " + std::to_string(r->without) + " without the field").c_str() : "");
  }
  return kExitOk;
}

}  // namespace

Command RegisterStats(CLI::App& app, const GlobalFlags& global) {
  auto flags = std::make_shared<StatsFlags>();
  CLI::App* sub = app.add_subcommand("stats", "count events by field or time bucket");
  flags->filters.AddTo(sub);
  sub->add_option("--by", flags->by, "type | actor | source | workflow | lead | minute | hour | day")
      ->default_str("type");
  sub->add_option("--top", flags->top, "rows to print (0 = all): top by count, or the first time buckets")
      ->default_str("20");
  sub->add_option("--format", flags->format, "table | json (default: table on a terminal, else json)");
  sub->add_flag("--engine", flags->engine, "what the data directory holds: events, segments, indexes, bytes");
  return {sub, [&global, flags] { return RunStats(global, *flags); }};
}

}  // namespace stele::cli
