#!/usr/bin/env bash
# Installs every build/test dependency from Debian's archive and configures
# the build.  Safe to re-run: installs only what is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache clang
  libsimdjson-dev libzstd-dev libxxhash-dev libcli11-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev libbenchmark-dev libssl-dev libre2-dev
  libclang-rt-14-dev libsqlite3-dev zlib1g-dev zstd gzip python3
  libboost-dev libtomlplusplus-dev wrk
  python3-dev pybind11-dev python3-pytest
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
