// Integrity: verify a log end to end, print and check Merkle proofs, read
// checkpoints (SPEC §3).  All functions read a data directory without taking
// the writer lock, so they run beside a live writer.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "stele/status.h"

namespace stele {

struct VerifyOptions {
  // A checkpoint note kept elsewhere that the log must extend.
  std::string against_file;
  // Verifier key (signed-note "name+id+base64") to trust instead of the one
  // derived from the directory's own key file.
  std::string verifier_key;
  unsigned threads = 0;  // 0 = one per core
  // Called now and then with events and raw bytes verified so far.
  std::function<void(uint64_t events, uint64_t bytes)> progress;
};

struct VerifyReport {
  bool ok = false;
  uint64_t events = 0;
  uint64_t raw_bytes = 0;        // canonical record bytes hashed
  uint64_t checkpoints = 0;      // signed checkpoints checked
  uint64_t lead_run_files = 0;   // segments' lead runs checked against their events
  uint64_t first_seq = 1;        // first event verified (retention removed those before it)
  uint64_t checkpoints_before_retention = 0;  // signed for sizes whose events retention removed: not checkable
  double seconds = 0;
  uint64_t first_bad_seq = 0;    // when !ok: the first seq where the log diverges
  std::string reason;            // when !ok: what diverges, in one line
  std::string root_hex;          // root of the whole log as verified
  uint64_t events_past_checkpoint = 0;  // VerifyExport: events after the checkpoint's size (not covered by it)
};

// Re-derives every leaf and node hash from the stored events and checks every
// stored checkpoint (size, root, signature), and `against_file` if given.
// A non-OK Result means verification could not run (no log, no key); an
// altered log gives an OK Result with report.ok == false.
Result<VerifyReport> VerifyLog(const std::string& dir, const VerifyOptions& options);

// Checks an export of a whole log (`stele export` without filters: every
// event from seq 1, in output form; plain, .gz or .zst) against a signed
// checkpoint note, offline: each event's canonical record is rebuilt from
// its output form and hashed into the tree, and the root over the first
// checkpoint-size events must be the signed one.  So a holder of the file,
// the checkpoint and the verifier key can tell that the file is exactly the
// log's first N events.  An altered, missing, extra or reordered event gives
// report.ok == false with the reason (first_bad_seq where a seq is out of
// place or an event unreadable); a non-OK Result means the check could not
// run (unreadable file, bad key or checkpoint signature).
Result<VerifyReport> VerifyExport(const std::string& export_file, const std::string& checkpoint_file,
                                  const std::string& verifier_key);

// Proofs against one snapshot of a log (the events present when it was
// opened).  Keep one to answer many proofs: it keeps the segments open and
// the leaf groups it last used.  Not thread-safe.
class Prover {
 public:
  static Result<std::unique_ptr<Prover>> Open(const std::string& dir);
  virtual ~Prover() = default;
  // JSON as `stele prove` prints it (docs/format.md, "Proofs").  size 0 = the
  // snapshot's size.
  virtual Result<std::string> InclusionJson(uint64_t seq, uint64_t size) = 0;
  virtual Result<std::string> ConsistencyJson(uint64_t old_size, uint64_t new_size) = 0;
  virtual uint64_t size() const = 0;
};

// One-shot forms of the Prover calls.
Result<std::string> ProveInclusionJson(const std::string& dir, uint64_t seq, uint64_t size);
Result<std::string> ProveConsistencyJson(const std::string& dir, uint64_t old_size, uint64_t new_size);
// Checks a proof JSON offline (RFC 9162 verification); no log needed.
Status VerifyProofJson(std::string_view json);

// The newest signed checkpoint note, and the verifier key of the directory.
Result<std::string> LatestCheckpointNote(const std::string& dir);
Result<std::string> VerifierKeyOf(const std::string& dir);

}  // namespace stele
