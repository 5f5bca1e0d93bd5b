#!/usr/bin/env bash
# Sets everything up, then shows the main job until the server exists:
# append events to ./stele-data, query them, verify them and prove one.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
STELE=build/stele
DIR=${STELE_DIR:-./stele-data}
echo "== appending 3 events (one rejected) to $DIR"
printf '%s\n' \
  '{"type":"lead.created","actor":"crm-sync","lead_id":"L0000042","data":{"email":"ada@example.com","score":87}}' \
  '{"type":"email.sent","actor":"mailer","lead_id":"L0000042","workflow_id":"wf-onboarding","data":{"template":"welcome"}}' \
  '{"type":"Not A Type"}' \
  '{"type":"step.completed","source":"n8n","workflow_id":"wf-onboarding","data":{"step":"send_welcome","ms":112}}' \
  | $STELE append --dir "$DIR" --sync always || true
echo "== everything for lead L0000042"
$STELE query --dir "$DIR" --lead L0000042 --format table
echo "== the last 2 events, as NDJSON"
$STELE tail --dir "$DIR" -n 2
echo "== count of lead.* events"
$STELE query --dir "$DIR" --type 'lead.*' --format count
echo "== verify: every hash re-derived, every signed checkpoint checked"
$STELE verify --dir "$DIR"
echo "== the latest signed checkpoint, and a proof that event 1 is in it"
$STELE checkpoint --dir "$DIR"
$STELE prove inclusion 1 --dir "$DIR" > /tmp/stele-demo-proof.json
cat /tmp/stele-demo-proof.json
$STELE prove verify /tmp/stele-demo-proof.json
echo "== ingest benchmark (200k events, side by side with spdlog)"
$STELE bench ingest --events 200000
