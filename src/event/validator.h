// EventValidator: turns one input JSON document into a validated EventView
// (SPEC §1), or a Status naming the field and the reason.
//
// Owns a simdjson on-demand parser and scratch buffers, so it is NOT
// thread-safe: use one per thread (see ThreadLocalValidator()).  The views it
// returns point into the input or into the validator and stay valid until the
// next Validate() call on the same validator.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "stele/event.h"
#include "stele/status.h"

namespace stele {

// Limits on outside bytes (docs/security.md has the table); Options sets them.
struct ValidationLimits {
  size_t max_event_bytes = 1u << 20;
  int max_depth = kMaxDepth;             // nesting of data's objects and arrays
  size_t max_object_keys = 10'000;       // keys in any one object of data
  size_t max_string_bytes = 256u << 10;  // any one string (key or value) in data, after unescaping
  bool allow_reserved_types = false;  // only stele itself writes security.*
};

class EventValidator {
 public:
  EventValidator() = default;
  EventValidator(const EventValidator&) = delete;
  EventValidator& operator=(const EventValidator&) = delete;

  // Validates json.  `now_ns` is the ingest time: used when ts is absent and
  // to reject timestamps more than 24 h ahead.  On success fills *out (seq 0).
  // `padded` says json is followed by >= simdjson::SIMDJSON_PADDING readable
  // bytes, which saves a copy.
  Status Validate(std::string_view json, int64_t now_ns, const ValidationLimits& limits, EventView* out,
                  bool padded = false);

 private:
  Status ValidateDocument(simdjson::padded_string_view input, int64_t now_ns, const ValidationLimits& limits,
                          EventView* out);

  simdjson::ondemand::parser parser_;
  std::string padded_copy_;
  std::string data_minified_;
  std::vector<std::string_view> key_stack_;  // keys of open objects, for duplicate detection
};

// Checks a type name against SPEC §1's grammar and length.  Empty on success,
// else the reason.
std::string CheckTypeName(std::string_view type, bool allow_reserved);

}  // namespace stele
