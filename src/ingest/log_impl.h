// LogImpl: the write path behind stele::Log.
//
// Owns the directory lock, the bounded write queue (records waiting for the
// writer, counted in bytes with the batch in flight), and the single writer
// thread that drains the queue in group-committed batches into the active
// segment, syncs per SyncMode, and rotates/seals segments.
//
// Seqs are assigned at enqueue, by the lock-free WriteQueue, in queue
// order; the writer takes batches in the same order, so seq order is commit
// order with no gaps.
// A failed write or sync is never retried: error_ becomes sticky, every
// waiter is woken with it, and the log refuses writes until reopened.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "event/validator.h"
#include "ingest/retention.h"
#include "ingest/write_queue.h"
#include "integrity/hash_store.h"
#include "integrity/note.h"
#include "query/frame_cache.h"
#include "query/query_cache.h"
#include "query/reader_cache.h"
#include "query/scan_iterator.h"
#include "security/rate_limiter.h"
#include "security/security_monitor.h"
#include "stele/log.h"
#include "storage/segment_writer.h"
#include "util/env.h"
#include "util/mutex.h"
#include "util/task_thread.h"

namespace stele {

class LogImpl {
 public:
  static Result<std::unique_ptr<LogImpl>> Open(const Options& options);
  ~LogImpl();

  Result<uint64_t> Append(std::string_view json);
  Result<uint64_t> TryAppend(std::string_view json);
  Result<uint64_t> AppendQueued(std::string_view json);
  Result<uint64_t> TryAppendQueued(std::string_view json);
  Status AwaitDurable(uint64_t seq) EXCLUDES(mu_);
  Result<uint64_t> Count(const stele::Query& query);
  Result<BatchResult> AppendBatch(std::string_view ndjson, uint64_t first_line);
  Result<uint64_t> RecordSecurityEvent(std::string_view type, std::string_view data_json);
  static Status QueueSecurityEvent(const std::string& dir, std::string_view type, std::string_view data_json);
  void ReportSecurityIncident(std::string_view type, std::string_view subject_kind, std::string_view subject,
                              std::string_view reason, std::string_view reason_kind = "reason");
  Status Flush();
  Result<uint64_t> Checkpoint();
  Status Shutdown();
  Result<std::unique_ptr<EventIterator>> Query(const stele::Query& query);
  Result<std::string> QueryPage(const stele::Query& query);

  const RecoveryInfo& recovery() const { return recovery_; }
  LogStats stats() const;
  Status health() const;

 private:
  friend class EnqueueProbe;  // bench/micro_bench.cc times Enqueue() alone
  explicit LogImpl(const Options& options);

  // Moves `records` (n framed records with seq placeholders) into the queue,
  // assigning seqs, without a lock unless the queue is full or closed; then
  // waits up to the enqueue deadline for space.  Without `wait`, a full
  // queue is kBusy at once (TryAppend).
  Result<uint64_t> Enqueue(std::string* records, uint64_t n, bool wait = true) EXCLUDES(mu_);
  // Validates one event and enqueues it: its seq, once queued.
  Result<uint64_t> EnqueueValidated(std::string_view json, const ValidationLimits& limits, bool wait);
  // EnqueueValidated(), then under kAlways waits until the event is durable.
  Result<uint64_t> AppendValidated(std::string_view json, const ValidationLimits& limits, bool wait = true);
  // Waits until durable_seq_ >= seq (or an error), without taking mu_
  // unless the log halted.
  Status WaitDurable(uint64_t seq) EXCLUDES(mu_);
  // After durable_seq_, error_, writer_exited_ or checkpointed_ changed:
  // publishes them to WaitDurable() and wakes every waiter.
  void SignalProgressLocked() REQUIRES(mu_);
  Status WaitWritten(uint64_t seq) EXCLUDES(mu_);
  // Waits until every event appended so far is written, then gives the size
  // a reader can see and the active segment's live index.
  Status PrepareRead(uint64_t* size, ScanIterator::Context* context) EXCLUDES(mu_);
  Status RefusalLocked() const REQUIRES(mu_);
  // Makes the log refuse writes for good (error_ = `why`): closes the queue
  // and wakes every waiter.
  void HaltLocked(Status why) REQUIRES(mu_);
  // A producer's push found the queue empty: the writer may be asleep.
  void WakeWriter() EXCLUDES(mu_);
  // Validation and the per-source limit for one event; reports refusals to
  // the security monitor.
  Status Admit(std::string_view json, int64_t now_ns, const ValidationLimits& limits, EventView* event);
  // Writer thread: fdatasync of the active segment, timed into stats_.
  Status SyncSegment();
  SegmentWriterOptions SegmentOptions() const {
    SegmentWriterOptions o;
    o.zstd_level = options_.zstd_level;
    o.field_index = options_.field_index;
    o.live_index_chunk_events = options_.live_index_chunk_events;
    return o;
  }
  // Appends and removes <dir>/pending-security.ndjson (see QueueSecurityEvent).
  Status DrainPendingSecurityEvents();

  void WriterLoop() EXCLUDES(mu_);
  // Writer thread only: write (+ hash) + sync + checkpoint + rotate one
  // batch.  *synced says whether the segment was fdatasync'd.
  Status WriteBatch(bool sync, bool* synced);
  // Writer or helper thread: the Merkle leaves of batch_ into hashes_.
  Status HashBatch();
  // Batches smaller than this are indexed and hashed inline: waking the
  // helper would cost more than it saves (and adds latency under
  // sync=always).
  static constexpr size_t kOverlapBytes = 64u << 10;
  // Writer thread only, when idle: age rotation and time-based checkpoints.
  Status IdleWork(bool* synced);
  Status MaybeRotate(int64_t now_ns);
  // Waits for the last sealed segment's index file (and lead runs); its
  // write's status.
  Status FinishIndexFile();
  // Writer thread: once the active segment's live index holds a chunk's
  // worth, cuts it and has the indexer append it to the segment's .lidx
  // (when the indexer is free; else the chunk grows until it is).
  Status MaybePersistIndexChunk();
  // Indexer thread: the sealed segment's lead runs, for the leads its index
  // (index_bytes, SegmentIndexBuilder::Finish()) counts as busiest.
  Status WriteSealedLeadRuns(const std::string& segment_path, uint64_t first_seq, std::string index_bytes);
  bool CheckpointDue(int64_t now_ns) const;
  // Writer thread (or Open, before it starts): removes the segments the
  // retention policy no longer keeps, after folding them into the Merkle base.
  Status ApplyRetention(int64_t now_ns);
  // Runs ApplyRetention, counting a failure instead of stopping the writer:
  // an old segment that could not be removed yet loses no data.
  void RetainBestEffort(int64_t now_ns);
  // Signs and writes a checkpoint of everything hashed (if it grew), then
  // publishes its size to Checkpoint() waiters.
  Status WriteCheckpoint();
  Status SignCheckpoint();

  const Options options_;
  // The data directory's ConfinedEnv, unless options.env supplies one.
  const std::unique_ptr<Env> own_env_;
  Env* const env_;
  const std::string segment_dir_;
  ValidationLimits limits_;
  std::unique_ptr<FileLock> lock_;
  RecoveryInfo recovery_;

  mutable Mutex mu_;
  CondVar work_cv_;   // writer waits for work
  CondVar space_cv_;  // producers wait for queue space
  CondVar done_cv_;   // flush/sync waiters wait for progress
  // Framed records not yet taken by the writer; it hands out the seqs.
  // Created by Open(), once the next seq is known.
  std::unique_ptr<WriteQueue> queue_;
  uint64_t opened_next_seq_ = 1;  // queue_'s first seq: appended = next seq - this
  // Set by the writer (under mu_) before it sleeps for want of work; a
  // producer that finds the queue empty takes mu_ to wake it only then.
  std::atomic<bool> writer_idle_{false};
  uint64_t in_flight_bytes_ GUARDED_BY(mu_) = 0;  // the batch being written
  uint64_t written_seq_ GUARDED_BY(mu_) = 0;
  uint64_t durable_seq_ GUARDED_BY(mu_) = 0;
  uint64_t sync_wanted_seq_ GUARDED_BY(mu_) = 0;  // the seq Flush() / WaitDurable() want synced now
  uint64_t checkpoint_wanted_ GUARDED_BY(mu_) = 0;  // Checkpoint(): sign at least this many events
  uint64_t read_wanted_seq_ GUARDED_BY(mu_) = 0;    // a reader waits for this to be written
  uint64_t checkpointed_ GUARDED_BY(mu_) = 0;       // size of the latest checkpoint written
  Status error_ GUARDED_BY(mu_);                  // sticky
  bool closing_ GUARDED_BY(mu_) = false;
  bool writer_exited_ GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point last_sync_ GUARDED_BY(mu_){};  // end of the writer's last fdatasync
  LogStats stats_ GUARDED_BY(mu_);
  // Mirrors of durable_seq_ and of (error_ or writer_exited_) for the
  // lock-free WaitDurable().  A waiter for seq s sleeps on bucket
  // s % kWakeBuckets (std::atomic::wait: a futex after a short
  // spin, which measured better here than sleeping at once), which is bumped
  // when s, or a seq sharing its bucket, becomes durable: a commit of a few
  // events wakes a few waiters, not all of them.
  static constexpr uint64_t kWakeBuckets = 64;
  std::atomic<uint64_t> durable_published_{0};
  std::atomic<bool> halted_{false};
  std::atomic<uint32_t> wake_buckets_[kWakeBuckets] = {};
  std::shared_ptr<const LiveSegmentIndex> live_index_ GUARDED_BY(mu_);  // of the active segment
  // Of the segment sealed last, while indexer_ writes its .fidx (then null).
  std::shared_ptr<const LiveSegmentIndex> sealing_index_ GUARDED_BY(mu_);

  std::unique_ptr<RateLimiter> source_limiter_;  // null: no per-source limit
  std::unique_ptr<SecurityMonitor> monitor_;      // started once the writer runs

  QueryCache cache_;
  std::shared_ptr<SegmentIndexCache> sealed_indexes_ = std::make_shared<SegmentIndexCache>(256u << 20);
  std::shared_ptr<SealedReaderCache> sealed_readers_ = std::make_shared<SealedReaderCache>(256);
  // Remembers segments without runs unless this Log writes them.
  std::shared_ptr<LeadRunsCache> lead_runs_ =
      std::make_shared<LeadRunsCache>(64u << 20, /*remember_missing=*/options_.lead_run_min_events == 0);
  std::shared_ptr<FrameCache> frames_;  // null when Options::frame_cache_bytes is 0

  std::mutex shutdown_mu_;  // serializes Shutdown()
  bool shut_down_ = false;  // guarded by shutdown_mu_
  Status shutdown_status_;

  // Writer thread state (set up by Open before the thread starts).
  std::unique_ptr<SegmentWriter> segment_;
  std::unique_ptr<HashStoreWriter> hashes_;  // null when integrity is off
  // HashBatch's scratch, kept for its capacity (no allocation per batch).
  std::vector<std::string_view> leaf_records_;
  std::vector<Hash> leaf_hashes_;
  NoteSigner signer_;
  uint64_t last_checkpoint_size_ = 0;
  uint64_t checkpoint_target_ = 0;  // checkpoint_wanted_ as the writer last saw it
  int64_t last_checkpoint_ns_ = 0;
  int64_t last_retention_ns_ = 0;
  std::vector<std::pair<std::string, std::string>> deferred_retention_;  // removals before the monitor ran
  WriteQueue::Batch batch_;  // the batch being written (a view into queue_)
  std::unique_ptr<TaskThread> helper_;  // indexes and hashes large batches beside the writer
  // Writes a sealed segment's field index file while the writer goes on with
  // the next segment; at most one is in flight (FinishIndexFile()).
  std::unique_ptr<TaskThread> indexer_;
  bool index_file_pending_ = false;
  std::thread writer_;
};

}  // namespace stele
