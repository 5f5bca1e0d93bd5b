// ImportMapping: turns one line of a foreign audit log (a Kubernetes audit
// event, a CloudTrail record, any JSON object) into a stele input event
// whose `data` is the record byte for byte, and whose type, ts and indexed
// fields are taken from the record by JSON pointer (RFC 6901).
//
// Formats (docs/cli.md, "stele import"):
//   events      stele events, as `stele append` reads them or as `stele
//               export` writes them (a leading "seq" is dropped: the log
//               assigns its own)
//   k8s         audit.k8s.io Event: type k8s.<verb>, actor /user/username,
//               source /sourceIPs/0, ts /requestReceivedTimestamp (else
//               /stageTimestamp, /timestamp)
//   cloudtrail  type cloudtrail.<eventName>, actor /userIdentity/arn,
//               source /sourceIPAddress, ts /eventTime; a line that is a
//               whole CloudTrail file ({"Records":[...]}) is its records
//   json        any object: the type is given (--type) or taken from a
//               pointer (--type-from), and so are the rest
//   auto        each line by its keys: events, k8s or cloudtrail
// Any pointer can be set or overridden (e.g. --lead-from).
//
// A value taken for a type is lowercased and every byte outside [a-z0-9_.]
// becomes '_' (so "ConsoleLogin" is cloudtrail.consolelogin); a type past
// 64 bytes is cut there.  An indexed field whose value is not a string of
// 1-256 bytes is left out (the record in `data` still holds it).  A time is
// RFC 3339, or "YYYY-MM-DD HH:MM:SS[.f]" with or without the 'T' and the
// offset (none: UTC), or integer ns; a record whose time is present but none
// of these is refused (with --ingest-time, its import time is used instead).
//
// Stateless after construction; any number of threads may call Map().
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "stele/status.h"

namespace stele {

class ImportMapping {
 public:
  enum class Format { kAuto, kEvents, kK8s, kCloudTrail, kJson };
  // "auto" | "events" | "k8s" | "cloudtrail" | "json".
  static std::optional<Format> ParseFormat(std::string_view name);

  // Overrides of a format's pointers (empty: the format's own).
  struct Fields {
    std::string type;  // a fixed type; with type_from, the prefix of the taken value
    std::string type_from, actor_from, source_from, lead_from, workflow_from, ts_from;
    bool ingest_time = false;  // take no time from the record: each event gets its import time
  };
  // kInvalidArgument when the fields cannot make a type (json without
  // --type or --type-from) or a pointer is not one ("/a/b", or "" for the
  // whole record).
  static Result<ImportMapping> Create(Format format, const Fields& fields);

  // The records one line holds: the line itself, or, under cloudtrail and
  // auto, each element of a CloudTrail log file's {"Records":[...]} (the
  // form CloudTrail delivers: one document a file, on one line), as views
  // into `line`.
  void Records(std::string_view line, std::vector<std::string_view>* out) const;

  // The stele event for one record (a JSON object on one line).  An error
  // names what is missing or wrong, as the validator's do (`field "/verb":
  // missing`), and leaves *event unspecified.
  Status Map(std::string_view record, std::string* event) const;

 private:
  struct Rule {
    std::string type_prefix;                 // joined to a taken type with '.'
    std::vector<std::string> type_from;      // the first pointer present gives the type
    std::vector<std::string> actor_from, source_from, lead_from, workflow_from, ts_from;
  };
  ImportMapping(Format format, Rule k8s, Rule cloudtrail, Rule json)
      : format_(format), k8s_(std::move(k8s)), cloudtrail_(std::move(cloudtrail)), json_(std::move(json)) {}
  // `doc` is `record` parsed (an object).
  Status MapWith(const Rule& rule, std::string_view record, simdjson::dom::element doc, std::string* event) const;

  Format format_;
  Rule k8s_, cloudtrail_, json_;
};

// The seq an exported event's line begins with ({"seq":N, ...; blanks
// allowed), with *comma the offset of the comma after it; nullopt when the
// line does not begin so.  Import drops it; verify --export checks it.
std::optional<uint64_t> ExportedSeq(std::string_view line, size_t* comma);

// A time taken from a record, in ns since the epoch: RFC 3339, or the same
// with a space for the 'T' or no offset (taken as UTC).
std::optional<int64_t> ParseImportedTime(std::string_view text);

// The type name a taken value makes: prefix + "." + value, lowercased,
// bytes outside [a-z0-9_.] as '_', empty dot-separated parts dropped, cut
// at 64 bytes.  Empty when nothing is left.
std::string ImportedTypeName(std::string_view prefix, std::string_view value);

}  // namespace stele
