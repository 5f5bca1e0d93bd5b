// LruCache: the one least-recently-used cache behind the query side's three
// (decompressed frames, sealed segments' field indexes, open sealed-segment
// readers).
//
// Owns shared, read-only values by string key; a value handed out stays
// alive for its holder after eviction.  Bounded by the sum of the values'
// charges (their bytes, or 1 each to bound a count): an insert evicts from
// the least recently used end while the sum is over capacity, but never the
// entry it just made, so one oversized value is kept alone rather than
// refused (a caller that would rather refuse checks before inserting).
// Every cached value here is immutable data that only retention removes,
// so entries are never stale: Erase()/EraseIf() are for retention.
// Thread-safe; values are built outside its lock by the caller.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <iterator>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace stele {

template <typename V>
class LruCache {
 public:
  using Charge = std::function<size_t(const V&)>;
  LruCache(size_t capacity, Charge charge) : capacity_(capacity), charge_(std::move(charge)) {}
  LruCache(const LruCache&) = delete;
  LruCache& operator=(const LruCache&) = delete;

  // The value, made the most recently used; null if absent.
  std::shared_ptr<const V> Get(const std::string& key) {
    std::lock_guard<std::mutex> g(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->value;
  }

  // Caches `value` under `key` unless the key is already there (two threads
  // that loaded the same thing: the first stays).  Returns the cached value.
  std::shared_ptr<const V> Insert(const std::string& key, std::shared_ptr<const V> value) {
    std::lock_guard<std::mutex> g(mu_);
    if (auto it = map_.find(key); it != map_.end()) return it->second->value;
    const size_t charge = charge_(*value);
    lru_.push_front({key, std::move(value), charge});
    map_[key] = lru_.begin();
    total_ += charge;
    while (total_ > capacity_ && lru_.size() > 1) {
      total_ -= lru_.back().charge;
      map_.erase(lru_.back().key);
      lru_.pop_back();
    }
    return lru_.front().value;
  }

  // Caches `value` under `key` only if it fits in the room left, as the
  // least recently used entry, so it never evicts anything and is the first
  // to go: what a long scan inserts (the frames of a whole-log scan would
  // otherwise push out every frame hot lookups keep reading).  Returns the
  // value cached under key, or `value` when there was no room.
  std::shared_ptr<const V> InsertIfRoom(const std::string& key, std::shared_ptr<const V> value) {
    std::lock_guard<std::mutex> g(mu_);
    if (auto it = map_.find(key); it != map_.end()) return it->second->value;
    const size_t charge = charge_(*value);
    if (charge > capacity_ - std::min(total_, capacity_)) return value;
    lru_.push_back({key, value, charge});
    map_[key] = std::prev(lru_.end());
    total_ += charge;
    return value;
  }

  void Erase(const std::string& key) {
    std::lock_guard<std::mutex> g(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return;
    total_ -= it->second->charge;
    lru_.erase(it->second);
    map_.erase(it);
  }

  // Drops every entry whose key satisfies `pred`.
  void EraseIf(const std::function<bool(const std::string&)>& pred) {
    std::lock_guard<std::mutex> g(mu_);
    for (auto it = lru_.begin(); it != lru_.end();) {
      if (pred(it->key)) {
        total_ -= it->charge;
        map_.erase(it->key);
        it = lru_.erase(it);
      } else {
        ++it;
      }
    }
  }

  size_t capacity() const { return capacity_; }
  // Sum of the cached values' charges.
  size_t charge() const {
    std::lock_guard<std::mutex> g(mu_);
    return total_;
  }

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const V> value;
    size_t charge;  // as charged on insert, so eviction needs no call
  };
  const size_t capacity_;
  const Charge charge_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // front = most recently used
  std::unordered_map<std::string, typename std::list<Entry>::iterator> map_;
  size_t total_ = 0;
};

}  // namespace stele
