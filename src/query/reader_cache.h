// SealedReaderCache: open readers of sealed segments for an open Log's
// counts, so a count that the field indexes answer makes no file-system
// call per segment (a reader holds the segment's descriptor and frame
// index; a sealed segment never changes).  An unsealed segment is never
// cached.  Retention must Erase() what it removes.  LRU, bounded in
// readers (each holds one descriptor).  Thread-safe; readers are shared
// read-only (SegmentReader::ReadFrame is a const pread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "storage/segment_reader.h"
#include "util/env.h"
#include "util/lru_cache.h"

namespace stele {

class SealedReaderCache {
 public:
  explicit SealedReaderCache(size_t max_readers) : lru_(max_readers, [](const SegmentReader&) { return 1; }) {}
  // The segment's reader: cached when the segment is sealed, else fresh.
  Result<std::shared_ptr<const SegmentReader>> Get(Env* env, const std::string& path, uint64_t first_seq);
  void Erase(const std::string& path);

 private:
  LruCache<SegmentReader> lru_;  // charged 1 a reader
};

// A segment's reader: through `cache` when given, else freshly opened.
Result<std::shared_ptr<const SegmentReader>> OpenSegmentReader(Env* env, const std::string& path, uint64_t first_seq,
                                                               SealedReaderCache* cache);

}  // namespace stele
