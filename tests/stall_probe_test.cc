#include "util/stall_probe.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace stele {
namespace {

// A real pause: the child runs a probe, the parent stops the whole child
// with SIGSTOP for 80 ms (as a hypervisor stops a vCPU), and the probe must
// report one stall of about that length.
TEST(StallProbe, AProcessStoppedFromOutsideSeesTheStopAsAStall) {
  int ready[2], result[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(result), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    StallProbe probe;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the probe thread is sleeping by now
    const char go = 1;
    if (write(ready[1], &go, 1) != 1) _exit(2);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const StallProbe::Stalls s = probe.Stop();
    if (write(result[1], &s, sizeof s) != static_cast<ssize_t>(sizeof s)) _exit(2);
    _exit(0);
  }
  char go = 0;
  ASSERT_EQ(read(ready[0], &go, 1), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(kill(child, SIGSTOP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  ASSERT_EQ(kill(child, SIGCONT), 0);
  StallProbe::Stalls s;
  ASSERT_EQ(read(result[0], &s, sizeof s), static_cast<ssize_t>(sizeof s));
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (int fd : {ready[0], ready[1], result[0], result[1]}) close(fd);
  EXPECT_GE(s.count, 1u);
  // The stop began during one 1 ms sleep and lasted 80 ms (less whatever
  // the kernel took to deliver SIGSTOP to the probe's thread).
  EXPECT_GE(s.max_ms, 60.0);
  EXPECT_GE(s.total_ms, s.max_ms);
}

TEST(StallProbe, StopIsIdempotent) {
  StallProbe probe;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const StallProbe::Stalls first = probe.Stop();
  const StallProbe::Stalls second = probe.Stop();
  EXPECT_EQ(first.count, second.count);
  EXPECT_EQ(first.total_ms, second.total_ms);
}

}  // namespace
}  // namespace stele
