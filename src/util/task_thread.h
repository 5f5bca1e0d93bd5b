// TaskThread: one background thread that runs one task at a time for its
// owner, so the owner can overlap two independent halves of a job (the
// writer compresses a batch while this thread hashes its Merkle leaves).
//
// Owns the thread; the destructor joins it.  Run() and Wait() are called by
// one owner thread, alternately: Run(task), then Wait() before the next
// Run() and before touching anything the task touches.  Wait() returns the
// task's Status and is the happens-before edge for what the task wrote.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "stele/status.h"
#include "util/mutex.h"

namespace stele {

class TaskThread {
 public:
  // `name` (at most 15 bytes) labels the thread in top and perf.
  explicit TaskThread(std::string name);
  ~TaskThread();
  TaskThread(const TaskThread&) = delete;
  TaskThread& operator=(const TaskThread&) = delete;

  void Run(std::function<Status()> task) EXCLUDES(mu_);
  Status Wait() EXCLUDES(mu_);
  // Whether the task of the last Run() is still running (Wait() would block).
  bool Busy() EXCLUDES(mu_);

 private:
  void Loop() EXCLUDES(mu_);

  Mutex mu_;
  CondVar cv_;
  std::function<Status()> task_ GUARDED_BY(mu_);
  bool pending_ GUARDED_BY(mu_) = false;  // Run() called, task not finished
  bool stop_ GUARDED_BY(mu_) = false;
  Status result_ GUARDED_BY(mu_);
  std::thread thread_;
};

// Names the calling thread (at most 15 bytes shown) for top, perf and gdb.
void SetThreadName(const std::string& name);

}  // namespace stele
