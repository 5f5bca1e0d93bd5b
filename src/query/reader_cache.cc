#include "query/reader_cache.h"

namespace stele {

Result<std::shared_ptr<const SegmentReader>> SealedReaderCache::Get(Env* env, const std::string& path,
                                                                    uint64_t first_seq) {
  if (auto cached = lru_.Get(path)) return cached;
  auto opened = SegmentReader::Open(env, path, first_seq);  // outside the cache's lock: it reads the file
  if (!opened.ok()) return opened.status();
  std::shared_ptr<const SegmentReader> reader(std::move(opened).value());
  if (!reader->sealed()) return reader;
  return lru_.Insert(path, std::move(reader));
}

Result<std::shared_ptr<const SegmentReader>> OpenSegmentReader(Env* env, const std::string& path, uint64_t first_seq,
                                                               SealedReaderCache* cache) {
  if (cache) return cache->Get(env, path, first_seq);
  auto opened = SegmentReader::Open(env, path, first_seq);
  if (!opened.ok()) return opened.status();
  return std::shared_ptr<const SegmentReader>(std::move(opened).value());
}

void SealedReaderCache::Erase(const std::string& path) {
  lru_.Erase(path);
}

}  // namespace stele
