#!/usr/bin/env bash
# Sets everything up and runs every test: the fast and slow suites on a
# release build, then the ASan+UBSan and TSan builds (scripts/sanitize.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
(cd build && ctest --output-on-failure --timeout 900)
if [ "${STELE_SKIP_SANITIZERS:-0}" != "1" ]; then
  scripts/sanitize.sh
fi
echo "test.sh: all suites passed"
