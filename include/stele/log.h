// Log: the writable handle on one stele data directory.
//
// Owns the directory lock (one writer process at a time; the lock dies with
// the process), a bounded write queue and the one writer thread that drains
// it in group-committed batches into the active segment.
//
// Thread safety: every method may be called from any thread, concurrently.
// Crash behaviour: after kill -9 or power loss, reopening keeps every event
// whose Append() returned under SyncMode::kAlways, and every event appended
// before a Flush() that returned OK; a torn unflushed tail is dropped.
#pragma once

#include <cstdint>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "stele/options.h"
#include "stele/query.h"
#include "stele/status.h"

namespace stele {

class LogImpl;

// One rejected line of a batch: 1-based line number and the reason.
struct LineError {
  uint64_t line = 0;
  Status status;
};

struct BatchResult {
  uint64_t appended = 0;
  uint64_t first_seq = 0;  // 0 when nothing was appended
  uint64_t last_seq = 0;
  std::vector<LineError> rejected;
};

// What Open() found and repaired.
struct RecoveryInfo {
  uint64_t segments = 0;
  uint64_t last_seq = 0;          // highest seq present after recovery
  uint64_t dropped_bytes = 0;     // torn tail removed from the active segment
  // Frames of the active segment read to rebuild its field index: those
  // after the last chunk of its .lidx (all of them without one).
  uint64_t frames_reindexed = 0;
};

// Counters for monitoring.  Snapshot values.
struct LogStats {
  uint64_t appended = 0;           // events accepted into the queue
  uint64_t written_seq = 0;        // highest seq written to the OS
  uint64_t durable_seq = 0;        // highest seq fdatasync'd
  uint64_t queue_bytes = 0;        // bytes waiting or in flight
  uint64_t queue_events = 0;       // events appended but not yet written (queue depth)
  uint64_t queue_peak_bytes = 0;   // high-water mark of the bytes waiting (at most half of Options::queue_bytes)
  uint64_t batches = 0;
  uint64_t syncs = 0;
  uint64_t busy_rejects = 0;
  uint64_t invalid_rejects = 0;       // events refused by validation
  uint64_t rate_limited_rejects = 0;  // events refused by the per-source limit
  uint64_t security_incidents = 0;    // reported to the security monitor
  uint64_t security_events = 0;       // aggregated security.* events it wrote
  // fdatasync latency of the active segment: count, sum and a histogram
  // (bucket i counts syncs of at most kFsyncBucketsUs[i] µs; the last, +Inf).
  uint64_t fsyncs = 0;
  uint64_t fsync_total_ns = 0;
  static constexpr uint64_t kFsyncBucketsUs[] = {50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 1000000};
  uint64_t fsync_buckets[std::size(kFsyncBucketsUs) + 1] = {};
  uint64_t segments_sealed = 0;
  uint64_t segments_removed = 0;    // by retention, since open
  uint64_t retention_failures = 0;  // runs that failed (retried at the next seal or idle tick)
  uint64_t first_seq = 0;           // oldest seq still stored (1 unless retention removed some)
  uint64_t cache_hits = 0;     // QueryPage answers served from the cache
  uint64_t cache_extends = 0;  // ... of which extended with newer events
  uint64_t cache_misses = 0;
  uint64_t cache_bytes = 0;
  uint64_t frame_cache_bytes = 0;  // decompressed frames kept for queries
};

class Log {
 public:
  // Opens (creating if needed) and recovers the directory in options.dir.
  // kLocked if another process has it open for writing.
  static Result<std::unique_ptr<Log>> Open(const Options& options);

  ~Log();  // Shutdown(), ignoring its status.
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Validates one JSON event and enqueues it; returns its seq.  Under
  // kAlways, returns once the event is durable.  Errors: kInvalidArgument
  // (names field and reason), kBusy (queue full past the deadline),
  // kReadOnly (an earlier write or sync failed), kClosed.
  Result<uint64_t> Append(std::string_view json);
  // Append() that never waits: kBusy at once when the queue is full or the
  // sync mode is kAlways (then nothing was appended: call Append(), which
  // waits, without holding what other threads need, such as a GIL).  The
  // event's source was charged a rate-limit token either way.
  Result<uint64_t> TryAppend(std::string_view json);
  // Append() that returns once the event is queued, whatever the sync mode
  // (it waits, as Append() does, only for queue space): the event is then
  // written and synced as any other, and WaitDurable(seq) returns once it
  // is durable.  For a caller that keeps many events in flight without a
  // thread blocked on each (an event loop, a pipeline, a benchmark).
  Result<uint64_t> AppendQueued(std::string_view json);
  // AppendQueued() that never waits: kBusy at once when the queue is full
  // (then nothing was appended; the source was charged a token, as with
  // TryAppend()).
  Result<uint64_t> TryAppendQueued(std::string_view json);
  // Returns once every event up to `seq` is durable (fdatasync'd).  Under
  // kBatch and kNone it asks the writer for that sync, as Flush() does.
  // kInvalidArgument for a seq not appended yet; kReadOnly or kClosed if
  // the log stopped before the event was durable.
  Status WaitDurable(uint64_t seq);

  // Validates each line of an NDJSON text; the good lines are enqueued as
  // one run with contiguous seqs, the bad ones are reported by line number.
  // Blank lines are skipped.  A non-OK Result means nothing was appended.
  // first_line numbers the first line of ndjson in LineError (for callers
  // that feed a long stream in chunks).
  Result<BatchResult> AppendBatch(std::string_view ndjson, uint64_t first_line = 1);

  // Appends an event of a reserved "security.*" type, written by stele itself
  // (the type prefix is refused from producers).  `data_json` is an object.
  Result<uint64_t> RecordSecurityEvent(std::string_view type, std::string_view data_json);

  // For a process that found something to record but cannot open the log
  // (another process writes it): queues the security event in
  // <dir>/pending-security.ndjson; the next Log::Open() appends it (with
  // the time it was queued) and removes the file.
  static Status QueueSecurityEvent(const std::string& dir, std::string_view type, std::string_view data_json);

  // Reports a security incident (an auth failure, a rate-limit hit, a
  // rejected path...) to the log's security monitor: it is written as a
  // `type` event (security.*), aggregated per (type, subject, reason) over
  // Options::security_interval.  Cheap; never blocks on the disk.
  void ReportSecurityIncident(std::string_view type, std::string_view subject_kind, std::string_view subject,
                              std::string_view reason, std::string_view reason_kind = "reason");

  // Returns once every event appended before the call is durable.
  Status Flush();
  // Writes a signed checkpoint covering every event appended before the
  // call (once they are written), unless one already does; returns its tree
  // size.  kInvalidArgument when integrity is off.
  Result<uint64_t> Checkpoint();
  // Drains the queue, flushes, closes files and releases the lock.  Later
  // appends fail with kClosed.  Idempotent.
  Status Shutdown();

  // Streams stored events.  Sees every event whose Append() returned before
  // the call (it waits for the writer to hand them to the OS).
  Result<std::unique_ptr<EventIterator>> Query(const stele::Query& query);

  // How many events Query(query) would return.  With at most one indexed
  // equality filter and time or seq ranges, sealed segments are counted
  // from their field index's per-frame counts, reading only the frames a
  // range cuts; anything else is counted by reading.  Same visibility.
  Result<uint64_t> Count(const stele::Query& query);

  // A page of a query (1 <= query.limit <= kMaxPageEvents) as NDJSON, through
  // the query cache: a repeat is answered from memory, and an answer is
  // extended by reading only the events added since it was cached, so it is
  // never stale.  Same visibility as Query().
  Result<std::string> QueryPage(const stele::Query& query);
  static constexpr uint64_t kMaxPageEvents = 10'000;

  const RecoveryInfo& recovery() const;
  LogStats stats() const;
  // OK, or the sticky reason the log turned read-only.
  Status health() const;

 private:
  explicit Log(std::unique_ptr<LogImpl> impl);
  std::unique_ptr<LogImpl> impl_;
};

}  // namespace stele
