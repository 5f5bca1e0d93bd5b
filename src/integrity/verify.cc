// VerifyLog: the end-to-end check behind `stele verify`.
//
// Worker threads read, check and decompress frames and hash their records
// (the expensive part, parallel); the calling thread consumes the results in
// seq order and does the cheap sequential part: seq continuity, the compact
// range, stored hashes and checkpoint roots.  Memory is bounded by a window of
// frames in flight.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "util/confined_env.h"
#include "event/record.h"
#include "index/lead_runs.h"
#include "integrity/checkpoint.h"
#include "integrity/hash_store.h"
#include "integrity/merkle_base.h"
#include "stele/integrity.h"
#include "storage/format.h"
#include "storage/segment_list.h"
#include "storage/segment_reader.h"
#include "util/coding.h"
#include "util/task_thread.h"

namespace stele {
namespace {

// The lead runs of one sealed segment, checked against its leaves
// (LeadRunsCheck).  Opened by the first worker that reads one of the
// segment's frames, fed by the consumer, checked on a checker thread once
// the consumer is past the segment, then dropped: only the segments in the
// frame window and the two being checked hold their runs in memory, so
// verify's memory does not grow with the number of segments.
struct SegmentRuns {
  Env* env = nullptr;
  const SegmentReader* segment = nullptr;
  std::once_flag opened;
  std::unique_ptr<LeadRunsCheck> check;  // null: no runs (or not readable)
  bool had_runs = false;
  Status error;  // the runs could not be read, or CheckRuns()'s verdict

  void Open() {
    std::call_once(opened, [this] {
      auto c = LeadRunsCheck::Open(env, segment->path(), segment->first_seq());
      if (!c.ok()) {
        error = c.status();
        return;
      }
      check = std::move(c).value();
      had_runs = check != nullptr;
    });
  }
};

struct FrameJob {
  const SegmentReader* segment = nullptr;  // null: `error` describes a segment that cannot be read
  size_t frame = 0;
  uint64_t first_seq = 0;
  Status error;
  const RandomAccessFile* fingerprints = nullptr;  // merkle/fp.bin, if present
  // A sealed segment's lead runs; workers open them and call only
  // LeadIndex().
  SegmentRuns* runs = nullptr;
};

struct FrameResult {
  Status status;
  std::vector<uint64_t> seqs;
  std::vector<Hash> leaves;
  std::vector<int> run_leads;  // with FrameJob::runs: each record's LeadIndex()
  uint64_t raw_bytes = 0;
  uint64_t fp_mismatch_seq = 0;  // first record whose leaf hash differs from its stored fingerprint
  bool ready = false;
};

void RunJob(const FrameJob& job, FrameResult* out) {
  out->seqs.clear();
  out->leaves.clear();
  out->run_leads.clear();
  out->raw_bytes = 0;
  if (job.segment == nullptr) {
    out->status = job.error;
    return;
  }
  std::string raw;
  out->status = job.segment->ReadFrame(job.frame, &raw);
  if (!out->status.ok()) return;
  Sha256& sha = ThreadSha256();
  const LeadRunsCheck* check = nullptr;
  if (job.runs) {
    job.runs->Open();
    check = job.runs->check.get();
  }
  EventView e;
  // The frame's leaves are hashed together once it has been parsed, two at
  // a time (Sha256::LeafHashes).
  thread_local std::vector<std::string_view> records;
  records.clear();
  for (size_t pos = 0; pos < raw.size();) {
    if (pos + 4 > raw.size()) {
      out->status = Status::Corruption("record lengths do not add up");
      return;
    }
    const uint32_t len = GetU32(raw.data() + pos);
    std::string_view rec(raw.data() + pos + 4, std::min<size_t>(len, raw.size() - pos - 4));
    if (rec.size() != len || !DecodeRecord(rec, &e)) {
      out->status = Status::Corruption("malformed record in a frame that passed its checksum");
      return;
    }
    out->seqs.push_back(e.seq);
    records.push_back(rec);
    if (check) out->run_leads.push_back(e.lead_id.empty() ? -1 : check->LeadIndex(e.lead_id));
    out->raw_bytes += len;
    pos += 4 + len;
  }
  out->leaves.resize(records.size());
  sha.LeafHashes(records, out->leaves.data());
  // Compare with the fingerprints recorded at write time (one read a frame).
  if (job.fingerprints != nullptr && !out->seqs.empty()) {
    std::string fps(out->seqs.size() * 4, '\0');
    size_t got = 0;
    if (job.fingerprints->Read((job.first_seq - 1) * 4, fps.size(), fps.data(), &got).ok()) {
      for (size_t k = 0; k < got / 4; ++k) {
        if (out->seqs[k] == job.first_seq + k && std::memcmp(fps.data() + 4 * k, out->leaves[k].data(), 4) != 0) {
          out->fp_mismatch_seq = out->seqs[k];
          break;
        }
      }
    }
  }
}

// Runs jobs on worker threads, handing results back in job order.
class FramePipeline {
 public:
  FramePipeline(const std::vector<FrameJob>& jobs, unsigned threads) : jobs_(jobs), slots_(kWindow) {
    for (unsigned t = 0; t < threads; ++t) workers_.emplace_back([this] { Work(); });
  }
  ~FramePipeline() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }
  // Blocks until job j (consumed in order) is done; valid until Release().
  FrameResult& Take(size_t j) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return slots_[j % kWindow].ready; });
    return slots_[j % kWindow];
  }
  void Release(size_t j) {
    {
      std::lock_guard<std::mutex> g(mu_);
      slots_[j % kWindow].ready = false;
      consumed_ = j + 1;
    }
    cv_.notify_all();
  }

 private:
  static constexpr size_t kWindow = 16;

  void Work() {
    std::unique_lock<std::mutex> l(mu_);
    while (true) {
      cv_.wait(l, [&] { return stop_ || (next_ < jobs_.size() && next_ < consumed_ + kWindow); });
      if (stop_) return;
      const size_t j = next_++;
      l.unlock();
      FrameResult result;
      RunJob(jobs_[j], &result);
      l.lock();
      result.ready = true;
      slots_[j % kWindow] = std::move(result);
      cv_.notify_all();
    }
  }

  const std::vector<FrameJob>& jobs_;
  std::vector<FrameResult> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t next_ = 0, consumed_ = 0;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

struct SignedCheckpoint {
  Checkpoint cp;
  std::string source;  // "checkpoint 00..042.cp" or "--against file"
};

}  // namespace

Result<VerifyReport> VerifyLog(const std::string& dir, const VerifyOptions& options) {
  ConfinedEnv confined(dir);
  Env* env = &confined;
  const auto start = std::chrono::steady_clock::now();
  VerifyReport report;
  auto fail = [&](uint64_t seq, std::string reason) -> Result<VerifyReport> {
    report.ok = false;
    report.first_bad_seq = seq;
    report.reason = std::move(reason);
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return report;
  };

  // 1. The key, and every checkpoint's signature.
  Result<NoteVerifier> verifier = options.verifier_key.empty() ? LoadVerifier(env, dir, "")
                                                                : ParseNoteVerifier(options.verifier_key);
  if (!verifier.ok()) return verifier.status();
  auto sizes = ListCheckpoints(env, dir);
  if (!sizes.ok()) return sizes.status();
  std::vector<SignedCheckpoint> checkpoints;
  for (uint64_t size : *sizes) {
    auto note = ReadCheckpointFile(env, dir, size);
    if (!note.ok()) return note.status();
    auto cp = OpenCheckpoint(*note, *verifier);
    if (!cp.ok()) return fail(size, "checkpoint " + CheckpointFileName(size) + ": " + cp.status().message());
    if (cp->size != size) {
      return fail(size, "checkpoint " + CheckpointFileName(size) + " claims tree size " + std::to_string(cp->size));
    }
    checkpoints.push_back({*cp, "checkpoint " + CheckpointFileName(size)});
  }
  if (!options.against_file.empty()) {
    // The operator names this file, usually kept outside the data directory.
    auto note = ReadFileToString(Env::Default(), options.against_file, 64 << 10);
    if (!note.ok()) return note.status();
    auto cp = OpenCheckpoint(*note, *verifier);
    if (!cp.ok()) return fail(0, "--against " + options.against_file + ": " + cp.status().message());
    checkpoints.push_back({*cp, "--against " + options.against_file});
  }
  std::multimap<uint64_t, const SignedCheckpoint*> by_size;
  for (const auto& c : checkpoints) by_size.emplace(c.cp.size, &c);
  report.checkpoints = checkpoints.size();

  // 2. Every frame, in seq order.
  const std::string seg_dir = SegmentDirOf(dir);
  auto listed = ListSegments(env, seg_dir);
  if (!listed.ok()) return listed.status();
  const std::vector<uint64_t>& firsts = *listed;
  std::vector<std::unique_ptr<SegmentReader>> segments;
  // Per segment: its lead runs (sealed segments only); a failure is
  // reported after the frames, by the first such segment.
  std::vector<std::unique_ptr<SegmentRuns>> runs;
  std::vector<FrameJob> jobs;
  auto fp_file = env->OpenReadable(dir + "/" + std::string(kMerkleDir) + "/fp.bin");
  const RandomAccessFile* fps = fp_file.ok() ? fp_file->get() : nullptr;
  for (size_t i = 0; i < firsts.size(); ++i) {
    auto r = SegmentReader::Open(env, seg_dir + "/" + format::SegmentFileName(firsts[i]), firsts[i]);
    if (!r.ok()) {
      jobs.push_back({nullptr, 0, firsts[i], r.status()});
      break;  // nothing after an unreadable segment can be placed in order
    }
    std::unique_ptr<SegmentRuns> segment_runs;
    if ((*r)->sealed()) {
      segment_runs = std::make_unique<SegmentRuns>();
      segment_runs->env = env;
      segment_runs->segment = r->get();
    }
    for (size_t f = 0; f < (*r)->frames().size(); ++f) {
      jobs.push_back({r->get(), f, (*r)->frames()[f].first_seq, {}, fps, segment_runs.get()});
    }
    // Kept before the tail is looked at: the jobs above point into them.
    segments.push_back(std::move(r).value());
    runs.push_back(std::move(segment_runs));
    if (const SegmentReader& kept = *segments.back(); !kept.tail_error().ok()) {
      jobs.push_back({nullptr, 0, kept.last_seq() + 1, kept.tail_error()});
      break;
    }
  }

  // 3. Where the tree resumes: the Merkle base retention left, if the events
  // before it are gone.  Segments the base covers but an interrupted
  // retention did not remove yet are read for continuity, not hashed.
  auto base = ReadMerkleBase(env, dir);
  if (!base.ok()) return fail(0, base.status().message());
  const uint64_t first_stored = firsts.empty() ? 1 : firsts.front();
  CompactRange range;
  uint64_t expect = 1;
  if (*base && first_stored > 1) {
    range = **base;
    expect = std::min(first_stored, range.size() + 1);
    report.first_seq = range.size() + 1;
  }
  const uint64_t hash_from = range.size() + 1;
  for (auto it = by_size.begin(); it != by_size.end() && it->first < range.size();) {
    ++report.checkpoints_before_retention;
    it = by_size.erase(it);
  }
  report.checkpoints -= report.checkpoints_before_retention;
  HashStoreReader stored(env, dir, nullptr);
  Sha256& sha = ThreadSha256();
  uint64_t last_good_checkpoint = range.size();
  auto check_checkpoints = [&]() -> bool {
    auto [lo, hi] = by_size.equal_range(range.size());
    for (auto it = lo; it != hi; ++it) {
      if (range.Root(sha) != it->second->cp.root) return false;
    }
    if (lo != hi) last_good_checkpoint = range.size();
    return true;
  };
  if (!check_checkpoints()) {
    return fail(range.size() + 1, "the Merkle base left by retention (" + std::to_string(range.size()) +
                                      " events) does not match the checkpoint signed at that size");
  }
  Status stored_mismatch;
  uint64_t stored_mismatch_seq = 0;
  unsigned threads = options.threads ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  // Two segments' runs are checked at a time, each on its own thread, so the
  // consumer rarely waits for one.  Declared before the pipeline, so they
  // are joined after the workers that open the runs they check.
  constexpr size_t kCheckers = 2;
  TaskThread checkers[kCheckers] = {TaskThread("stele-runcheck"), TaskThread("stele-runcheck")};
  size_t next_checker = 0;
  FramePipeline pipeline(jobs, threads);
  auto last_progress = std::chrono::steady_clock::now();
  for (size_t j = 0; j < jobs.size(); ++j) {
    FrameResult& r = pipeline.Take(j);
    if (!r.status.ok()) {
      std::string why = r.status.message();
      pipeline.Release(j);
      return fail(jobs[j].first_seq, "corrupt frame: " + why);
    }
    if (jobs[j].runs && jobs[j].runs->check) {
      for (size_t k = 0; k < r.run_leads.size(); ++k) {
        if (r.run_leads[k] >= 0) jobs[j].runs->check->AddSegmentLeaf(r.run_leads[k], r.leaves[k]);
      }
      // Past the segment's last frame: its runs are checked on a checker
      // thread while the consumer goes on with the frames that follow.
      if (j + 1 == jobs.size() || jobs[j + 1].runs != jobs[j].runs) {
        TaskThread& checker = checkers[next_checker++ % kCheckers];
        (void)checker.Wait();  // its previous segment (Ok at once if none)
        SegmentRuns* done = jobs[j].runs;
        checker.Run([done] {
          done->error = done->check->CheckRuns();
          done->check.reset();
          return Status::Ok();
        });
      }
    }
    for (size_t k = 0; k < r.seqs.size();) {
      const uint64_t seq = r.seqs[k];
      if (seq != expect) {
        pipeline.Release(j);
        if (seq > expect) {
          return fail(expect, "events " + std::to_string(expect) + ".." + std::to_string(seq - 1) +
                                  " are missing (deleted or truncated)");
        }
        return fail(expect, "event seq " + std::to_string(seq) + " found where seq " + std::to_string(expect) +
                                " belongs (events inserted or reordered)");
      }
      if (seq < hash_from) {  // covered by the base
        ++expect;
        ++k;
        continue;
      }
      if (seq == r.fp_mismatch_seq) {
        pipeline.Release(j);
        return fail(seq, "event seq " + std::to_string(seq) +
                             " was modified: its hash differs from the one recorded when it was written");
      }
      // The leaves from k that are in order and unflagged, up to the next
      // size a checkpoint was signed at, go into the tree together (their
      // node hashes two at a time); the checks above then resume.
      auto cp = by_size.upper_bound(range.size());
      const uint64_t room = cp == by_size.end() ? UINT64_MAX : cp->first - range.size();
      size_t e = k + 1;
      while (e < r.seqs.size() && e - k < room && r.seqs[e] == seq + (e - k) && r.seqs[e] != r.fp_mismatch_seq) ++e;
      range.AppendAll(std::span<const Hash>(r.leaves.data() + k, e - k), sha,
                      [&](int height, uint64_t idx, const Hash& hash) {
                        if (height % kStoredLevelStep != 0) return;
                        const uint64_t start = (idx << height) + 1;
                        if (stored_mismatch_seq != 0 && stored_mismatch_seq <= start) return;
                        Hash want;
                        if (stored.StoredNode(height / kStoredLevelStep, idx, &want) && want != hash) {
                          stored_mismatch_seq = start;  // the earliest such subtree is reported
                          stored_mismatch = Status::Corruption(
                              "events " + std::to_string(start) + ".." + std::to_string((idx + 1) << height) +
                              " hash differently than the stored Merkle hash h" + std::to_string(height) + "[" +
                              std::to_string(idx) + "]");
                        }
                      });
      expect += e - k;
      k = e;
      if (!check_checkpoints()) {
        pipeline.Release(j);
        if (stored_mismatch_seq != 0) return fail(stored_mismatch_seq, stored_mismatch.message());
        return fail(last_good_checkpoint + 1,
                    "root of the first " + std::to_string(range.size()) + " events differs from " +
                        by_size.find(range.size())->second->source + ": history between seq " +
                        std::to_string(last_good_checkpoint + 1) + " and " + std::to_string(range.size()) +
                        " was rewritten");
      }
    }
    report.raw_bytes += r.raw_bytes;
    report.events = range.size() - (hash_from - 1);
    pipeline.Release(j);
    if (options.progress && std::chrono::steady_clock::now() - last_progress > std::chrono::milliseconds(200)) {
      options.progress(report.events, report.raw_bytes);
      last_progress = std::chrono::steady_clock::now();
    }
  }
  if (!stored_mismatch.ok()) return fail(stored_mismatch_seq, stored_mismatch.message());
  // 4. Checkpoints beyond the end: the log lost events it had signed.
  if (!by_size.empty() && by_size.rbegin()->first > range.size()) {
    const auto* c = by_size.rbegin()->second;
    return fail(range.size() + 1, "log ends at seq " + std::to_string(range.size()) + " but " + c->source +
                                      " covers " + std::to_string(c->cp.size) + " events (truncated)");
  }
  // 5. Lead runs (derived copies that lead lookups read instead of frames):
  // each must hold exactly its lead's events, or a lookup could serve an
  // event the tree above does not cover.  The frames above fed each check
  // its segment's leaves, and the checker threads have read and hashed the
  // runs; the first failing segment (by seq) is reported.
  for (TaskThread& checker : checkers) (void)checker.Wait();
  for (size_t k = 0; k < segments.size(); ++k) {
    if (!runs[k]) continue;
    if (!runs[k]->error.ok()) return fail(segments[k]->first_seq(), "lead runs: " + runs[k]->error.message());
    if (runs[k]->had_runs) ++report.lead_run_files;
  }
  report.ok = true;
  report.root_hex = ToHex(range.Root(sha));
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (options.progress) options.progress(report.events, report.raw_bytes);
  return report;
}

Result<std::string> LatestCheckpointNote(const std::string& dir) {
  ConfinedEnv confined(dir);
  Env* env = &confined;
  auto sizes = ListCheckpoints(env, dir);
  if (!sizes.ok()) return sizes.status();
  if (sizes->empty()) return Status::NotFound(dir + ": no checkpoint yet");
  return ReadCheckpointFile(env, dir, sizes->back());
}

Result<std::string> VerifierKeyOf(const std::string& dir) {
  ConfinedEnv confined(dir);
  auto v = LoadVerifier(&confined, dir, "");
  if (!v.ok()) return v.status();
  return v->ToString();
}

}  // namespace stele
