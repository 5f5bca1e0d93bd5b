// EventFilter: the per-event predicate of a Query, plus the cheap range
// tests used to skip whole segments and frames before decompressing them.
//
// Owns the compiled RE2 program and a JSON parser for data-field filters, so
// it is not thread-safe: one per iterator.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <simdjson.h>

#include "stele/event.h"
#include "stele/query.h"
#include "stele/status.h"

#include <re2/stringpiece.h>

namespace re2 {
class FilteredRE2;
class RE2;
}

namespace stele {

class EventFilter {
 public:
  // kInvalidArgument for a bad regex or JSON pointer, naming the flag.
  static Result<std::unique_ptr<EventFilter>> Create(const Query& query);
  ~EventFilter();

  bool Matches(const EventView& e);
  // The records at `offsets` in `raw` (a frame's (u32 len | record)*, the
  // offsets ascending) that match, appended to *out in the same order.
  // With a regex that can run over many events' JSON at once (see
  // FrameRegexIsExact in filter.cc), it runs once over the JSON of all of
  // them, one line each, rather than once per event, which is what a
  // regex without a literal to prefilter frames spends most on.  False if
  // a record is malformed.
  bool MatchRecords(std::string_view raw, std::span<const uint32_t> offsets, std::vector<uint32_t>* out);
  // Whether MatchRecords runs the regex over many events at once: then a
  // frame is best filtered whole when it is loaded.
  bool MatchesFramesAtOnce() const { return lines_regex_ != nullptr; }
  // Could any event with seq in [first, last] and ts in [min_ts, max_ts] match?
  bool MayMatchRange(uint64_t first_seq, uint64_t last_seq, int64_t min_ts, int64_t max_ts) const;
  // Could any event stored in `bytes` match the regex?  `bytes` holds every
  // stored string of the events, each in one piece: a frame's records, or
  // its decompressed columns.  False only when a literal the regex requires
  // is absent from them, so a frame is skipped without rebuilding or
  // encoding its events (LiteralIsStoredVerbatim in filter.cc says when
  // that is sound).  True when there is no regex.
  bool StoredBytesMayMatch(std::string_view bytes);
  // Whether StoredBytesMayMatch can ever say false: a regex with a literal
  // to look for.  Without one, a caller skips laying out the bytes to check.
  bool ChecksStoredBytes() const { return literals_ != nullptr; }
  bool SeqInCursor(uint64_t seq) const {
    return query_.after == 0 || (query_.descending ? seq < query_.after : seq > query_.after);
  }

 private:
  explicit EventFilter(const Query& query);
  // The text a data field filter compares: a string's unescaped value, or
  // the JSON text of any other value.  False if data has no such field.
  bool DataField(std::string_view data, const std::string& pointer, std::string* out);
  // Every filter but the regex.
  bool MatchesFields(const EventView& e);
  // False only when `data` cannot hold a field that reads as `value`.
  static bool DataMayHoldText(std::string_view data, std::string_view value);
  bool MatchesRegex(const EventView& e);
  // The leftmost match of lines_regex_ in text from `from` on.
  bool FindLinesMatch(const re2::StringPiece& text, size_t from, re2::StringPiece* m);

  Query query_;
  std::string type_prefix_;  // "lead." for "lead.*"
  bool type_is_prefix_ = false;
  std::unique_ptr<re2::RE2> regex_;
  // The regex in multi-line mode, run by MatchRecords over many events'
  // JSON, one per line; null when that would not be exact.
  std::unique_ptr<re2::RE2> lines_regex_;
  bool regex_has_anchor_ = false;  // '^' or '$': a line match is checked on its event alone
  std::string regex_prefix_;       // every match starts with it (LiteralPrefix in filter.cc)
  // How often the prefix was found (FindLinesMatch drops a common one).
  static constexpr uint64_t kPrefixSample = 4096, kMinBytesPerTry = 64;
  uint64_t prefix_tries_ = 0, prefix_bytes_ = 0;
  std::string lines_;              // MatchRecords' JSON lines
  std::vector<size_t> line_starts_;
  std::vector<uint32_t> line_offsets_;
  // The regex's required literals (lowercased), as an AND/OR tree; null
  // when none can be checked against stored bytes.
  std::unique_ptr<re2::FilteredRE2> literals_;
  std::vector<std::string> atoms_;
  std::vector<bool> atom_checkable_;
  std::vector<int> found_atoms_, potential_;
  std::string lowered_;
  simdjson::ondemand::parser parser_;
  std::string padded_;
  std::string scratch_;
};

// Checks an RFC 6901 pointer ("" or "/a/0/b~1c"); empty on success.
std::string CheckJsonPointer(std::string_view pointer);
// The key a pointer of one token ("/status", "/a~1b") names in the
// top-level object, unescaped; false for any other pointer.
bool TopLevelKey(std::string_view pointer, std::string* key);

}  // namespace stele
