#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "query/query_params.h"
#include "util/json_escape.h"
#include "util/time.h"

namespace stele::cli {

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return kExitOk;
    case StatusCode::kInvalidArgument: return kExitUsage;
    case StatusCode::kLocked:
    case StatusCode::kBusy:
    case StatusCode::kRateLimited:
    case StatusCode::kReadOnly:
    case StatusCode::kClosed: return kExitUnavailable;
    default: return kExitIOError;
  }
}

uint64_t DiskBytes(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return std::filesystem::file_size(path, ec);
  uint64_t total = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(path, ec)) {
    if (std::filesystem::is_regular_file(e.symlink_status(ec))) total += e.file_size(ec);  // symlinks not followed
  }
  return total;
}

int ReportError(const Status& status) {
  std::fprintf(stderr, "stele: %s\n", status.ToString().c_str());
  return ExitCodeFor(status);
}

void FilterFlags::AddTo(CLI::App* app) {
  app->add_option("--type", type, "event type, exact or prefix as lead.*");
  app->add_option("--actor", actor, "actor, exact");
  app->add_option("--source", source, "source, exact");
  app->add_option("--lead", lead, "lead_id, exact");
  app->add_option("--workflow", workflow, "workflow_id, exact");
  app->add_option("--since", since, "events at or after this time (RFC 3339 or integer ns)");
  app->add_option("--until", until, "events before this time (RFC 3339 or integer ns)");
  app->add_option("--where", where, "data field equality, /json/pointer=value (repeatable, ANDed)");
  app->add_option("--regex", regex, "RE2 pattern searched in the event's JSON");
  app->add_option("--regex-field", regex_field, "RE2 pattern searched in one data field: /pointer RE")
      ->expected(2)
      ->type_name("POINTER RE");
}

std::optional<Query> FilterFlags::ToQuery() const {
  if (!regex.empty() && !regex_field.empty()) {
    std::fprintf(stderr, "stele: use --regex or --regex-field, not both\n");
    return std::nullopt;
  }
  QueryParams params;
  for (auto [name, value] : {std::pair{"type", &type}, std::pair{"actor", &actor}, std::pair{"source", &source},
                             std::pair{"lead", &lead}, std::pair{"workflow", &workflow}, std::pair{"since", &since},
                             std::pair{"until", &until}, std::pair{"regex", &regex}}) {
    if (!value->empty()) params.emplace_back(name, *value);
  }
  for (const std::string& w : where) params.emplace_back("where", w);
  if (regex_field.size() == 2) {
    params.emplace_back("regex_field", regex_field[0]);
    params.emplace_back("regex", regex_field[1]);
  }
  auto q = QueryFromParams(params, "--");
  if (!q.ok()) {
    std::fprintf(stderr, "stele: %s\n", q.status().message().c_str());
    return std::nullopt;
  }
  return std::move(q).value();
}

}  // namespace stele::cli
