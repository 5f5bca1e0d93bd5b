// WriteQueue: the bounded hand-off of framed records from producers to the
// one writer thread, with no lock on the producer's path.
//
// Two buffers take turns: producers fill one while the writer writes the
// other out.  A producer claims its seqs and its bytes together with one
// 16-byte compare-and-swap of the queue's state {next seq | generation,
// closed bit, bytes claimed in this generation}, so seq order is byte
// order, then copies its records in and publishes them.  A claim never
// waits once made: a producer preempted between claim and publish delays
// the writer's Take(), never another producer.  (The mutex this replaces
// made a producer that found it held sleep on a futex for microseconds:
// p99.9 of 1.7-9.4 us per enqueue with 8 producers on 2 cores.)
//
// Promises:
// - Seqs are handed out with no gaps, in the order the bytes sit in the
//   buffer, and a batch from Take() holds exactly the seqs it names.
// - The two buffers hold `capacity` bytes in all: at most half of it waits
//   in the filling buffer, while the batch the writer holds is the other
//   half.  A push larger than half is admitted alone into an empty buffer
//   (which grows for it, and shrinks back once written), so it cannot wait
//   for ever.
// - After Close() returns, no push succeeds; every push that succeeded
//   before it is in the next Take().
//
// Threads: Push() and the readers of state from any thread; Take() from the
// writer thread only.  Lock-free here means no mutex: x86-64's CMPXCHG16B
// (every x86-64-v2 machine and later has it), which TSan understands.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace stele {

class WriteQueue {
 public:
  WriteQueue(uint64_t capacity, uint64_t next_seq);
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  enum class PushResult { kOk, kFull, kClosed };
  // Appends `n` framed records (docs/format.md), writing their seqs into
  // them first.  On kOk, *first_seq is the first one, and *was_empty says
  // the filling buffer was empty before (the writer may be asleep).
  PushResult Push(std::string* records, uint64_t n, uint64_t* first_seq, bool* was_empty);

  struct Batch {
    std::string_view bytes;  // valid until the next Take()
    uint64_t first_seq = 0;  // seqs first_seq .. last_seq; empty when last_seq < first_seq
    uint64_t last_seq = 0;
  };
  // Writer thread only: everything pushed so far, once every copy into it
  // has finished.  Producers go on into the other buffer meanwhile.
  Batch Take();

  // No push succeeds after this returns.
  void Close();

  // Touches every page of both buffers.  Call before any Push().
  void Prefault();

  uint64_t next_seq() const { return Load().seq; }
  uint64_t waiting_bytes() const { return Load().bytes(); }
  bool closed() const { return Load().closed(); }

 private:
  // The claim word.  lo: generation (31 bits) | closed (1 bit) | bytes
  // claimed in this generation (32 bits).  hi: the next seq to hand out.
  struct State {
    uint64_t lo = 0;
    uint64_t seq = 0;
    uint64_t bytes() const { return lo & 0xffffffffu; }
    bool closed() const { return (lo >> 32) & 1; }
    uint64_t generation() const { return lo >> 33; }
  };
  State Load() const;
  // On failure *expected becomes the current state.
  bool CompareExchange(State* expected, State desired);

  struct Buffer {
    std::unique_ptr<char[]> data;
    uint64_t size = 0;
    // Bytes copied in during the current generation; Take() waits for it to
    // reach the bytes claimed.
    std::atomic<uint64_t> published{0};
  };

  const uint64_t capacity_;  // of each buffer: half the queue's bound
  alignas(16) mutable unsigned __int128 state_;
  Buffer buffers_[2];
  uint64_t generation_first_seq_;  // writer thread: the first seq of the filling generation
};

}  // namespace stele
