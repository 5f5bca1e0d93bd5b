#include "event/validator.h"

#include <algorithm>
#include <string>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "util/json_escape.h"
#include "util/time.h"

namespace stele {
namespace {

namespace od = simdjson::ondemand;
constexpr int64_t kMaxFutureNs = 24LL * 3600 * 1'000'000'000;

// Error found while walking `data`: the reason plus the JSON pointer path,
// built innermost-first as the recursion unwinds.
struct WalkError {
  std::string reason;
  std::string path;  // "/a/0/b"
};

bool IsNumberText(std::string_view s) {
  // RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  size_t i = 0;
  const size_t n = s.size();
  auto digit = [&](size_t k) { return k < n && s[k] >= '0' && s[k] <= '9'; };
  if (i < n && s[i] == '-') ++i;
  if (!digit(i)) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (digit(i)) ++i;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  return i == n;
}

void EscapePointerToken(std::string_view key, std::string* out) {
  for (char c : key) {
    if (c == '~') {
      out->append("~0");
    } else if (c == '/') {
      out->append("~1");
    } else {
      out->push_back(c);
    }
  }
}

// Duplicate check over keys [first, end) of key_stack.
bool HasDuplicate(std::vector<std::string_view>& keys, size_t first) {
  const size_t n = keys.size() - first;
  if (n < 2) return false;
  if (n <= 8) {
    for (size_t i = first; i < keys.size(); ++i) {
      for (size_t j = i + 1; j < keys.size(); ++j) {
        if (keys[i] == keys[j]) return true;
      }
    }
    return false;
  }
  std::vector<std::string_view> sorted(keys.begin() + static_cast<long>(first), keys.end());
  std::sort(sorted.begin(), sorted.end());
  return std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end();
}

std::string SimdError(simdjson::error_code e) { return simdjson::error_message(e); }

// Validates one JSON value completely (structure, strings, number grammar,
// duplicate keys, depth).  `depth` is the depth of this value's container.
bool WalkValue(od::value value, int depth, const ValidationLimits& limits, std::vector<std::string_view>& keys,
               WalkError* err) {
  od::json_type type;
  if (auto e = value.type().get(type)) {
    err->reason = "invalid JSON: " + SimdError(e);
    return false;
  }
  switch (type) {
    case od::json_type::object: {
      if (depth + 1 > limits.max_depth) {
        err->reason = "nesting deeper than " + std::to_string(limits.max_depth) + " (the depth limit)";
        return false;
      }
      od::object obj;
      if (auto e = value.get_object().get(obj)) {
        err->reason = "invalid JSON: " + SimdError(e);
        return false;
      }
      const size_t first = keys.size();
      for (auto field : obj) {
        std::string_view key;
        if (auto e = field.unescaped_key().get(key)) {
          err->reason = "invalid JSON: " + SimdError(e);
          keys.resize(first);
          return false;
        }
        if (key.size() > limits.max_string_bytes) {
          err->reason = "key is " + std::to_string(key.size()) + " bytes; the string limit is " +
                        std::to_string(limits.max_string_bytes);
          keys.resize(first);
          return false;
        }
        if (keys.size() - first >= limits.max_object_keys) {
          err->reason = "object has more than " + std::to_string(limits.max_object_keys) + " keys (the key-count limit)";
          keys.resize(first);
          return false;
        }
        keys.push_back(key);
        od::value child;
        if (auto e = field.value().get(child)) {
          err->reason = "invalid JSON: " + SimdError(e);
          keys.resize(first);
          return false;
        }
        if (!WalkValue(child, depth + 1, limits, keys, err)) {
          std::string prefix = "/";
          EscapePointerToken(key, &prefix);
          err->path.insert(0, prefix);
          keys.resize(first);
          return false;
        }
      }
      const bool dup = HasDuplicate(keys, first);
      if (dup) {
        // Report the first duplicated key.
        std::string_view dup_key;
        for (size_t i = first; i < keys.size() && dup_key.empty(); ++i) {
          for (size_t j = i + 1; j < keys.size(); ++j) {
            if (keys[i] == keys[j]) {
              dup_key = keys[i];
              break;
            }
          }
        }
        err->reason = "duplicate key \"" + std::string(dup_key) + "\"";
      }
      keys.resize(first);
      return !dup;
    }
    case od::json_type::array: {
      if (depth + 1 > limits.max_depth) {
        err->reason = "nesting deeper than " + std::to_string(limits.max_depth) + " (the depth limit)";
        return false;
      }
      od::array arr;
      if (auto e = value.get_array().get(arr)) {
        err->reason = "invalid JSON: " + SimdError(e);
        return false;
      }
      size_t index = 0;
      for (auto element : arr) {
        od::value child;
        if (auto e = element.get(child)) {
          err->reason = "invalid JSON: " + SimdError(e);
          return false;
        }
        if (!WalkValue(child, depth + 1, limits, keys, err)) {
          err->path.insert(0, "/" + std::to_string(index));
          return false;
        }
        ++index;
      }
      return true;
    }
    case od::json_type::string: {
      std::string_view s;
      if (auto e = value.get_string().get(s)) {
        err->reason = "invalid string: " + SimdError(e);
        return false;
      }
      if (s.size() > limits.max_string_bytes) {
        err->reason = "string is " + std::to_string(s.size()) + " bytes; the string limit is " +
                      std::to_string(limits.max_string_bytes);
        return false;
      }
      return true;
    }
    case od::json_type::number: {
      std::string_view token = value.raw_json_token();
      while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' ||
                                token.back() == '\r')) {
        token.remove_suffix(1);
      }
      if (!IsNumberText(token)) {
        err->reason = "invalid number \"" + std::string(token.substr(0, 40)) + "\"";
        return false;
      }
      return true;
    }
    case od::json_type::boolean: {
      bool b;
      if (auto e = value.get_bool().get(b)) {
        err->reason = "invalid literal: " + SimdError(e);
        return false;
      }
      return true;
    }
    case od::json_type::null: {
      bool is_null = false;
      if (value.is_null().get(is_null) || !is_null) {
        err->reason = "invalid literal";
        return false;
      }
      return true;
    }
  }
  err->reason = "invalid JSON value";
  return false;
}

Status FieldError(std::string_view field, std::string_view reason) {
  return Status::InvalidArgument("field \"" + std::string(field) + "\": " + std::string(reason));
}

// Whether any string of the document can hold a control character after
// unescaping.  Stage 1 has rejected raw C0 bytes inside strings, so one can
// come only from an escape (a backslash), a raw DEL (0x7f), or a raw C1
// control, whose UTF-8 starts with 0xc2.  One pass over the document (AVX2,
// within simdjson's padding) lets CheckIndexedString skip its byte-by-byte
// scan for nearly every event: that scan was 8 % of validation's instructions.
bool MayHoldControlCharacters(simdjson::padded_string_view doc) {
  const char* p = doc.data();
  const char* const end = p + doc.length();
#if defined(__AVX2__)
  static_assert(simdjson::SIMDJSON_PADDING >= 32);
  const __m256i backslash = _mm256_set1_epi8('\\');
  const __m256i del = _mm256_set1_epi8(0x7f);
  const __m256i c1_lead = _mm256_set1_epi8(static_cast<char>(0xc2));
  for (; p < end; p += 32) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i hit = _mm256_or_si256(_mm256_cmpeq_epi8(v, backslash),
                                        _mm256_or_si256(_mm256_cmpeq_epi8(v, del), _mm256_cmpeq_epi8(v, c1_lead)));
    auto mask = static_cast<uint32_t>(_mm256_movemask_epi8(hit));
    if (end - p < 32) mask &= (1u << (end - p)) - 1;  // the padding is not the document
    if (mask != 0) return true;
  }
  return false;
#else
  for (; p < end; ++p) {
    if (*p == '\\' || *p == 0x7f || static_cast<unsigned char>(*p) == 0xc2) return true;
  }
  return false;
#endif
}

// SPEC §1: 1-256 bytes of UTF-8 (already validated by simdjson), no control
// characters (C0, DEL, C1).  `may_hold_controls` is
// MayHoldControlCharacters() of the document the string came from.
std::string CheckIndexedString(std::string_view s, bool may_hold_controls) {
  if (s.empty()) return "must not be empty";
  if (s.size() > kMaxFieldBytes) {
    return "is " + std::to_string(s.size()) + " bytes; limit is " + std::to_string(kMaxFieldBytes);
  }
  if (!may_hold_controls) return {};
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return "contains a control character at byte " + std::to_string(i);
    if (c == 0xc2 && i + 1 < s.size()) {
      const auto d = static_cast<unsigned char>(s[i + 1]);
      if (d >= 0x80 && d <= 0x9f) return "contains a control character at byte " + std::to_string(i);
    }
  }
  return {};
}

enum TopField : unsigned { kType = 1, kTs = 2, kActor = 4, kSource = 8, kLead = 16, kWorkflow = 32, kData = 64 };

}  // namespace

std::string CheckTypeName(std::string_view t, bool allow_reserved) {
  if (t.empty()) return "must not be empty";
  if (t.size() > kMaxTypeBytes) {
    return "is " + std::to_string(t.size()) + " bytes; limit is " + std::to_string(kMaxTypeBytes);
  }
  // ^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$
  auto word = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; };
  if (t[0] < 'a' || t[0] > 'z') return "must start with a lowercase letter (pattern ^[a-z][a-z0-9_]*(\\.[a-z0-9_]+)*$)";
  for (size_t i = 1; i < t.size(); ++i) {
    if (t[i] == '.') {
      if (i + 1 == t.size() || t[i + 1] == '.') return "has an empty segment after '.' (pattern ^[a-z][a-z0-9_]*(\\.[a-z0-9_]+)*$)";
    } else if (!word(t[i])) {
      return "has invalid character at byte " + std::to_string(i) + " (pattern ^[a-z][a-z0-9_]*(\\.[a-z0-9_]+)*$)";
    }
  }
  if (!allow_reserved && t.starts_with("security.")) return "the prefix \"security.\" is reserved for stele";
  return {};
}

Status EventValidator::Validate(std::string_view json, int64_t now_ns, const ValidationLimits& limits,
                                EventView* out, bool padded) {
  if (json.size() > limits.max_event_bytes) {
    return Status::InvalidArgument("event: is " + std::to_string(json.size()) + " bytes; limit is " +
                                   std::to_string(limits.max_event_bytes));
  }
  if (padded) {
    return ValidateDocument(simdjson::padded_string_view(json.data(), json.size(), json.size() + simdjson::SIMDJSON_PADDING),
                            now_ns, limits, out);
  }
  padded_copy_.assign(json);
  padded_copy_.append(simdjson::SIMDJSON_PADDING, '\0');
  return ValidateDocument(simdjson::padded_string_view(padded_copy_.data(), json.size(), padded_copy_.size()), now_ns,
                          limits, out);
}

// simdjson checks UTF-8 for the whole document before parsing, so its error
// names no field: find the first bad byte and the top-level key it is under.
static Status InvalidUtf8(std::string_view json) {
  const size_t bad = FirstInvalidUtf8(json);
  std::string key, last_string;
  int depth = 0;
  bool in_string = false, expect_key = false, string_is_key = false;
  size_t string_start = 0;
  for (size_t i = 0; i < bad && i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
        last_string = std::string(json.substr(string_start, i - string_start));
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      string_start = i + 1;
      string_is_key = depth == 1 && expect_key;
    } else if (c == '{' || c == '[') {
      ++depth;
      expect_key = depth == 1 && c == '{';
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ',' && depth == 1) {
      expect_key = true;
    } else if (c == ':' && depth == 1) {
      key = last_string;
      expect_key = false;
    }
  }
  std::string where = "field \"" + key + "\"";
  if (key.empty() || (in_string && string_is_key)) where = "event: a key";
  return Status::InvalidArgument(where + ": invalid UTF-8 at byte " + std::to_string(bad));
}

Status EventValidator::ValidateDocument(simdjson::padded_string_view input, int64_t now_ns,
                                        const ValidationLimits& limits, EventView* out) {
  *out = EventView{};
  od::document doc;
  if (auto e = parser_.iterate(input).get(doc)) {
    if (e == simdjson::UTF8_ERROR) return InvalidUtf8(std::string_view(input.data(), input.length()));
    return Status::InvalidArgument("event: invalid JSON: " + SimdError(e));
  }
  od::object obj;
  if (auto e = doc.get_object().get(obj)) {
    if (e == simdjson::INCORRECT_TYPE) return Status::InvalidArgument("event: must be a JSON object");
    return Status::InvalidArgument("event: invalid JSON: " + SimdError(e));
  }
  unsigned seen = 0;
  bool have_ts = false;
  const bool may_hold_controls = MayHoldControlCharacters(input);
  for (auto field : obj) {
    std::string_view key;
    if (auto e = field.unescaped_key().get(key)) return Status::InvalidArgument("event: invalid JSON: " + SimdError(e));
    od::value value;
    if (auto e = field.value().get(value)) return Status::InvalidArgument("event: invalid JSON: " + SimdError(e));

    unsigned bit = 0;
    std::string_view* target = nullptr;
    if (key == "type") {
      bit = kType;
      target = &out->type;
    } else if (key == "ts") {
      bit = kTs;
    } else if (key == "actor") {
      bit = kActor;
      target = &out->actor;
    } else if (key == "source") {
      bit = kSource;
      target = &out->source;
    } else if (key == "lead_id") {
      bit = kLead;
      target = &out->lead_id;
    } else if (key == "workflow_id") {
      bit = kWorkflow;
      target = &out->workflow_id;
    } else if (key == "data") {
      bit = kData;
    } else {
      return Status::InvalidArgument("field \"" + std::string(key.substr(0, 64)) +
                                     "\": unknown top-level key (allowed: type, ts, actor, source, lead_id, "
                                     "workflow_id, data)");
    }
    if (seen & bit) return FieldError(key, "duplicate key");
    seen |= bit;

    od::json_type type;
    if (auto e = value.type().get(type)) return FieldError(key, "invalid JSON: " + SimdError(e));

    if (target != nullptr) {  // a string field
      if (type != od::json_type::string) return FieldError(key, "must be a string");
      std::string_view s;
      if (auto e = value.get_string().get(s)) return FieldError(key, "invalid string: " + SimdError(e));
      std::string why = bit == kType ? CheckTypeName(s, limits.allow_reserved_types) : CheckIndexedString(s, may_hold_controls);
      if (!why.empty()) return FieldError(key, why);
      *target = s;
    } else if (bit == kTs) {
      if (type == od::json_type::string) {
        std::string_view s;
        if (auto e = value.get_string().get(s)) return FieldError(key, "invalid string: " + SimdError(e));
        std::string why;
        auto ns = ParseRfc3339(s, &why);
        if (!ns) return FieldError(key, why);
        out->ts_ns = *ns;
      } else if (type == od::json_type::number) {
        int64_t ns;
        if (value.get_int64().get(ns) || ns < 0) {
          return FieldError(key, "must be a non-negative integer of nanoseconds or an RFC 3339 string");
        }
        out->ts_ns = ns;
      } else {
        return FieldError(key, "must be an RFC 3339 string or integer nanoseconds");
      }
      if (out->ts_ns > now_ns + kMaxFutureNs) return FieldError(key, "more than 24 h ahead of the clock");
      have_ts = true;
    } else {  // data
      if (type != od::json_type::object) return FieldError(key, "must be a JSON object");
      const char* begin = value.raw_json_token().data();
      WalkError err;
      key_stack_.clear();
      if (!WalkValue(value, 1, limits, key_stack_, &err)) return FieldError("data" + err.path, err.reason);
      // The value ends where the next structural character starts, less
      // whitespace.  data is never last in the document (the closing brace
      // of the event follows), so the location always exists.
      const char* end;
      if (auto e = doc.current_location().get(end)) return FieldError(key, "invalid JSON: " + SimdError(e));
      std::string_view raw(begin, static_cast<size_t>(end - begin));
      while (!raw.empty() && raw.back() != '}') raw.remove_suffix(1);
      // Byte-exact, except that line breaks (legal only as whitespace between
      // tokens) are removed so the stored event stays one NDJSON line.
      // (Two memchr scans: find_first_of("\r\n") would call memchr once per byte.)
      if (raw.find('\n') != std::string_view::npos || raw.find('\r') != std::string_view::npos) {
        data_minified_.resize(raw.size());
        size_t n = 0;
        if (simdjson::minify(raw.data(), raw.size(), data_minified_.data(), n) != simdjson::SUCCESS) {
          return FieldError(key, "invalid JSON");
        }
        data_minified_.resize(n);
        raw = data_minified_;
      }
      out->data = raw;
    }
  }
  // Trailing content after the object is an error.
  const char* tail;
  if (!doc.current_location().get(tail)) {
    return Status::InvalidArgument("event: invalid JSON: trailing content after the object");
  }
  if (!(seen & kType)) return FieldError("type", "required");
  if (!have_ts) out->ts_ns = now_ns;
  return Status::Ok();
}

}  // namespace stele
