#!/usr/bin/env python3
"""Runs every stele benchmark side by side with its peer and prints one table.

    bench/run_all.py                   # the reference run: 10M events for queries
    bench/run_all.py --events 1000000  # a quicker run

Each row comes from one `build/stele bench ...` (or `stele verify`) run on
this machine, stele and its peer in the same run; peak RSS is the whole
process's (from /usr/bin/time), so it includes the benchmark's own copy of
the generated events where a row says so.  Needs build/stele (scripts/build.sh),
gzip and zstd.  Scratch data goes to --work-dir and is removed afterwards.
"""
import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STELE = os.path.join(ROOT, "build", "stele")


def run(args, stdin=None, stdout=subprocess.PIPE):
    """Runs a command under /usr/bin/time; returns (stdout text, peak RSS MiB, seconds)."""
    print("$ " + " ".join(args), file=sys.stderr, flush=True)
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "RSS_KIB=%M"] + args, stdin=stdin, stdout=stdout,
                       stderr=subprocess.PIPE, text=True)
    seconds = time.monotonic() - t0
    rss = 0.0
    for line in p.stderr.splitlines():
        if line.startswith("RSS_KIB="):
            rss = int(line[8:]) / 1024
    if p.returncode != 0:
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(args), p.stderr[-2000:]))
    return (p.stdout or ""), rss, seconds


def du(path):
    """Bytes of the regular files under path."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_size
    return total


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000_000, help="events in the query/verify log")
    ap.add_argument("--ingest-events", type=int, default=1_000_000, help="events per ingest run")
    ap.add_argument("--work-dir", default=os.path.join(ROOT, "stele-bench-all"))
    a = ap.parse_args()
    if not os.path.exists(STELE):
        sys.exit("build/stele is missing: run scripts/build.sh first")
    for tool in ("gzip", "zstd"):
        if not shutil.which(tool):
            sys.exit(tool + " is missing (scripts/setup.sh installs it)")
    shutil.rmtree(a.work_dir, ignore_errors=True)
    os.makedirs(a.work_dir)
    rows = []  # (what, stele, peer, ratio, stele RSS)

    def row(what, stele, peer, ratio, rss):
        rows.append((what, stele, peer, ratio, rss))
        # Also as it comes, so a run that fails later keeps what it measured.
        print("| %s | %s | %s | %s | %s |" % rows[-1], file=sys.stderr, flush=True)

    n = str(a.ingest_events)
    for producers in (1, 2):
        out, rss, _ = run([STELE, "bench", "ingest", "--events", n, "--producers", str(producers),
                           "--work-dir", a.work_dir + "/ingest"])
        j = json_lines(out)[-1]
        row("embedded ingest, sync=batch, %d producer%s (events/s) vs spdlog async" %
            (producers, "s" if producers > 1 else ""),
            "%.0f" % j["stele_events_per_s"], "%.0f" % j["spdlog_events_per_s"], "%.2fx" % j["ratio"],
            "%.0f (+%.0f over the events)" % (rss, j["stele_peak_rss_kib"] / 1024))
    out, rss, _ = run([STELE, "bench", "ingest", "--events", str(a.ingest_events // 5), "--producers", "64",
                       "--sync", "always", "--repeat", "1", "--work-dir", a.work_dir + "/ingest"])
    j = json_lines(out)[-1]
    row("embedded ingest, sync=always, 64 producers (events/s) vs spdlog async (no fsync)",
        "%.0f" % j["stele_events_per_s"], "%.0f" % j["spdlog_events_per_s"], "%.2fx" % j["ratio"], "%.0f" % rss)

    # The ingest runs leave gigabytes for the disk to write back; fsync
    # latency measured while it does is the disk's backlog, not stele's (a
    # run measured p99 63 ms at 10k/s that way, 1.0 ms alone).  So flush
    # them first.
    shutil.rmtree(a.work_dir + "/ingest", ignore_errors=True)
    os.sync()
    time.sleep(5)
    out, rss, _ = run([STELE, "bench", "latency", "--seconds", "3", "--work-dir", a.work_dir + "/latency"])
    for j in json_lines(out):
        row("sync=always append-to-durable at %d/s, fsync +%g ms, %s harness: p50 / p99 / p99.9 us (achieved/s) "
            "vs bare fdatasync p50 / p99" % (j["offered"], j["fsync_delay_ms"], j["harness"]),
            "%.0f / %.0f / %.0f (%.0f)%s" % (j["p50_us"], j["p99_us"], j["p999_us"], j["achieved"],
                                              # the share of the load the VM was stopped (StallProbe)
                                              "; host stalled %.1f%%" % (100 * j["host_stalled_share"])
                                              if j.get("host_stalled_share") else ""),
            "%.0f / %.0f" % (j["floor_p50_us"], j["floor_p99_us"]), "%.1fx at p99" % (j["p99_us"] / j["floor_p99_us"]),
            "%.0f" % rss)

    # The server over loopback against the embedded library, same run (the
    # clients share the two cores with the server).
    out, rss, _ = run([STELE, "bench", "http", "--events", n, "--work-dir", a.work_dir + "/http"])
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0] in ("NDJSON bulk ingest", "single-event POST, keep-alive"):
            row("server: %s over HTTP vs the embedded library" % cells[0], cells[1], cells[2],
                "%sx" % cells[3], "%.0f" % rss)

    qdir = a.work_dir + "/query"
    out, rss, _ = run([STELE, "bench", "query", "--events", str(a.events), "--lookups", "50", "--keep",
                       "--work-dir", qdir])
    q = json_lines(out)[-1]
    label = "%dM events" % (a.events // 1_000_000) if a.events >= 1_000_000 else "%d events" % a.events
    row("ingest vs SQLite (WAL, 1,000-row txns, 2 indexes), %s (events/s)" % label, "%.0f" % q["stele_ingest"],
        "%.0f" % q["sqlite_ingest"], "%.1fx" % (q["stele_ingest"] / q["sqlite_ingest"]),
        "%.0f (holds the events for both)" % rss)
    row("lead lookup, all its rows, %s (ms)" % label, "%.2f" % q["stele_lead_ms"], "%.2f" % q["sqlite_lead_ms"],
        "%.2fx" % (q["sqlite_lead_ms"] / q["stele_lead_ms"]), "")
    row("lead lookup, all its rows, %s, `--profile lookup-optimized` (ms)" % label, "%.2f" % q["lookup_lead_ms"],
        "%.2f" % q["sqlite_lead_ms"], "%.2fx" % (q["sqlite_lead_ms"] / q["lookup_lead_ms"]), "")
    row("type + 10%% time range count, %s (ms)" % label, "%.3f" % q["stele_count_ms"], "%.3f" % q["sqlite_count_ms"],
        "%.1fx" % (q["sqlite_count_ms"] / q["stele_count_ms"]), "")
    row("regex scan, whole log (MB/s of raw events)", "%.0f" % q["regex_mb_s"], "", "", "")
    row("regex scan, every event matched: no literal skips a frame (MB/s)", "%.0f" % q["regex_all_mb_s"], "", "", "")
    row("cached repeat of a 100-event page (us)", "%.2f" % q["cached_us"], "", "", "")

    out, vrss, _ = run([STELE, "verify", "--dir", qdir + "/stele"])
    v = json.loads(out.splitlines()[-1])
    row("verify, %s (MB/s of canonical records)" % label, "%.0f" % v["mb_per_s"], "", "", "%.0f" % vrss)
    out, vrss, _ = run([STELE, "verify", "--dir", qdir + "/stele-lookup-optimized"])
    v = json.loads(out.splitlines()[-1])
    row("verify, %s, `--profile lookup-optimized` (lead runs checked too)" % label, "%.0f" % v["mb_per_s"], "", "",
        "%.0f" % vrss)

    # Disk: stele's directory (indexes, Merkle store, checkpoints included)
    # against gzip -6 and zstd -3 of the very same NDJSON.
    raw = q["raw_bytes"]
    ndjson = os.path.join(a.work_dir, "events.ndjson")
    with open(ndjson, "w") as f:
        run([STELE, "bench", "generate", "--events", str(a.events)], stdout=f)
    sizes = {}
    for tool, level in (("gzip", "-6"), ("zstd", "-3")):
        with open(ndjson, "rb") as f:
            p = subprocess.run([tool, level, "-c"], stdin=f, stdout=subprocess.PIPE, check=True)
            sizes[tool] = len(p.stdout)
    row("disk per raw NDJSON byte, indexes included, 16 MiB segments (the query log), vs gzip -6",
        "%.4f" % q["stele_disk"], "%.4f" % (sizes["gzip"] / raw), "%.3fx" % (q["stele_disk"] * raw / sizes["gzip"]), "")
    row("disk per raw NDJSON byte, `--profile lookup-optimized` (lead runs), 16 MiB segments, vs gzip -6",
        "%.4f" % q["lookup_disk"], "%.4f" % (sizes["gzip"] / raw), "%.3fx" % (q["lookup_disk"] * raw / sizes["gzip"]), "")
    row("disk per raw NDJSON byte vs zstd -3", "%.3f" % q["stele_disk"], "%.3f" % (sizes["zstd"] / raw),
        "%.2fx" % (q["stele_disk"] * raw / sizes["zstd"]), "")
    # The storage-optimized profile (zstd 6, 1 MiB frames): the same events
    # through `stele append`, beside the default profile in the same run.
    appended = {}
    for profile in ("default", "storage-optimized"):
        path = a.work_dir + "/profile-" + profile
        with open(ndjson) as f:
            args = [STELE, "append", "--dir", path] + ([] if profile == "default" else ["--profile", profile])
            _, prss, secs = run(args, stdin=f)
        appended[profile] = (du(path), secs, prss)
        shutil.rmtree(path, ignore_errors=True)
    disk, secs, prss = appended["default"]
    row("disk per raw NDJSON byte, default profile through `stele append`, indexes included, vs gzip -6",
        "%.4f" % (disk / raw), "%.4f" % (sizes["gzip"] / raw), "%.3fx" % (disk / sizes["gzip"]), "%.0f" % prss)
    disk, secs, prss = appended["storage-optimized"]
    row("disk per raw NDJSON byte, `--profile storage-optimized` (zstd 6, 1 MiB frames), indexes included, vs gzip -6",
        "%.4f" % (disk / raw), "%.4f" % (sizes["gzip"] / raw), "%.3fx" % (disk / sizes["gzip"]), "%.0f" % prss)
    row("`stele append` from a file, storage-optimized vs default profile (events/s)", "%.0f" % (a.events / secs),
        "%.0f" % (a.events / appended["default"][1]), "%.2fx" % (appended["default"][1] / secs), "")

    # RSS against log size: the streaming CLI appends (queue-bounded) and
    # verifies a small and the large log.
    small = max(a.events // 10, 100_000)
    for events, path in ((small, a.work_dir + "/small"), (a.events, a.work_dir + "/large")):
        gen = subprocess.Popen([STELE, "bench", "generate", "--events", str(events)], stdout=subprocess.PIPE)
        out, arss, secs = run([STELE, "append", "--dir", path], stdin=gen.stdout)
        gen.wait()
        _, vr, _ = run([STELE, "verify", "--dir", path])
        row("peak RSS of `stele append` / `stele verify`, %d events (MiB)" % events, "%.0f / %.0f" % (arss, vr), "",
            "", "")
        shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(a.work_dir, ignore_errors=True)

    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print("machine: %s, %d cores, %s; %s" % (cpu, os.cpu_count(), platform.platform(), time.strftime("%Y-%m-%d")))
    print()
    print("| benchmark | stele | peer | stele vs peer | stele peak RSS MiB |")
    print("|---|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %s | %s | %s |" % r)


if __name__ == "__main__":
    main()
