#include "query/filter.h"

#include <re2/re2.h>

namespace stele {

std::string CheckJsonPointer(std::string_view p) {
  if (!p.empty() && p[0] != '/') return "must start with '/' (RFC 6901 JSON pointer)";
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '~' && (i + 1 == p.size() || (p[i + 1] != '0' && p[i + 1] != '1'))) {
      return "'~' must be followed by 0 or 1 (RFC 6901)";
    }
  }
  return {};
}

EventFilter::EventFilter(const Query& query) : query_(query) {
  if (query_.type && query_.type->ends_with(".*")) {
    type_is_prefix_ = true;
    type_prefix_ = query_.type->substr(0, query_.type->size() - 1);  // keep the dot
  } else if (query_.type && *query_.type == "*") {
    query_.type.reset();
  }
}

EventFilter::~EventFilter() = default;

Result<std::unique_ptr<EventFilter>> EventFilter::Create(const Query& query) {
  std::unique_ptr<EventFilter> f(new EventFilter(query));
  for (const auto& [pointer, value] : query.where) {
    std::string why = CheckJsonPointer(pointer);
    if (!why.empty()) return Status::InvalidArgument("--where \"" + pointer + "\": " + why);
  }
  if (query.regex_field) {
    if (!query.regex) return Status::InvalidArgument("--regex-field: needs a pattern");
    std::string why = CheckJsonPointer(*query.regex_field);
    if (!why.empty()) return Status::InvalidArgument("--regex-field \"" + *query.regex_field + "\": " + why);
  }
  if (query.regex) {
    if (query.regex->size() > query.max_regex_bytes) {
      return Status::InvalidArgument("--regex: pattern is " + std::to_string(query.regex->size()) +
                                     " bytes; the regex limit is " + std::to_string(query.max_regex_bytes));
    }
    RE2::Options options;
    options.set_log_errors(false);
    options.set_max_mem(query.max_regex_program_bytes);  // bounds the compiled program (and DFA cache)
    f->regex_ = std::make_unique<RE2>(*query.regex, options);
    if (!f->regex_->ok()) {
      const bool too_big = f->regex_->error_code() == RE2::ErrorPatternTooLarge;
      return Status::InvalidArgument(
          "--regex: " + f->regex_->error() +
          (too_big ? " (compiled, it needs more than the regex program limit of " +
                         std::to_string(query.max_regex_program_bytes) + " bytes)"
                   : " (RE2 syntax: linear time, no backreferences or lookarounds)"));
    }
  }
  return f;
}

bool EventFilter::MayMatchRange(uint64_t first_seq, uint64_t last_seq, int64_t min_ts, int64_t max_ts) const {
  if (query_.after != 0) {
    if (query_.descending ? first_seq >= query_.after : last_seq <= query_.after) return false;
  }
  if (query_.since_ns && max_ts < *query_.since_ns) return false;
  if (query_.until_ns && min_ts >= *query_.until_ns) return false;
  if (query_.seq_from && last_seq < *query_.seq_from) return false;
  if (query_.seq_to && first_seq > *query_.seq_to) return false;
  return true;
}

bool EventFilter::DataField(std::string_view data, const std::string& pointer, std::string* out) {
  if (data.empty()) return false;
  padded_.assign(data);
  padded_.append(simdjson::SIMDJSON_PADDING, '\0');
  simdjson::ondemand::document doc;
  if (parser_.iterate(padded_.data(), data.size(), padded_.size()).get(doc)) return false;
  simdjson::ondemand::value v;
  if (doc.at_pointer(pointer).get(v)) return false;
  simdjson::ondemand::json_type type;
  if (v.type().get(type)) return false;
  if (type == simdjson::ondemand::json_type::string) {
    std::string_view s;
    if (v.get_string().get(s)) return false;
    out->assign(s);
    return true;
  }
  if (type == simdjson::ondemand::json_type::object) {
    std::string_view raw;
    simdjson::ondemand::object obj;
    if (v.get_object().get(obj) || obj.raw_json().get(raw)) return false;
    out->assign(raw);
  } else if (type == simdjson::ondemand::json_type::array) {
    std::string_view raw;
    simdjson::ondemand::array arr;
    if (v.get_array().get(arr) || arr.raw_json().get(raw)) return false;
    out->assign(raw);
  } else {
    std::string_view token = v.raw_json_token();
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' ||
                              token.back() == '\r')) {
      token.remove_suffix(1);
    }
    out->assign(token);
  }
  return true;
}

bool EventFilter::Matches(const EventView& e) {
  if (!SeqInCursor(e.seq)) return false;
  if (query_.seq_from && e.seq < *query_.seq_from) return false;
  if (query_.seq_to && e.seq > *query_.seq_to) return false;
  if (query_.since_ns && e.ts_ns < *query_.since_ns) return false;
  if (query_.until_ns && e.ts_ns >= *query_.until_ns) return false;
  if (query_.type) {
    if (type_is_prefix_ ? !e.type.starts_with(type_prefix_) : e.type != *query_.type) return false;
  }
  if (query_.actor && e.actor != *query_.actor) return false;
  if (query_.source && e.source != *query_.source) return false;
  if (query_.lead_id && e.lead_id != *query_.lead_id) return false;
  if (query_.workflow_id && e.workflow_id != *query_.workflow_id) return false;
  for (const auto& [pointer, value] : query_.where) {
    if (!DataField(e.data, pointer, &scratch_) || scratch_ != value) return false;
  }
  if (regex_) {
    if (query_.regex_field) {
      if (!DataField(e.data, *query_.regex_field, &scratch_)) return false;
    } else {
      scratch_.clear();
      AppendEventJson(e, &scratch_);
    }
    if (!RE2::PartialMatch(scratch_, *regex_)) return false;
  }
  return true;
}

}  // namespace stele
