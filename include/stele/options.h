// Options for opening a stele log.  Plain values; defaults are the ones the
// spec documents (SPEC §2).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "stele/status.h"

namespace stele {

class Env;

// When an append counts as durable.
enum class SyncMode {
  kAlways,  // Append() returns once its batch is fdatasync'd.
  kBatch,   // Every batch is fdatasync'd before the next starts; Flush() waits for it.
  kNone,    // Page cache only; Flush() and Shutdown() still force a sync.
};

// Parses "always" | "batch" | "none".  Returns false on anything else.
bool ParseSyncMode(std::string_view text, SyncMode* out);
std::string_view SyncModeName(SyncMode mode);


struct Options {
  // Data directory; created (mode 0700) if missing.
  std::string dir = "./stele-data";
  SyncMode sync = SyncMode::kBatch;

  // Group-commit window under kBatch: after an fdatasync the writer waits up
  // to this long for more events (unless 1 MiB is already queued, or a
  // Flush(), a checkpoint or a reader is waiting) before writing the next batch, so a
  // stream of small appends shares one sync instead of paying one each
  // (PostgreSQL's commit_delay).  Flush() and kAlways are never delayed.
  // Zero writes each batch as soon as the previous sync ends.
  std::chrono::microseconds batch_commit_delay{1000};

  // Bound of the write queue's memory, in encoded event bytes (under 4
  // GiB): two buffers of half of it each, one filling while the writer
  // writes the other.  A full queue makes Append() wait up to
  // enqueue_deadline, then fail with kBusy.  One Append larger than half the
  // bound is admitted alone into an empty buffer, so it cannot wait for ever.
  size_t queue_bytes = 64u << 20;
  std::chrono::milliseconds enqueue_deadline{2000};
  // Touches both queue buffers at Open(), so no append ever waits on a first
  // page fault of the queue (~2 us each).  Costs 2 x queue_bytes of resident
  // memory from the start; off by default, so a short-lived `stele append`
  // pays only for what it queues.
  bool prefault_queue = false;

  // Limits on input events (docs/security.md, "Input limits"): an event over
  // any of them is rejected with an error naming the field and the limit.
  size_t max_event_bytes = 1u << 20;    // bytes of JSON
  int max_depth = 64;                   // nesting of objects and arrays in data
  size_t max_object_keys = 10'000;      // keys in one object of data
  size_t max_string_bytes = 256u << 10; // one string or key in data, unescaped

  // Segment rotation: a segment is sealed once it holds this many bytes, or
  // once it is this old and holds at least one frame.
  uint64_t segment_max_bytes = 256ull << 20;
  // ... or once the field index it builds in memory holds this many bytes
  // (0: no limit).  This, not the log's size, bounds the writer's memory
  // whatever the number of distinct indexed values: 1M Zipf-distributed lead
  // ids reach 64 MiB after about 2.5M events (docs/performance.md, "Memory").
  uint64_t segment_max_index_bytes = 64ull << 20;
  std::chrono::seconds segment_max_age{std::chrono::hours(24)};

  // Retention (SPEC §2): whole sealed segments are removed, oldest first,
  // once every event in them is older than retention_max_age, and while the
  // log's segment bytes exceed retention_max_bytes.  The active segment is
  // never removed, and what remains still verifies (docs/format.md, "Merkle
  // base").  Zero disables each limit.
  std::chrono::seconds retention_max_age{0};
  uint64_t retention_max_bytes = 0;

  // Frames are cut when their uncompressed records reach this size.
  size_t frame_target_bytes = 256u << 10;
  int zstd_level = 1;  // on the reference workload level 1 is both faster and smaller than 3 with 256 KiB frames
  // Per-segment field index (the query planner's postings), built while
  // writing and saved at seal.  Off only to measure its cost.
  bool field_index = true;
  // The active segment's field index is also saved, in chunks of this many
  // events, to <segment>.lidx: a reader in another process (`stele query`)
  // and the next Open() use it and read only the events after its last
  // chunk (docs/format.md, "Live index").  Smaller chunks: fresher for
  // those readers, more chunks to search and merge at seal.
  uint32_t live_index_chunk_events = 65536;
  // Lead runs (docs/format.md, "Lead runs"): once a segment is sealed, the
  // events of each lead holding at least this many of its events (the
  // busiest 8,192 at most) are copied into <segment>.lrun, grouped by lead,
  // so a lookup of a popular lead reads its events rather than most of the
  // log's frames.  Costs disk (those events are stored twice) and a second
  // pass over each sealed segment on the indexer thread.  0: off (default).
  uint64_t lead_run_min_events = 0;

  // Integrity (SPEC §3): a Merkle leaf per event and signed checkpoints.
  // Turn off only to measure its cost.
  bool integrity = true;
  // A checkpoint is written once this many events or this much time have
  // been added since the last one (and at every seal and at shutdown).
  uint64_t checkpoint_every_events = 100'000;
  std::chrono::milliseconds checkpoint_interval{10'000};
  // The checkpoint signing key (a signed-note "PRIVATE+KEY+..." file).  Empty:
  // <dir>/keys/checkpoint.key, generated (mode 0600) on first open.
  std::string signing_key_path;

  // Per-source rate limit (SPEC §6): a token bucket per event `source` (an
  // event without one counts as source ""), refilled at source_rate events/s
  // and holding source_burst (0: one second's worth).  Events over it are
  // rejected with kRateLimited.  0 turns it off.
  double source_rate = 0;
  double source_burst = 0;

  // Security events (SPEC §7): rejected events and rate-limit hits, and what
  // the server reports, are written as security.* events aggregated per
  // (type, subject, reason) over this interval, at most security_max_groups
  // events per interval and type set.
  std::chrono::milliseconds security_interval{10'000};
  size_t security_max_groups = 100;

  // Bytes of query answers kept by Log::QueryPage (never stale, LRU).
  size_t query_cache_bytes = 64u << 20;
  // Bytes of decompressed frames an open Log keeps for its queries (LRU;
  // frames never change once written), filled only by what queries read.
  // With the frames of hot leads in memory, a lookup visits only their
  // records.  0 turns it off.
  size_t frame_cache_bytes = 512u << 20;

  // I/O seam (see src/util/env.h); nullptr means the POSIX file system.
  Env* env = nullptr;
};

// Presets for common workloads (the same names as `--profile` and the Python
// package's `profile=`), applied over *options:
//   "high-throughput"    big queue, 2 ms group-commit window, checkpoints every 1M events
//   "low-latency"        no group-commit window, 64 KiB frames: an append is written at once
//   "storage-optimized"  zstd level 6 and 1 MiB frames: smaller files, slower writer
//   "lookup-optimized"   lead runs for leads with 8+ events in a segment, and
//                        16 MiB segments (an active segment has no runs yet):
//                        fast lookups of popular leads, more disk
// kInvalidArgument naming the profile otherwise.
Status ApplyProfile(std::string_view profile, Options* options);

}  // namespace stele
