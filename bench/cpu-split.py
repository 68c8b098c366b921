#!/usr/bin/env python3
"""Where the cores go in workload (b) on PostgreSQL, beside pgbench's ceiling.

Runs the PostgreSQL refresh rotation as workload (b) does (16 connections,
each following its own cookie), then the pgbench ceiling (bench/pgbench),
and for each reads the CPU time of every process from /proc (PostgreSQL's
backends and auxiliary processes summed as `postgres`, the load generator as
the harness's children) and the machine's idle time, divided by the
rotations or statements done. Also the commits and rows PostgreSQL counted
per rotation (pg_stat_database), to show both do the same database work.

Usage: python3 bench/cpu-split.py [SECONDS]   (after `bash bench/run.sh`
built the release binary; BENCH_POSTGRES_URL as for run.sh). Not run by CI.
"""
import os
import subprocess
import sys
import time

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
sys.argv = sys.argv[:1]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")


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
    query = ("SELECT xact_commit, tup_updated, tup_fetched FROM pg_stat_database "
             "WHERE datname = current_database()")
    out = subprocess.run(["psql", url, "-Atc", query], capture_output=True, text=True).stdout
    return list(map(int, out.strip().split("|")))


def measured(what, done, run, url):
    before, (all0, idle0), kids0, db0 = per_process(), machine(), children(), database_counts(url)
    result = run()
    after, (all1, idle1), kids1 = per_process(), machine(), children()
    time.sleep(1)  # pg_stat_database lags its backends a little
    db1 = database_counts(url)
    count = done(result)
    spent = {name: after[name] - before.get(name, 0) for name in after}
    spent["load generator (wrk or pgbench)"] = kids1 - kids0
    busy = (all1 - all0) - (idle1 - idle0)
    h.log(f"{what}: {count / SECONDS:,.0f}/s; per {('rotation' if 'Wristband' in what else 'statement')}:")
    for name, seconds in sorted(spent.items(), key=lambda item: -item[1]):
        if seconds / count * 1e6 >= 1:
            h.log(f"  {name:34} {seconds / count * 1e6:6.0f} µs")
    # pgbench's backends exit with it, and /proc forgets them: what busy
    # time no listed process accounts for.
    rest = busy - sum(spent.values())
    h.log(f"  {'processes that exited meanwhile':34} {max(rest, 0) / count * 1e6:6.0f} µs")
    h.log(f"  {'all cores, busy':34} {busy / count * 1e6:6.0f} µs ({busy / (all1 - all0):.0%} of the time)")
    commits, updated, fetched = ((b - a) / count for a, b in zip(db0, db1))
    h.log(f"  PostgreSQL counted {commits:.2f} commits, {updated:.2f} rows updated, {fetched:.2f} fetched each")


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
        measured("pgbench, the one-round-trip ceiling", lambda rate: rate * SECONDS,
                 lambda: h.pgbench_ceiling(url), url)
    finally:
        server.stop()
        subprocess.run(["psql", h.PG_URL + "/postgres", "-qc", f"DROP DATABASE IF EXISTS {name}"],
                       capture_output=True)
        subprocess.run(["rm", "-rf", h.WORK])


if __name__ == "__main__":
    main()
