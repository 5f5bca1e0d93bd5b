// stele verify / checkpoint / prove: the integrity commands (SPEC §3).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "integrity/sha256.h"
#include "stele/integrity.h"
#include "stele/log.h"

namespace stele::cli {
namespace {

struct VerifyFlags {
  std::string against, key, export_file;
  unsigned threads = 0;
  bool read_only = false;
};

// Records the failure in the log itself, if no other process is writing it
// and it can be opened; a failure to record is reported, never fatal.
void RecordFailure(const std::string& dir, const VerifyReport& r) {
  Options o;
  o.dir = dir;
  const std::string data =
      "{\"first_bad_seq\":" + std::to_string(r.first_bad_seq) + ",\"reason\":" + JsonString(r.reason) + "}";
  auto log = Log::Open(o);
  if (!log.ok()) {
    // Another process writes the log (or it cannot be opened now): queue the
    // event for the next writer open.
    Status q = Log::QueueSecurityEvent(dir, "security.integrity_failed", data);
    if (q.ok()) {
      std::fprintf(stderr, "stele: security.integrity_failed queued for the next writer (%s)\n",
                   log.status().message().c_str());
    } else {
      std::fprintf(stderr, "stele: could not record security.integrity_failed: %s\n", q.ToString().c_str());
    }
    return;
  }
  auto seq = (*log)->RecordSecurityEvent("security.integrity_failed", data);
  Status s = (*log)->Shutdown();
  if (seq.ok() && s.ok()) {
    std::fprintf(stderr, "stele: recorded as security.integrity_failed at seq %llu\n",
                 static_cast<unsigned long long>(*seq));
  }
}

// verify --export: a whole-log export against a signed checkpoint, with no
// log needed beyond (without --key) the directory's verifier key.
int RunVerifyExport(const GlobalFlags& global, const VerifyFlags& flags) {
  if (flags.against.empty()) {
    std::fprintf(stderr, "stele: --export needs --against CHECKPOINT: the signed tree the export must match\n");
    return kExitUsage;
  }
  std::string key = flags.key;
  if (key.empty()) {
    auto own = VerifierKeyOf(global.dir);
    if (!own.ok()) return ReportError(own.status());
    key = *own;
    while (!key.empty() && (key.back() == '\n' || key.back() == ' ')) key.pop_back();
  }
  auto report = VerifyExport(flags.export_file, flags.against, key);
  if (!report.ok()) return ReportError(report.status());
  const VerifyReport& r = *report;
  if (!r.ok) {
    // Seq 0: the export as a whole does not match (a root or signature).
    if (r.first_bad_seq == 0) std::fprintf(stderr, "stele: verify FAILED: %s\n", r.reason.c_str());
    else std::fprintf(stderr, "stele: verify FAILED at seq %llu: %s\n", static_cast<unsigned long long>(r.first_bad_seq), r.reason.c_str());
    return kExitRejected;
  }
  std::printf("{\"ok\":true,\"export\":%s,\"events\":%llu,\"covered\":%llu,\"events_past_checkpoint\":%llu,"
              "\"root\":\"%s\",\"seconds\":%.3f}\n",
              JsonString(flags.export_file).c_str(), static_cast<unsigned long long>(r.events),
              static_cast<unsigned long long>(r.events - r.events_past_checkpoint),
              static_cast<unsigned long long>(r.events_past_checkpoint), r.root_hex.c_str(), r.seconds);
  return kExitOk;
}

int RunVerify(const GlobalFlags& global, const VerifyFlags& flags) {
  if (!flags.export_file.empty()) return RunVerifyExport(global, flags);
  VerifyOptions options;
  options.against_file = flags.against;
  options.verifier_key = flags.key;
  options.threads = flags.threads;
  const bool tty = ::isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  if (tty) {
    options.progress = [start](uint64_t events, uint64_t bytes) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::fprintf(stderr, "\rverify: %llu events, %.0f MB, %.0f MB/s   ", static_cast<unsigned long long>(events),
                   static_cast<double>(bytes) / 1e6, s > 0 ? static_cast<double>(bytes) / 1e6 / s : 0.0);
    };
  }
  auto report = VerifyLog(global.dir, options);
  if (tty) std::fprintf(stderr, "\n");
  if (!report.ok()) return ReportError(report.status());
  const VerifyReport& r = *report;
  if (!r.ok) {
    std::fprintf(stderr, "stele: verify FAILED at seq %llu: %s\n", static_cast<unsigned long long>(r.first_bad_seq),
                 r.reason.c_str());
    if (!flags.read_only) RecordFailure(global.dir, r);
    return kExitRejected;
  }
  std::printf("{\"ok\":true,\"first_seq\":%llu,\"events\":%llu,\"checkpoints\":%llu,"
              "\"checkpoints_before_retention\":%llu,\"lead_run_files\":%llu,\"root\":\"%s\",\"raw_bytes\":%llu,"
              "\"seconds\":%.3f,\"mb_per_s\":%.1f}\n",
              static_cast<unsigned long long>(r.first_seq), static_cast<unsigned long long>(r.events),
              static_cast<unsigned long long>(r.checkpoints),
              static_cast<unsigned long long>(r.checkpoints_before_retention),
              static_cast<unsigned long long>(r.lead_run_files), r.root_hex.c_str(), static_cast<unsigned long long>(r.raw_bytes), r.seconds,
              r.seconds > 0 ? static_cast<double>(r.raw_bytes) / 1e6 / r.seconds : 0.0);
  return kExitOk;
}

int PrintResult(const Result<std::string>& r) {
  if (!r.ok()) return ReportError(r.status());
  std::printf("%s", r->c_str());
  if (r->empty() || r->back() != '\n') std::printf("\n");
  return kExitOk;
}

}  // namespace

Command RegisterVerify(CLI::App& app, const GlobalFlags& global) {
  auto flags = std::make_shared<VerifyFlags>();
  CLI::App* sub = app.add_subcommand("verify", "re-derive every hash and check every signed checkpoint");
  sub->add_option("--against", flags->against, "a checkpoint kept elsewhere that the log must extend");
  sub->add_option("--key", flags->key, "trusted verifier key (name+id+base64) instead of the directory's own");
  sub->add_option("--threads", flags->threads, "worker threads (default: one per core)");
  sub->add_flag("--read-only", flags->read_only, "do not record a failure as a security.integrity_failed event");
  sub->add_option("--export", flags->export_file,
                  "check this whole-log export (stele export, no filters) against --against, not the log");
  sub->footer(
      "Exit 0 when intact; 1 with 'verify FAILED at seq S: reason' naming the first divergence.\n"
      "With --export FILE --against CP [--key VKEY]: the file must be the log's first N events exactly,\n"
      "N and the root signed by CP; no data directory is needed with --key.");
  return {sub, [&global, flags] { return RunVerify(global, *flags); }};
}

Command RegisterCheckpoint(CLI::App& app, const GlobalFlags& global) {
  auto public_key = std::make_shared<bool>(false);
  CLI::App* sub = app.add_subcommand("checkpoint", "print the latest signed checkpoint, or the verifier key");
  sub->add_flag("--public-key", *public_key, "print the signed-note verifier key instead");
  return {sub, [&global, public_key] {
            return PrintResult(*public_key ? VerifierKeyOf(global.dir) : LatestCheckpointNote(global.dir));
          }};
}

Command RegisterProve(CLI::App& app, const GlobalFlags& global) {
  struct ProveFlags {
    uint64_t seq = 0, size = 0, old_size = 0, new_size = 0;
    std::string file;
  };
  auto f = std::make_shared<ProveFlags>();
  CLI::App* sub = app.add_subcommand("prove", "Merkle proofs (RFC 9162) and their offline check");
  sub->require_subcommand(1);
  CLI::App* inclusion = sub->add_subcommand("inclusion", "prove event SEQ is in the tree of size N");
  inclusion->add_option("seq", f->seq, "the event's seq")->required();
  inclusion->add_option("--size", f->size, "tree size (default: the log's current size)");
  CLI::App* consistency = sub->add_subcommand("consistency", "prove the tree of size NEW extends the one of size OLD");
  consistency->add_option("old", f->old_size, "older tree size")->required();
  consistency->add_option("new", f->new_size, "newer tree size")->required();
  CLI::App* verify = sub->add_subcommand("verify", "check a proof file offline (no data directory needed)");
  verify->add_option("file", f->file, "proof JSON file, or - for stdin")->required();
  return {sub, [&global, f, inclusion, consistency] {
            if (inclusion->parsed()) return PrintResult(ProveInclusionJson(global.dir, f->seq, f->size));
            if (consistency->parsed()) {
              return PrintResult(ProveConsistencyJson(global.dir, f->old_size, f->new_size));
            }
            std::stringstream ss;
            if (f->file == "-") {
              ss << std::cin.rdbuf();
            } else {
              std::ifstream in(f->file);
              if (!in) {
                std::fprintf(stderr, "stele: %s: cannot open\n", f->file.c_str());
                return static_cast<int>(kExitIOError);
              }
              ss << in.rdbuf();
            }
            Status s = VerifyProofJson(ss.str());
            if (!s.ok()) {
              std::fprintf(stderr, "stele: proof INVALID: %s\n", s.message().c_str());
              return static_cast<int>(kExitRejected);
            }
            std::printf("valid\n");
            return static_cast<int>(kExitOk);
          }};
}

}  // namespace stele::cli
