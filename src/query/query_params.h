// QueryFromParams: a Query from named parameters, the one parser behind the
// command line's filter flags and the server's query string (SPEC §4-§6).
//
// Parameters: type, actor, source, lead, workflow, since, until (RFC 3339
// or integer ns), where (/pointer=value, repeatable), regex, regex_field
// (/pointer, with regex), after, limit, desc (true|false|1|0), seq_from,
// seq_to.  An unknown name, a repeated single-valued one or a bad value is
// kInvalidArgument naming `<prefix><name>` and the reason.  Regexes are only
// checked for size here; EventFilter compiles them (RE2, bounded).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stele/query.h"
#include "stele/status.h"

namespace stele {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// prefix: how names are shown in errors ("--" on the command line).
Result<Query> QueryFromParams(const QueryParams& params, std::string_view prefix = "");

}  // namespace stele
