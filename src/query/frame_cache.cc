#include "query/frame_cache.h"

#include "event/record.h"
#include "util/coding.h"

namespace stele {

Result<std::shared_ptr<CachedFrame>> CachedFrame::Make(std::string raw, uint32_t expected_count) {
  auto f = std::make_shared<CachedFrame>();
  f->raw_ = std::move(raw);
  f->offsets_.reserve(expected_count);
  size_t pos = 0;
  while (pos + 4 <= f->raw_.size()) {
    f->offsets_.push_back(static_cast<uint32_t>(pos));
    pos += 4 + GetU32(f->raw_.data() + pos);
  }
  if (pos != f->raw_.size() || f->offsets_.size() != expected_count) {
    return Status::Corruption("record lengths do not add up");
  }
  return f;
}

std::vector<uint32_t> CachedFrame::RecordsWith(IndexedField f, std::string_view value) const {
  std::lock_guard<std::mutex> g(mu_);
  auto& map = by_field_[static_cast<int>(f)];
  if (!map) {
    map = std::make_unique<ValueMap>();
    EventView e;
    for (uint32_t i = 0; i < offsets_.size(); ++i) {
      const char* rec = raw_.data() + offsets_[i];
      if (!DecodeRecord(std::string_view(rec + 4, GetU32(rec)), &e)) {
        // A malformed record: let the scan find and report it.
        map.reset();
        std::vector<uint32_t> all(offsets_.size());
        for (uint32_t k = 0; k < all.size(); ++k) all[k] = k;
        return all;
      }
      (*map)[FieldOf(e, f)].push_back(i);
    }
  }
  auto it = map->find(value);
  return it == map->end() ? std::vector<uint32_t>{} : it->second;
}

std::string FrameCache::Key(const std::string& segment_path, size_t frame) {
  return segment_path + "#" + std::to_string(frame);
}

std::shared_ptr<const CachedFrame> FrameCache::Get(const std::string& segment_path, size_t frame) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = map_.find(Key(segment_path, frame));
  if (it == map_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void FrameCache::Put(const std::string& segment_path, size_t frame, std::shared_ptr<const CachedFrame> entry) {
  const size_t size = entry->charge();
  if (size > max_bytes_) return;
  std::lock_guard<std::mutex> g(mu_);
  const std::string key = Key(segment_path, frame);
  if (map_.count(key)) return;
  lru_.emplace_front(key, std::move(entry));
  map_[key] = lru_.begin();
  bytes_ += size;
  while (bytes_ > max_bytes_ && !lru_.empty()) {
    bytes_ -= lru_.back().second->charge();
    map_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

void FrameCache::EraseSegment(const std::string& segment_path) {
  std::lock_guard<std::mutex> g(mu_);
  const std::string prefix = segment_path + "#";
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (it->first.compare(0, prefix.size(), prefix) == 0) {
      bytes_ -= it->second->charge();
      map_.erase(it->first);
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t FrameCache::bytes() const {
  std::lock_guard<std::mutex> g(mu_);
  return bytes_;
}

}  // namespace stele
