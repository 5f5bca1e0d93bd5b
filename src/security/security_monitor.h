// SecurityMonitor: turns security incidents (auth failures, rate-limit hits,
// rejected events, rejected paths, reads) into `security.*` events in the
// log itself (SPEC §7), aggregated so that a flood cannot flood the log.
//
// Incidents are counted per (type, subject, reason) and written once per
// interval as one event carrying the count and the first/last time seen.
// At most max_groups distinct groups are kept per interval; the rest are
// counted into one `overflow` group per type.  So an attack produces at most
// (max_groups + types) events per interval, whatever its rate.
//
// Report() is cheap and thread-safe.  A thread of the monitor's own writes
// each interval's events through the sink; Stop() (also the destructor)
// writes what is pending and joins it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>

namespace stele {

class SecurityMonitor {
 public:
  // Writes one aggregated event: type ("security.rate_limited") and its data object.
  using Sink = std::function<void(std::string_view type, const std::string& data_json)>;

  SecurityMonitor(std::chrono::milliseconds interval, size_t max_groups, Sink sink);
  ~SecurityMonitor();
  SecurityMonitor(const SecurityMonitor&) = delete;
  SecurityMonitor& operator=(const SecurityMonitor&) = delete;

  // One incident.  subject_kind names what subject is ("key", "source",
  // "peer"); reason is a short fixed phrase, or detail for security.read.
  // reason_kind names the reason's field ("reason"; "query" for reads).
  void Report(std::string_view type, std::string_view subject_kind, std::string_view subject, std::string_view reason,
              std::string_view reason_kind = "reason");
  // Writes everything pending now (tests, shutdown).
  void FlushNow();
  void Stop();

  uint64_t incidents() const;       // reported since start
  uint64_t events_written() const;  // aggregated events handed to the sink

 private:
  // type, subject kind, subject, reason kind, reason
  using GroupKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;
  struct Group {
    uint64_t count = 0;
    int64_t first_ns = 0;
    int64_t last_ns = 0;
  };
  void Loop();
  // Takes the pending groups (under mu_) and writes them (outside it).
  void Drain(std::unique_lock<std::mutex>* lock);

  const std::chrono::milliseconds interval_;
  const size_t max_groups_;
  const Sink sink_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<GroupKey, Group> groups_;
  uint64_t incidents_ = 0;
  uint64_t written_ = 0;
  bool stop_ = false;
  std::mutex drain_mu_;  // one Drain writes at a time, in order
  std::thread thread_;
};

}  // namespace stele
