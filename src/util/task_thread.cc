#include "util/task_thread.h"

#include <pthread.h>

#include <utility>

namespace stele {

void SetThreadName(const std::string& name) { pthread_setname_np(pthread_self(), name.substr(0, 15).c_str()); }

TaskThread::TaskThread(std::string name) {
  thread_ = std::thread([this, name = std::move(name)] {
    SetThreadName(name);
    Loop();
  });
}

TaskThread::~TaskThread() {
  {
    MutexLock l(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  thread_.join();
}

void TaskThread::Run(std::function<Status()> task) {
  MutexLock l(&mu_);
  task_ = std::move(task);
  pending_ = true;
  cv_.SignalAll();
}

Status TaskThread::Wait() {
  MutexLock l(&mu_);
  while (pending_) cv_.Wait(&mu_);
  return result_;
}

bool TaskThread::Busy() {
  MutexLock l(&mu_);
  return pending_;
}

void TaskThread::Loop() {
  MutexLock l(&mu_);
  while (true) {
    while (!stop_ && (!pending_ || !task_)) cv_.Wait(&mu_);
    if (stop_ && !pending_) return;
    std::function<Status()> task = std::move(task_);
    task_ = nullptr;
    mu_.Unlock();
    Status s = task();
    mu_.Lock();
    result_ = std::move(s);
    pending_ = false;
    cv_.SignalAll();
  }
}

}  // namespace stele
