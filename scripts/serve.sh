#!/usr/bin/env bash
# Sets everything up and runs the main job: `stele serve` on a local data
# directory (./stele-data, or $STELE_DIR), listening on 127.0.0.1:8080 (or
# $STELE_LISTEN).  Ctrl-C or SIGTERM drains, flushes, checkpoints and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
DIR=${STELE_DIR:-./stele-data}
LISTEN=${STELE_LISTEN:-127.0.0.1:8080}
echo "stele: serving $DIR on http://$LISTEN  (try: curl -s http://$LISTEN/healthz)" >&2
exec build/stele serve --dir "$DIR" --listen "$LISTEN" "$@"
