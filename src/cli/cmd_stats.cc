// stele stats: counts by field or time bucket over any filter.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "stele/stats.h"

namespace stele::cli {
namespace {

struct StatsFlags {
  FilterFlags filters;
  std::string by = "type";
  size_t top = 20;
  std::string format;
};

int RunStats(const GlobalFlags& global, const StatsFlags& flags) {
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
    std::string out = "{\"by\":" + JsonQuote(flags.by) + ",\"total\":" + std::to_string(r->total) +
                      ",\"without\":" + std::to_string(r->without) + ",\"groups\":" + std::to_string(r->groups) +
                      ",\"rows\":[";
    for (size_t i = 0; i < r->rows.size(); ++i) {
      if (i) out += ",";
      out += "{\"key\":" + JsonQuote(r->rows[i].key) + ",\"count\":" + std::to_string(r->rows[i].count) + "}";
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
  return {sub, [&global, flags] { return RunStats(global, *flags); }};
}

}  // namespace stele::cli
