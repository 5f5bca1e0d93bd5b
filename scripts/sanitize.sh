#!/usr/bin/env bash
# Builds the tests with clang under ASan+UBSan and under TSan, and runs them.
# ASan runs everything (the crash loop with fewer iterations is still in);
# TSan runs the concurrent parts.  clang also checks -Wthread-safety here.
set -euo pipefail
cd "$(dirname "$0")/.."
export CC=clang CXX=clang++

BUILD_DIR=build-asan scripts/build.sh -DCMAKE_BUILD_TYPE=Debug -DSTELE_SANITIZE=address,undefined \
  -DSTELE_BUILD_BENCH=OFF -DCMAKE_CXX_COMPILER=clang++
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build-asan/stele_tests
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 build-asan/stele_slow_tests

BUILD_DIR=build-tsan scripts/build.sh -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTELE_SANITIZE=thread \
  -DSTELE_BUILD_BENCH=OFF -DCMAKE_CXX_COMPILER=clang++
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  build-tsan/stele_tests --gtest_filter='Concurrency.*:WriteQueue.*:LruCache.*:BufferPool.*:TaskThread.*:ReadAhead.*:Log.*:Fault.*:RoundTrip.*:Integrity.*:Tamper.*:LiveIndex.*:LiveIndexFile.*:LiveIndexChunks.*:Retention.*:RateLimiter.*:SecurityMonitor.*:LogSecurity.*:Server.*:Planner.Concurrent*:Planner.AnOpenLogs*:Planner.CountsThatRead*:LeadRunsTest.AnOpenLogs*:LeadRunsTest.VerifyChecks*:LeadRunsTest.ABuilderPast*:LeadRunsWhileWriting.*:ServerFiles.*:ServerLimits.*:WebhookSender.*:Resolution/Confined.*:BlockedIndex.*:CliTransfer.AWholeLogExport*'
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 build-tsan/stele_slow_tests --gtest_filter='ServerCrash.*'
echo "sanitize.sh: ASan+UBSan and TSan clean"
