#include "query/filter.h"

#include <re2/filtered_re2.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "event/record.h"
#include "util/coding.h"
#include "util/find_bytes.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace stele {
namespace {

// ASCII-lowercases n bytes from `in` into `out`, 16 at a time: a frame is
// about 256 KiB, and a byte loop took as long as the frame's decompression.
void LowerAscii(const char* in, size_t n, char* out) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i before_a = _mm_set1_epi8('A' - 1), after_z = _mm_set1_epi8('Z' + 1), bit = _mm_set1_epi8(0x20);
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    // Signed compares: bytes >= 0x80 are negative, so never in 'A'..'Z'.
    const __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(v, before_a), _mm_cmplt_epi8(v, after_z));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_or_si128(v, _mm_and_si128(upper, bit)));
  }
#endif
  for (; i < n; ++i) out[i] = static_cast<char>(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
}

// Whether a literal the regex requires (lowercased by FilteredRE2) can be
// looked for in a frame's stored bytes (its records, or its decompressed
// columns): every place it could match in an event's JSON must then lie
// inside one stored token, kept there byte for byte and in one piece.  The
// JSON of an event is its stored field values (escaped only at a quote, a
// backslash or a control character), its data (verbatim; in codec 3 columns
// cut between keys and top-level values, each still in one piece), and text
// stele generates: punctuation, the key names, the seq and the RFC 3339 ts.
// So a checkable literal is printable ASCII without JSON punctuation or a
// backslash, not a piece of a generated key name, and not made only of the
// characters a seq or a ts prints.  Any other literal counts as present.
bool LiteralIsStoredVerbatim(std::string_view atom) {
  if (atom.empty()) return false;
  bool only_seq_or_ts = true;
  for (const char c : atom) {
    if (c <= ' ' || c >= 0x7f || std::strchr("\"\\:,{}[]", c) != nullptr) return false;
    if (!((c >= '0' && c <= '9') || c == '-' || c == '.' || c == 't' || c == 'z')) only_seq_or_ts = false;
  }
  if (only_seq_or_ts) return false;
  for (const std::string_view key : {"seq", "ts", "type", "actor", "source", "lead_id", "workflow_id", "data"}) {
    if (key.find(atom) != std::string_view::npos) return false;
  }
  return true;
}

// Whether running the regex, in multi-line mode, over the JSON of many
// events, one per line, finds a match starting in every event that matches
// on its own (MatchRecords then settles each event a match starts in).
// Over one event alone and over the lines, a match has the same text and
// the same context: '\n' and the ends of the text are both non-word bytes
// for \b, and in multi-line mode ^ and $ match at the start and end of each
// line as they do at the ends of one event's text.  Only \A and \z (the
// text's ends, whatever the mode) and a flag group that turns multi-line
// mode off again break that; such a pattern (or one that merely looks like
// it, as these are text tests) runs event by event.
bool FrameRegexIsExact(std::string_view pattern) {
  if (pattern.find("\\A") != std::string_view::npos || pattern.find("\\z") != std::string_view::npos) return false;
  for (size_t at = pattern.find("(?"); at != std::string_view::npos; at = pattern.find("(?", at + 2)) {
    const size_t end = pattern.find_first_of(":)", at + 2);
    if (pattern.substr(at + 2, end - (at + 2)).find('-') != std::string_view::npos) return false;
  }
  return true;
}

// The text every match of `pattern` starts with, read off the pattern: its
// leading plain characters (or escaped punctuation), up to the first
// syntax, the last one dropped if a repetition follows it.  Empty when
// the pattern has a '|' anywhere, as the rule does not follow groups.
// MatchRecords finds the candidates with FindBytes: RE2's own acceleration
// looks for the first byte with memchr, which stops at every quote of a
// JSON text when the pattern starts with one ('"attempt":[0-9]{2}').
std::string LiteralPrefix(std::string_view pattern) {
  std::string prefix;
  if (pattern.find('|') != std::string_view::npos) return prefix;
  size_t i = 0;
  while (i < pattern.size()) {
    const auto c = static_cast<unsigned char>(pattern[i]);
    if (c >= 0x80 || std::strchr(".[](){}|*+?^$", c) != nullptr) break;
    char literal = static_cast<char>(c);
    size_t next = i + 1;
    if (c == '\\') {
      if (next == pattern.size()) break;
      const auto e = static_cast<unsigned char>(pattern[next]);
      if (e >= 0x80 || std::isalnum(e) || e <= ' ') break;  // a class, an assertion or an escape code
      literal = static_cast<char>(e);
      ++next;
    }
    if (next < pattern.size() && std::strchr("*?{", pattern[next]) != nullptr) break;
    prefix.push_back(literal);
    if (next < pattern.size() && pattern[next] == '+') break;
    i = next;
  }
  return prefix;
}

}  // namespace

std::string CheckJsonPointer(std::string_view p) {
  if (!p.empty() && p[0] != '/') return "must start with '/' (RFC 6901 JSON pointer)";
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '~' && (i + 1 == p.size() || (p[i + 1] != '0' && p[i + 1] != '1'))) {
      return "'~' must be followed by 0 or 1 (RFC 6901)";
    }
  }
  return {};
}

bool TopLevelKey(std::string_view pointer, std::string* key) {
  if (pointer.empty() || pointer[0] != '/' || pointer.find('/', 1) != std::string_view::npos) return false;
  key->clear();
  for (size_t i = 1; i < pointer.size(); ++i) {
    if (pointer[i] != '~') {
      key->push_back(pointer[i]);
    } else if (i + 1 < pointer.size() && (pointer[i + 1] == '0' || pointer[i + 1] == '1')) {
      key->push_back(pointer[++i] == '0' ? '~' : '/');
    } else {
      return false;  // not a pointer (CheckJsonPointer says why)
    }
  }
  return true;
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
    if (!query.regex_field && FrameRegexIsExact(*query.regex)) {
      auto lines = std::make_unique<RE2>("(?m)" + *query.regex, options);
      if (lines->ok()) {
        f->lines_regex_ = std::move(lines);
        f->regex_has_anchor_ = query.regex->find_first_of("^$") != std::string::npos;
        f->regex_prefix_ = LiteralPrefix(*query.regex);
        if (f->regex_prefix_.size() < 3) f->regex_prefix_.clear();  // too common to be worth it
      }
    }
    // A field's text (--regex-field) is unescaped, so it may hold a literal
    // its stored bytes spell with an escape: no prefilter there.  Nor with
    // flags ("(?i)"): case folding maps non-ASCII letters (the Kelvin sign)
    // onto ASCII ones, which lowering ASCII bytes would not find.
    if (!query.regex_field && query.regex->find("(?") == std::string::npos) {
      auto literals = std::make_unique<re2::FilteredRE2>(3);
      int id = 0;
      if (literals->Add(*query.regex, options, &id) == RE2::NoError) {
        literals->Compile(&f->atoms_);
        bool any = false;
        for (const std::string& atom : f->atoms_) {
          f->atom_checkable_.push_back(LiteralIsStoredVerbatim(atom));
          any = any || f->atom_checkable_.back();
        }
        if (any) f->literals_ = std::move(literals);
      }
    }
  }
  return f;
}

bool EventFilter::StoredBytesMayMatch(std::string_view bytes) {
  if (!literals_) return true;
  lowered_.resize(bytes.size());
  LowerAscii(bytes.data(), bytes.size(), lowered_.data());
  found_atoms_.clear();
  for (size_t i = 0; i < atoms_.size(); ++i) {
    if (!atom_checkable_[i] || FindBytes(lowered_, atoms_[i]) != nullptr) {
      found_atoms_.push_back(static_cast<int>(i));
    }
  }
  literals_->AllPotentials(found_atoms_, &potential_);
  return !potential_.empty();
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

bool EventFilter::Matches(const EventView& e) { return MatchesFields(e) && (!regex_ || MatchesRegex(e)); }

bool EventFilter::MatchesFields(const EventView& e) {
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
    if (!DataMayHoldText(e.data, value)) return false;  // before parsing the data
    if (!DataField(e.data, pointer, &scratch_) || scratch_ != value) return false;
  }
  return true;
}

// Data without a backslash spells every value as the text DataField reads
// (a string's unescaped text, any other value's JSON text): a value whose
// text the data lacks is not in it.  A frame-cache hit, or data that the
// frame decoder could not test on its column, is filtered record by
// record, and a search of a few hundred bytes costs far less than parsing
// them.
bool EventFilter::DataMayHoldText(std::string_view data, std::string_view value) {
  if (value.empty()) return true;
  if (data.empty()) return false;
  return std::memchr(data.data(), '\\', data.size()) != nullptr || FindBytes(data, value) != nullptr;
}

bool EventFilter::MatchesRegex(const EventView& e) {
  if (query_.regex_field) {
    if (!DataField(e.data, *query_.regex_field, &scratch_)) return false;
  } else {
    scratch_.clear();
    AppendEventJson(e, &scratch_);
  }
  return RE2::PartialMatch(scratch_, *regex_);
}

bool EventFilter::MatchRecords(std::string_view raw, std::span<const uint32_t> offsets, std::vector<uint32_t>* out) {
  EventView e;
  auto decode = [&](uint32_t off) {
    return raw.size() - off >= 4 && raw.size() - off - 4 >= GetU32(raw.data() + off) &&
           DecodeRecord(raw.substr(off + 4, GetU32(raw.data() + off)), &e);
  };
  if (!lines_regex_) {
    for (const uint32_t off : offsets) {
      if (!decode(off)) return false;
      if (Matches(e)) out->push_back(off);
    }
    return true;
  }
  // The JSON of every event the other filters pass, one line each.
  lines_.clear();
  line_starts_.clear();
  line_offsets_.clear();
  for (const uint32_t off : offsets) {
    if (!decode(off)) return false;
    if (!MatchesFields(e)) continue;
    line_starts_.push_back(lines_.size());
    line_offsets_.push_back(off);
    AppendEventJson(e, &lines_);
    lines_.push_back('\n');
  }
  line_starts_.push_back(lines_.size());
  // The leftmost match from the start of line i on starts in some line r
  // >= i, and no line between them can match (FrameRegexIsExact).  Line r
  // matches if the match lies within it and the pattern has no anchor;
  // otherwise its event is matched alone.  Then on from line r + 1.  (A
  // stored event holds no line break, the validator removes those, so a
  // line is one whole event; the anchor check guards the multi-line
  // reading of ^ and $ against a record that held one anyway, at the cost
  // of one more match per matching event of an anchored pattern.)
  const re2::StringPiece text(lines_);
  re2::StringPiece m;
  for (size_t i = 0; i + 1 < line_starts_.size();) {
    if (!FindLinesMatch(text, line_starts_[i], &m)) break;
    const size_t begin = static_cast<size_t>(m.data() - text.data());
    const size_t r = static_cast<size_t>(
        std::upper_bound(line_starts_.begin() + i, line_starts_.end(), begin) - line_starts_.begin() - 1);
    if (r + 1 >= line_starts_.size()) break;  // an empty match after the last line
    const size_t line_end = line_starts_[r + 1] - 1;  // its '\n'
    const bool within = begin + m.size() <= line_end && !regex_has_anchor_;
    if (within || RE2::PartialMatch(text.substr(line_starts_[r], line_end - line_starts_[r]), *regex_)) {
      out->push_back(line_offsets_[r]);
    }
    i = r + 1;
  }
  return true;
}

bool EventFilter::FindLinesMatch(const re2::StringPiece& text, size_t from, re2::StringPiece* m) {
  if (regex_prefix_.empty()) return lines_regex_->Match(text, from, text.size(), RE2::UNANCHORED, m, 1);
  // The leftmost match starts at the first place the prefix occurs where
  // the regex matches.  Each place costs an anchored RE2 call, so a prefix
  // found more often than once in kMinBytesPerTry bytes (a common key
  // like '":') is dropped for RE2's own search after a fair sample.
  const std::string_view all(text.data(), text.size());
  for (size_t at = from; at < all.size(); ++at) {
    const char* p = FindBytes(all.substr(at), regex_prefix_);
    if (p == nullptr) {
      prefix_bytes_ += all.size() - at;
      return false;
    }
    prefix_bytes_ += static_cast<size_t>(p - all.data()) + 1 - at;
    at = static_cast<size_t>(p - all.data());
    if (++prefix_tries_ >= kPrefixSample && prefix_bytes_ < prefix_tries_ * kMinBytesPerTry) {
      regex_prefix_.clear();
      return lines_regex_->Match(text, at, text.size(), RE2::UNANCHORED, m, 1);
    }
    if (lines_regex_->Match(text, at, text.size(), RE2::ANCHOR_START, m, 1)) return true;
  }
  return false;
}

}  // namespace stele
