// stele stats: counts by field or time bucket over any filter.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "stele/stats.h"

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
  uint64_t segments = 0, sealed_indexes = 0, segment_bytes = 0, index_bytes = 0;
  for (auto& e : std::filesystem::directory_iterator(seg_dir, ec)) {
    const std::string ext = e.path().extension().string();
    if (ext == ".seg") {
      ++segments;
      segment_bytes += e.file_size(ec);
    } else if (ext == ".fidx") {
      ++sealed_indexes;
      index_bytes += e.file_size(ec);
    } else if (ext == ".idx") {
      index_bytes += e.file_size(ec);
    }
  }
  uint64_t checkpoints = 0;
  for (auto& e : std::filesystem::directory_iterator(global.dir + "/checkpoints", ec)) {
    if (e.path().extension() == ".cp") ++checkpoints;
  }
  Query last;
  last.descending = true;
  last.limit = 1;
  uint64_t events = 0;
  auto it = QueryDirectory(global.dir, last);
  EventView e;
  if (it.ok() && (*it)->Next(&e)) events = e.seq;
  std::printf("{\"events\":%llu,\"segments\":%llu,\"sealed_with_index\":%llu,\"segment_bytes\":%llu,"
              "\"index_bytes\":%llu,\"merkle_bytes\":%llu,\"checkpoints\":%llu,\"disk_bytes\":%llu}\n",
              static_cast<unsigned long long>(events), static_cast<unsigned long long>(segments),
              static_cast<unsigned long long>(sealed_indexes), static_cast<unsigned long long>(segment_bytes),
              static_cast<unsigned long long>(index_bytes),
              static_cast<unsigned long long>(DiskBytes(global.dir + "/merkle")),
              static_cast<unsigned long long>(checkpoints), static_cast<unsigned long long>(DiskBytes(global.dir)));
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
    std::string out = "{\"by\":" + JsonString(flags.by) + ",\"total\":" + std::to_string(r->total) +
                      ",\"without\":" + std::to_string(r->without) + ",\"groups\":" + std::to_string(r->groups) +
                      ",\"rows\":[";
    for (size_t i = 0; i < r->rows.size(); ++i) {
      if (i) out += ",";
      out += "{\"key\":" + JsonString(r->rows[i].key) + ",\"count\":" + std::to_string(r->rows[i].count) + "}";
    }
    out += "]}\n";
    std::fputs(out.c_str(), stdout);
  } else {
    std::printf("%-40s %12s\n", flags.by.c_str(), "count");
    for (const auto& row : r->rows) {
      std::printf("%-40s %12llu\n", row.key.c_str(), static_cast<unsigned long long>(row.count));
    }
    std::printf("%-40s %12llu  (%llu groups%s)\n", "total", static_cast<unsigned long long>(r->total),
                static_cast<unsigned long long>(r->groups),
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
