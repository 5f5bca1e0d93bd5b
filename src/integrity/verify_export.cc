// VerifyExport (include/stele/integrity.h): an export's events, rebuilt into
// canonical records and hashed, against a signed checkpoint.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <simdjson.h>

#include "event/import_mapping.h"
#include "event/record.h"
#include "event/validator.h"
#include "integrity/checkpoint.h"
#include "integrity/merkle.h"
#include "integrity/note.h"
#include "integrity/sha256.h"
#include "stele/integrity.h"
#include "util/compressed_stream.h"
#include "util/env.h"
#include "util/task_thread.h"
#include "util/time.h"

namespace stele {

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
  const int64_t far_ahead = NowNanos() + int64_t{366} * 24 * 3600 * 1'000'000'000;
  // Each block of whole lines is checked for its seqs here, then its events
  // are validated, encoded and leaf-hashed on two threads (this one and the
  // helper, half each: that is most of the work), and the leaves go into
  // the tree in order.
  struct Half {
    EventValidator validator;
    Sha256 sha;
    std::string record;
    size_t first_bad = SIZE_MAX;  // index of the first line that failed, and why
    std::string why;
    uint64_t raw_bytes = 0;
  };
  Half halves[2];
  TaskThread helper("stele-verify");
  std::vector<std::string_view> lines;
  std::vector<uint64_t> line_nos;  // of each of `lines` in the file
  std::vector<size_t> commas;      // of each line, after its seq: where its event starts, once a '{'

  std::vector<Hash> leaves;
  auto hash_range = [&](Half* h, size_t begin, size_t end) {
    ValidationLimits limits;
    limits.max_event_bytes = SIZE_MAX / 2;  // the export holds what the log held
    limits.allow_reserved_types = true;     // the log's own security.* events are leaves too
    for (size_t k = begin; k < end; ++k) {
      // The line without its seq: the comma before the rest became '{'
      // (check_block), and the block is followed by padding, so the
      // validator reads it in place.
      const std::string_view event = lines[k].substr(commas[k]);
      EventView e;
      Status s = h->validator.Validate(event, far_ahead, limits, &e, /*padded=*/true);
      if (!s.ok()) {
        h->first_bad = k;
        h->why = s.message();
        return;
      }
      e.seq = report.events + 1 + k;
      h->record.clear();
      AppendRecord(e, &h->record);
      h->raw_bytes += h->record.size();
      leaves[k] = h->sha.LeafHash(h->record);
    }
  };
  Sha256 sha;
  CompactRange tree;
  Hash root{};
  bool rooted = cp->size == 0;
  if (rooted) root = tree.Root(sha);
  uint64_t line_no = 0;
  // Checks one block of lines; a failure is the report to return.
  auto check_block = [&]() -> std::optional<Result<VerifyReport>> {
    commas.assign(lines.size(), 0);
    for (size_t k = 0; k < lines.size(); ++k) {
      const uint64_t expected = report.events + 1 + k;
      const std::optional<uint64_t> seq = ExportedSeq(lines[k], &commas[k]);
      const std::string at = "line " + std::to_string(line_nos[k]);
      if (!seq) return fail(expected, at + ": not an exported event ({\"seq\":N,...})");
      if (*seq != expected) {
        return fail(expected, at + " holds seq " + std::to_string(*seq) + " where seq " + std::to_string(expected) +
                                  " belongs (a filtered or partial export, or events missing or reordered)");
      }
      const_cast<char&>(lines[k][commas[k]]) = '{';  // the ',' after the seq: lines view buf, which is ours
    }
    leaves.resize(lines.size());
    const size_t mid = lines.size() / 2;
    helper.Run([&] {
      hash_range(&halves[0], 0, mid);
      return Status::Ok();
    });
    hash_range(&halves[1], mid, lines.size());
    (void)helper.Wait();
    for (const Half& h : halves) {
      if (h.first_bad != SIZE_MAX) {
        const uint64_t seq = report.events + 1 + h.first_bad;
        return fail(seq, "seq " + std::to_string(seq) + ": " + h.why);
      }
    }
    // A level at a time (node hashes two by two), split where the tree
    // reaches the checkpoint's size to take the root there.
    size_t split = leaves.size();
    if (tree.size() < cp->size && cp->size - tree.size() <= leaves.size()) split = cp->size - tree.size();
    tree.AppendAll(std::span<const Hash>(leaves.data(), split), sha);
    if (tree.size() == cp->size && !rooted) {
      root = tree.Root(sha);
      rooted = true;
    }
    tree.AppendAll(std::span<const Hash>(leaves.data() + split, leaves.size() - split), sha);
    report.events += lines.size();
    if (report.events > cp->size) report.events_past_checkpoint = report.events - cp->size;
    return std::nullopt;
  };
  std::string buf, chunk(4 << 20, '\0');
  for (bool eof = false; !eof;) {
    auto n = (*reader)->Read(chunk.data(), chunk.size());
    if (!n.ok()) return n.status();
    eof = *n == 0;
    buf.append(chunk.data(), *n);
    // The block: every whole line read so far (and the last one at the end).
    const size_t end = eof ? buf.size() : buf.rfind('\n') == std::string::npos ? 0 : buf.rfind('\n') + 1;
    const size_t content = buf.size();
    buf.append(simdjson::SIMDJSON_PADDING, '\0');  // readable bytes after the block's last line
    lines.clear();
    line_nos.clear();
    for (size_t pos = 0; pos < end;) {
      size_t nl = buf.find('\n', pos);
      if (nl == std::string::npos || nl > end) nl = end;
      ++line_no;
      if (nl > pos) {  // an empty line is counted, not an event
        lines.emplace_back(buf.data() + pos, nl - pos);
        line_nos.push_back(line_no);
      }
      pos = nl + 1;
    }
    if (auto failed = check_block()) return *failed;
    buf.resize(content);
    buf.erase(0, end);
  }
  report.raw_bytes = halves[0].raw_bytes + halves[1].raw_bytes;
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
