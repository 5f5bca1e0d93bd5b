// AlertDispatcher: webhook alerts on events of the log (issue 6), for
// `stele serve`.  Owns one thread that follows the log from where it stood
// at Start(): each rule counts the new events of its type (exact, or a
// "prefix.*"), and once `threshold` of them arrive within `window` it POSTs
// one JSON alert with the count and up to `max_events` of them to the rule's
// URL through WebhookSender (UrlGuard-checked, pinned, no redirects,
// retried), then starts counting afresh.
//
// Every send is audited in the log it watches: security.alert_sent,
// security.alert_failed, and security.ssrf_blocked when the guard refuses
// the URL at send time (DNS may have changed since Start()).  Those
// security.alert_* events are never matched themselves, so alerts cannot
// feed on their own audit trail.
//
// What it promises: memory bounded by rules × (max_events + window / poll); a slow or dead
// receiver delays only later alerts (sends are sequential, each bounded by
// the sender's timeouts and retries); Stop() returns once the current send
// ends.  Alerts are at most once: events that arrive while the server is
// down are not alerted on after a restart.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alerts/webhook_sender.h"
#include "stele/log.h"

namespace stele {

struct AlertRule {
  std::string name;  // shown in the alert and its audit events
  std::string type;  // "security.auth_failed", "security.*" or "*"
  uint64_t threshold = 1;
  std::chrono::milliseconds window{60'000};
  std::string url;
  size_t max_events = 20;
};

struct AlertConfig {
  std::vector<AlertRule> rules;
  std::vector<std::string> allow;  // UrlGuard allowlist: "host" or "host:port"
  WebhookOptions webhook;
  std::chrono::milliseconds poll{500};
};

class AlertDispatcher {
 public:
  AlertDispatcher(Log* log, AlertConfig config, Resolver* resolver = Resolver::System());
  ~AlertDispatcher();
  AlertDispatcher(const AlertDispatcher&) = delete;
  AlertDispatcher& operator=(const AlertDispatcher&) = delete;

  // Checks every rule's URL (kInvalidArgument naming "alerts[i].url" and
  // the guard's reason if one is refused) and starts following the log.
  Status Start();
  void Stop();

  struct Counters {
    uint64_t sent = 0, failed = 0, blocked = 0;
  };
  Counters counters() const;

 private:
  struct RuleState {
    uint64_t cursor = 0;                                // last seq looked at
    // Matches per poll still in the window (at most window / poll entries),
    // and their sum.
    std::deque<std::pair<std::chrono::steady_clock::time_point, uint64_t>> polls;
    uint64_t in_window = 0;
    uint64_t count = 0;                                 // matches since the last alert, in the window
    uint64_t first_seq = 0, last_seq = 0;
    std::string events;                                 // JSON array elements, ≤ max_events
    size_t sampled = 0;
  };
  void Run();
  void Poll(size_t i);
  void Fire(size_t i);

  Log* const log_;
  const AlertConfig config_;
  UrlGuard guard_;
  WebhookSender sender_;
  std::vector<RuleState> state_;  // the dispatcher thread's alone

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  Counters counters_;
  std::thread thread_;
};

}  // namespace stele
