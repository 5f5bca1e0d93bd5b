// ScanIterator: streams the events of a directory that match a Query, in seq
// order (either direction), holding one decompressed frame at a time.
//
// Owns a snapshot of the segment list taken at construction and one open
// SegmentReader.  It plans per segment: segments and frames whose seq/ts
// range cannot match are skipped without being read, and in a sealed segment
// with a field index only the frames that the index lists for every
// equality filter are read (the postings are intersected first).  With the
// Log's frame cache, decompressed frames are shared between iterators, and
// in a cached frame an equality filter visits only the matching records; the
// frames of a long scan (no index narrowed it) are cached only into free
// room, so a scan of the log does not evict what lookups use.  Every
// event is still checked against the whole filter, so the index only ever
// removes frames that cannot match.  A lead lookup in a sealed segment with
// a run of that lead (index/lead_runs.h) reads the run's blocks instead of
// the segment's frames.  A frame failing its checksum ends the
// stream with kCorruption.  A long scan loads and filters the rest of a
// segment's frames on two threads, the caller's and a read-ahead thread of
// its own, which runs up to OrderedReadAhead::kRing frames ahead; the
// caller emits them in order.  Not thread-safe (one caller).
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "index/lead_runs.h"
#include "index/live_index.h"
#include "index/segment_index.h"
#include "query/frame_cache.h"
#include "query/reader_cache.h"
#include "query/filter.h"
#include "stele/query.h"
#include "storage/segment_reader.h"
#include "util/env.h"
#include "util/ordered_read_ahead.h"
#include "util/task_thread.h"

namespace stele {

// Frame i of a segment, decompressed: from the cache when it holds it (then
// *hit is set), else read, checked and put in the cache (cache may be null).
// With `literals`, null instead when the frame's stored bytes lack a literal
// the filter's regex requires (EventFilter::StoredBytesMayMatch).
// A frame it reads goes into the cache as `admit` says.  With `select` (a
// condition every record the caller wants meets), a frame the cache will
// not keep holds only the selected records.
Result<std::shared_ptr<const CachedFrame>> LoadFrame(const SegmentReader& segment, size_t i, FrameCache* cache,
                                                     bool* hit, EventFilter* literals = nullptr,
                                                     FrameCache::Admit admit = FrameCache::Admit::kHot,
                                                     const RecordSelector* select = nullptr);

class ScanIterator final : public EventIterator {
 public:
  // Lists the segments of `dir` now; kNotFound if dir holds no stele log.
  // What a long-lived reader (an open Log) shares with its iterators.
  struct Context {
    std::shared_ptr<const LiveSegmentIndex> live;      // the writer's index of the active segment
    std::shared_ptr<SegmentIndexCache> sealed_indexes;  // loaded sealed-segment indexes
    std::shared_ptr<FrameCache> frames;                 // decompressed frames
    std::shared_ptr<SealedReaderCache> readers;         // open sealed segments (counts)
    std::shared_ptr<const LiveSegmentIndex> sealing;   // of the segment sealed last, until its .fidx is written
    std::shared_ptr<LeadRunsCache> lead_runs;          // loaded lead runs of sealed segments
  };
  static Result<std::unique_ptr<ScanIterator>> Open(Env* env, const std::string& dir, const Query& query,
                                                    Context context = {});
  // The writer's in-memory index of the segment starting at `first_seq`, if
  // the context holds one.
  static const LiveSegmentIndex* InMemoryIndex(const Context& context, uint64_t first_seq);

  // Open() over a ConfinedEnv of `dir` that the iterator owns: what a reader
  // in another process (`stele query`) uses.
  static Result<std::unique_ptr<ScanIterator>> OpenDirectory(const std::string& dir, const Query& query);

  ~ScanIterator() override;
  ScanIterator(const ScanIterator&) = delete;
  ScanIterator& operator=(const ScanIterator&) = delete;

  bool Next(EventView* event) override;
  const Status& status() const override { return status_; }
  // Frames decompressed so far (not served by the frame cache), for tests
  // and benchmarks of the planner.
  uint64_t frames_read() const { return frames_read_; }
  // Frames the plan made it look at, from disk or the frame cache.
  uint64_t frames_visited() const { return frames_visited_; }
  // Frames loaded and filtered by the read-ahead thread and used.
  uint64_t frames_read_ahead() const { return frames_read_ahead_; }
  // Frames skipped after loading because they lack a literal the regex
  // requires (EventFilter::StoredBytesMayMatch): not rebuilt into records.
  uint64_t frames_without_literal() const { return frames_without_literal_; }
  // Blocks of lead runs visited (counted in frames_visited() too).
  uint64_t run_blocks_visited() const { return run_blocks_visited_; }

 private:
  ScanIterator(Env* env, std::string segment_dir, const Query& query, std::unique_ptr<EventFilter> filter,
               std::vector<uint64_t> segments);
  bool OpenNextSegment();  // false at the end or on error
  // The frames of segment_ to visit, in output order: all of them, or those
  // the segment's field index allows.
  void PlanFrames();
  bool LoadNextFrame();    // false when the current segment is exhausted or on error
  bool FrameMayMatch(size_t pos) const;
  // The frame (or, reading a lead run, the block) frame_order_ names i.
  // Null when it lacks a literal the regex requires (see LoadFrame).
  Result<std::shared_ptr<const CachedFrame>> LoadPlanned(size_t i, EventFilter* literals, bool* hit) const;
  // The lead runs of the current (sealed) segment, or null.
  std::shared_ptr<const LeadRuns> LeadRunsOfSegment() const;
  void CandidateRecords(const CachedFrame& frame, bool hit, std::vector<uint32_t>* out) const;
  // The record at `offset` in `frame`; kCorruption naming the segment.
  Status DecodeAt(const CachedFrame& frame, uint32_t offset, EventView* event) const;
  Status MalformedRecord() const;
  // How a frame read now goes into the frame cache: as the most recently
  // used, unless this is a long scan (past kHotScanFrames frames visited in
  // a segment that no index narrowed), which only takes free room
  // (FrameCache::Admit::kIfRoom) so as not to evict what lookups use.  A
  // short scan (the newest events, a page) is cached as usual.
  // `visited`: frames visited in the scan before this one (frames_visited_
  // for this thread; the read-ahead counts from when its plan began).
  // A lookup the index narrowed is cached as the most recently used until
  // it has visited the frames of 1/kHotLookupShare of the cache (counted
  // at kTypicalFrameBytes, the writer's default frame cut), then as a long
  // scan is.
  FrameCache::Admit Admission(uint64_t visited) const;
  static constexpr uint64_t kHotScanFrames = 8;
  static constexpr uint64_t kHotLookupShare = 4;
  static constexpr uint64_t kTypicalFrameBytes = 256u << 10;
  // The first position from `pos` on in frame_order_ that FrameMayMatch,
  // or frame_order_.size().
  size_t NextFrameToVisit(size_t pos) const;
  // A frame of the plan below, loaded and filtered by either thread.
  struct LoadedFrame {
    std::shared_ptr<const CachedFrame> frame;  // null: lacks a literal the regex requires
    bool hit = false;                          // from the frame cache
    bool by_read_ahead = false;
    std::vector<uint32_t> matches;  // offsets of the records that match, frame order
    Status status;
  };
  // Loads and filters the frame at position `pos` of frame_order_ with
  // `filter` (each thread has its own), as the read-ahead plan's entry
  // `entry` (which says how the frame cache takes it).
  void LoadAndFilter(size_t pos, size_t entry, EventFilter* filter, std::vector<uint32_t>* scratch,
                     LoadedFrame* out) const;
  // From position `from` of the current segment on: lists the frames left
  // to visit and loads them on two threads from now on (ahead_).
  void StartReadAhead(size_t from);
  // Stops the read-ahead thread and drops what it loaded.
  void CancelReadAhead();
  // The next frame of the plan, loaded by either thread: false at its end.
  bool TakeReadAhead();
  static constexpr uint64_t kReadAheadAfterFrames = 2;
  static constexpr uint32_t kReadAheadMinStoredBytes = 16u << 10;
  bool Fail(Status s);

  std::unique_ptr<Env> own_env_;  // set by OpenDirectory
  Env* env_;
  std::string segment_dir_;
  Query query_;
  std::unique_ptr<EventFilter> filter_;
  Context context_;
  std::vector<uint64_t> segments_;  // first seqs, ascending
  size_t segments_done_ = 0;        // how many of segments_ were visited
  std::unique_ptr<SegmentReader> segment_;
  size_t frames_done_ = 0;
  std::vector<uint32_t> frame_order_;
  bool scans_all_frames_ = false;  // no index narrowed the current segment's frames
  // Set when the plan reads the current segment's run of query_.lead_id:
  // frame_order_ then indexes run_, not the segment's frames.
  std::shared_ptr<const LeadRuns> runs_;
  std::span<const LeadRunBlock> run_;
  uint64_t run_blocks_visited_ = 0;
  uint64_t frames_without_literal_ = 0;
  uint64_t frames_read_ = 0;
  std::shared_ptr<const CachedFrame> frame_;  // decompressed records of the current frame
  std::vector<uint32_t> offsets_;     // offsets in frame_ of the records to check, in output order
  std::vector<uint32_t> candidates_;  // scratch for offsets_ when a frame is filtered whole
  // The most selective equality filter on an indexed field: with a frame
  // cache, only the records holding this value are visited.
  std::optional<std::pair<IndexedField, std::string>> equality_;
  // equality_ and the --where terms on top-level data keys, as the frame
  // decoder takes them (a superset of the matches: the filter still runs).
  std::optional<RecordSelector> selector_;
  std::vector<std::string> selector_data_keys_;  // the keys selector_ names, unescaped
  size_t next_record_ = 0;
  uint64_t emitted_ = 0;
  Status status_;
  bool done_ = false;

  bool prefiltered_ = false;  // offsets_ holds only matches (from the read-ahead)
  uint64_t frames_visited_ = 0;  // loaded from disk or the frame cache

  // Read-ahead (see LoadNextFrame).  Once a segment has had a few frames
  // visited, the positions of the rest it may visit are listed in
  // ra_plan_, and ahead_ loads them on both threads (OrderedReadAhead).
  // The read-ahead thread uses its own filter and scratch.  Declared last:
  // ahead_ is stopped before the thread it borrows is joined.
  std::vector<size_t> ra_plan_;  // positions in frame_order_
  uint64_t ra_visited_before_ = 0;  // frames_visited_ when the plan began (Admission of its entries)
  size_t ra_next_ = 0;           // the plan entry taken next
  std::vector<uint32_t> candidates_ra_;             // the read-ahead thread's scratch
  std::unique_ptr<EventFilter> read_ahead_filter_;  // the read-ahead thread's
  uint64_t frames_read_ahead_ = 0;
  std::unique_ptr<TaskThread> read_ahead_thread_;
  std::unique_ptr<OrderedReadAhead<LoadedFrame>> ahead_;  // set while reading ahead in the current segment
};

}  // namespace stele
