// LiveSegmentIndex: the field index of the active segment.  The writer's
// helper thread feeds it frame by frame and query threads read it, so fresh
// events are found without a scan.  Thread-safe, except as noted.
//
// It is kept in chunks so that it also lives on disk, in <segment>.lidx
// (docs/format.md, "Live index"): readers in other processes (`stele
// query`) and the next Log::Open load it instead of decompressing and
// re-indexing the whole active segment.  Frames go into a builder.  Once it
// holds kChunkEvents events (or kChunkFrames frames) the writer cuts it
// (CutChunk), and the indexer thread serializes the cut builder, appends it
// to the file and keeps it as a parsed chunk (PersistCut).  Lookups read
// the chunks, the cut builder and the current builder together.  At seal,
// Finish() merges them into the segment's .fidx bytes, byte for byte what
// one builder fed every frame would have written.
//
// The file is derived data and never synced: a reader takes the longest
// prefix of whole, checked chunks that tiles the segment's frames from 0,
// and reads the frames after it.  A failed write stops the file's growth
// (the index in memory stays whole).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "index/segment_index.h"
#include "stele/query.h"
#include "stele/status.h"
#include "util/env.h"

namespace stele {

std::string LiveIndexPath(const std::string& segment_path);

class LiveSegmentIndex {
 public:
  // A chunk is cut at `chunk_events` events (by default 65,536: about 17
  // MiB of the reference workload, 30 ms to read on one core), or at
  // kChunkFrames frames for slow traffic's small frames: what a reader of
  // the file may have to read beyond it.
  static constexpr uint32_t kDefaultChunkEvents = 65536;
  static constexpr uint32_t kChunkFrames = 16384;

  // The index of a new segment.  With an env, its chunks are appended to
  // LiveIndexPath(segment_path) (created at the first chunk); without one
  // it is kept in memory only.
  explicit LiveSegmentIndex(uint64_t first_seq, Env* env = nullptr, std::string segment_path = {},
                            uint32_t chunk_events = kDefaultChunkEvents);
  ~LiveSegmentIndex();

  // The chunks of LiveIndexPath(segment_path) that tile frames [0, n) with
  // n <= max_frames, as an index of those frames (indexed_frames() == n; 0
  // when the file is missing or unreadable).  With `resume` it is the
  // writer's index of the segment it continues: the file is cut back to
  // those chunks and later ones are appended.
  static std::shared_ptr<LiveSegmentIndex> Load(Env* env, const std::string& segment_path, uint64_t first_seq,
                                                uint32_t max_frames, bool resume,
                                                uint32_t chunk_events = kDefaultChunkEvents);
  // What Load() reads, one chunk at a time, for a reader that needs only
  // one lookup (so its memory is a chunk's, not the file's): calls fn for
  // each chunk it takes and returns the frames they index ([0, n)).
  // *valid_bytes: where the last chunk it took ends in the file.
  static uint32_t ForEachChunk(Env* env, const std::string& segment_path, uint32_t max_frames,
                               const std::function<void(SegmentIndex)>& fn, uint64_t* valid_bytes = nullptr);

  uint64_t first_seq() const { return first_seq_; }
  // Frame `ordinal`'s records ((u32 len | record)*, `count` of them).
  // Frames must be added in ascending ordinal order, from indexed_frames() on.
  void AddFrame(uint32_t ordinal, std::string_view raw, uint32_t count);
  // Frames [0, indexed_frames()) are in the index.
  uint32_t indexed_frames() const;

  // Writer thread: whether the builder holds a chunk's worth, and (with no
  // cut pending) moving it aside as the cut builder.
  bool ChunkDue() const;
  void CutChunk();
  // One thread at a time (the indexer, or the writer when the indexer is
  // idle): writes the cut builder to the file and keeps it as a chunk.
  // Always Ok: a failed write only stops the file (write_failed()).
  void PersistCut();
  bool write_failed() const;
  // Closes and removes the file (the segment's .fidx replaces it).
  void RemoveFile();

  // The version 2 index file of every frame added (MergeSegmentIndexes).
  Result<std::string> Finish() const;
  size_t memory_bytes() const;
  size_t chunk_count() const;
  std::optional<std::vector<uint32_t>> Candidates(const Query& q) const;
  std::vector<FrameCount> FrameCounts(IndexedField f, std::string_view value, bool prefix) const;

 private:
  // The parts' (frame, events) lists (chunks, cut, builder), in frame order.
  std::vector<FrameCount> CountsLocked(IndexedField f, std::string_view value, bool prefix) const;
  // The file's header, written before its first chunk.
  Status OpenFileForAppend();

  const uint64_t first_seq_;
  Env* const env_;
  const std::string path_;  // of the .lidx file; empty: memory only
  const uint32_t chunk_events_;

  mutable std::mutex mu_;
  std::vector<std::shared_ptr<const SegmentIndex>> chunks_;  // guarded by mu_; tile [0, chunks_end_)
  uint32_t chunks_end_ = 0;                                   // guarded by mu_
  std::shared_ptr<const SegmentIndexBuilder> cut_;            // guarded by mu_; frames [chunks_end_, cut_end_)
  uint32_t cut_end_ = 0;                                      // guarded by mu_
  SegmentIndexBuilder builder_;                               // guarded by mu_; frames [cut or chunks end, frames_end_)
  uint32_t builder_events_ = 0, builder_frames_ = 0;          // guarded by mu_
  uint32_t frames_end_ = 0;                                   // guarded by mu_
  bool write_failed_ = false;                                 // guarded by mu_

  std::unique_ptr<WritableFile> file_;  // PersistCut's, one thread at a time
};

}  // namespace stele
