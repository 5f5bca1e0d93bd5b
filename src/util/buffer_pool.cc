#include "util/buffer_pool.h"

#include <utility>

namespace stele {

std::string BufferPool::Take() {
  MutexLock lock(&mu_);
  if (free_.empty()) return std::string();
  std::string buffer = std::move(free_.back());
  free_.pop_back();
  return buffer;
}

void BufferPool::Give(std::string&& buffer) {
  // Small strings hold no heap memory worth keeping.
  if (buffer.capacity() < 4096 || buffer.capacity() > max_capacity_) return;
  MutexLock lock(&mu_);
  if (free_.size() < max_buffers_) free_.push_back(std::move(buffer));
}

size_t BufferPool::size() const {
  MutexLock lock(&mu_);
  return free_.size();
}

BufferPool& BufferPool::Frames() {
  static BufferPool* pool = new BufferPool(16, size_t{4} << 20);  // never destroyed: used until exit
  return *pool;
}

}  // namespace stele
