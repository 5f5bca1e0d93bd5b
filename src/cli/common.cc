#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
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
    if (e.is_regular_file(ec)) total += e.file_size(ec);
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
  Query q;
  auto set = [](const std::string& v, std::optional<std::string>* out) {
    if (!v.empty()) *out = v;
  };
  set(type, &q.type);
  set(actor, &q.actor);
  set(source, &q.source);
  set(lead, &q.lead_id);
  set(workflow, &q.workflow_id);
  for (auto [text, flag, out] : {std::tuple{&since, "--since", &q.since_ns}, std::tuple{&until, "--until", &q.until_ns}}) {
    if (text->empty()) continue;
    std::string why;
    auto ns = ParseTimeArg(*text, &why);
    if (!ns) {
      std::fprintf(stderr, "stele: %s \"%s\": %s\n", flag, text->c_str(), why.c_str());
      return std::nullopt;
    }
    *out = *ns;
  }
  for (const std::string& w : where) {
    const size_t eq = w.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "stele: --where \"%s\": want /json/pointer=value\n", w.c_str());
      return std::nullopt;
    }
    q.where.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  if (!regex.empty() && !regex_field.empty()) {
    std::fprintf(stderr, "stele: use --regex or --regex-field, not both\n");
    return std::nullopt;
  }
  if (!regex.empty()) q.regex = regex;
  if (regex_field.size() == 2) {
    q.regex_field = regex_field[0];
    q.regex = regex_field[1];
  }
  return q;
}

namespace {

// Leading decimal digits of text as a u64; false on none or overflow.
bool ParseLeadingNumber(std::string_view text, uint64_t* value, size_t* used) {
  uint64_t v = 0;
  size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  *value = v;
  *used = i;
  return i > 0;
}

}  // namespace

Result<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  uint64_t n = 0;
  size_t used = 0;
  auto bad = [&] {
    return Status::InvalidArgument("\"" + std::string(text) + "\" is not a duration (like 45s, 90m, 12h, 30d)");
  };
  if (!ParseLeadingNumber(text, &n, &used)) return bad();
  const std::string_view unit = text.substr(used);
  uint64_t scale;
  if (unit.empty() || unit == "s") scale = 1;
  else if (unit == "m") scale = 60;
  else if (unit == "h") scale = 3600;
  else if (unit == "d") scale = 86400;
  else return bad();
  if (n > static_cast<uint64_t>(INT64_MAX) / 1'000'000'000 / scale) return bad();
  return std::chrono::nanoseconds(static_cast<int64_t>(n * scale * 1'000'000'000));
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  uint64_t n = 0;
  size_t used = 0;
  auto bad = [&] {
    return Status::InvalidArgument("\"" + std::string(text) + "\" is not a byte size (like 4096, 512M, 10G)");
  };
  if (!ParseLeadingNumber(text, &n, &used)) return bad();
  std::string_view unit = text.substr(used);
  if (unit.size() >= 2 && unit.substr(unit.size() - 2) == "iB") unit.remove_suffix(2);
  else if (!unit.empty() && unit.back() == 'B') unit.remove_suffix(1);
  int shift = 0;
  if (unit.empty()) shift = 0;
  else if (unit == "K" || unit == "k") shift = 10;
  else if (unit == "M") shift = 20;
  else if (unit == "G") shift = 30;
  else if (unit == "T") shift = 40;
  else return bad();
  if (shift > 0 && n > (UINT64_MAX >> shift)) return bad();
  return n << shift;
}

}  // namespace stele::cli
