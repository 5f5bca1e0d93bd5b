#include "query/frame_cache.h"

#include "event/record.h"
#include "util/buffer_pool.h"
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

CachedFrame::~CachedFrame() { BufferPool::Frames().Give(std::move(raw_)); }

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
  return lru_.Get(Key(segment_path, frame));
}

void FrameCache::Put(const std::string& segment_path, size_t frame, std::shared_ptr<const CachedFrame> entry,
                     Admit admit) {
  if (entry->charge() > lru_.capacity()) return;  // one frame never takes the whole cache
  if (admit == Admit::kIfRoom) {
    lru_.InsertIfRoom(Key(segment_path, frame), std::move(entry));
  } else {
    lru_.Insert(Key(segment_path, frame), std::move(entry));
  }
}

void FrameCache::EraseSegment(const std::string& segment_path) {
  const std::string prefix = segment_path + "#";
  lru_.EraseIf([&prefix](const std::string& key) { return key.compare(0, prefix.size(), prefix) == 0; });
}

size_t FrameCache::bytes() const {
  return lru_.charge();
}

}  // namespace stele
