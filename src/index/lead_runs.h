// Lead runs: a sealed segment's events of its busiest leads, copied out and
// grouped by lead (<first seq>.lrun, docs/format.md "Lead runs").
//
// Why: frames hold events in seq order, so a popular lead sits in nearly
// every frame and a lookup of it decompresses most of the log.  A lead run
// holds that lead's events, and only them, in blocks of about 32 KiB, so a
// lookup reads about as many bytes as it returns.  The price is disk: the
// events of the runs are stored twice.  Written only with
// Options::lead_run_min_events set (the "lookup-optimized" profile).
//
// Derived data, like the field index: written after the segment is sealed
// (from the segment itself), atomically (temporary name, fsync, rename); a
// missing or damaged file makes readers use the segment's frames instead.
// `stele verify` checks every run against the segment, record by record
// (VerifyLeadRuns), so a run cannot serve an event the log does not hold.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "index/name_table.h"
#include "index/segment_index.h"
#include "integrity/sha256.h"
#include "stele/status.h"
#include "util/env.h"
#include "util/lru_cache.h"

namespace stele {

// How a block's bytes are laid out before zstd: the framed records as they
// are, or their seqs as a column of deltas followed by the records in
// codec 3's columns (storage/frame_columns.h).
inline constexpr uint32_t kRunBlockRecords = 1;
inline constexpr uint32_t kRunBlockColumns = 3;

// One compressed block of a run: records of one lead, ascending by seq.
struct LeadRunBlock {
  uint64_t offset = 0;  // in the file
  uint32_t stored_len = 0;
  uint32_t raw_len = 0;
  uint32_t count = 0;
  uint32_t layout = 0;  // kRunBlockRecords or kRunBlockColumns (docs/format.md)
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  int64_t min_ts = 0;
  int64_t max_ts = 0;
  uint64_t checksum = 0;  // XXH3-64 of the stored bytes
};

// Reads a .lrun file.  Immutable after Load(); ReadBlock() may be called
// from several threads.
class LeadRuns {
 public:
  // kNotFound if the segment has no lead runs; kCorruption if the file's
  // table or directory is damaged.
  static Result<std::unique_ptr<LeadRuns>> Load(Env* env, const std::string& segment_path, uint64_t first_seq);

  const std::string& path() const { return path_; }
  // The run of `lead`, in seq order; empty when the lead has none.
  std::span<const LeadRunBlock> BlocksOf(std::string_view lead) const;
  size_t lead_count() const { return leads_.size(); }
  std::string_view lead(size_t i) const { return leads_[i].name; }
  uint64_t events(size_t i) const { return leads_[i].events; }
  std::span<const LeadRunBlock> blocks(size_t i) const;
  // Where `block` (one of this file's) sits in the file's table: a key.
  size_t BlockOrdinal(const LeadRunBlock& block) const { return static_cast<size_t>(&block - blocks_.data()); }
  // Reads, checks and decompresses a block into *raw: (u32 len | record)*
  // as in a frame.  kCorruption names the file and the block.
  Status ReadBlock(const LeadRunBlock& block, std::string* raw) const;
  size_t memory_bytes() const;

 private:
  struct Lead {
    std::string_view name;  // into directory_
    uint32_t first_block = 0;
    uint32_t n_blocks = 0;
    uint64_t events = 0;
  };
  std::string path_;
  std::unique_ptr<RandomAccessFile> file_;
  std::string directory_;
  std::vector<Lead> leads_;  // ascending by name
  std::vector<LeadRunBlock> blocks_;
};

// What a writer of lead runs is told.
struct LeadRunOptions {
  uint64_t min_events = 64;   // a lead with fewer events in the segment gets no run
  size_t max_leads = 8192;    // the busiest this many, at most
  size_t block_bytes = 32u << 10;  // raw bytes a block is cut at
  // Records the builder may hold for blocks not yet full, all leads
  // together; past it, a lead's block of at least block_bytes / 8 is cut
  // early (see LeadRunsBuilder).
  size_t pending_budget_bytes = 64u << 20;
  int zstd_level = 1;
};

// The leads of a segment that get a run: those with at least min_events
// events, the busiest max_leads of them; ascending by value.
Result<std::vector<std::string>> BusiestLeads(const SegmentIndex& index, const LeadRunOptions& options);

// Writes a .lrun file from records fed in seq order.  Memory: one block
// being filled per lead.  Once those hold more than pending_budget_bytes in
// all, a lead's block is cut as soon as it holds block_bytes / 8, so the
// builder holds at most about pending_budget_bytes + max_leads x
// block_bytes / 8 (96 MiB with the defaults), however long the segment.
class LeadRunsBuilder {
 public:
  LeadRunsBuilder(std::unique_ptr<WritableFile> file, uint64_t first_seq, std::vector<std::string> leads,
                  const LeadRunOptions& options);
  LeadRunsBuilder(const LeadRunsBuilder&) = delete;
  LeadRunsBuilder& operator=(const LeadRunsBuilder&) = delete;
  ~LeadRunsBuilder();
  // The index into the leads given of `lead`, or -1.
  int LeadIndex(std::string_view lead) const;
  // Adds the canonical record of an event of leads[lead]; seqs ascend.
  Status Add(int lead, std::string_view record, uint64_t seq, int64_t ts);
  // Writes the last blocks, the table and the directory, and syncs.
  Status Finish();

 private:
  struct Pending {
    std::string raw;
    uint32_t count = 0;
    LeadRunBlock block;
    uint64_t events = 0;
    std::vector<LeadRunBlock> written;
  };
  Status Flush(Pending* p);
  Status WriteHeaderOnce();

  std::unique_ptr<WritableFile> file_;
  uint64_t first_seq_;
  std::vector<std::string> leads_;
  NameTable by_name_;
  std::vector<Pending> pending_;
  size_t pending_bytes_ = 0;  // of every pending_[i].raw
  LeadRunOptions options_;
  void* cctx_;  // ZSTD_CCtx
  std::string compressed_;
  std::string renumbered_, columns_;  // scratch for the column layout
};

std::string LeadRunsPath(const std::string& segment_path);
// Reads the sealed segment at segment_path and writes its .lrun atomically,
// for the leads its field index counts as busiest (BusiestLeads).  Writes
// nothing when no lead qualifies.
Status WriteLeadRuns(Env* env, const std::string& segment_path, uint64_t first_seq, const SegmentIndex& index,
                     const LeadRunOptions& options);

// LeadRunsCheck: checks the lead runs of one sealed segment against the
// segment's events, as seen by a verifier that already hashes every record
// of the segment into its Merkle leaf.  The segment's side is fed those leaf
// hashes, in seq order, for the leads that have a run (AddSegmentLeaf: 32
// bytes hashed an event, no second read of the segment); CheckRuns() reads
// the runs, hashes each of their records into its leaf, and requires every
// run to hold its lead's events only, in ascending seq order, as many as the
// segment holds, with the SHA-256 over their leaf hashes equal to the
// segment's.  The segment's leaves being the tree's, a run that passes holds
// exactly the events the tree covers, byte for byte.
// LeadIndex() may be called from any thread at once; AddSegmentLeaf() and
// CheckRuns() from one thread at a time, CheckRuns() once, last.
class LeadRunsCheck {
 public:
  // Null when the segment has no runs; kCorruption if its file's table or
  // directory is damaged.
  static Result<std::unique_ptr<LeadRunsCheck>> Open(Env* env, const std::string& segment_path, uint64_t first_seq);
  ~LeadRunsCheck();
  // The run index of `lead`, or -1 when it has no run.
  int LeadIndex(std::string_view lead) const;
  void AddSegmentLeaf(int lead, const Hash& leaf);
  // kCorruption names the run and, where it can, the first differing seq.
  Status CheckRuns();

 private:
  explicit LeadRunsCheck(std::unique_ptr<LeadRuns> runs);
  std::unique_ptr<LeadRuns> runs_;
  NameTable by_name_;
  std::vector<Sha256Stream> from_segment_;
  std::vector<uint64_t> segment_events_;
};

// The same check for a segment on its own: reads the segment, hashes the
// records of the runs' leads, then CheckRuns().
Status VerifyLeadRuns(Env* env, const std::string& segment_path, uint64_t first_seq);

// Loaded lead runs of sealed segments, for the queries of one process.
// Thread-safe; LRU, bounded in bytes.  A segment found without runs is
// looked for again next time (its file may be being written), unless
// `remember_missing`: what a Log that writes no runs asks for, since no
// segment of its will gain a file then (and a lead lookup would otherwise
// try to open one per sealed segment).
class LeadRunsCache {
 public:
  LeadRunsCache(size_t max_bytes, bool remember_missing)
      : lru_(max_bytes, [](const LeadRuns& runs) { return runs.memory_bytes(); }),
        remember_missing_(remember_missing) {}
  // The segment's runs, or null when it has none (or a damaged file).
  std::shared_ptr<const LeadRuns> Get(Env* env, const std::string& segment_path, uint64_t first_seq);
  void Erase(const std::string& segment_path);

 private:
  LruCache<LeadRuns> lru_;
  const bool remember_missing_;
  std::mutex mu_;
  std::unordered_set<std::string> missing_;  // guarded by mu_; one name per sealed segment at most
};

}  // namespace stele
