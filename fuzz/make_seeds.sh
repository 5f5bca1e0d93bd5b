#!/usr/bin/env bash
# Regenerates the seed corpora in fuzz/corpus/ from the stele binary
# (build/stele): real events, real sealed and active segments, real signed
# checkpoints and proofs, real query strings, URLs and HTTP requests.  The
# seeds are committed; run this only when a format changes.
set -euo pipefail
cd "$(dirname "$0")/.."
STELE=${STELE:-build/stele}
out=fuzz/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out"/{event,segment,note,lead_runs,import}
mkdir -p "$out"/{event,segment,note,query,url,http,lead_runs,import}

# Events: the reference workload, plus edge cases.
"$STELE" bench generate --events 40 > "$tmp/events.ndjson"
i=0
while IFS= read -r line; do printf '%s' "$line" > "$out/event/gen-$i.json"; i=$((i+1)); done < "$tmp/events.ndjson"
printf '%s' '{"type":"a.b","ts":"2026-11-27T10:00:00.123456789+02:00","actor":"u","source":"s","lead_id":"L","workflow_id":"w","data":{"k":[1,2.5e3,-0,"\u00e9\ud83d\ude00",null,true,{"":{}}]}}' > "$out/event/edge-all-fields.json"
printf '%s' '{"type":"a.b","ts":1700000000000000000,"data":{"a":{"a":{"a":{"a":1}}}}}' > "$out/event/edge-ns.json"
printf '%s' '{"type":"a.b","data":{"x":1,"x":2}}' > "$out/event/edge-dup.json"

# Segments: several sealed ones and the active one, 4K each.
for k in 1 2 3 4 5; do
  "$STELE" bench generate --events 60 --seed "$k" | "$STELE" append --dir "$tmp/log" --segment-max 4K >/dev/null
done
for f in "$tmp"/log/segments/*.seg "$tmp"/log/segments/*.fidx; do cp "$f" "$out/segment/$(basename "$f")"; done
# A segment of codec 4 frames (at least 32 records a frame, packed run ids).
"$STELE" bench generate --events 300 --seed 9 | "$STELE" append --dir "$tmp/packed" >/dev/null
cp "$tmp/packed/segments/00000000000000000001.seg" "$out/segment/packed-00000000000000000001.seg"

# Notes: checkpoints, the verifier key, proofs.
for f in "$tmp"/log/checkpoints/*.cp; do printf '\x00' | cat - "$f" > "$out/note/cp-$(basename "$f")"; done
{ printf '\x01'; sed -n '1,4p' "$(ls "$tmp"/log/checkpoints/*.cp | tail -1)"; } > "$out/note/body"
{ printf '\x03'; "$STELE" checkpoint --dir "$tmp/log" --public-key; } > "$out/note/verifier"
{ printf '\x04'; "$STELE" prove inclusion 7 --dir "$tmp/log"; } > "$out/note/inclusion"
{ printf '\x04'; "$STELE" prove consistency 10 200 --dir "$tmp/log"; } > "$out/note/consistency"
# Lead runs: the first segment's .lrun of a lookup-optimized log (the target
# reads it as the runs of segment 1), at two sizes.
for k in 3 4; do
  "$STELE" bench generate --events $((3000 * (k - 2))) --seed "$k" |
    "$STELE" append --dir "$tmp/lookup-$k" --segment-max $((32 * (k - 2)))K --profile lookup-optimized >/dev/null
  cp "$tmp/lookup-$k/segments/00000000000000000001.lrun" "$out/lead_runs/runs-$k.lrun"
done

# Import: a format byte (0 auto, 1 events, 2 k8s, 3 cloudtrail, 4 json),
# then a few real records, plain, gzipped and zstd-compressed.
corpus=../shared/corpus
import_seed() {  # name, format byte, lines file
  { printf "\\x$(printf %02x "$2")"; cat "$3"; } > "$out/import/$1"
  { printf "\\x$(printf %02x "$2")"; gzip -c "$3"; } > "$out/import/$1.gz"
  { printf "\\x$(printf %02x "$2")"; zstd -q -c "$3"; } > "$out/import/$1.zst"
}
head -n 3 "$corpus/k8s_audit_events/events.ndjson" > "$tmp/k8s"
head -n 3 "$corpus/panther_vendor_audit_samples/events.ndjson" > "$tmp/ct"
head -n 5 "$corpus/k8s_audit_perfspec_fieldsubset/events.ndjson" > "$tmp/perf"
"$STELE" bench generate --events 5 > "$tmp/ev"
import_seed k8s 2 "$tmp/k8s"
import_seed cloudtrail 3 "$tmp/ct"
import_seed auto 0 "$tmp/perf"
import_seed events 1 "$tmp/ev"
printf '%s\n' '{"t":"Login","a":["ana"],"l":"L1","ts":"2024-05-01 12:00:00"}' '{"t":1}' > "$tmp/json"
import_seed json 4 "$tmp/json"
echo "fuzz/make_seeds.sh: seeds written to $out"
