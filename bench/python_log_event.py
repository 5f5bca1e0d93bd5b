#!/usr/bin/env python3
"""log_event throughput: stele from 1 and 4 Python threads, side by side in
the same run with a pure-Python baseline logger (a queue, a background
thread, json.dumps, batched writes of 100 lines and a flush per batch: what
a careful Python audit logger does).  Prints one table with the ratios.

    PYTHONPATH=build/python python3 bench/python_log_event.py [--events N] [--repeat R]
"""

import argparse
import json
import os
import queue
import shutil
import statistics
import sys
import tempfile
import threading
import time

import stele


class PythonBaseline:
    """The pure-Python reference: enqueue dicts, a writer thread dumps them."""

    def __init__(self, path):
        self._q = queue.Queue(maxsize=100_000)
        self._f = open(path, "a", encoding="utf-8")
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def log_event(self, event_type, data=None, **fields):
        self._q.put({"type": event_type, "ts": time.time_ns(), **fields, "data": data})

    def _run(self):
        batch = []
        while True:
            item = self._q.get()
            if item is not None:
                batch.append(json.dumps(item))
            if item is None or len(batch) >= 100 or self._q.empty():
                if batch:
                    self._f.write("\n".join(batch) + "\n")
                    self._f.flush()
                    batch = []
            if item is None:
                return

    def shutdown(self):
        self._q.put(None)
        self._t.join()
        os.fsync(self._f.fileno())
        self._f.close()


def run(make, events, threads):
    """Events per second for `threads` threads sharing one logger, to durable."""
    tmp = tempfile.mkdtemp(prefix="stele-pybench-")
    try:
        log = make(tmp)
        per = events // threads
        data = {"step": "enrich", "status": "ok", "attempt": 1, "duration_ms": 12.5, "tags": ["crm", "sync"]}

        def work(t):
            for i in range(per):
                log.log_event("workflow.step", data, lead_id=f"L{(i * 7919 + t) % 100000:07d}", source="orchestrator")

        start = time.perf_counter()
        ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        log.shutdown()  # both: everything written and synced
        return per * threads / (time.perf_counter() - start)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=400_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    makers = {
        "stele": lambda d: stele.open(os.path.join(d, "log")),
        "python baseline": lambda d: PythonBaseline(os.path.join(d, "log.ndjson")),
    }
    print(f"log_event throughput, {args.events} events, median of {args.repeat} alternating runs "
          f"(python {sys.version.split()[0]}, {os.cpu_count()} cpus)")
    print(f"{'threads':>7} | {'stele ev/s':>12} | {'baseline ev/s':>13} | {'ratio':>6}")
    for threads in (1, 4):
        results = {name: [] for name in makers}
        for _ in range(args.repeat):
            for name, make in makers.items():
                results[name].append(run(make, args.events, threads))
        s, b = statistics.median(results["stele"]), statistics.median(results["python baseline"])
        print(f"{threads:>7} | {s:>12,.0f} | {b:>13,.0f} | {s / b:>5.1f}x")


if __name__ == "__main__":
    main()
