// QueryCache: answers to paged queries (limit set), kept as their NDJSON
// output, that are never stale.
//
// An entry remembers the log size it covers.  Every event added later has a
// larger seq, so an answer is extended by reading only those events:
// ascending, the new matches go after the cached ones (and a full page never
// changes); descending, they go before and the page is cut to its limit.
// Nothing else changes stored events while a log is open; a removal of old
// segments (retention) must call Clear().  Bounded in bytes, LRU.
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "stele/query.h"

namespace stele {

struct CachedAnswer {
  std::vector<uint64_t> seqs;        // in output order
  std::vector<uint32_t> line_ends;   // end offset of each event's line in ndjson
  std::string ndjson;
  uint64_t covered_size = 0;         // log size (highest seq) the answer covers
};

class QueryCache {
 public:
  explicit QueryCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // The canonical key of a query: every field, in a fixed order.
  static std::string Key(const Query& q);

  // Copies the entry for key into *out; false on a miss.
  bool Get(const std::string& key, CachedAnswer* out);
  void Put(const std::string& key, CachedAnswer answer);
  void Clear();

  uint64_t hits() const { return hits_.load(); }
  uint64_t misses() const { return misses_.load(); }
  uint64_t extends() const { return extends_.load(); }
  void CountHit(bool extended);
  void CountMiss();
  size_t bytes() const;

 private:
  struct Entry {
    std::string key;
    CachedAnswer answer;
    size_t bytes = 0;
  };
  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front = most recent
  std::unordered_map<std::string, std::list<Entry>::iterator> map_;
  size_t bytes_ = 0;
  std::atomic<uint64_t> hits_{0}, misses_{0}, extends_{0};
};

}  // namespace stele
