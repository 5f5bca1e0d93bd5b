-- wrk script: NDJSON bulk POSTs of 1,000 reference-workload events each.
--   build/stele bench generate --events 1000 > /tmp/bulk.ndjson
--   BULK=/tmp/bulk.ndjson wrk -t1 -c8 -d10s -s bench/wrk/post_bulk.lua http://127.0.0.1:8080/v1/events
local path = os.getenv("BULK") or "/tmp/bulk.ndjson"
local f = assert(io.open(path, "rb"))
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-ndjson"
wrk.body = f:read("*a")
f:close()
