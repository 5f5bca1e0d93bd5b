// Mutex, MutexLock and CondVar with clang thread-safety annotations, so
// -Wthread-safety checks GUARDED_BY/REQUIRES at compile time (after LevelDB's
// port::Mutex).  Thin wrappers over the standard library.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define STELE_TSA(x) __attribute__((x))
#else
#define STELE_TSA(x)
#endif

#define CAPABILITY(x) STELE_TSA(capability(x))
#define SCOPED_CAPABILITY STELE_TSA(scoped_lockable)
#define GUARDED_BY(x) STELE_TSA(guarded_by(x))
#define REQUIRES(...) STELE_TSA(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) STELE_TSA(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) STELE_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) STELE_TSA(release_capability(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS STELE_TSA(no_thread_safety_analysis)

namespace stele {

class CAPABILITY("mutex") Mutex {
 public:
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }

 private:
  friend class CondVar;
  std::mutex mu_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* mu_;
};

// A condition variable used with a Mutex the caller holds (passed in, so
// the analysis can check it is held).
class CondVar {
 public:
  void Wait(Mutex* mu) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();
  }
  // Returns false if the deadline passed.
  bool WaitUntil(Mutex* mu, std::chrono::steady_clock::time_point deadline) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    const bool woke = cv_.wait_until(lock, deadline) == std::cv_status::no_timeout;
    lock.release();
    return woke;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace stele
