#include "query/reader_cache.h"

namespace stele {

Result<std::shared_ptr<const SegmentReader>> SealedReaderCache::Get(Env* env, const std::string& path,
                                                                    uint64_t first_seq) {
  {
    std::lock_guard<std::mutex> g(mu_);
    auto it = map_.find(path);
    if (it != map_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->second;
    }
  }
  auto opened = SegmentReader::Open(env, path, first_seq);  // outside the lock: it reads the file
  if (!opened.ok()) return opened.status();
  std::shared_ptr<const SegmentReader> reader(std::move(opened).value());
  if (!reader->sealed()) return reader;
  std::lock_guard<std::mutex> g(mu_);
  if (map_.count(path) == 0) {
    lru_.emplace_front(path, reader);
    map_[path] = lru_.begin();
    while (lru_.size() > max_readers_) {
      map_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }
  return reader;
}

Result<std::shared_ptr<const SegmentReader>> OpenSegmentReader(Env* env, const std::string& path, uint64_t first_seq,
                                                               SealedReaderCache* cache) {
  if (cache) return cache->Get(env, path, first_seq);
  auto opened = SegmentReader::Open(env, path, first_seq);
  if (!opened.ok()) return opened.status();
  return std::shared_ptr<const SegmentReader>(std::move(opened).value());
}

void SealedReaderCache::Erase(const std::string& path) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = map_.find(path);
  if (it == map_.end()) return;
  lru_.erase(it->second);
  map_.erase(it);
}

}  // namespace stele
