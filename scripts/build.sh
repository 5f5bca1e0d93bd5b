#!/usr/bin/env bash
# Configures and builds into $BUILD_DIR (default build/).  Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DSTELE_WERROR=ON "$@" >/dev/null
ninja -C "$BUILD_DIR"
