#include "ingest/write_queue.h"

#include <cstring>
#include <thread>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "event/record.h"
#include "util/coding.h"

namespace stele {
namespace {

constexpr uint64_t kClosedBit = 1ull << 32;
constexpr uint64_t kBytesMask = kClosedBit - 1;
constexpr int kGenerationShift = 33;

unsigned __int128 Pack(uint64_t lo, uint64_t seq) { return (static_cast<unsigned __int128>(seq) << 64) | lo; }

}  // namespace

WriteQueue::WriteQueue(uint64_t capacity, uint64_t next_seq)
    : capacity_(std::max<uint64_t>(1, std::min<uint64_t>(capacity, kBytesMask) / 2)), state_(Pack(0, next_seq)), generation_first_seq_(next_seq) {
  // Allocated, not touched: pages are faulted in as the queue first fills.
  for (Buffer& b : buffers_) {
    b.data = std::make_unique_for_overwrite<char[]>(capacity_);
    b.size = capacity_;
  }
}

// GCC and clang turn the 16-byte __sync builtins into LOCK CMPXCHG16B under
// -mcx16 (implied by the build's -march=x86-64-v3); TSan instruments them.
WriteQueue::State WriteQueue::Load() const {
  // A compare-and-swap that can only fail (seq is never 0) reads the word
  // atomically.
  const unsigned __int128 v = __sync_val_compare_and_swap(&state_, 0, 0);
  return State{static_cast<uint64_t>(v), static_cast<uint64_t>(v >> 64)};
}

bool WriteQueue::CompareExchange(State* expected, State desired) {
  const unsigned __int128 old = Pack(expected->lo, expected->seq);
  const unsigned __int128 seen = __sync_val_compare_and_swap(&state_, old, Pack(desired.lo, desired.seq));
  if (seen == old) return true;
  *expected = State{static_cast<uint64_t>(seen), static_cast<uint64_t>(seen >> 64)};
  return false;
}

WriteQueue::PushResult WriteQueue::Push(std::string* records, uint64_t n, uint64_t* first_seq, bool* was_empty) {
  const uint64_t size = records->size();
  if (size > kBytesMask) return PushResult::kFull;  // the caller refuses such a push first
  State cur = Load();
  while (true) {
    if (cur.closed()) return PushResult::kClosed;
    if (cur.bytes() != 0 && cur.bytes() + size > capacity_) return PushResult::kFull;
    if (CompareExchange(&cur, State{cur.lo + size, cur.seq + n})) break;
  }
  // Claimed: bytes [offset, offset + size) of this generation's buffer and
  // seqs [cur.seq, cur.seq + n).  Nobody else writes them.
  Buffer& b = buffers_[cur.generation() & 1];
  const uint64_t offset = cur.bytes();
  if (offset + size > b.size) {
    // Larger than the queue, so alone in the buffer (offset is 0): no other
    // producer can claim in this generation, and the writer reads the
    // buffer only after the publish below.
    b.data = std::make_unique_for_overwrite<char[]>(size);
    b.size = size;
  }
  char* p = records->data();
  char* const end = p + size;
  for (uint64_t seq = cur.seq; p < end; ++seq) {
    PutU64(p + 4 + kRecordSeqOffset, seq);
    p += 4 + GetU32(p);
  }
  std::memcpy(b.data.get() + offset, records->data(), size);
  b.published.fetch_add(size, std::memory_order_release);
  *first_seq = cur.seq;
  *was_empty = offset == 0;
  return PushResult::kOk;
}

WriteQueue::Batch WriteQueue::Take() {
  // The buffer producers fill next held the batch before this one, which is
  // written: if it grew for a large push, give the memory back before anyone
  // can claim in it (claims in it start with the compare-and-swap below).
  // Only Take() changes the generation, so cur's stays right below.
  State cur = Load();
  Buffer& next = buffers_[(cur.generation() + 1) & 1];
  if (next.size > capacity_) {
    next.data = std::make_unique_for_overwrite<char[]>(capacity_);
    next.size = capacity_;
  }
  while (!CompareExchange(&cur, State{((cur.generation() + 1) << kGenerationShift) | (cur.lo & kClosedBit), cur.seq})) {
  }
  Buffer& b = buffers_[cur.generation() & 1];
  const uint64_t bytes = cur.bytes();
  // The claims are made; wait for their copies (a few hundred bytes each,
  // unless a producer was preempted in the middle of one).
  for (int spins = 0; b.published.load(std::memory_order_acquire) != bytes; ++spins) {
    if (spins < 256) {
#if defined(__x86_64__)
      _mm_pause();
#endif
    } else {
      std::this_thread::yield();
    }
  }
  // Reused two generations on, after the next Take()'s compare-and-swap.
  b.published.store(0, std::memory_order_relaxed);
  Batch batch{std::string_view(b.data.get(), bytes), generation_first_seq_, cur.seq - 1};
  generation_first_seq_ = cur.seq;
  return batch;
}

void WriteQueue::Prefault() {
  for (Buffer& b : buffers_) std::memset(b.data.get(), 0, b.size);
}

void WriteQueue::Close() {
  State cur = Load();
  while (!cur.closed() && !CompareExchange(&cur, State{cur.lo | kClosedBit, cur.seq})) {
  }
}

}  // namespace stele
