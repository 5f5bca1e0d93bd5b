// Query: which stored events to return and in which order.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stele/event.h"
#include "stele/status.h"

namespace stele {

// All set filters must match (AND).  Unset filters match everything.
struct Query {
  // Exact type, or a prefix written "lead.*" (matches types beginning "lead.").
  std::optional<std::string> type;
  std::optional<std::string> actor;
  std::optional<std::string> source;
  std::optional<std::string> lead_id;
  std::optional<std::string> workflow_id;
  // Half-open time range [since_ns, until_ns).
  std::optional<int64_t> since_ns;
  std::optional<int64_t> until_ns;
  // Inclusive seq range.
  std::optional<uint64_t> seq_from;
  std::optional<uint64_t> seq_to;
  // Resume cursor: only events strictly after this seq in output order
  // (seq > after ascending, seq < after descending).  0 = from the start.
  uint64_t after = 0;
  uint64_t limit = 0;  // 0 = no limit
  bool descending = false;

  // Equality on data fields by RFC 6901 JSON pointer, all ANDed: {"/status",
  // "failed"} matches a string value "failed", or a number/true/false/null
  // whose JSON text is exactly "failed".
  std::vector<std::pair<std::string, std::string>> where;
  // RE2 pattern (linear time; no backreferences or lookarounds) searched in
  // the event's output JSON, or, with regex_field set to a JSON pointer, in
  // that data field (its string value, or its JSON text otherwise).
  std::optional<std::string> regex;
  std::optional<std::string> regex_field;

  // Bounds on the regex: limits, never filters (they change no answer, only
  // whether a pattern is accepted).
  size_t max_regex_bytes = 4096;                // pattern text
  int64_t max_regex_program_bytes = 8ll << 20;  // RE2's compiled program and DFA memory
};

// Streams the events a Query selects, one frame in memory at a time.
// Not thread-safe; one consumer.  A stored frame that fails its checksum
// ends the stream with kCorruption; its bytes are never returned as events.
class EventIterator {
 public:
  virtual ~EventIterator() = default;
  // Fills *event and returns true, or returns false at the end or on error
  // (then status() says which).  *event stays valid until the next call.
  virtual bool Next(EventView* event) = 0;
  virtual const Status& status() const = 0;
};

// Opens a read-only view of a data directory, without taking the writer
// lock: safe while another process writes.  It sees every event written
// (flushed to the OS) before it was opened; newer ones may or may not appear.
Result<std::unique_ptr<EventIterator>> QueryDirectory(const std::string& dir, const Query& query);
// How many events `query` selects (capped by its limit), in another
// process's log: frames the field index can count are not read (see
// Log::Count).
Result<uint64_t> CountDirectory(const std::string& dir, const Query& query);

}  // namespace stele
