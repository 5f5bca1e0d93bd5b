#include "util/forwarding_env.h"

#include <thread>

namespace stele {
namespace {

class SlowSyncFile final : public WritableFile {
 public:
  SlowSyncFile(std::unique_ptr<WritableFile> base, std::chrono::microseconds delay)
      : base_(std::move(base)), delay_(delay) {}
  Status Append(std::string_view data) override { return base_->Append(data); }
  Status Sync() override {
    std::this_thread::sleep_for(delay_);
    return base_->Sync();
  }
  Status Close() override { return base_->Close(); }
  uint64_t Size() const override { return base_->Size(); }

 private:
  const std::unique_ptr<WritableFile> base_;
  const std::chrono::microseconds delay_;
};

}  // namespace

Result<std::unique_ptr<WritableFile>> SlowSyncEnv::OpenAppendable(const std::string& path) {
  auto f = base()->OpenAppendable(path);
  if (!f.ok() || delay_.count() == 0) return f;
  return std::unique_ptr<WritableFile>(new SlowSyncFile(std::move(f).value(), delay_));
}

}  // namespace stele
