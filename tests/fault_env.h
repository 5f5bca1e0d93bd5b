// FaultEnv: an Env that forwards to the POSIX one and injects the failures
// storage engines must survive: a failed fdatasync, a write refused after N
// bytes (a full disk), and a slow or held sync; and it can hold back the writing of
// sealed segments' field index files.  Thread-safe knobs.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#include "util/forwarding_env.h"

namespace stele::test {

class FaultEnv final : public ForwardingEnv {
 public:
  FaultEnv() : ForwardingEnv(Env::Default()) {}
  std::atomic<bool> fail_sync{false};
  // Bytes that may still be written before writes fail with ENOSPC (-1 = no limit).
  std::atomic<int64_t> write_budget{-1};
  std::atomic<int> sync_delay_ms{0};
  std::atomic<uint64_t> syncs{0};
  // While true, every sync waits; syncs_held counts the syncs that waited.
  std::atomic<bool> hold_syncs{false};
  std::atomic<int> syncs_held{0};
  // While true, opening a field index file (<segment>.fidx.tmp) waits;
  // index_files_held counts the opens that waited.
  std::atomic<bool> hold_index_files{false};
  std::atomic<int> index_files_held{0};

  Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) override {
    if (path.ends_with(".fidx.tmp") && hold_index_files) {
      ++index_files_held;
      while (hold_index_files) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    auto f = base()->OpenAppendable(path);
    if (!f.ok()) return f.status();
    return std::unique_ptr<WritableFile>(new File(this, std::move(f).value()));
  }

 private:
  class File final : public WritableFile {
   public:
    File(FaultEnv* env, std::unique_ptr<WritableFile> base) : env_(env), base_(std::move(base)) {}
    Status Append(std::string_view data) override {
      int64_t budget = env_->write_budget.load();
      if (budget >= 0) {
        if (static_cast<int64_t>(data.size()) > budget) {
          // A short write, as a full disk gives, then the error.
          (void)base_->Append(data.substr(0, static_cast<size_t>(budget)));
          env_->write_budget = 0;
          return Status::IOError("write: No space left on device (injected)");
        }
        env_->write_budget = budget - static_cast<int64_t>(data.size());
      }
      return base_->Append(data);
    }
    Status Sync() override {
      if (env_->hold_syncs) {
        ++env_->syncs_held;
        while (env_->hold_syncs) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (int ms = env_->sync_delay_ms.load()) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      if (env_->fail_sync) return Status::IOError("fdatasync: Input/output error (injected)");
      ++env_->syncs;
      return base_->Sync();
    }
    Status Close() override { return base_->Close(); }
    uint64_t Size() const override { return base_->Size(); }

   private:
    FaultEnv* env_;
    std::unique_ptr<WritableFile> base_;
  };

};

}  // namespace stele::test
