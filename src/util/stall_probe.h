// StallProbe: measures how long this machine stops running us.  While it
// lives, a thread sleeps 1 ms at a time and records every wake-up that comes
// more than 2 ms late.  On a core with anything to spare a sleeper wakes
// within tens of microseconds, and the thread asks for real-time priority
// (SCHED_FIFO, when allowed) so that our own threads do not delay it; a late
// wake-up then means the (virtual) CPU itself was not running.  On the VMs
// the project runs on, the hypervisor pauses a vCPU for ~10 ms at a time
// under combined CPU and disk load, and those pauses, not the log, set the
// tail of `stele bench latency` (docs/performance.md, "sync=always p99").
//
// Owns its thread; the destructor stops and joins it.  Costs one wake-up per
// millisecond.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

namespace stele {

class StallProbe {
 public:
  struct Stalls {
    uint64_t count = 0;     // wake-ups more than kLateMs late
    double total_ms = 0;    // their lateness, summed
    double max_ms = 0;      // the latest one
    bool realtime = false;  // whether the probe ran at SCHED_FIFO priority
  };
  static constexpr double kLateMs = 2.0;

  StallProbe();  // starts probing
  ~StallProbe();
  StallProbe(const StallProbe&) = delete;
  StallProbe& operator=(const StallProbe&) = delete;

  // Stops probing (once; later calls return the same figures).
  Stalls Stop();

 private:
  void Run();

  std::atomic<bool> stop_{false};
  Stalls stalls_;  // written by the probe thread until it is joined
  std::thread thread_;
};

}  // namespace stele
