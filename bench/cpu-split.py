#!/usr/bin/env python3
"""Where the cores go in workload (b) on PostgreSQL, beside pgbench's ceiling.

Runs the PostgreSQL refresh rotation as workload (b) does (16 connections,
each following its own cookie), then the floor's rotation over HTTP
(bench/peers/floor: the same statement, nothing else), then the pgbench
ceiling (bench/pgbench), and for each reads the CPU time of every process from /proc (PostgreSQL's
backends and auxiliary processes summed as `postgres`, the load generator as
the harness's children) and the machine's idle time, divided by the
rotations or statements done. Also the commits and rows PostgreSQL counted
per rotation (pg_stat_database), to show all three do the same database
work, and the WAL flushes (pg_stat_wal): how many commits share each.

With --perf, `perf record -a` (linux-perf) samples every core through each
run, and the samples are split per rotation by process (PostgreSQL, the
HTTP server, the load generator) into user and kernel time, with two kernel
costs picked out: the disk's doorbell (`iowrite16`, one per WAL flush on a
virtio disk) and waking and switching tasks. bench/profiles/
refresh-postgres-9-floor.txt is its output.

Usage: python3 bench/cpu-split.py [--perf] [SECONDS]   (after `bash bench/run.sh`
built the release binary and the floor; BENCH_POSTGRES_URL as for
run.sh). Not run by CI.
"""
import collections
import os
import signal
import subprocess
import sys
import tempfile
import time

PERF = "--perf" in sys.argv[1:]
ARGS = [a for a in sys.argv[1:] if a != "--perf"]
SECONDS = int(ARGS[0]) if ARGS else 10
sys.argv = sys.argv[:1]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
PERF_HZ = 997  # samples per second and core


def per_process():
    """CPU seconds of each process name now (PostgreSQL's summed)."""
    seen = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = "postgres" if comm.startswith("postgres") else comm
        name = "kernel workers" if name.startswith(("kworker", "ksoftirqd", "kdamond")) else name
        seen[name] = seen.get(name, 0) + (int(fields[11]) + int(fields[12])) / HZ
    return seen


def machine():
    """(all CPU seconds, idle CPU seconds) since boot."""
    with open("/proc/stat") as f:
        ticks = list(map(int, f.readline().split()[1:]))
    return sum(ticks) / HZ, (ticks[3] + ticks[4]) / HZ


def children():
    t = os.times()
    return t.children_user + t.children_system


def database_counts(url):
    query = ("SELECT xact_commit, tup_updated, tup_fetched, (SELECT wal_sync FROM pg_stat_wal) "
             "FROM pg_stat_database WHERE datname = current_database()")
    out = subprocess.run(["psql", url, "-Atc", query], capture_output=True, text=True).stdout
    return list(map(int, out.strip().split("|")))


def sampled_group(comm):
    if comm.startswith("postgres"):
        return "postgres"
    if comm.startswith(("actix", "wristband")):
        return "HTTP server"
    if comm in ("wrk", "pgbench"):
        return "load generator"
    return "idle" if comm == "swapper" else "other"


WAKING = ("_raw_spin_unlock_irqrestore", "finish_task_switch", "irqentry_exit_to_user_mode", "handle_softirqs")


def perf_split(path, count):
    """µs of sampled CPU per rotation, by process group and user/kernel."""
    out = subprocess.run(["perf", "report", "-i", path, "--stdio", "--no-children", "-g", "none",
                          "--sort", "comm,dso,sym", "-n", "-t", "\t"], capture_output=True, text=True).stdout
    split = collections.Counter()
    for line in out.splitlines():
        parts = [p.strip() for p in line.split("\t")]
        if line.startswith("#") or len(parts) < 5 or not parts[1].isdigit():
            continue
        group, kernel, symbol = sampled_group(parts[2]), parts[3] == "[kernel.kallsyms]", parts[4]
        micros = int(parts[1]) * 1e6 / PERF_HZ / count
        split[(group, "kernel" if kernel else "user")] += micros
        if "iowrite16" in symbol:
            split[(group, "  of which the disk's doorbell (WAL flushes)")] += micros
        if any(name in symbol for name in WAKING):
            split[(group, "  of which waking and switching tasks")] += micros
    order = ["postgres", "HTTP server", "load generator", "other", "idle"]
    h.log("  perf samples, µs of CPU per rotation:")
    for key in sorted(split, key=lambda k: (order.index(k[0]), k[1].startswith(" "), k[1])):
        h.log(f"    {key[0] + ' ' + key[1]:60} {split[key]:6.1f}")
    busy = sum(v for k, v in split.items() if k[0] != "idle" and not k[1].startswith(" "))
    h.log(f"    {'all but idle':60} {busy:6.1f}")



def measured(what, done, run, url):
    before, (all0, idle0), kids0, db0 = per_process(), machine(), children(), database_counts(url)
    if PERF:
        samples = tempfile.NamedTemporaryFile(suffix=".perf", delete=False).name
        recording = subprocess.Popen(["perf", "record", "-a", "-F", str(PERF_HZ), "-q", "-o", samples],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = run()
    if PERF:
        recording.send_signal(signal.SIGINT)
        recording.wait()
    after, (all1, idle1), kids1 = per_process(), machine(), children()
    time.sleep(1)  # pg_stat_database lags its backends a little
    db1 = database_counts(url)
    count = done(result)
    spent = {name: after[name] - before.get(name, 0) for name in after}
    spent["load generator (wrk or pgbench)"] = kids1 - kids0
    busy = (all1 - all0) - (idle1 - idle0)
    h.log(f"{what}: {count / SECONDS:,.0f}/s; per {('statement' if 'pgbench' in what else 'rotation')}:")
    for name, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        if seconds / count * 1e6 >= 1:
            h.log(f"  {name:34} {seconds / count * 1e6:6.0f} µs")
    # pgbench's backends exit with it, and /proc forgets them: what busy
    # time no listed process accounts for.
    rest = busy - sum(spent.values())
    h.log(f"  {'processes that exited meanwhile':34} {max(rest, 0) / count * 1e6:6.0f} µs")
    h.log(f"  {'all cores, busy':34} {busy / count * 1e6:6.0f} µs ({busy / (all1 - all0):.0%} of the time)")
    commits, updated, fetched, syncs = ((b - a) / count for a, b in zip(db0, db1))
    h.log(f"  PostgreSQL counted {commits:.2f} commits, {updated:.2f} rows updated, {fetched:.2f} fetched, "
          f"{syncs:.2f} WAL flushes (fdatasync) each")
    if PERF:
        perf_split(samples, count)
        os.unlink(samples)


def main():
    h.DURATION = SECONDS
    url, name = h.postgres_database()
    if url is None:
        sys.exit("PostgreSQL is not reachable")
    server = h.wristband("wristband-cpu-split", url)
    try:
        cookies = h.fresh_cookies(server, h.REFRESH_CONNECTIONS)
        measured("Wristband, workload (b)", lambda r: r["requests"],
                 lambda: h.refresh_run(server, cookies, SECONDS), url)
        subprocess.run(["psql", url, "-q", "-f", os.path.join(h.BENCH, "pgbench", "setup.sql")],
                       check=True, capture_output=True)
        floor = h.Server("floor-refresh", [h.FLOOR], {"FLOOR_DATABASE_URL": url})
        try:
            cookies = [f"wristband_refresh=s{i}.1" for i in range(h.REFRESH_CONNECTIONS)]
            measured("the floor's rotation over HTTP (bench/peers/floor)", lambda r: r["requests"],
                     lambda: h.refresh_run(floor, cookies, SECONDS), url)
        finally:
            floor.stop()
        measured("pgbench, the one-round-trip ceiling", lambda rate: rate * SECONDS,
                 lambda: h.pgbench_ceiling(url), url)
    finally:
        server.stop()
        subprocess.run(["psql", h.PG_URL + "/postgres", "-qc", f"DROP DATABASE IF EXISTS {name}"],
                       capture_output=True)
        subprocess.run(["rm", "-rf", h.WORK])


if __name__ == "__main__":
    main()
