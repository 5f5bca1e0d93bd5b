// VerifyExport (include/stele/integrity.h): an export's events, rebuilt into
// canonical records and hashed, against a signed checkpoint.
#include <chrono>
#include <string>

#include "event/record.h"
#include "event/validator.h"
#include "integrity/checkpoint.h"
#include "integrity/merkle.h"
#include "integrity/note.h"
#include "integrity/sha256.h"
#include "stele/integrity.h"
#include "util/compressed_stream.h"
#include "util/env.h"
#include "util/time.h"

namespace stele {
namespace {

// The seq an exported line starts with ({"seq":N,...}), or 0.
uint64_t LeadingSeq(std::string_view line, size_t* rest) {
  constexpr std::string_view kPrefix = "{\"seq\":";
  if (!line.starts_with(kPrefix)) return 0;
  uint64_t seq = 0;
  size_t i = kPrefix.size();
  for (; i < line.size() && line[i] >= '0' && line[i] <= '9' && seq < (UINT64_MAX - 9) / 10; ++i) {
    seq = seq * 10 + static_cast<uint64_t>(line[i] - '0');
  }
  if (i == kPrefix.size() || i >= line.size() || line[i] != ',') return 0;
  *rest = i + 1;
  return seq;
}

}  // namespace

Result<VerifyReport> VerifyExport(const std::string& export_file, const std::string& checkpoint_file,
                                  const std::string& verifier_key) {
  const auto start = std::chrono::steady_clock::now();
  auto verifier = ParseNoteVerifier(verifier_key);
  if (!verifier.ok()) return verifier.status();
  auto note = ReadFileToString(Env::Default(), checkpoint_file, 64 << 10);
  if (!note.ok()) return note.status();
  auto reader = CompressedReader::Open(export_file);
  if (!reader.ok()) return reader.status();
  VerifyReport report;
  auto fail = [&](uint64_t seq, std::string why) -> Result<VerifyReport> {
    report.ok = false;
    report.first_bad_seq = seq;
    report.reason = std::move(why);
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report;
  };
  auto cp = OpenCheckpoint(*note, *verifier);
  if (!cp.ok()) return fail(0, checkpoint_file + ": " + cp.status().message());
  report.checkpoints = 1;
  EventValidator validator;
  ValidationLimits limits;
  limits.max_event_bytes = SIZE_MAX / 2;  // the export holds what the log held
  limits.allow_reserved_types = true;     // the log's own security.* events are leaves too
  const int64_t far_ahead = NowNanos() + int64_t{366} * 24 * 3600 * 1'000'000'000;
  Sha256 sha;
  CompactRange tree;
  std::string record, buf, chunk(1 << 20, '\0');
  Hash root{};
  bool rooted = cp->size == 0;
  if (rooted) root = tree.Root(sha);
  uint64_t line_no = 0;
  auto visit = [&](std::string_view line) -> std::optional<Result<VerifyReport>> {
    ++line_no;
    if (line.empty()) return std::nullopt;
    const uint64_t expected = report.events + 1;
    size_t rest = 0;
    const uint64_t seq = LeadingSeq(line, &rest);
    if (seq == 0) return fail(expected, "line " + std::to_string(line_no) + ": not an exported event ({\"seq\":N,...})");
    if (seq != expected) {
      return fail(expected, "line " + std::to_string(line_no) + " holds seq " + std::to_string(seq) + " where seq " +
                                std::to_string(expected) +
                                " belongs (a filtered or partial export, or events missing or reordered)");
    }
    std::string event = "{";
    event.append(line.substr(rest));
    EventView e;
    Status s = validator.Validate(event, far_ahead, limits, &e);
    if (!s.ok()) return fail(seq, "seq " + std::to_string(seq) + ": " + s.message());
    e.seq = seq;
    record.clear();
    AppendRecord(e, &record);
    tree.Append(sha.LeafHash(record), sha);
    report.raw_bytes += record.size();
    ++report.events;
    if (tree.size() == cp->size) {
      root = tree.Root(sha);
      rooted = true;
    }
    if (tree.size() > cp->size) ++report.events_past_checkpoint;
    return std::nullopt;
  };
  for (bool eof = false; !eof;) {
    auto n = (*reader)->Read(chunk.data(), chunk.size());
    if (!n.ok()) return n.status();
    eof = *n == 0;
    buf.append(chunk.data(), *n);
    size_t pos = 0;
    for (size_t nl; (nl = buf.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      if (auto done = visit(std::string_view(buf).substr(pos, nl - pos))) return *done;
    }
    if (eof && pos < buf.size()) {
      if (auto done = visit(std::string_view(buf).substr(pos))) return *done;
      pos = buf.size();
    }
    buf.erase(0, pos);
  }
  if (!rooted) {
    return fail(report.events + 1, "the export ends at seq " + std::to_string(report.events) +
                                       "; the checkpoint covers " + std::to_string(cp->size) + " events");
  }
  report.root_hex = ToHex(root);
  if (root != cp->root) {
    return fail(0, "the root of the first " + std::to_string(cp->size) + " events is " + report.root_hex +
                       ", the checkpoint signs " + ToHex(cp->root) + ": an event was altered, added or removed");
  }
  report.ok = true;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace stele
