#!/usr/bin/env bash
# Configures and builds into $BUILD_DIR (default build/).  Extra args go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
# ccache: paths relative to the checkout and the working directory left out
# of the hash, so a fresh clone anywhere (CI) reuses this machine's cache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
cmake -S . -B "$BUILD_DIR" -G Ninja -DSTELE_WERROR=ON "$@" >/dev/null
ninja -C "$BUILD_DIR"
