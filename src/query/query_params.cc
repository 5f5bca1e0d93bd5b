#include "query/query_params.h"

#include <set>

#include "util/time.h"
#include "util/units.h"

namespace stele {
Result<Query> QueryFromParams(const QueryParams& params, std::string_view prefix) {
  Query q;
  std::set<std::string> seen;
  std::string regex_field;
  auto bad = [&](std::string_view name, const std::string& why) {
    return Status::InvalidArgument("parameter \"" + std::string(prefix) + std::string(name) + "\": " + why);
  };
  for (const auto& [name, value] : params) {
    if (name != "where" && !seen.insert(name).second) return bad(name, "given more than once");
    if (name == "where") {
      const size_t eq = value.find('=');
      if (eq == std::string::npos || value.empty() || value[0] != '/') {
        return bad(name, "want /json/pointer=value");
      }
      q.where.emplace_back(value.substr(0, eq), value.substr(eq + 1));
      continue;
    }
    std::optional<std::string>* text_field = nullptr;
    if (name == "type") text_field = &q.type;
    else if (name == "actor") text_field = &q.actor;
    else if (name == "source") text_field = &q.source;
    else if (name == "lead") text_field = &q.lead_id;
    else if (name == "workflow") text_field = &q.workflow_id;
    else if (name == "regex") text_field = &q.regex;
    if (text_field != nullptr) {
      if (value.empty()) return bad(name, "must not be empty");
      *text_field = value;
      continue;
    }
    if (name == "since" || name == "until") {
      std::string why;
      auto ns = ParseTimeArg(value, &why);
      if (!ns) return bad(name, why);
      (name == "since" ? q.since_ns : q.until_ns) = *ns;
    } else if (name == "regex_field") {
      if (value.empty() || value[0] != '/') return bad(name, "want a JSON pointer into data, like /status");
      regex_field = value;
    } else if (name == "after" || name == "limit" || name == "seq_from" || name == "seq_to") {
      uint64_t v = 0;
      if (!ParseU64(value, &v)) return bad(name, "want a non-negative integer");
      if (name == "after") q.after = v;
      else if (name == "limit") q.limit = v;
      else if (name == "seq_from") q.seq_from = v;
      else q.seq_to = v;
    } else if (name == "desc") {
      if (value == "true" || value == "1" || value.empty()) q.descending = true;
      else if (value == "false" || value == "0") q.descending = false;
      else return bad(name, "want true or false");
    } else {
      return bad(name, "unknown parameter");
    }
  }
  if (!regex_field.empty()) {
    if (!q.regex) return bad("regex_field", "needs regex too");
    q.regex_field = regex_field;
  }
  return q;
}

}  // namespace stele
