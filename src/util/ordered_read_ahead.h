// OrderedReadAhead: loads items 0..n-1 on two threads, the caller's and a
// helper's, and hands them to the caller in order.
//
// What readers of many frames need on two cores (a scan's frames, a
// count's): loading a frame (read, check, decompress, filter) is most of
// the work, and the caller has its own share (emitting, counting).  Both
// threads claim the next unloaded item from one counter.  The helper
// loads the items it may take into a ring of kRing slots, up to kRing items
// past the one the caller takes next; the caller, when its next item is
// not loaded yet, claims and loads the next unclaimed one itself rather
// than wait.  So neither thread waits on a hand-off per item, and the
// work balances whichever side is slower.
//
// Owns the ring; runs its loop as one task on the helper TaskThread the
// caller lends (which must outlive it), from construction until the
// destructor, which stops and waits for it.  Next() is for one caller
// thread.  `load` runs on both threads at once (for different items and
// slots) and is told which thread it is on, so it can use that thread's
// own scratch state.
#pragma once

#include <cstddef>
#include <functional>
#include <utility>
#include <vector>

#include "stele/status.h"
#include "util/mutex.h"
#include "util/task_thread.h"

namespace stele {

template <typename Slot>
class OrderedReadAhead {
 public:
  static constexpr size_t kRing = 4;
  using Load = std::function<void(size_t item, bool on_helper, Slot* slot)>;

  // `helper_may(item)` false leaves the item to the caller's thread.  With
  // no helper, or no item it may take, the caller loads every item.
  OrderedReadAhead(TaskThread* helper, size_t n, const std::function<bool(size_t)>& helper_may, Load load)
      : n_(n), load_(std::move(load)), helper_may_(n) {
    bool any = false;
    for (size_t i = 0; i < n; ++i) any |= helper_may_[i] = helper_may(i);
    if (!helper || !any) return;
    helper_ = helper;
    helper_->Run([this] {
      HelperLoop();
      return Status::Ok();
    });
  }
  ~OrderedReadAhead() {
    if (!helper_) return;
    {
      MutexLock l(&mu_);
      stop_ = true;
      cv_.SignalAll();
    }
    (void)helper_->Wait();  // it writes into ring_ until it sees stop_
  }
  OrderedReadAhead(const OrderedReadAhead&) = delete;
  OrderedReadAhead& operator=(const OrderedReadAhead&) = delete;

  // The next item's slot, loaded; null after the last.  Valid until the
  // next call, which hands the slot back to the ring.
  Slot* Next() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    if (next_ > 0) {
      ready_[(next_ - 1) % kRing] = false;
      taken_ = next_;  // the slot of item next_ - 1 is free for item next_ - 1 + kRing
      cv_.SignalAll();
    }
    const size_t m = next_;
    if (m >= n_) return nullptr;
    while (!ready_[m % kRing]) {
      if (claimed_ < n_ && claimed_ < m + kRing) {
        const size_t c = claimed_++;
        mu_.Unlock();
        load_(c, false, &ring_[c % kRing]);
        mu_.Lock();
        ready_[c % kRing] = true;
        cv_.SignalAll();  // the helper may wait for this claim (an item it may not take)
        continue;
      }
      cv_.Wait(&mu_);
    }
    ++next_;
    return &ring_[m % kRing];
  }

 private:
  void HelperLoop() EXCLUDES(mu_) {
    MutexLock l(&mu_);
    while (true) {
      while (!stop_ && claimed_ < n_ && (claimed_ >= taken_ + kRing || !helper_may_[claimed_])) cv_.Wait(&mu_);
      if (stop_ || claimed_ >= n_) return;
      const size_t c = claimed_++;
      mu_.Unlock();
      load_(c, true, &ring_[c % kRing]);
      mu_.Lock();
      ready_[c % kRing] = true;
      cv_.SignalAll();
    }
  }

  const size_t n_;
  const Load load_;
  std::vector<bool> helper_may_;  // set before the helper starts, then read-only
  TaskThread* helper_ = nullptr;
  // Slot c % kRing holds item c: written by the thread that claimed it
  // until ready_ says it is loaded, then read by the caller until its next
  // Next().  Both happen under the hand-over of mu_.
  Slot ring_[kRing];
  size_t next_ = 0;  // the caller's: the item Next() returns next
  Mutex mu_;
  CondVar cv_;
  size_t claimed_ GUARDED_BY(mu_) = 0;  // items [0, claimed_) are claimed
  size_t taken_ GUARDED_BY(mu_) = 0;    // items [0, taken_) were handed back
  bool ready_[kRing] GUARDED_BY(mu_) = {};
  bool stop_ GUARDED_BY(mu_) = false;
};

}  // namespace stele
