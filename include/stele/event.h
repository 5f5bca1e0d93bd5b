// Event: the stored form of one audit event, as readers see it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace stele {

// A stored event.  Views point into a buffer owned by whoever produced the
// EventView (an iterator); they stay valid until that producer advances.
// An absent optional field is an empty view (present fields are never empty).
struct EventView {
  uint64_t seq = 0;
  int64_t ts_ns = 0;  // nanoseconds since the Unix epoch, UTC
  std::string_view type;
  std::string_view actor;
  std::string_view source;
  std::string_view lead_id;
  std::string_view workflow_id;
  std::string_view data;  // raw JSON object text, or empty
};

// Appends the output form of SPEC §1 (one JSON object, no newline):
// seq, ts (RFC 3339 UTC, 9 fractional digits), type, the present optional
// fields, then data.
void AppendEventJson(const EventView& event, std::string* out);

// Limits of SPEC §1.
inline constexpr size_t kMaxTypeBytes = 64;
inline constexpr size_t kMaxFieldBytes = 256;
inline constexpr int kMaxDepth = 64;

}  // namespace stele
