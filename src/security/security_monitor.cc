#include "security/security_monitor.h"

#include "util/json_escape.h"
#include "util/time.h"

namespace stele {

SecurityMonitor::SecurityMonitor(std::chrono::milliseconds interval, size_t max_groups, Sink sink)
    : interval_(interval), max_groups_(std::max<size_t>(1, max_groups)), sink_(std::move(sink)) {
  thread_ = std::thread([this] { Loop(); });
}

SecurityMonitor::~SecurityMonitor() { Stop(); }

void SecurityMonitor::Report(std::string_view type, std::string_view subject_kind, std::string_view subject,
                             std::string_view reason, std::string_view reason_kind) {
  const int64_t now = NowNanos();
  std::lock_guard<std::mutex> g(mu_);
  ++incidents_;
  GroupKey key{std::string(type), std::string(subject_kind), std::string(subject), std::string(reason_kind),
               std::string(reason)};
  auto it = groups_.find(key);
  if (it == groups_.end()) {
    if (groups_.size() >= max_groups_) {
      // Too many distinct groups this interval: count it as overflow.
      key = GroupKey{std::string(type), "overflow", "", "reason", "distinct subjects beyond the per-interval limit"};
    }
    it = groups_.try_emplace(std::move(key), Group{0, now, now}).first;
  }
  ++it->second.count;
  it->second.last_ns = now;
}

void SecurityMonitor::Drain(std::unique_lock<std::mutex>* lock) {
  std::map<GroupKey, Group> taken;
  taken.swap(groups_);
  lock->unlock();
  {
    std::lock_guard<std::mutex> d(drain_mu_);
    for (const auto& [key, group] : taken) {
      const auto& [type, kind, subject, reason_kind, reason] = key;
      std::string data = "{";
      // The subject's key must not collide with the fixed ones (no duplicate keys).
      const bool fixed = kind == reason_kind || kind == "count" || kind == "first_ts" || kind == "last_ts";
      if (kind != "overflow") data += JsonString(fixed ? "subject" : kind) + ":" + JsonString(subject) + ",";
      data += JsonString(reason_kind) + ":" + JsonString(reason) + ",\"count\":" + std::to_string(group.count) +
              ",\"first_ts\":\"" + FormatRfc3339(group.first_ns) + "\",\"last_ts\":\"" +
              FormatRfc3339(group.last_ns) + "\"}";
      sink_(type, data);
    }
  }
  lock->lock();
  written_ += taken.size();
}

void SecurityMonitor::FlushNow() {
  std::unique_lock<std::mutex> l(mu_);
  Drain(&l);
}

void SecurityMonitor::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    cv_.wait_for(l, interval_, [&] { return stop_; });
    if (!groups_.empty()) Drain(&l);
  }
}

void SecurityMonitor::Stop() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (stop_ && !thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  FlushNow();
}

uint64_t SecurityMonitor::incidents() const {
  std::lock_guard<std::mutex> g(mu_);
  return incidents_;
}

uint64_t SecurityMonitor::events_written() const {
  std::lock_guard<std::mutex> g(mu_);
  return written_;
}

}  // namespace stele
