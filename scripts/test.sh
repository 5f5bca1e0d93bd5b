#!/usr/bin/env bash
# Sets everything up and runs every test: the fast and slow suites on a
# release build, the ASan+UBSan and TSan builds (scripts/sanitize.sh), then
# every fuzz target for a bounded time (scripts/fuzz.sh, FUZZ_SECONDS each).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
(cd build && ctest --output-on-failure --timeout 900)
if [ "${STELE_SKIP_SANITIZERS:-0}" != "1" ]; then
  scripts/sanitize.sh
fi
if [ "${STELE_SKIP_FUZZ:-0}" != "1" ]; then
  FUZZ_SECONDS=${FUZZ_SECONDS:-45} scripts/fuzz.sh
fi
echo "test.sh: all suites passed"
