#include "util/stall_probe.h"

#include <pthread.h>
#include <sched.h>

#include <chrono>

#include "util/task_thread.h"

namespace stele {

StallProbe::StallProbe() : thread_([this] { Run(); }) {}

StallProbe::~StallProbe() { Stop(); }

StallProbe::Stalls StallProbe::Stop() {
  stop_.store(true, std::memory_order_relaxed);
  if (thread_.joinable()) thread_.join();
  return stalls_;
}

void StallProbe::Run() {
  SetThreadName("stele-stalls");
  sched_param param{};
  param.sched_priority = sched_get_priority_min(SCHED_FIFO);
  stalls_.realtime = pthread_setschedparam(pthread_self(), SCHED_FIFO, &param) == 0;
  using Clock = std::chrono::steady_clock;
  constexpr auto kTick = std::chrono::milliseconds(1);
  while (!stop_.load(std::memory_order_relaxed)) {
    const Clock::time_point before = Clock::now();
    std::this_thread::sleep_for(kTick);
    const double late_ms = std::chrono::duration<double, std::milli>(Clock::now() - before - kTick).count();
    if (late_ms > kLateMs) {
      ++stalls_.count;
      stalls_.total_ms += late_ms;
      if (late_ms > stalls_.max_ms) stalls_.max_ms = late_ms;
    }
  }
}

}  // namespace stele
