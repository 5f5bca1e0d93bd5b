// BufferPool: a few large byte buffers kept for reuse, so that code which
// fills and drops one buffer per item (a scan's decompressed frames) does not
// hand the memory back to the allocator each time.
//
// Why: glibc gives free memory at the top of an arena back to the kernel
// once it passes 128 KiB (M_TRIM_THRESHOLD), and a frame's records are
// 256 KiB and more.  Each frame a scan dropped shrank the heap, and the next
// one faulted the same pages in again: a lead lookup over 6M events took
// 36k-86k page faults and a third of its time in the kernel
// (docs/performance.md, "Page faults on the read path").  Raising the trim
// threshold process-wide cured the reads but doubled the page faults of
// `stele append` (the indexer's growing strings), so the buffers are kept
// here instead, where the bound is explicit.
//
// Holds at most `max_buffers` buffers of at most `max_capacity` bytes each.
// Thread-safe: a buffer may be taken on one thread and given back on another
// (a cached frame is dropped by whichever thread evicts it).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "util/mutex.h"

namespace stele {

class BufferPool {
 public:
  BufferPool(size_t max_buffers, size_t max_capacity) : max_buffers_(max_buffers), max_capacity_(max_capacity) {}
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // A buffer given back, as it was given: its memory, and its old size and
  // bytes, so that the caller's resize() to a frame's length zero-fills
  // only what lies past the old size (a frame's records are overwritten
  // whole; filling 256 KiB of zeros first was 3-5 % of a lookup's time).
  // An empty string if the pool holds none.  Resize before use.
  std::string Take() EXCLUDES(mu_);
  // Keeps `buffer`'s memory for a later Take() if the pool has room and it is
  // not too large; frees it otherwise.
  void Give(std::string&& buffer) EXCLUDES(mu_);
  size_t size() const EXCLUDES(mu_);

  // The process's pool for decompressed frames and lead-run blocks: 16
  // buffers of up to 4 MiB (a frame is cut at about 256 KiB of records; one
  // holding a single large event can reach the event size limit).
  static BufferPool& Frames();

 private:
  const size_t max_buffers_;
  const size_t max_capacity_;
  mutable Mutex mu_;
  std::vector<std::string> free_ GUARDED_BY(mu_);
};

}  // namespace stele
