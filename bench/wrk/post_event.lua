-- wrk script: one reference-workload event per POST, keep-alive.
--   wrk -t1 -c32 -d10s -s bench/wrk/post_event.lua http://127.0.0.1:8080/v1/events
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"type":"step.completed","actor":"worker-07","source":"airflow","lead_id":"L0001234",' ..
           '"workflow_id":"wf-345","data":{"step":"enrich","status":"ok","attempt":1,"duration_ms":340,' ..
           '"run_id":"run-cc06c31652ebf438","campaign":"c-12"}}'
