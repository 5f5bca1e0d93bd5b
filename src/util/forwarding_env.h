// ForwardingEnv: an Env that passes every call to another one; subclasses
// override only what they change (a slow disk for benchmarks, injected
// faults for tests).  Does not own the base, which must outlive it.
//
// SlowSyncEnv: a ForwardingEnv whose files sleep `delay` before each
// fdatasync, so a benchmark can show group commit on a slow disk (this
// machine's ~150 us fdatasync hides batching bugs that a 10 ms one exposes).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "util/env.h"

namespace stele {

class ForwardingEnv : public Env {
 public:
  explicit ForwardingEnv(Env* base) : base_(base) {}
  Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& p) override { return base_->OpenAppendable(p); }
  Result<std::unique_ptr<RandomAccessFile>> OpenReadable(const std::string& p) override { return base_->OpenReadable(p); }
  Status Truncate(const std::string& p, uint64_t n) override { return base_->Truncate(p, n); }
  Status CreateDir(const std::string& p) override { return base_->CreateDir(p); }
  Status SyncDir(const std::string& p) override { return base_->SyncDir(p); }
  Result<std::vector<std::string>> ListDir(const std::string& p) override { return base_->ListDir(p); }
  Status Remove(const std::string& p) override { return base_->Remove(p); }
  Status Rename(const std::string& a, const std::string& b) override { return base_->Rename(a, b); }
  bool Exists(const std::string& p) override { return base_->Exists(p); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& p) override { return base_->LockFile(p); }

 protected:
  Env* base() const { return base_; }

 private:
  Env* const base_;
};

class SlowSyncEnv final : public ForwardingEnv {
 public:
  SlowSyncEnv(Env* base, std::chrono::microseconds delay) : ForwardingEnv(base), delay_(delay) {}
  Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) override;

 private:
  const std::chrono::microseconds delay_;
};

}  // namespace stele
