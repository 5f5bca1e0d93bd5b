#include "query/query_cache.h"

namespace stele {
namespace {

void AppendOpt(std::string* k, const char* name, const std::optional<std::string>& v) {
  if (!v) return;
  *k += name;
  *k += std::to_string(v->size());
  *k += ':';
  *k += *v;
}

}  // namespace

std::string QueryCache::Key(const Query& q) {
  std::string k;
  AppendOpt(&k, "t", q.type);
  AppendOpt(&k, "a", q.actor);
  AppendOpt(&k, "s", q.source);
  AppendOpt(&k, "l", q.lead_id);
  AppendOpt(&k, "w", q.workflow_id);
  if (q.since_ns) k += "S" + std::to_string(*q.since_ns) + ";";
  if (q.until_ns) k += "U" + std::to_string(*q.until_ns) + ";";
  if (q.seq_from) k += "F" + std::to_string(*q.seq_from) + ";";
  if (q.seq_to) k += "T" + std::to_string(*q.seq_to) + ";";
  k += "A" + std::to_string(q.after) + ";L" + std::to_string(q.limit) + (q.descending ? ";D" : ";");
  for (const auto& [p, v] : q.where) {
    AppendOpt(&k, "p", p);
    AppendOpt(&k, "v", v);
  }
  AppendOpt(&k, "r", q.regex);
  AppendOpt(&k, "f", q.regex_field);
  return k;
}

bool QueryCache::Get(const std::string& key, CachedAnswer* out) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return false;
  lru_.splice(lru_.begin(), lru_, it->second);
  *out = it->second->answer;
  return true;
}

void QueryCache::Put(const std::string& key, CachedAnswer answer) {
  const size_t bytes = key.size() + answer.ndjson.size() + answer.seqs.size() * 12 + 64;
  std::lock_guard<std::mutex> g(mu_);
  if (auto it = map_.find(key); it != map_.end()) {
    bytes_ -= it->second->bytes;
    lru_.erase(it->second);
    map_.erase(it);
  }
  if (bytes > max_bytes_) return;  // too large to keep
  lru_.push_front({key, std::move(answer), bytes});
  map_[key] = lru_.begin();
  bytes_ += bytes;
  while (bytes_ > max_bytes_) {
    Entry& last = lru_.back();
    bytes_ -= last.bytes;
    map_.erase(last.key);
    lru_.pop_back();
  }
}

void QueryCache::Clear() {
  std::lock_guard<std::mutex> g(mu_);
  lru_.clear();
  map_.clear();
  bytes_ = 0;
}

void QueryCache::CountHit(bool extended) {
  ++hits_;
  if (extended) ++extends_;
}

void QueryCache::CountMiss() { ++misses_; }

size_t QueryCache::bytes() const {
  std::lock_guard<std::mutex> g(mu_);
  return bytes_;
}

}  // namespace stele
