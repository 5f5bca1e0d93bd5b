#include "event/import_mapping.h"

#include <simdjson.h>

#include "util/json_escape.h"
#include "util/time.h"

namespace stele {
namespace {

namespace dom = simdjson::dom;

constexpr size_t kMaxTypeBytes = 64;
constexpr size_t kMaxIndexedBytes = 256;

// The element at a JSON pointer, if there is one.
std::optional<dom::element> At(dom::element doc, const std::string& pointer) {
  if (pointer.empty()) return doc;
  dom::element e;
  if (doc.at_pointer(pointer).get(e) != simdjson::SUCCESS) return std::nullopt;
  return e;
}

// A string an indexed field can hold: 1-256 bytes, no control characters.
bool IndexableString(std::string_view v) {
  if (v.empty() || v.size() > kMaxIndexedBytes) return false;
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// An exported event without its seq ("{" and what follows the comma); the
// record as it is when it has none.
std::string_view WithoutLeadingSeq(std::string_view record) {
  size_t comma = 0;
  if (!ExportedSeq(record, &comma)) return record;
  thread_local std::string out;  // the caller copies it
  out.assign("{");
  out.append(record.substr(comma + 1));
  return out;
}

bool IsPointer(const std::string& p) { return p.empty() || p[0] == '/'; }

bool JsonSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The elements of the array that starts at text[*i] ('['), as views, with
// *i left after its ']'; false if the text ends first.  Only strings and
// nesting are followed: each element is judged later, by the parser.
bool SplitArray(std::string_view text, size_t* i, std::vector<std::string_view>* out) {
  size_t pos = *i + 1, start = pos;
  int depth = 0;
  bool in_string = false;
  auto push = [&](size_t end) {
    size_t b = start, e = end;
    while (b < e && JsonSpace(text[b])) ++b;
    while (e > b && JsonSpace(text[e - 1])) --e;
    if (e > b) out->push_back(text.substr(b, e - b));
  };
  for (; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (in_string) {
      if (c == '\\') ++pos;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (depth == 0) {
        if (c != ']') return false;
        push(pos);
        *i = pos + 1;
        return true;
      }
      --depth;
    } else if (c == ',' && depth == 0) {
      push(pos);
      start = pos + 1;
    }
  }
  return false;
}

}  // namespace

std::optional<uint64_t> ExportedSeq(std::string_view line, size_t* comma) {
  size_t i = 0;
  auto skip_space = [&] {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  };
  auto take = [&](std::string_view token) {
    skip_space();
    if (line.substr(i, token.size()) != token) return false;
    i += token.size();
    return true;
  };
  if (!take("{") || !take("\"seq\"") || !take(":")) return std::nullopt;
  skip_space();
  const size_t digits = i;
  uint64_t seq = 0;
  for (; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i) {
    if (i - digits == 19) return std::nullopt;  // past any u64 seq a log hands out
    seq = seq * 10 + static_cast<uint64_t>(line[i] - '0');
  }
  if (i == digits) return std::nullopt;
  skip_space();
  if (i >= line.size() || line[i] != ',') return std::nullopt;
  *comma = i;
  return seq;
}

std::optional<int64_t> ParseImportedTime(std::string_view text) {
  std::string why;
  if (auto ns = ParseRfc3339(text, &why)) return ns;
  // Logs often write "2024-05-01 12:00:00.123" or leave the offset out.
  std::string t(text);
  if (t.size() > 10 && t[10] == ' ') t[10] = 'T';
  if (auto ns = ParseRfc3339(t, &why)) return ns;
  return ParseRfc3339(t + "Z", &why);
}

namespace {

}  // namespace

std::optional<ImportMapping::Format> ImportMapping::ParseFormat(std::string_view name) {
  if (name == "auto") return Format::kAuto;
  if (name == "events") return Format::kEvents;
  if (name == "k8s") return Format::kK8s;
  if (name == "cloudtrail") return Format::kCloudTrail;
  if (name == "json") return Format::kJson;
  return std::nullopt;
}

std::string ImportedTypeName(std::string_view prefix, std::string_view value) {
  std::string joined(prefix);
  if (!joined.empty()) joined.push_back('.');
  joined.append(value);
  std::string out;
  bool part_open = false;
  for (char ch : joined) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '.') {
      part_open = false;
      continue;
    }
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) c = '_';
    if (!part_open && !out.empty()) out.push_back('.');
    part_open = true;
    out.push_back(static_cast<char>(c));
  }
  if (out.size() > kMaxTypeBytes) out.resize(kMaxTypeBytes);
  while (!out.empty() && out.back() == '.') out.pop_back();
  if (out.empty() || out[0] < 'a' || out[0] > 'z') return {};
  return out;
}

Result<ImportMapping> ImportMapping::Create(Format format, const Fields& f) {
  for (const std::string* p : {&f.type_from, &f.actor_from, &f.source_from, &f.lead_from, &f.workflow_from, &f.ts_from}) {
    if (!IsPointer(*p)) return Status::InvalidArgument("pointer \"" + *p + "\": a JSON pointer starts with '/'");
  }
  if (format == Format::kJson && f.type.empty() && f.type_from.empty()) {
    return Status::InvalidArgument("format json: give the events a type (--type T) or take it from the record (--type-from /pointer)");
  }
  // A given pointer replaces the format's own list.
  auto pick = [](const std::string& given, std::vector<std::string> own) {
    return given.empty() ? own : std::vector<std::string>{given};
  };
  auto rule = [&](std::string prefix, std::vector<std::string> type, std::vector<std::string> actor,
                  std::vector<std::string> source, std::vector<std::string> ts) {
    Rule r;
    r.type_prefix = f.type.empty() ? std::move(prefix) : f.type;
    r.type_from = pick(f.type_from, std::move(type));
    r.actor_from = pick(f.actor_from, std::move(actor));
    r.source_from = pick(f.source_from, std::move(source));
    r.lead_from = pick(f.lead_from, {});
    r.workflow_from = pick(f.workflow_from, {});
    if (!f.ingest_time) r.ts_from = pick(f.ts_from, std::move(ts));
    return r;
  };
  Rule k8s = rule("k8s", {"/verb"}, {"/user/username"}, {"/sourceIPs/0"},
                  {"/requestReceivedTimestamp", "/stageTimestamp", "/timestamp"});
  Rule cloudtrail = rule("cloudtrail", {"/eventName"}, {"/userIdentity/arn"}, {"/sourceIPAddress"}, {"/eventTime"});
  Rule json = rule("", {}, {}, {}, {});
  return ImportMapping(format, std::move(k8s), std::move(cloudtrail), std::move(json));
}

void ImportMapping::Records(std::string_view line, std::vector<std::string_view>* out) const {
  out->clear();
  if (format_ == Format::kCloudTrail || format_ == Format::kAuto) {
    size_t i = 0;
    auto skip = [&] {
      while (i < line.size() && JsonSpace(line[i])) ++i;
    };
    auto take = [&](std::string_view token) {
      skip();
      if (line.substr(i, token.size()) != token) return false;
      i += token.size();
      return true;
    };
    if (take("{") && take("\"Records\"") && take(":")) {
      skip();
      if (i < line.size() && line[i] == '[' && SplitArray(line, &i, out) && take("}")) {
        skip();
        if (i == line.size()) return;
      }
    }
    out->clear();
  }
  out->push_back(line);
}

Status ImportMapping::Map(std::string_view record, std::string* event) const {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!record.empty() && space(record.back())) record.remove_suffix(1);
  while (!record.empty() && space(record.front())) record.remove_prefix(1);
  if (format_ == Format::kEvents) {
    event->assign(WithoutLeadingSeq(record));
    return Status::Ok();
  }
  thread_local dom::parser parser;
  dom::element doc;
  dom::object obj;
  if (parser.parse(record.data(), record.size()).get(doc) != simdjson::SUCCESS || doc.get(obj) != simdjson::SUCCESS) {
    return Status::InvalidArgument("record: not a JSON object");
  }
  if (format_ != Format::kAuto) {
    return MapWith(format_ == Format::kK8s ? k8s_ : format_ == Format::kCloudTrail ? cloudtrail_ : json_, record,
                   doc, event);
  }
  // Auto: by the keys the record has.
  std::string_view s;
  const bool k8s = (obj["apiVersion"].get(s) == simdjson::SUCCESS && s.starts_with("audit.k8s.io/")) ||
                   (obj["verb"].error() == simdjson::SUCCESS && obj["requestURI"].error() == simdjson::SUCCESS);
  if (k8s) return MapWith(k8s_, record, doc, event);
  if (obj["eventName"].error() == simdjson::SUCCESS &&
      (obj["eventSource"].error() == simdjson::SUCCESS || obj["eventVersion"].error() == simdjson::SUCCESS)) {
    return MapWith(cloudtrail_, record, doc, event);
  }
  if (obj["type"].get(s) == simdjson::SUCCESS) {
    event->assign(WithoutLeadingSeq(record));
    return Status::Ok();
  }
  return Status::InvalidArgument(
      "record: not a stele event, Kubernetes audit event or CloudTrail record (use --format json with --type or "
      "--type-from)");
}

Status ImportMapping::MapWith(const Rule& rule, std::string_view record, dom::element doc, std::string* event) const {
  std::string type;
  if (rule.type_from.empty()) {
    type = rule.type_prefix;  // a fixed type, checked by the validator
  } else {
    for (const std::string& p : rule.type_from) {
      std::string_view v;
      auto e = At(doc, p);
      if (!e || e->get(v) != simdjson::SUCCESS) continue;
      type = ImportedTypeName(rule.type_prefix, v);
      if (type.empty()) return Status::InvalidArgument("field \"" + p + "\": \"" + std::string(v.substr(0, 64)) + "\" makes no type name");
      break;
    }
    if (type.empty()) return Status::InvalidArgument("field \"" + rule.type_from.front() + "\": missing, or not a string");
  }
  event->assign("{\"type\":");
  AppendJsonString(type, event);
  for (const std::string& p : rule.ts_from) {
    auto e = At(doc, p);
    if (!e) continue;
    std::string_view v;
    int64_t i = 0;
    if (e->get(v) == simdjson::SUCCESS) {
      const std::optional<int64_t> ns = ParseImportedTime(v);
      if (!ns) {
        return Status::InvalidArgument("field \"" + p + "\": \"" + std::string(v.substr(0, 64)) +
                                       "\" is not a time (RFC 3339, or YYYY-MM-DD HH:MM:SS taken as UTC)");
      }
      event->append(",\"ts\":").append(std::to_string(*ns));
    } else if (e->get(i) == simdjson::SUCCESS) {
      event->append(",\"ts\":").append(std::to_string(i));
    } else {
      return Status::InvalidArgument("field \"" + p + "\": a time is a string (RFC 3339) or integer nanoseconds");
    }
    break;
  }
  const std::pair<const char*, const std::vector<std::string>*> indexed[] = {
      {"actor", &rule.actor_from},
      {"source", &rule.source_from},
      {"lead_id", &rule.lead_from},
      {"workflow_id", &rule.workflow_from},
  };
  for (const auto& [name, pointers] : indexed) {
    for (const std::string& p : *pointers) {
      std::string_view v;
      auto e = At(doc, p);
      if (!e || e->get(v) != simdjson::SUCCESS || !IndexableString(v)) continue;
      event->append(",\"").append(name).append("\":");
      AppendJsonString(v, event);
      break;
    }
  }
  event->append(",\"data\":");
  event->append(record);
  event->push_back('}');
  return Status::Ok();
}

}  // namespace stele
