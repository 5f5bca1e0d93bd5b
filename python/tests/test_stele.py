"""The Python package against the real engine: real files, real threads,
real subprocesses (issue 8)."""

import base64
import hashlib
import json
import logging
import os
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

import stele
from conftest import run_python


def events(log, event_type=None, **kw):
    return [e for e in log.query_events(event_type, **kw) if not e["type"].startswith("security.")]


def test_values_round_trip_exactly(log):
    data = {
        "unicode": "Grüße, 世界, 😀, \u0000 and \"quotes\" \\ /",
        "nested": [1, [2, [3, [None, True, False]]], {"k": []}, {}],
        "big": 2**200, "negative_big": -(2**100), "edge": [2**63 - 1, 2**63, 2**64, -(2**63)],
        "floats": [0.1, 1e300, -0.0, 5e-324, 1.7976931348623157e308, 123456789.123456789, 1.0],
        "tuple": (1, "two"),
    }
    log.log_event("data.round_trip", data, actor="ünï", source="s", lead_id="L1", workflow_id="wf-1")
    log.log_event("data.text", '{"ready": "json", "n": 12345678901234567890}')
    got = events(log)
    assert got[0]["data"] == {**data, "tuple": [1, "two"]}
    assert [repr(x) for x in got[0]["data"]["floats"]] == [repr(x) for x in data["floats"]]
    assert got[0]["actor"] == "ünï" and got[0]["lead_id"] == "L1" and got[0]["workflow_id"] == "wf-1"
    assert got[1]["data"] == {"ready": "json", "n": 12345678901234567890}
    assert got[0]["seq"] == 1 and got[1]["seq"] == 2
    assert got[0]["ts"].endswith("Z")


@pytest.mark.parametrize("call, field", [
    (lambda log: log.log_event("Bad.Type"), "type"),
    (lambda log: log.log_event("a.b", {"x": float("nan")}), "data/x"),
    (lambda log: log.log_event("a.b", {"x": [1, {"y": object()}]}), "data/x/1/y"),
    (lambda log: log.log_event("a.b", {1: "int key"}), "data"),
    (lambda log: log.log_event("a.b", [1, 2]), "data"),
    (lambda log: log.log_event("a.b", lead_id=42), "lead_id"),
    (lambda log: log.log_event("a.b", actor=""), "actor"),
    (lambda log: log.log_event("a.b", '{"a":1,"a":2}'), "data"),
    (lambda log: log.log_event("a.b", ts=datetime(2020, 1, 1)), "ts"),
    (lambda log: log.log_event("security.fake"), "type"),
])
def test_validation_errors_name_the_field(log, call, field):
    with pytest.raises(stele.ValidationError) as info:
        call(log)
    assert info.value.field == field, str(info.value)
    assert info.value.reason
    assert isinstance(info.value, ValueError)
    log.log_event("still.works")
    assert len(events(log)) == 1


def test_ten_threads_of_ten_thousand_land_with_contiguous_seqs(log):
    def worker(t):
        for i in range(10_000):
            log.log_event("load.event", {"thread": t, "i": i}, source=f"t{t}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.flush()
    got = events(log, "load.event")
    assert [e["seq"] for e in got] == list(range(1, 100_001))
    per_thread = {}
    for e in got:
        per_thread.setdefault(e["data"]["thread"], []).append(e["data"]["i"])
    assert all(per_thread[t] == list(range(10_000)) for t in range(10)), "each thread's events in its order"


@pytest.mark.parametrize("how", ["singleton", "open"])
def test_exit_without_shutdown_loses_nothing(tmp_path, how):
    opener = "stele.get_audit_logger()" if how == "singleton" else "stele.open('log')"
    r = run_python(f"""
import stele
log = {opener}
for i in range(20_000):
    log.log_event("exit.test", {{"i": i}})
# no flush, no shutdown: the interpreter just ends
""", cwd=tmp_path, env={"STELE_DIR": str(tmp_path / "log")})
    assert r.returncode == 0, r.stderr
    with stele.open(tmp_path / "log") as log:
        got = events(log, "exit.test")
        assert [e["data"]["i"] for e in got] == list(range(20_000))
        assert log.verify()["ok"]


def test_a_failing_workflow_records_the_error_and_propagates(log):
    with pytest.raises(KeyError):
        with log.workflow("lead-intake", lead_id="L9", source_system="crm") as wf:
            with wf.step("enrich"):
                pass
            with wf.step("score"):
                raise KeyError("missing score")
    got = events(log)
    assert [e["type"] for e in got] == ["workflow.started", "step.started", "step.completed", "step.started",
                                        "step.failed", "workflow.failed"]
    assert len({e["workflow_id"] for e in got}) == 1 and got[0]["workflow_id"].startswith("wf-")
    assert all(e["lead_id"] == "L9" for e in got)
    failed = got[-1]["data"]
    assert failed["error"]["error_type"] == "KeyError"
    assert "missing score" in failed["error"]["message"]
    assert any("test_stele.py" in line for line in failed["error"]["traceback"])
    assert failed["duration_ms"] >= 0 and failed["workflow"] == "lead-intake" and failed["source_system"] == "crm"
    assert got[4]["data"]["step"] == "score"


def test_a_completed_workflow_keeps_its_given_id(log):
    with log.workflow("sync", workflow_id="wf-42", actor="bot") as wf:
        assert wf.workflow_id == "wf-42"
    got = events(log)
    assert [e["type"] for e in got] == ["workflow.started", "workflow.completed"]
    assert got[1]["workflow_id"] == "wf-42" and got[1]["actor"] == "bot" and "duration_ms" in got[1]["data"]


def test_log_error_and_logging_handler(log):
    try:
        1 / 0
    except ZeroDivisionError as exc:
        log.log_error(exc, lead_id="L3", attempt=2)
    logger = logging.getLogger("crm.sync")
    logger.setLevel(logging.INFO)
    handler = stele.LoggingHandler(log)
    logger.addHandler(handler)
    try:
        logger.warning("rate %d%% over", 150)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("sync failed")
    finally:
        logger.removeHandler(handler)
    got = events(log)
    assert got[0]["type"] == "error" and got[0]["lead_id"] == "L3"
    assert got[0]["data"]["error_type"] == "ZeroDivisionError" and got[0]["data"]["context"] == {"attempt": 2}
    assert got[1]["type"] == "log.warning" and got[1]["data"]["message"] == "rate 150% over"
    assert got[1]["source"] == "crm.sync"
    assert got[2]["type"] == "log.error" and got[2]["data"]["error"]["message"] == "boom"


def test_query_filters(log):
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i in range(100):
        log.log_event("lead.created" if i % 2 else "email.sent", {"status": "failed" if i % 10 == 0 else "ok", "i": i},
                      lead_id=f"L{i % 7}", actor="a" if i < 50 else "b", ts=t0 + timedelta(minutes=i))
    assert [e["data"]["i"] for e in log.query_events("lead.*", lead_id="L1")] == [i for i in range(100)
                                                                                 if i % 2 and i % 7 == 1]
    assert len(list(log.query_events(since=t0 + timedelta(minutes=90)))) == 10
    assert len(list(log.query_events(until=int((t0 + timedelta(minutes=5)).timestamp() * 1e9)))) == 5
    assert [e["data"]["i"] for e in log.query_events(where={"/status": "failed"})] == list(range(0, 100, 10))
    assert [e["data"]["i"] for e in log.query_events(where=["/status=failed"], actor="b")] == [50, 60, 70, 80, 90]
    page = list(log.query_events(limit=3, desc=True))
    assert [e["seq"] for e in page] == [100, 99, 98]
    assert [e["seq"] for e in log.query_events(limit=2, desc=True, after=98)] == [97, 96]
    assert len(list(log.query_events(regex='"i":9[0-9]'))) == 10
    stats = log.stats(by="type")
    assert stats["groups"] == {"lead.created": 50, "email.sent": 50} and stats["total"] == 100
    assert log.stats(by="lead", top=1, event_type="email.sent")["groups"] == {"L0": 8}
    with pytest.raises(TypeError):
        list(log.query_events(colour="red"))


def test_query_over_a_million_events_iterates_in_bounded_memory(tmp_path):
    def rss_mb():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024

    with stele.open(tmp_path / "big", frame_cache_bytes=8 << 20, query_cache_bytes=1 << 20) as log:
        payload = {"status": "ok", "note": "x" * 120}
        for i in range(1_000_000):
            log.log_event("bulk.event", payload, lead_id=f"L{i % 5000}")
        log.flush()
        base = rss_mb()
        peak, n = base, 0
        for e in log.query_events("bulk.event"):
            n += 1
            if n % 50_000 == 0:
                peak = max(peak, rss_mb())
        assert n == 1_000_000
        # ~200 MB of events went by; memory held stays near one frame's worth.
        assert peak - base < 64, f"RSS grew {peak - base:.0f} MB"


def rfc6962_root_from_inclusion(leaf, index, size, proof):
    """RFC 9162 §2.1.3.2, written here independently of the engine."""
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = hashlib.sha256(b"\x01" + p + r).digest()
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = hashlib.sha256(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def test_verify_checkpoint_and_an_inclusion_proof(log):
    for i in range(1000):
        log.log_event("proof.event", {"i": i})
    report = log.verify()
    assert report["ok"] and report["events"] >= 1000
    cp = log.checkpoint()
    assert cp["tree_size"] >= 1000
    body = cp["note"].split("\n")
    assert body[1] == str(cp["tree_size"])
    proof = log.prove_inclusion(417)
    assert proof["seq"] == 417 and proof["tree_size"] >= 417
    root = rfc6962_root_from_inclusion(bytes.fromhex(proof["leaf_hash"]), proof["leaf_index"], proof["tree_size"],
                                       [bytes.fromhex(h) for h in proof["proof"]])
    assert root is not None and root.hex() == proof["root_hash"]
    if proof["tree_size"] == cp["tree_size"]:
        assert base64.b64decode(body[2]) == root


def test_the_old_loggers_usage_works_unchanged(tmp_path):
    r = run_python("""
from stele import get_audit_logger
audit = get_audit_logger()
audit.log_event("test", {"data": "value"})
audit.flush()
results = audit.query_events(event_type="test")
results = list(results)
assert len(results) == 1 and results[0]["data"] == {"data": "value"}, results
assert get_audit_logger() is audit
print(audit.get_rate_limit_stats()["rate_limited"], audit.queue_depth())
audit.shutdown()
audit.shutdown()
""", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["0", "0"]
    assert (tmp_path / "stele-data" / "segments").is_dir()


def test_security_events_rate_limits_and_profiles(tmp_path):
    with stele.open(tmp_path / "rl", source_rate=5, source_burst=5, security_interval=0.05) as log:
        limited = 0
        for _ in range(20):
            try:
                log.log_event("api.call", source="noisy")
            except stele.RateLimited:
                limited += 1
        assert limited >= 10
        assert log.get_rate_limit_stats()["rate_limited"] == limited
        with pytest.raises(stele.ValidationError):
            log.log_event("nope nope")
        deadline = time.time() + 10
        while time.time() < deadline and len(log.get_security_events()) < 2:
            time.sleep(0.05)
        types = {e["type"] for e in log.get_security_events()}
        assert {"security.rate_limited", "security.validation_failed"} <= types
    for profile in stele.PROFILES:
        with stele.open(tmp_path / profile, profile=profile) as log:
            log.log_event("profile.test", {"p": profile})
            assert events(log)[0]["data"] == {"p": profile}
    with pytest.raises(stele.ValidationError) as info:
        stele.open(tmp_path / "x", profile="fastest")
    assert info.value.field == "profile"
    with pytest.raises(TypeError):
        stele.open(tmp_path / "y", queue_megabytes=1)


def test_closed_and_locked(tmp_path):
    log = stele.open(tmp_path / "l")
    with pytest.raises(stele.StoreError):
        stele.open(tmp_path / "l")  # one writer per directory
    log.shutdown()
    with pytest.raises(stele.Closed):
        log.log_event("after.close")
    assert log.closed and "closed" in repr(log)


def test_log_event_returns_its_seq_and_wait_durable_waits_for_it(tmp_path):
    # sync="none" never syncs on its own, so durability here can only come
    # from wait_durable() asking the writer for it.
    with stele.open(tmp_path / "none", sync="none") as log:
        seqs = [log.log_event("queued.event", {"i": i}, queued=(i % 2 == 0)) for i in range(10)]
        assert seqs == list(range(1, 11))
        assert log.engine_stats()["durable_seq"] < 10
        log.wait_durable(7)
        assert log.engine_stats()["durable_seq"] >= 7
        with pytest.raises(stele.ValidationError) as info:
            log.wait_durable(11)
        assert info.value.field == "seq" and "not appended yet" in info.value.reason
        with pytest.raises(TypeError):
            log.log_event("queued.event", queued=True, lead_id="L1", bogus=1)

    # sync="always": queued events from many threads, each waited on once,
    # by another thread, in seq order (the pipeline AppendQueued is for).
    with stele.open(tmp_path / "always", sync="always") as log:
        appended = []
        lock = threading.Lock()

        def producer(t):
            for i in range(500):
                seq = log.log_event("queued.event", {"t": t, "i": i}, queued=True)
                with lock:
                    appended.append(seq)

        threads = [threading.Thread(target=producer, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(appended) == list(range(1, 2001))
        log.wait_durable(max(appended))
        assert log.engine_stats()["durable_seq"] >= 2000
        assert len(events(log, "queued.event")) == 2000

    with stele.open(tmp_path / "always") as log:
        assert len(events(log, "queued.event")) == 2000
        log.shutdown()
        with pytest.raises(stele.Closed):
            log.wait_durable(1)
