#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan, coverage feedback) and
# runs each: first over its regression inputs (fuzz/regressions/<target>:
# every crash ever found, kept so it stays fixed), then for FUZZ_SECONDS
# (default 45) from its seed corpus (fuzz/corpus/<target>).  A crash, leak,
# sanitizer report or timeout fails the script and leaves the input in
# build-fuzz/artifacts/.
#   scripts/fuzz.sh                 # all targets
#   FUZZ_SECONDS=600 scripts/fuzz.sh url http
set -euo pipefail
cd "$(dirname "$0")/.."
export CC=clang CXX=clang++
SECONDS_EACH=${FUZZ_SECONDS:-45}
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(event segment note query url http lead_runs import)

BUILD_DIR=build-fuzz scripts/build.sh -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTELE_FUZZ=ON \
  -DSTELE_SANITIZE=address,undefined -DSTELE_BUILD_TESTS=OFF -DSTELE_BUILD_BENCH=OFF \
  -DCMAKE_CXX_COMPILER=clang++ >/dev/null
mkdir -p build-fuzz/artifacts
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export TMPDIR=${TMPDIR:-/tmp}
for t in "${TARGETS[@]}"; do
  bin=build-fuzz/fuzz_$t
  if [ -d "fuzz/regressions/$t" ] && [ -n "$(ls -A "fuzz/regressions/$t")" ]; then
    "$bin" -runs=0 "fuzz/regressions/$t"/* 2>build-fuzz/regressions-$t.log ||
      { tail -40 build-fuzz/regressions-$t.log; echo "fuzz.sh: $t: a regression input fails again"; exit 1; }
  fi
  work=build-fuzz/corpus-$t
  mkdir -p "$work"
  # The run's corpus grows in build-fuzz (a cache across runs); the seeds stay as committed.
  "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix=build-fuzz/artifacts/$t- -print_final_stats=1 "$work" "fuzz/corpus/$t" \
    >build-fuzz/fuzz-$t.log 2>&1 ||
    { tail -60 build-fuzz/fuzz-$t.log; echo "fuzz.sh: $t: crashed; input in build-fuzz/artifacts/"; exit 1; }
  echo "fuzz.sh: $t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' build-fuzz/fuzz-$t.log | grep -o '[0-9]*$') runs, clean"
done
echo "fuzz.sh: all targets clean"
