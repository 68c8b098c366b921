#!/usr/bin/env python3
"""Wristband's benchmark harness. `bench/run.sh` builds the binaries and runs
this; see bench/README.md for what each workload measures.

Every server runs on 127.0.0.1 (port 0) and is driven by wrk for bounded
durations; systems compared with each other alternate (A B A B ...) for
ROUNDS rounds; the results go to bench/RESULTS.md (or, with --smoke, to a
temporary file: one short round of everything, no targets judged).
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
# BENCH_WRISTBAND: another build of the server (an A/B against an older commit).
WRISTBAND = os.environ.get("BENCH_WRISTBAND") or os.path.join(ROOT, "target/release/wristband")
FLOOR = os.path.join(ROOT, "target/bench-floor/release/wristband-bench-floor")
BCRYPT_TIME = os.path.join(ROOT, "target/bench-floor/release/bcrypt-verify-time")
LOAD = os.path.join(ROOT, "target/bench-load/release/wristband-bench-load")
EXPRESS = os.path.join(BENCH, "peers/express")
SCRIPTS = os.path.join(BENCH, "wrk")

SMOKE = "--smoke" in sys.argv
ROUNDS = 1 if SMOKE else int(os.environ.get("ROUNDS", "3"))
DURATION = 1 if SMOKE else int(os.environ.get("DURATION", "10"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "64"))
SIZES = [1_000, 5_000] if SMOKE else [10_000, 100_000, 1_000_000]
HOT_TOKENS = 200 if SMOKE else 1_000
WARM_TOKENS = 1_000 if SMOKE else 10_000
E_DURATION = 1 if SMOKE else max(1, DURATION // 2)
CACHE_CAPACITY = 100_000  # src/sessions/live.rs CAPACITY
REFRESH_CONNECTIONS = 16
LOGIN_COST = 12
LOGIN_CONNECTIONS = 8
PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
SECRET = base64.urlsafe_b64encode(os.urandom(36)).decode().rstrip("=")
PASSWORD = "correct horse battery"
HZ = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1

WORK = tempfile.mkdtemp(prefix="wristband-bench-")
SERVERS = []


def log(message):
    print(message, flush=True)


# ---------------------------------------------------------------- servers


class Server:
    """A server process that prints "... listening on URL" as its first line."""

    def __init__(self, name, command, env=None, cwd=None):
        self.name = name
        self.err_path = os.path.join(WORK, f"{name}.err")
        self.process = subprocess.Popen(
            command,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=open(self.err_path, "wb"),
            text=True,
        )
        SERVERS.append(self)
        line = self.process.stdout.readline()
        match = re.search(r"listening on (\S+)", line)
        if match is None:
            self.stop()
            sys.exit(f"{name} did not start:\n{line}{open(self.err_path).read()[-2000:]}")
        self.url = match.group(1)
        self.host, port = self.url.removeprefix("http://").split(":")
        self.port = int(port)
        self.idle_rss = None

    def cpu_ticks(self):
        fields = open(f"/proc/{self.process.pid}/stat").read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def rss_mib(self):
        for line in open(f"/proc/{self.process.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def mark_idle(self):
        time.sleep(0.5)
        self.idle_rss = self.rss_mib()

    def request(self, method, path, body=None, headers=None):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        payload = json.dumps(body) if body is not None else None
        connection.request(method, path, payload, {"content-type": "application/json", **(headers or {})})
        response = connection.getresponse()
        data = response.read()
        cookies = response.headers.get_all("set-cookie") or []
        connection.close()
        if response.status >= 300:
            sys.exit(f"{self.name}: {method} {path} answered {response.status}: {data[:300]!r}")
        return json.loads(data) if data else None, cookies

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def wristband(name, database_url, **settings):
    env = {
        "WRISTBAND_JWT_SECRET": SECRET,
        "WRISTBAND_BIND": "127.0.0.1:0",
        "WRISTBAND_DATABASE_URL": database_url,
        "WRISTBAND_ACCESS_TTL": "1h",
        "WRISTBAND_BCRYPT_COST": "4",
        "WRISTBAND_RATE_LIMIT_PER_MINUTE": "1000000",
        "WRISTBAND_DATABASE_TIMEOUT": "5s",
    }
    env.update({f"WRISTBAND_{k.upper()}": str(v) for k, v in settings.items()})
    # A setting given as None is left unset.
    env = {k: v for k, v in env.items() if v != "None"}
    return Server(name, [WRISTBAND, "serve"], env)


def sqlite_url(name):
    return f"sqlite://{os.path.join(WORK, name + '.db')}"


def sign_in(server, email=None, register=True):
    """Registers (once) and logs in; returns (access token, refresh cookie)."""
    body = {"email": email or "bench@example.com", "password": PASSWORD}
    if register:
        server.request("POST", "/auth/register", body)
    answer, cookies = server.request("POST", "/auth/login", body)
    cookie = next((c.split(";", 1)[0] for c in cookies if "wristband_refresh=" in c), None)
    return answer["access_token"], cookie


# ---------------------------------------------------------------- wrk


def wrk(server, path, seconds, connections, threads=2, headers=(), script=None, lines=None):
    """wrk against `server`; `lines` is the file a script reads ($BENCH_LINES)."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", os.path.join(SCRIPTS, script)]
    command.append(server.url + path)
    env = {**os.environ, "BENCH_LINES": lines or "", "BENCH_WRK_DIR": SCRIPTS}
    before = server.cpu_ticks()
    text = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    ticks = server.cpu_ticks() - before
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "p50": ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1)),
        "p99": ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1)),
        "cpu_us": ticks / HZ * 1e6 / max(requests, 1),
        "errors": (int(errors.group(1)) if errors else 0)
        + (sum(int(n) for n in socket_errors.groups()) if socket_errors else 0),
        "requests": requests,
        # Printed by scripts that report it (refresh.lua).
        "p999": (ms(m.group(1)) if (m := re.search(r"^p99\.9 (\S+)$", text, re.M)) else None),
    }


def ms(value):
    match = re.match(r"([\d.]+)(us|ms|s|m)$", value)
    if match is None:
        sys.exit(f"cannot read wrk's latency {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def lines_file(name, lines):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- tokens


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def access_token(sub, sid, version=1, role="user"):
    """An access token as Wristband signs it (HS256, typ at+jwt, its kid)."""
    kid = hashlib.sha256(b"wristband kid" + SECRET.encode()).digest()[:8].hex()
    now = int(time.time())
    header = {"typ": "at+jwt", "alg": "HS256", "kid": kid}
    claims = {
        "iss": "wristband", "aud": "wristband", "sub": sub, "sid": sid, "ver": version,
        "role": role, "iat": now, "nbf": now, "exp": now + 3600, "jti": str(uuid.uuid4()),
    }
    signing_input = b64(json.dumps(header, separators=(",", ":")).encode()) + "." + b64(
        json.dumps(claims, separators=(",", ":")).encode()
    )
    signature = hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64(signature)


# ---------------------------------------------------------------- results


def summary(runs):
    rps = [r["rps"] for r in runs]
    return {
        "rps": statistics.median(rps),
        "min": min(rps),
        "max": max(rps),
        "p50": statistics.median(r["p50"] for r in runs),
        "p99": statistics.median(r["p99"] for r in runs),
        "cpu_us": statistics.median(r["cpu_us"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "p999": (statistics.median(r["p999"] for r in runs) if all(r.get("p999") is not None for r in runs)
                 else None),
    }


TABLE_HEAD = [
    "| system | req/s median | req/s min–max | p50 ms | p99 ms | server CPU µs/req | non-2xx + socket errors | RSS idle → after (MiB) |",
    "|---|---|---|---|---|---|---|---|",
]


def table_row(label, s, server):
    rss = f"{server.idle_rss:.1f} → {server.rss_mib():.1f}" if server else "—"
    digits = 2 if s["rps"] < 100 else 0
    return (
        f"| {label} | {s['rps']:,.{digits}f} | {s['min']:,.{digits}f}–{s['max']:,.{digits}f} | {s['p50']:.2f} | "
        f"{s['p99']:.2f} | {s['cpu_us']:.1f} | {s['errors']} | {rss} |"
    )


TARGETS = []


def target(label, ok, detail):
    TARGETS.append(f"| {label} | {detail} | {'met' if ok else '**not met**'} |")


def alternate(systems, run_once):
    """Runs `run_once(system)` for each system, ROUNDS times, A B A B ..."""
    runs = {name: [] for name in systems}
    for round_ in range(1, ROUNDS + 1):
        for name, system in systems.items():
            result = run_once(system)
            runs[name].append(result)
            log(f"  round {round_} {name}: {result['rps']:,.0f} req/s, p99 {result['p99']:.2f} ms, "
                f"{result['errors']} errors")
    return {name: summary(r) for name, r in runs.items()}


# ---------------------------------------------------------------- (a)


def workload_a(out):
    log("(a) GET /auth/me with a valid token")
    ours = wristband("wristband-a", sqlite_url("a"))
    token, _ = sign_in(ours)
    # The same with Ed25519 signatures (keys generated and kept in the database).
    eddsa = wristband("wristband-a-eddsa", sqlite_url("a-eddsa"), jwt_alg="EdDSA", jwt_secret=None,
                      refresh_secret=SECRET)
    eddsa_token, _ = sign_in(eddsa)
    floor = Server("floor", [FLOOR], {"WRISTBAND_JWT_SECRET": SECRET})
    tutorial = Server("express-tutorial", ["node", "server.js"], {"JWT_SECRET": SECRET, "JWT_KEY": "string"}, EXPRESS)
    tuned = Server("express-tuned", ["node", "server.js"], {"JWT_SECRET": SECRET, "JWT_KEY": "keyobject"}, EXPRESS)
    tokens = {"wristband": token, "wristband-eddsa": eddsa_token, "floor": token}
    for name, peer in (("express-tutorial", tutorial), ("express-tuned", tuned)):
        tokens[name], _ = sign_in_express(peer)
    systems = {"wristband": ours, "wristband-eddsa": eddsa, "floor": floor, "express-tutorial": tutorial,
               "express-tuned": tuned}
    paths = {"wristband": "/auth/me", "wristband-eddsa": "/auth/me", "floor": "/auth/me",
             "express-tutorial": "/api/me", "express-tuned": "/api/me"}
    for server in systems.values():
        server.mark_idle()
    names = {id(s): n for n, s in systems.items()}
    results = alternate(systems, lambda s: wrk(
        s, paths[names[id(s)]], DURATION, CONNECTIONS, headers=[f"Authorization: Bearer {tokens[names[id(s)]]}"]))
    out += [
        "## (a) authenticated `GET /auth/me`",
        "",
        f"`wrk -t2 -c{CONNECTIONS} -d{DURATION}s --latency`, one token. Wristband on SQLite (the liveness "
        "cache answers; the first request of each second goes to the database). The floor: actix-web, one "
        "HS256 verify, no database. Express: express + jsonwebtoken + bcryptjs, users in memory, one "
        "process; *tutorial* verifies with the secret as a string, *tuned* with a `KeyObject` built once. "
        "*wristband-eddsa*: the same server signing with Ed25519 (`WRISTBAND_JWT_ALG=EdDSA`).",
        "",
        *TABLE_HEAD,
        *(table_row(name, results[name], server) for name, server in systems.items()),
        "",
    ]
    w = results["wristband"]
    floor_ratio = w["rps"] / results["floor"]["rps"]
    tutorial_ratio = w["rps"] / results["express-tutorial"]["rps"]
    tuned_ratio = w["rps"] / results["express-tuned"]["rps"]
    out += [
        f"Wristband is **{floor_ratio:.0%}** of the floor, **{tutorial_ratio:.1f}×** the tutorial Express "
        f"peer and **{tuned_ratio:.1f}×** the tuned one.",
        "",
    ]
    eddsa_ratio = results["wristband-eddsa"]["rps"] / w["rps"]
    out += [f"With EdDSA tokens Wristband serves **{eddsa_ratio:.0%}** of its HS256 rate "
            f"(p99 {results['wristband-eddsa']['p99']:.2f} ms).", ""]
    target("(a) ≥ 70 % of the floor", floor_ratio >= 0.70, f"{floor_ratio:.0%}")
    target("(a) ≥ 30× tutorial Express", tutorial_ratio >= 30, f"{tutorial_ratio:.1f}×")
    target("(a) ≥ 8× tuned Express", tuned_ratio >= 8, f"{tuned_ratio:.1f}×")
    target("(a) p99 ≤ 5 ms", w["p99"] <= 5, f"{w['p99']:.2f} ms")
    target("(a) zero non-2xx", w["errors"] == 0, f"{w['errors']}")
    rss = [(n, s.idle_rss, s.rss_mib()) for n, s in systems.items()]
    for server in systems.values():
        server.stop()
    return ours, rss


def sign_in_express(server):
    body = {"email": "bench@example.com", "password": PASSWORD}
    server.request("POST", "/api/register", body)
    answer, _ = server.request("POST", "/api/login", body)
    return answer["access_token"], None


# ---------------------------------------------------------------- (b)


def refresh_run(server, cookies, seconds):
    cookie_file = lines_file(f"cookies-{server.name}", cookies)
    return wrk(server, "/auth/refresh", seconds, len(cookies), threads=len(cookies),
               script="refresh.lua", lines=cookie_file)


def fresh_cookies(server, count, email="bench@example.com"):
    """`count` sessions of one user, each with its own refresh cookie."""
    cookies = []
    for i in range(count):
        _, cookie = sign_in(server, email, register=(i == 0))
        cookies.append(cookie)
    return cookies


def workload_b(out, postgres_url):
    log("(b) POST /auth/refresh, each connection following its own cookie")
    systems = {"SQLite": wristband("wristband-b-sqlite", sqlite_url("b"))}
    if postgres_url:
        systems["PostgreSQL"] = wristband("wristband-b-postgres", postgres_url)
    for server in systems.values():
        server.mark_idle()
    # Every round starts from fresh sessions (a failed rotation would otherwise
    # leave its connection without a cookie for the rounds after).
    rounds = {name: 0 for name in systems}
    ceilings, floors = [], []

    def run_once(server):
        name = next(n for n, s in systems.items() if s is server)
        rounds[name] += 1
        email = f"bench{rounds[name]}@example.com"
        result = refresh_run(server, fresh_cookies(server, REFRESH_CONNECTIONS, email), DURATION)
        if name == "PostgreSQL":
            # In the same round, right after: the floor's rotation over HTTP,
            # then the one-round-trip ceiling without HTTP.
            floor = floor_refresh(postgres_url)
            if floor:
                floors.append(floor)
                log(f"  floor's rotation over HTTP: {floor['rps']:,.0f}/s")
            ceiling = pgbench_ceiling(postgres_url)
            if ceiling:
                ceilings.append(ceiling)
                log(f"  pgbench one-round-trip ceiling: {ceiling:,.0f}/s")
        return result

    results = alternate(systems, run_once)
    out += [
        "## (b) refresh rotation",
        "",
        f"`wrk -t{REFRESH_CONNECTIONS} -c{REFRESH_CONNECTIONS} -d{DURATION}s` with `bench/wrk/refresh.lua`: "
        "each connection (one per wrk thread) holds its own session and sends the cookie the previous "
        "answer set, so every request is a real rotation (one transaction: spend the token, store the next "
        "generation).",
        "",
        *TABLE_HEAD,
        *(table_row(name, results[name], server) for name, server in systems.items()),
        "",
    ]
    tails = [f"{name} {s['p999']:.2f} ms" for name, s in results.items() if s.get("p999") is not None]
    if tails:
        out += [f"p99.9 (median of the rounds, from wrk's latency histogram): {', '.join(tails)}.", ""]
    goals = {"SQLite": 10_000, "PostgreSQL": 4_500}
    for name, s in results.items():
        target(f"(b) {name} ≥ {goals[name]:,} rotations/s", s["rps"] >= goals[name], f"{s['rps']:,.0f}/s")
        target(f"(b) {name} p99 ≤ 10 ms", s["p99"] <= 10, f"{s['p99']:.2f} ms")
        target(f"(b) {name} zero non-2xx", s["errors"] == 0, f"{s['errors']}")
    if not postgres_url:
        out += ["PostgreSQL was not reachable: its row is missing.", ""]
    elif ceilings:
        ceiling = statistics.median(ceilings)
        ratio = results["PostgreSQL"]["rps"] / ceiling
        out += [
            f"PostgreSQL's own ceiling for a rotation in one round trip: the statement Wristband sends "
            f"(`bench/pgbench/rotation.sql`, one `UPDATE … FROM … RETURNING` on tables of the same shape, "
            f"`bench/pgbench/setup.sql`), from {REFRESH_CONNECTIONS} pgbench clients (`-M prepared`), each on "
            f"its own row, no HTTP and no tokens, run in each round right after Wristband's and the floor's: median "
            f"**{ceiling:,.0f} per second** (min–max {min(ceilings):,.0f}–{max(ceilings):,.0f}). "
            f"Wristband reaches **{ratio:.0%}** of it.",
            "",
        ]
        if floors:
            floor = statistics.median(f["rps"] for f in floors)
            floor_p99 = statistics.median(f["p99"] for f in floors)
            out += [
                f"The floor's rotation (`bench/peers/floor`, `POST /auth/refresh`): actix-web sending that "
                f"same statement through the same driver and pools (tokio-postgres, deadpool-postgres, 16 "
                f"connections), with no token, no hashing, no logging, over HTTP from the same wrk script, "
                f"run in each round between Wristband and pgbench: median **{floor:,.0f} per second** "
                f"(min–max {min(f['rps'] for f in floors):,.0f}–{max(f['rps'] for f in floors):,.0f}, p99 "
                f"{floor_p99:.2f} ms, non-2xx {sum(f['errors'] for f in floors)}), **{floor / ceiling:.0%}** of "
                f"pgbench's ceiling. Wristband reaches **{results['PostgreSQL']['rps'] / floor:.0%}** of the "
                f"floor. What an HTTP server adds on this machine (the client's CPU, four socket wake-ups a "
                f"rotation instead of two, fewer commits sharing each WAL flush) is measured by "
                f"`bench/cpu-split.py`; bench/README, \"The PostgreSQL ceiling\".",
                "",
            ]
        target("(b) PostgreSQL ≥ 70 % of the one-round-trip ceiling", ratio >= 0.70, f"{ratio:.0%}")
    rss = [(f"wristband (b) {n}", s.idle_rss, s.rss_mib()) for n, s in systems.items()]
    for server in systems.values():
        server.stop()
    return rss


def floor_refresh(url):
    """workload (b)'s wrk run against the floor's `POST /auth/refresh`, on
    the tables `bench/pgbench/setup.sql` makes (each connection on its own
    row, from generation 1); None without them."""
    try:
        subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-f",
                        os.path.join(BENCH, "pgbench", "setup.sql")], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:
        log(f"  floor's rotation not run: {getattr(error, 'stderr', error)}")
        return None
    floor = Server("floor-refresh", [FLOOR], {"FLOOR_DATABASE_URL": url})
    try:
        return refresh_run(floor, [f"wristband_refresh=s{i}.1" for i in range(REFRESH_CONNECTIONS)], DURATION)
    finally:
        floor.stop()


def pgbench_ceiling(url):
    """Rotations/s of `bench/pgbench/rotation.sql` (one round trip each) run
    by pgbench alone, on the tables `setup.sql` makes in the benchmark's
    (migrated) database; None without pgbench."""
    folder = os.path.join(BENCH, "pgbench")
    try:
        subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-f", os.path.join(folder, "setup.sql")],
                       check=True, capture_output=True)
        done = subprocess.run(["pgbench", "-n", "-M", "prepared", f"-c{REFRESH_CONNECTIONS}", "-j2",
                               f"-T{DURATION}", "-f", os.path.join(folder, "rotation.sql"), url],
                              check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as error:
        log(f"  pgbench ceiling failed: {getattr(error, 'stderr', error)}")
        return None
    match = re.search(r"tps = ([\d.]+)", done.stdout)
    return float(match.group(1)) if match else None


# ---------------------------------------------------------------- (c), (d)


class Prober(threading.Thread):
    """GET /healthz every 10 ms on one kept-alive connection, as a load
    balancer's health check would; records each latency."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server, self.latencies, self.failures = server, [], 0
        self.stopping = threading.Event()

    def run(self):
        connection = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
        while not self.stopping.is_set():
            started = time.perf_counter()
            try:
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    self.failures += 1
            except OSError:
                self.failures += 1
                connection = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
            took = time.perf_counter() - started
            self.latencies.append(took * 1000)
            self.stopping.wait(max(0.0, 0.010 - took))


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0


def workload_cd(out):
    log(f"(c) POST /auth/login at bcrypt cost {LOGIN_COST}, (d) /healthz during it")
    server = wristband("wristband-c", sqlite_url("c"), bcrypt_cost=LOGIN_COST)
    # One account for every connection, as a test suite's workers log in as
    # one fixture user: parallel right-password logins must all succeed.
    body = {"email": "bench@example.com", "password": PASSWORD}
    server.request("POST", "/auth/register", body)
    body_file = lines_file("logins", [json.dumps(body)] * LOGIN_CONNECTIONS)
    server.mark_idle()
    rows = []
    for round_ in range(1, ROUNDS + 1):
        # The previous round's last jobs finish first: the bound is measured
        # on an idle machine.
        time.sleep(2)
        verify = float(subprocess.run([BCRYPT_TIME, str(LOGIN_COST), "5"], capture_output=True, text=True,
                                      check=True).stdout)
        bound = CORES / verify
        prober = Prober(server)
        prober.start()
        result = wrk(server, "/auth/login", max(DURATION, 3), LOGIN_CONNECTIONS, threads=LOGIN_CONNECTIONS,
                     script="login.lua", lines=body_file)
        prober.stopping.set()
        prober.join()
        health = {
            "p50": percentile(prober.latencies, 50), "p99": percentile(prober.latencies, 99),
            "max": max(prober.latencies, default=0.0), "n": len(prober.latencies), "failures": prober.failures,
        }
        rows.append((result, bound, verify, health))
        log(f"  round {round_}: {result['rps']:.2f} logins/s, bound {bound:.2f}/s, /healthz p99 "
            f"{health['p99']:.2f} ms over {health['n']}")
    login = summary([r[0] for r in rows])
    bound = statistics.median(r[1] for r in rows)
    verify = statistics.median(r[2] for r in rows)
    ratio = login["rps"] / bound
    health_p99 = statistics.median(r[3]["p99"] for r in rows)
    health_p50 = statistics.median(r[3]["p50"] for r in rows)
    health_max = max(r[3]["max"] for r in rows)
    probes = sum(r[3]["n"] for r in rows)
    failures = sum(r[3]["failures"] for r in rows)
    out += [
        f"## (c) login storm at bcrypt cost {LOGIN_COST}, and (d) `/healthz` during it",
        "",
        f"`wrk -t{LOGIN_CONNECTIONS} -c{LOGIN_CONNECTIONS} -d{max(DURATION, 3)}s` with `bench/wrk/login.lua`: each "
        "connection logs the same user in with the right password, again and again, as an untrusted "
        "client (wrk keeps no cookies), so every attempt goes through the one lockout budget of that "
        "account. The "
        f"bcrypt bound is cores ÷ one verify's time: {CORES} ÷ {verify * 1000:.0f} ms = {bound:.2f} logins/s, "
        "measured in each round with `bcrypt-verify-time` (same crate and version as Wristband). During "
        "each round a prober sends `GET /healthz` every 10 ms on a kept-alive connection, as a load "
        "balancer would.",
        "",
        *TABLE_HEAD,
        table_row("wristband login", login, server),
        "",
        f"Logins: **{ratio:.0%}** of the bcrypt bound. `/healthz` during the storm: p50 {health_p50:.2f} ms, "
        f"p99 **{health_p99:.2f} ms**, max {health_max:.2f} ms over {probes} probes, {failures} failed.",
        "",
    ]
    target("(c) ≥ 90 % of the bcrypt bound", ratio >= 0.90, f"{ratio:.0%}")
    target("(c) zero non-2xx", login["errors"] == 0, f"{login['errors']}")
    target("(d) /healthz p99 ≤ 10 ms during the storm", health_p99 <= 10 and failures == 0,
           f"{health_p99:.2f} ms, {failures} failed")
    rss = [("wristband (c)", server.idle_rss, server.rss_mib())]
    server.stop()
    return rss


# ---------------------------------------------------------------- (e)


def seed(path, sessions):
    """Writes `sessions` live sessions, ten per user, straight into a migrated
    SQLite database; returns [(user_id, session_id)] of every session."""
    stamp = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    now = stamp.strftime("%Y-%m-%d %H:%M:%S.%f")
    later = (stamp + datetime.timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S.%f")
    # Any bcrypt hash will do: these users never log in.
    hash_ = "$2b$04$" + "a" * 53
    users = [str(uuid.uuid4()) for _ in range(max(1, sessions // 10))]
    pairs = [(users[i % len(users)], str(uuid.uuid4())) for i in range(sessions)]
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode = WAL")
    with db:
        db.executemany(
            "INSERT INTO users (id, email, password_hash, role, disabled, created_at, updated_at) "
            "VALUES (?, ?, ?, 'user', 0, ?, ?)",
            ((u, f"{u}@example.com", hash_, now, now) for u in users),
        )
        db.executemany("INSERT INTO token_versions (user_id, version) VALUES (?, 1)", ((u,) for u in users))
        db.executemany(
            "INSERT INTO sessions (id, user_id, token_version, generation, created_at, last_refreshed_at, "
            "expires_at) VALUES (?, ?, 1, 1, ?, ?, ?)",
            ((s, u, now, now, later) for u, s in pairs),
        )
    db.close()
    # The seeded file's pages are still dirty in the page cache: the server's
    # first checkpoint would flush them all in one fsync (160 ms at a million
    # sessions), a stall of the benchmark's making, not the server's.
    os.sync()
    return pairs


def workload_e(out):
    log(f"(e) growth: {', '.join(f'{n:,}' for n in SIZES)} sessions in the database")
    systems, tokens = {}, {}
    for size in SIZES:
        name = f"{size:,} sessions"
        path = os.path.join(WORK, f"e{size}.db")
        subprocess.run([WRISTBAND, "migrate"], check=True, capture_output=True,
                       env={**os.environ, "WRISTBAND_DATABASE_URL": f"sqlite://{path}", "WRISTBAND_JWT_SECRET": SECRET})
        started = time.time()
        pairs = seed(path, size)
        log(f"  seeded {size:,} sessions in {time.time() - started:.1f} s")
        cold = min(size, CACHE_CAPACITY)

        def spread(count):
            step = max(1, len(pairs) // count)
            return [access_token(u, s) for u, s in pairs[::step][:count]]

        tokens[name] = {
            "hot": lines_file(f"hot-{size}", spread(HOT_TOKENS)),
            "warm": lines_file(f"warm-{size}", spread(WARM_TOKENS)),
            "cold": lines_file(f"cold-{size}", spread(cold)),
            "cold_n": cold,
        }
        systems[name] = wristband(f"wristband-e{size}", f"sqlite://{path}")
        systems[name].mark_idle()
    rows = {name: {"hot": [], "warm": [], "cold": [], "refresh": []} for name in systems}
    for round_ in range(1, ROUNDS + 1):
        for name, server in systems.items():
            for kind in ("hot", "warm", "cold"):
                result = wrk(server, "/auth/me", E_DURATION, CONNECTIONS, script="tokens.lua",
                             lines=tokens[name][kind])
                rows[name][kind].append(result)
            email = f"bench{round_}@example.com"
            result = refresh_run(server, fresh_cookies(server, REFRESH_CONNECTIONS, email), E_DURATION)
            rows[name]["refresh"].append(result)
            log(f"  round {round_} {name}: me hot {rows[name]['hot'][-1]['rps']:,.0f}, warm "
                f"{rows[name]['warm'][-1]['rps']:,.0f}, cold {rows[name]['cold'][-1]['rps']:,.0f}, "
                f"refresh {result['rps']:,.0f} req/s")
    out += [
        "## (e) growth with the number of sessions",
        "",
        f"SQLite databases seeded with {', '.join(f'{n:,}' for n in SIZES)} live sessions (ten per user); "
        "the three servers run side by side and alternate. `/auth/me` is driven with `bench/wrk/tokens.lua`, "
        f"each request carrying the next of many distinct valid tokens, {E_DURATION} s per run: "
        f"**hot**, {HOT_TOKENS:,} sessions in use (each entry is read again from the database once a "
        f"second, its TTL, so a few % of requests miss); **warm**, {WARM_TOKENS:,} (at these rates a "
        "third or more of the requests miss); **cold**, as many sessions as the cache holds "
        f"(up to {CACHE_CAPACITY:,}; each comes back after its entry has expired, so nearly every "
        "request reads the database). Refresh: as in (b), 16 fresh sessions among the others.",
        "",
    ]
    for kind, title in (("hot", f"`GET /auth/me`, {HOT_TOKENS:,} distinct tokens"),
                        ("warm", f"`GET /auth/me`, {WARM_TOKENS:,} distinct tokens"),
                        ("cold", "`GET /auth/me`, as many distinct tokens as the cache holds"),
                        ("refresh", "`POST /auth/refresh`")):
        out += [f"### {title}", "", *TABLE_HEAD]
        for name, server in systems.items():
            label = name if kind != "cold" else f"{name} ({tokens[name]['cold_n']:,} tokens)"
            out.append(table_row(label, summary(rows[name][kind]), server))
        out.append("")
    first, last = SIZES[0], SIZES[-1]
    hot = {n: summary(rows[n]["hot"])["rps"] for n in systems}
    spread = hot[f"{last:,} sessions"] / hot[f"{first:,} sessions"]
    out += [f"`/auth/me` (hot) at {last:,} sessions is **{spread:.0%}** of its rate at {first:,}.", ""]
    target(f"(e) (a) within 20 % from {first:,} to {last:,} sessions", abs(1 - spread) <= 0.20, f"{spread:.0%}")
    rss = [(f"wristband (e) {n}", s.idle_rss, s.rss_mib()) for n, s in systems.items()]
    for server in systems.values():
        server.stop()
    return rss


# ---------------------------------------------------------------- (f)


INTROSPECTION_CONNECTIONS = 4
INTROSPECTION_RATE = 10_000
RATE_CONNECTIONS = 16


def fixed_rate(server, path, rate, seconds, connections, headers=(), body="", method="POST"):
    """bench/load (open loop): `rate` requests/s, latency from each one's due time."""
    command = [LOAD, "--url", server.url + path, "--rate", str(rate), "--duration", str(seconds),
               "--connections", str(connections), "--method", method, "--body", body]
    for header in headers:
        command += ["--header", header]
    before = server.cpu_ticks()
    result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    ticks = server.cpu_ticks() - before
    result["cpu_us"] = ticks / HZ * 1e6 / max(result["completed"], 1)
    result["errors"] = result["non_2xx"] + result["errors"]
    return result


def workload_f(out):
    log("(f) POST /auth/introspect")
    secret = "bench-introspection-secret-" + SECRET[:16]
    server = wristband("wristband-f", sqlite_url("f"), introspection_secret=secret)
    token, _ = sign_in(server)
    server.mark_idle()
    lines = lines_file("introspect", [secret, token])
    closed, fixed, floor = [], [], []
    headers = (f"Authorization: Bearer {secret}", "Content-Type: application/x-www-form-urlencoded")
    for round_ in range(1, ROUNDS + 1):
        result = wrk(server, "/auth/introspect", DURATION, INTROSPECTION_CONNECTIONS, threads=1,
                     script="introspect.lua", lines=lines)
        closed.append(result)
        log(f"  round {round_} (wrk): {result['rps']:,.0f} calls/s, p99 {result['p99']:.2f} ms")
        result = fixed_rate(server, "/auth/introspect", INTROSPECTION_RATE, DURATION, RATE_CONNECTIONS,
                            headers=headers, body=f"token={token}")
        fixed.append(result)
        log(f"  round {round_} (fixed {INTROSPECTION_RATE:,}/s): {result['rps']:,.0f} calls/s, "
            f"p50 {result['p50']:.2f} ms, p99 {result['p99']:.2f} ms, p99.9 {result['p999']:.2f} ms")
        result = fixed_rate(server, "/healthz", INTROSPECTION_RATE, DURATION, RATE_CONNECTIONS, method="GET")
        floor.append(result)
        log(f"  round {round_} (fixed, /healthz): p99 {result['p99']:.2f} ms")
    s = summary(closed)
    p99 = statistics.median(r["p99"] for r in fixed)
    rps = statistics.median(r["rps"] for r in fixed)
    errors = sum(r["errors"] for r in fixed)
    out += [
        "## (f) token introspection",
        "",
        "`POST /auth/introspect` (RFC 7662) by a resource server, one live token, the same liveness check "
        "as `/auth/me`, the load generator on the same two cores as the server.",
        "",
        f"At a fixed rate: `bench/load` (open loop, {RATE_CONNECTIONS} keep-alive connections) sends "
        f"{INTROSPECTION_RATE:,} calls/s for {DURATION} s and counts each call's latency from when it was "
        "*due*, so queueing behind a slow answer is counted (no coordinated omission).",
        "",
        "| round | calls/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | server CPU µs/call | non-2xx + errors |",
        "|---|---|---|---|---|---|---|---|---|",
        *[f"| {i} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p90']:.2f} | {r['p99']:.2f} | {r['p999']:.2f} | "
          f"{r['max']:.2f} | {r['cpu_us']:.1f} | {r['errors']} |" for i, r in enumerate(fixed, 1)],
        "",
        "The same rate on `GET /healthz` (no work at all) in the same rounds, for how much of that tail is "
        "the two cores shared by the server and the generator:",
        "",
        "| round | calls/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | server CPU µs/call | non-2xx + errors |",
        "|---|---|---|---|---|---|---|---|---|",
        *[f"| {i} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p90']:.2f} | {r['p99']:.2f} | {r['p999']:.2f} | "
          f"{r['max']:.2f} | {r['cpu_us']:.1f} | {r['errors']} |" for i, r in enumerate(floor, 1)],
        "",
        f"As fast as it goes: `wrk -t1 -c{INTROSPECTION_CONNECTIONS} -d{DURATION}s` with "
        "`bench/wrk/introspect.lua` (closed loop: the rate is what the server reaches).",
        "",
        *TABLE_HEAD,
        table_row("wristband introspect", s, server),
        "",
    ]
    target(f"(f) introspection p99 ≤ 2 ms at {INTROSPECTION_RATE:,} calls/s", p99 <= 2 and rps >= 0.98 * INTROSPECTION_RATE,
           f"p99 {p99:.2f} ms at {rps:,.0f}/s (median of {len(fixed)} rounds)")
    target("(f) zero non-2xx", s["errors"] + errors == 0, f"{s['errors'] + errors}")
    rss = [("wristband (f)", server.idle_rss, server.rss_mib())]
    server.stop()
    return rss


# ---------------------------------------------------------------- (g)


def workload_g(out):
    log("(g) start-up of `wristband serve --ephemeral`")
    report = os.path.join(WORK, "startup.json")
    runs = 5 if SMOKE else 50
    subprocess.run(["hyperfine", "-N", "--warmup", "3", "--runs", str(runs), "--export-json", report,
                    f"{BENCH}/first-line.sh {WRISTBAND} serve --ephemeral"],
                   check=True, capture_output=True)
    times = [t * 1000 for t in json.load(open(report))["results"][0]["times"]]
    median, worst = statistics.median(times), max(times)
    out += [
        "## (g) start-up of a throw-away server",
        "",
        f"`hyperfine -N --warmup 3 --runs {runs} 'bench/first-line.sh target/release/wristband serve "
        "--ephemeral'`: from exec to the listening line on stdout (in-memory SQLite migrated, key "
        "generated, port bound), then the server is stopped.",
        "",
        f"Median **{median:.1f} ms**, p95 {percentile(times, 95):.1f} ms, max {worst:.1f} ms over {runs} starts.",
        "",
    ]
    target("(g) listening line within 150 ms", worst <= 150, f"max {worst:.1f} ms")
    return []


# ---------------------------------------------------------------- (h)


RESET_CLIENTS = 8
OUTBOX_RATE = 20
OUTBOX_CLIENTS = 8  # each reset answers after ≥ 150 ms: 8 in flight hold 20/s (and up to ~50/s)
TOTP_USERS = 8 if SMOKE else 64
TOTP_CLIENTS = 2
H_DURATION = 1 if SMOKE else max(DURATION, 3)
RESET_FIRST = "known, first in a minute (link and mail written)"
RESET_REPEAT = "known, again within the minute (throttled: nothing written)"
RESET_UNKNOWN = "unknown"


class Catcher:
    """An SMTP server (aiosmtpd) in this process on 127.0.0.1: accepts every
    message and records, for each, when its DATA was complete
    (`time.perf_counter()`, the clock the clients use), its recipients and
    its subject."""

    def __init__(self):
        import logging
        import socket
        from aiosmtpd.controller import Controller
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        self.lock = threading.Lock()
        self.mails = []  # (accepted at, [recipients], subject)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, server_hostname="catcher.localhost")
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{self.port}?tls=none"

    async def handle_DATA(self, server, session, envelope):
        at = time.perf_counter()
        head = envelope.content.split(b"\r\n\r\n", 1)[0]
        subject = re.search(rb"^Subject:[ \t]*(.*)$", head, re.M | re.I)
        with self.lock:
            self.mails.append((at, [r.lower() for r in envelope.rcpt_tos],
                               subject.group(1).decode(errors="replace").strip() if subject else ""))
        return "250 Message accepted for delivery"

    def arrivals(self, subject_start):
        """{recipient: [times]} of the mails whose subject starts so."""
        found = {}
        with self.lock:
            for at, recipients, subject in self.mails:
                if subject.startswith(subject_start):
                    for r in recipients:
                        found.setdefault(r, []).append(at)
        return found

    def wait_for(self, subject_start, addresses, timeout):
        """Waits until each address has a mail so titled (or the timeout)."""
        deadline = time.perf_counter() + timeout
        while True:
            found = self.arrivals(subject_start)
            if all(a.lower() in found for a in addresses) or time.perf_counter() >= deadline:
                return found
            time.sleep(0.05)

    def count(self, subject_start, since):
        """How many mails so titled were accepted since `since`."""
        with self.lock:
            return sum(at >= since and subject.startswith(subject_start) for at, _, subject in self.mails)

    def stop(self):
        self.controller.stop()


class Client:
    """One kept-alive connection, as a browser keeps one; connected again
    (untimed) after 2 s unused, before actix's 5 s keep-alive closes it."""

    def __init__(self, server):
        self.server, self.connection, self.last = server, None, 0.0

    def call(self, method, path, body=None, headers=None):
        """(status, JSON body or None, Set-Cookie values, sent, answered), the
        times by `time.perf_counter()`; status 0 when the connection failed."""
        payload = json.dumps(body) if body is not None else None
        headers = {"content-type": "application/json", **(headers or {})}
        if self.connection is None or time.perf_counter() - self.last > 2:
            if self.connection is not None:
                self.connection.close()
            self.connection = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
            self.connection.connect()
        sent = time.perf_counter()
        try:
            self.connection.request(method, path, payload, headers)
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = None
            return 0, None, [], sent, time.perf_counter()
        answered = self.last = time.perf_counter()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return response.status, parsed, response.headers.get_all("set-cookie") or [], sent, answered

    def close(self):
        if self.connection is not None:
            self.connection.close()


def latency_row(label, values, failures, extra=""):
    return (f"| {label} | {len(values):,} | {statistics.median(values) if values else 0:.2f} | "
            f"{percentile(values, 99):.2f} | {max(values, default=0.0):.2f} | {failures} |{extra}")


def seeded_addresses(name, count):
    """A migrated SQLite database with `count` enabled users (seeded as in
    (e)); returns (its URL, their addresses)."""
    path = os.path.join(WORK, f"{name}.db")
    subprocess.run([WRISTBAND, "migrate"], check=True, capture_output=True,
                   env={**os.environ, "WRISTBAND_DATABASE_URL": f"sqlite://{path}", "WRISTBAND_JWT_SECRET": SECRET})
    users = list(dict.fromkeys(u for u, _ in seed(path, count * 10)))
    return f"sqlite://{path}", [f"{u}@example.com" for u in users]


def reset_timing(server, known, seconds):
    """RESET_CLIENTS threads, each on its own kept-alive connection, cycling
    through the three kinds of request (each thread starting at another
    kind, so every kind is in flight beside every other): a known address
    not asked for in the last minute, an unknown address (a fresh one each
    time, of the same shape), and the known address this thread asked for
    two requests before (throttled). Returns ({kind: [ms]}, {kind: non-202},
    [the first-time addresses])."""
    kinds = (RESET_FIRST, RESET_UNKNOWN, RESET_REPEAT)
    latencies = {k: [] for k in kinds}
    failures = {k: 0 for k in kinds}
    firsts = []
    pool = iter(known)
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def client(index):
        connection = Client(server)
        previous, turn = None, index
        while time.perf_counter() < end:
            kind = kinds[turn % 3]
            turn += 1
            if kind == RESET_FIRST:
                with lock:
                    email = next(pool, None)
                if email is None:
                    log("  (h) ran out of seeded addresses")
                    break
                previous = email
            elif kind == RESET_REPEAT:
                if previous is None:
                    continue
                email = previous
            else:
                email = f"{uuid.uuid4()}@example.com"
            status, _, _, sent, answered = connection.call("POST", "/auth/password-reset", {"email": email})
            with lock:
                latencies[kind].append((answered - sent) * 1000)
                failures[kind] += status != 202
                if kind == RESET_FIRST and status == 202:
                    firsts.append(email)
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(RESET_CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, failures, firsts


def outbox_latency(server, catcher, addresses, rate, seconds):
    """Resets for distinct known addresses at a fixed rate (open loop: each
    is sent when due, OUTBOX_CLIENTS connections in turn); for each, when it
    was sent and when its 202 arrived. Then waits for the mails."""
    addresses = addresses[:rate * seconds]
    sent_at, answered_at, failures = {}, {}, [0]
    lock = threading.Lock()
    start = time.perf_counter() + 0.2

    def client(index):
        connection = Client(server)
        for i in range(index, len(addresses), OUTBOX_CLIENTS):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            status, _, _, sent, answered = connection.call("POST", "/auth/password-reset", {"email": addresses[i]})
            with lock:
                sent_at[addresses[i]], answered_at[addresses[i]] = sent, answered
                failures[0] += status != 202
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(OUTBOX_CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    arrived = catcher.wait_for("Reset your", addresses, 30)
    from_answer, from_sent = [], []
    for a in addresses:
        if a in arrived and a in answered_at:
            at = min(arrived[a])
            from_answer.append((at - answered_at[a]) * 1000)
            from_sent.append((at - sent_at[a]) * 1000)
    return {"requested": len(addresses), "delivered": len(from_answer), "failures": failures[0],
            "from_answer": from_answer, "from_sent": from_sent,
            "duplicates": sum(len(arrived.get(a, [])) > 1 for a in addresses)}


def totp_code(secret, at):
    """RFC 6238 as Wristband does it: HMAC-SHA-1, 6 digits, 30-second steps."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, int(at // 30).to_bytes(8, "big"), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(int.from_bytes(digest[offset:offset + 4], 'big') & 0x7FFFFFFF) % 1_000_000:06d}"


def totp_logins(server, seconds):
    """TOTP_USERS users enrolled in TOTP (test mode: `POST /test/users`, then
    the factor started and confirmed); TOTP_CLIENTS threads, each with its
    own kept-alive connection and half the users, log each of their users in
    once per round: the password step (untimed), then the code step (timed).
    Between rounds the test clock moves 30 s on, so every user has a new
    step (a code is accepted once). The first round is a warm-up, untimed:
    each user's first login from this client (the new-device notice); later
    ones send the device cookie it set, as a returning browser does."""
    users = []
    for i in range(TOTP_USERS):
        email = f"totp{i}@example.com"
        answer, _ = server.request("POST", "/test/users", {"email": email, "password": PASSWORD})
        auth = {"Authorization": f"Bearer {answer['access_token']}"}
        factor, _ = server.request("POST", "/auth/mfa/totp", {"current_password": PASSWORD}, auth)
        offset = server.request("GET", "/test/clock")[0]["offset_seconds"]
        server.request("POST", "/auth/mfa/totp/confirm", {"code": totp_code(factor["secret"], time.time() + offset)},
                       auth)
        users.append({"email": email, "secret": factor["secret"], "device": None})
    state = {"round": 0, "offset": 0, "stop": False, "since": 0.0, "until": 0.0}
    latencies, statuses, password_failures = [], {}, [0]
    lock = threading.Lock()

    def next_round():
        # Run by the last thread to reach the barrier, the others waiting.
        now = time.perf_counter()
        state["round"] += 1
        if state["round"] == 2:
            state["since"] = now
        if state["round"] > 2 and now - state["since"] >= seconds:
            state["stop"], state["until"] = True, now
            return
        state["offset"] = server.request("POST", "/test/clock", {"advance": "30s"})[0]["offset_seconds"]

    barrier = threading.Barrier(TOTP_CLIENTS, action=next_round)

    def client(mine):
        connection = Client(server)
        while True:
            barrier.wait()
            if state["stop"]:
                break
            timed = state["round"] >= 2
            for user in mine:
                headers = {"Cookie": user["device"]} if user["device"] else {}
                status, answer, _, _, _ = connection.call(
                    "POST", "/auth/login", {"email": user["email"], "password": PASSWORD}, headers)
                if status != 200 or not (answer or {}).get("mfa_required"):
                    with lock:
                        password_failures[0] += 1
                    continue
                code = totp_code(user["secret"], time.time() + state["offset"])
                status, _, cookies, sent, answered = connection.call(
                    "POST", "/auth/login/mfa", {"mfa_token": answer["mfa_token"], "code": code}, headers)
                device = next((c.split(";", 1)[0] for c in cookies if "wristband_device=" in c), None)
                user["device"] = device or user["device"]
                with lock:
                    if timed:
                        latencies.append((answered - sent) * 1000)
                    if timed or status != 200:
                        key = f"{status}" + ("" if timed else " (warm-up)")
                        statuses[key] = statuses.get(key, 0) + 1
        connection.close()

    switch = sys.getswitchinterval()
    # A response waits for the GIL while the other client thread runs Python:
    # at most this long instead of the default 5 ms.
    sys.setswitchinterval(0.0002)
    try:
        threads = [threading.Thread(target=client, args=(users[i::TOTP_CLIENTS],)) for i in range(TOTP_CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(switch)
    return {"latencies": latencies, "statuses": statuses, "password_failures": password_failures[0],
            "rounds": state["round"] - 2, "seconds": state["until"] - state["since"]}


def workload_h(out):
    log("(h) account paths: password reset (known vs unknown address, outbox to SMTP), TOTP login step")
    catcher = Catcher()
    first_needed = int(RESET_CLIENTS / 0.15 / 3 * H_DURATION * 1.5) + 20
    url, known = seeded_addresses("h-reset", first_needed + OUTBOX_RATE * H_DURATION + 20)
    server = wristband("wristband-h-reset", url, smtp_url=catcher.url)
    server.mark_idle()
    latencies, failures, firsts = reset_timing(server, known[:first_needed], H_DURATION)
    log("  reset: " + ", ".join(f"{k.split(' (')[0]}: median {statistics.median(v) if v else 0:.1f} ms over {len(v)}"
                                for k, v in latencies.items()))
    # Every first-time reset is mailed once, and the repeats add nothing.
    arrived = catcher.wait_for("Reset your", firsts, 30)
    reset_mails = sum(len(arrived.get(a.lower(), [])) for a in firsts)
    mailed = sum(a.lower() in arrived for a in firsts)
    outbox = outbox_latency(server, catcher, known[first_needed:], OUTBOX_RATE, H_DURATION)
    log(f"  outbox: {outbox['delivered']} of {outbox['requested']} delivered, 202 → accept p50 "
        f"{statistics.median(outbox['from_answer']) if outbox['from_answer'] else 0:.1f} ms")
    reset_rss = ("wristband (h) reset", server.idle_rss, server.rss_mib())
    server.stop()
    catcher.stop()

    # Test mode for its clock (a code's step is accepted once); bcrypt at its
    # lowest so the untimed password step costs little.
    totp_server = wristband("wristband-h-totp", sqlite_url("h-totp"), test_mode="true", bcrypt_cost=4)
    totp_server.mark_idle()
    totp = totp_logins(totp_server, H_DURATION)
    steps = totp["latencies"]
    non_200 = sum(n for s, n in totp["statuses"].items() if s != "200") + totp["password_failures"]
    rate = len(steps) / totp["seconds"] if totp["seconds"] else 0.0
    log(f"  TOTP second step: p50 {statistics.median(steps) if steps else 0:.2f} ms, p99 "
        f"{percentile(steps, 99):.2f} ms over {len(steps)}, {non_200} failed; statuses {totp['statuses']}")
    totp_rss = ("wristband (h) TOTP", totp_server.idle_rss, totp_server.rss_mib())
    totp_server.stop()

    first, unknown = latencies[RESET_FIRST], latencies[RESET_UNKNOWN]
    first_median = statistics.median(first) if first else 0.0
    unknown_median = statistics.median(unknown) if unknown else 0.0
    spread = first_median / unknown_median - 1 if unknown_median else 1.0
    reset_failures = sum(failures.values())
    out += [
        "## (h) account paths",
        "",
        "### Password reset: known and unknown addresses",
        "",
        f"`POST /auth/password-reset {{email}}` with mail on (`WRISTBAND_SMTP_URL` at an aiosmtpd server in the "
        f"harness, `?tls=none`), rate limit out of the way, {len(known):,} enabled accounts seeded. "
        f"{RESET_CLIENTS} client threads, each on its own kept-alive connection, for {H_DURATION} s, each "
        "cycling through the three kinds request by request (each thread starting at another kind): a known "
        "address nobody asked for in the last minute (the most work: the link, the outbox row and the audit "
        "event written in one transaction), an unknown address (a fresh one each time, of the same shape), "
        "and the known address the same thread asked for two requests before (throttled: one mail a minute). "
        "Latency from the request sent to the answer read, by the client.",
        "",
        "| address | requests | p50 ms | p99 ms | max ms | non-202 |",
        "|---|---|---|---|---|---|",
        *(latency_row(k, latencies[k], failures[k]) for k in (RESET_FIRST, RESET_UNKNOWN, RESET_REPEAT)),
        "",
        f"Known (first) vs unknown: medians {first_median:.2f} vs {unknown_median:.2f} ms (**{spread:+.1%}**). "
        f"Mails: {mailed} of the {len(firsts)} first-time addresses got their reset mail, "
        f"{reset_mails - mailed} got a second one (the repeats must add none).",
        "",
        "### Outbox: from the request to the SMTP server's accept",
        "",
        f"Resets for {outbox['requested']} distinct known addresses at a fixed {OUTBOX_RATE}/s ({OUTBOX_CLIENTS} "
        "connections in turn, each request sent when due), then each mail's accept time at the SMTP server "
        "(when its `DATA` was complete) minus the time the 202 arrived at the client, and minus the time "
        "the request was sent. One clock: the harness's `time.perf_counter()` for the client and the SMTP "
        "server alike. A request wakes the delivery worker when its 202 leaves (at the 150 ms floor), but "
        "the worker sends every mail committed by then whenever it wakes (another request's wake, or its "
        "1 s poll), so at this rate most mails are accepted *before* their own 202 arrives: the first row "
        "is then negative, and the second is the one a user waits through.",
        "",
        "| interval | mails | p50 ms | p99 ms | max ms | non-202 |",
        "|---|---|---|---|---|---|",
        latency_row("202 received → SMTP accept", outbox["from_answer"], outbox["failures"]),
        latency_row("request sent → SMTP accept", outbox["from_sent"], outbox["failures"]),
        "",
        f"Delivered **{outbox['delivered']} of {outbox['requested']}** requested "
        f"({outbox['duplicates']} addresses got more than one).",
        "",
        "### TOTP: the login's second step",
        "",
        f"{TOTP_USERS} users with a confirmed TOTP factor (test mode, bcrypt cost 4 so the password step is "
        f"cheap); {TOTP_CLIENTS} client threads, each on its own kept-alive connection with half the users, log "
        "each of their users in once per round: `POST /auth/login` (untimed; answers `mfa_required` and an "
        "`mfa_token`), then `POST /auth/login/mfa {mfa_token, code}` (timed), the code computed in the "
        "harness (RFC 6238, HMAC-SHA-1) for the server's clock. A code's step is accepted once per user, so "
        "between rounds the test clock moves 30 s on (`POST /test/clock`). The first round is a warm-up "
        "(each user's first login from this client: a new device, a notice mailed); then each login sends "
        f"the device cookie the last one set, as a returning browser does. {totp['rounds']} timed rounds in "
        f"{totp['seconds']:.1f} s; the rate counts the password steps and the clock moves too.",
        "",
        "| request | requests | p50 ms | p99 ms | max ms | non-200 | second steps/s |",
        "|---|---|---|---|---|---|---|",
        latency_row("`POST /auth/login/mfa`", steps, non_200, f" {rate:,.0f} |"),
        "",
    ]
    if totp["statuses"].keys() - {"200"} or totp["password_failures"]:
        out += [f"Answers other than 200: {totp['statuses']}, password steps failed: {totp['password_failures']}.", ""]
    target("(h) reset known vs unknown within 10 %", abs(spread) <= 0.10 and first and unknown,
           f"medians {first_median:.1f} vs {unknown_median:.1f} ms ({spread:+.1%})")
    target("(h) reset: zero non-202, each first-time address mailed once",
           reset_failures == 0 and mailed == len(firsts) and reset_mails == mailed,
           f"{reset_failures} non-202, {mailed} of {len(firsts)} mailed, {reset_mails - mailed} extra")
    target("(h) outbox: every mail delivered", outbox["delivered"] == outbox["requested"] and outbox["failures"] == 0,
           f"{outbox['delivered']} of {outbox['requested']}, 202 → accept p99 "
           f"{percentile(outbox['from_answer'], 99):.1f} ms")
    target("(h) TOTP second step p99 ≤ 10 ms (chosen: a login's second step as quick as a token check)",
           percentile(steps, 99) <= 10 and bool(steps), f"{percentile(steps, 99):.2f} ms over {len(steps)}")
    target("(h) TOTP zero non-200", non_200 == 0 and bool(steps), f"{non_200}")
    return [reset_rss, totp_rss]


# ---------------------------------------------------------------- soak


SOAK_SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
SOAK_SAMPLE_EVERY = 30
SOAK_USERS = 120  # one reset a second: each address every 2 minutes, never throttled
SOAK_ME_CONNECTIONS = 16
SOAK_REFRESH_CONNECTIONS = 8
SOAK_SETTLE = 5


def open_fds(server):
    """(open file descriptors, of which sockets, of which the SQLite
    database's files) of the server process."""
    directory = f"/proc/{server.process.pid}/fd"
    total = sockets = database = 0
    for fd in os.listdir(directory):
        try:
            target_ = os.readlink(os.path.join(directory, fd))
        except OSError:
            continue
        total += 1
        sockets += target_.startswith("socket:")
        database += bool(re.search(r"\.db(-wal|-shm|-journal)?$", target_))
    return total, sockets, database


def socket_peers(server):
    """The server's TCP sockets as `state local→remote` (ports only: all are
    on 127.0.0.1), from /proc/net/tcp and tcp6 by inode; what a change in the
    socket count is."""
    directory = f"/proc/{server.process.pid}/fd"
    inodes = set()
    for fd in os.listdir(directory):
        try:
            target_ = os.readlink(os.path.join(directory, fd))
        except OSError:
            continue
        if target_.startswith("socket:["):
            inodes.add(target_[8:-1])
    states = {"01": "ESTABLISHED", "06": "TIME_WAIT", "08": "CLOSE_WAIT", "0A": "LISTEN", "04": "FIN_WAIT1",
              "05": "FIN_WAIT2", "07": "CLOSE", "09": "LAST_ACK", "0B": "CLOSING"}
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in list(f)[1:]:
                fields = line.split()
                if fields[9] in inodes:
                    local, remote = (int(a.rsplit(":", 1)[1], 16) for a in fields[1:3])
                    found.append(f"{states.get(fields[3], fields[3])} {local}→{remote}")
    with open("/proc/net/unix") as f:
        for line in list(f)[1:]:
            fields = line.split()
            if fields[6] in inodes:
                found.append(f"unix {fields[7] if len(fields) > 7 else '(unnamed)'}")
    return sorted(found)


def log_problems(server):
    """(warnings, errors, a few distinct lines) of the server's log."""
    warnings = errors = 0
    examples = []
    with open(server.err_path, errors="replace") as f:
        for line in f:
            level = re.search(r"\b(WARN|ERROR)\b", line[:80])
            if not level:
                continue
            warnings += level.group(1) == "WARN"
            errors += level.group(1) == "ERROR"
            text = re.sub(r"^\S+\s+", "", line.strip())[:200]
            if len(examples) < 5 and all(text[:60] != e[:60] for e in examples):
                examples.append(text)
    return warnings, errors, examples


def metrics(server):
    """The unlabelled series of `GET /metrics`, {name: value}."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request("GET", "/metrics")
        text = connection.getresponse().read().decode()
    except (OSError, http.client.HTTPException):
        return {}
    finally:
        connection.close()
    found = {}
    for line in text.splitlines():
        match = re.match(r"([a-z_]+) ([0-9.eE+-]+)$", line)
        if match:
            found[match.group(1)] = float(match.group(2))
    return found


class Trickle(threading.Thread):
    """One login (the right password) and one password reset a second,
    alternating every 0.5 s, each on a new connection as a new visitor's;
    the users taken in turn, so each address is asked for every
    SOAK_USERS seconds (never throttled: every reset is mailed)."""

    turn = 0  # shared by every Trickle: the warm-up's addresses are not asked for again at once

    def __init__(self, server, emails, seconds):
        super().__init__(daemon=True)
        self.server, self.emails, self.seconds = server, emails, seconds
        self.counts = {"login": [0, 0, []], "reset": [0, 0, []]}  # requests, non-2xx or failed, ms
        self.resets = []

    def run(self):
        start = time.perf_counter()
        k = 0
        while True:
            due = start + k * 0.5
            if due >= start + self.seconds:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            kind = "login" if k % 2 == 0 else "reset"
            email = self.emails[(Trickle.turn // 2) % len(self.emails)]
            Trickle.turn += 1
            k += 1
            if kind == "login":
                status, took = self.once("POST", "/auth/login", {"email": email, "password": PASSWORD})
            else:
                status, took = self.once("POST", "/auth/password-reset", {"email": email})
                if status == 202:
                    self.resets.append(email)
            counts = self.counts[kind]
            counts[0] += 1
            counts[1] += not 200 <= status < 300
            counts[2].append(took)

    def once(self, method, path, body):
        connection = http.client.HTTPConnection(self.server.host, self.server.port, timeout=30)
        started = time.perf_counter()
        try:
            connection.request(method, path, json.dumps(body), {"content-type": "application/json"})
            response = connection.getresponse()
            response.read()
            return response.status, (time.perf_counter() - started) * 1000
        except (OSError, http.client.HTTPException):
            return 0, (time.perf_counter() - started) * 1000
        finally:
            connection.close()


def soak_load(server, token, emails, seconds, tag, sample=None):
    """`GET /auth/me` (wrk), refresh rotation (wrk, its own sessions) and the
    trickle for `seconds`, at once; `sample(t)` is called every
    SOAK_SAMPLE_EVERY s and near the end. Returns the loads' results."""
    results = {}
    cookies = fresh_cookies(server, SOAK_REFRESH_CONNECTIONS, f"soak-refresh-{tag}@example.com")

    def run(name, drive):
        try:
            results[name] = drive()
        except subprocess.CalledProcessError as e:
            log(f"  {name} failed: {e.stderr[-500:] if e.stderr else e}")
            results[name] = None

    loads = [
        threading.Thread(target=run, args=("me", lambda: wrk(
            server, "/auth/me", seconds, SOAK_ME_CONNECTIONS, threads=2,
            headers=[f"Authorization: Bearer {token}"])), daemon=True),
        threading.Thread(target=run, args=("refresh", lambda: refresh_run(server, cookies, seconds)), daemon=True),
    ]
    trickle = Trickle(server, emails, seconds)
    started = time.perf_counter()
    for t in loads:
        t.start()
    trickle.start()
    if sample:
        times = list(range(SOAK_SAMPLE_EVERY, seconds, SOAK_SAMPLE_EVERY))
        if seconds - 2 > (times[-1] if times else 0):
            times.append(seconds - 2)
        for t in times:
            delay = started + t - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            sample(t)
    for t in loads:
        t.join()
    trickle.join()
    results["trickle"] = trickle
    return results


def soak():
    """SOAK_SECONDS of mixed load on one server (SQLite, mail on); writes
    bench/SOAK.md (a shorter run: /tmp/wristband-soak.md)."""
    out_path = os.path.join(BENCH, "SOAK.md") if SOAK_SECONDS >= 600 else os.path.join(
        tempfile.gettempdir(), "wristband-soak.md")
    log(f"soak: {SOAK_SECONDS} s of mixed load on one server")
    catcher = Catcher()
    # The /auth/me token must outlive the soak (the access token TTL is 10m by default).
    server = wristband("wristband-soak", sqlite_url("soak"), smtp_url=catcher.url,
                       access_ttl=f"{SOAK_SECONDS + 3600}s")
    samples = []

    def sample(label):
        m = metrics(server)
        fds, sockets, database = open_fds(server)
        row = (label, server.rss_mib(), fds, sockets, database, m.get("wristband_db_pool_connections"),
               m.get("wristband_mail_sent_total"), m.get("wristband_mail_failed_total"),
               m.get("wristband_outbox_pending"))
        samples.append(row)
        log(f"  {label}: RSS {row[1]:.1f} MiB, {fds} fds ({sockets} sockets, {database} database files), "
            f"pool {row[5]}, mails sent {row[6]}, failed {row[7]}, pending {row[8]}")

    time.sleep(0.5)
    sample("started, idle")
    token, _ = sign_in(server, "soak-me@example.com")
    emails = [f"soak{i}@example.com" for i in range(SOAK_USERS)]
    for email in emails:
        server.request("POST", "/auth/register", {"email": email, "password": PASSWORD})
    # A short warm-up of the same load, then idle: the baseline holds what the
    # server opens once and keeps (pooled SQLite connections, kept 10 minutes
    # idle by r2d2), so that only what the soak leaves behind counts.
    soak_load(server, token, emails, 5, "warm-up")
    time.sleep(SOAK_SETTLE)
    sample(f"baseline: after a 5 s warm-up and {SOAK_SETTLE} s idle")
    baseline = samples[-1]
    sockets_before = socket_peers(server)
    soak_started = time.perf_counter()
    results = soak_load(server, token, emails, SOAK_SECONDS, "soak", sample=lambda t: sample(f"{t}"))
    loaded = [s for s in samples if s[0].isdigit()]
    time.sleep(SOAK_SETTLE)
    sample(f"after: clients closed, {SOAK_SETTLE} s idle")
    after = samples[-1]
    sockets_after = socket_peers(server)
    log(f"  sockets at the baseline: {sockets_before}; after: {sockets_after}")
    socket_note = (f"The server's sockets at the baseline: {', '.join(sockets_before) or 'none'}; after the "
                   f"clients closed: {', '.join(sockets_after) or 'none'}.")
    trickle = results["trickle"]
    # Every reset answered 202 is mailed (an address comes back every
    # SOAK_USERS s, so count mails, not addresses).
    deadline = time.perf_counter() + 30
    while catcher.count("Reset your", soak_started) < len(trickle.resets) and time.perf_counter() < deadline:
        time.sleep(0.1)
    reset_mails = catcher.count("Reset your", soak_started)
    mails_after = metrics(server)
    server.stop()
    catcher.stop()
    warnings, log_errors, examples = log_problems(server)

    half = min(loaded, key=lambda s: abs(int(s[0]) - SOAK_SECONDS / 2)) if loaded else baseline
    last = loaded[-1] if loaded else after
    growth = last[1] / half[1] - 1 if half[1] else 0.0
    me, refresh = results.get("me"), results.get("refresh")
    rows, errors = [], 0
    for label, r in ((f"`GET /auth/me`, one token, `wrk -t2 -c{SOAK_ME_CONNECTIONS}`", me),
                     (f"`POST /auth/refresh`, {SOAK_REFRESH_CONNECTIONS} connections each rotating its own "
                      f"cookie (`wrk -t{SOAK_REFRESH_CONNECTIONS} -c{SOAK_REFRESH_CONNECTIONS}`, "
                      "`bench/wrk/refresh.lua`)", refresh)):
        if r is None:
            rows.append(f"| {label} | wrk failed | | | | 1 |")
            errors += 1
            continue
        rows.append(f"| {label} | {r['requests']:,} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | "
                    f"{r['errors']} |")
        errors += r["errors"]
    for kind, label in (("login", "`POST /auth/login`, the right password, new connection each"),
                        ("reset", "`POST /auth/password-reset`, a known address, new connection each")):
        n, bad, took = trickle.counts[kind]
        rows.append(f"| {label} | {n:,} | {n / SOAK_SECONDS:.2f} | {statistics.median(took) if took else 0:.2f} | "
                    f"{percentile(took, 99):.2f} | {bad} |")
        errors += bad
    targets = []

    def soak_target(label, ok, detail):
        targets.append(f"| {label} | {detail} | {'met' if ok else '**not met**'} |")

    soak_target("zero non-2xx and socket errors, every load", errors == 0, f"{errors}")
    soak_target("RSS growth over the second half < 5 %", growth < 0.05,
                f"{half[1]:.1f} MiB at {half[0]} s → {last[1]:.1f} MiB at {last[0]} s ({growth:+.1%})")
    # The pool keeps a connection it opened under load (r2d2: 10 minutes
    # idle), and each SQLite connection holds 2 fds (the database and its
    # WAL): those are allowed for, nothing else.
    pool_growth = max(0, (after[5] or 0) - (baseline[5] or 0))
    other_before, other_after = baseline[2] - baseline[4], after[2] - after[4]
    soak_target("open fds after the clients closed ≤ the baseline (+ 2 per pooled SQLite connection opened "
                "since: its database and WAL files)",
                other_after <= other_before and after[4] <= baseline[4] + 2 * pool_growth,
                f"{baseline[2]} → {after[2]}: sockets and the rest {other_before} → {other_after}, the "
                f"database's files {baseline[4]} → {after[4]} with the pool at {baseline[5] or 0:.0f} → "
                f"{after[5] or 0:.0f} connections")
    soak_target("every reset mailed", reset_mails == len(trickle.resets),
                f"{reset_mails} of {len(trickle.resets)}")
    git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True)
    out = [
        "# Soak",
        "",
        f"Written by `bench/run.sh --soak` (`SOAK_SECONDS={SOAK_SECONDS}`) on "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC at commit {git.stdout.strip() or '?'}.",
        "",
        versions(),
        "",
        f"One Wristband server on SQLite, mail on (`WRISTBAND_SMTP_URL` at an aiosmtpd server in the harness), "
        f"bcrypt cost 4, for {SOAK_SECONDS} s at once: `GET /auth/me` with one valid token (`wrk -t2 "
        f"-c{SOAK_ME_CONNECTIONS}`), refresh rotation on {SOAK_REFRESH_CONNECTIONS} connections each following "
        "its own session's cookie (as in (b)), and from one Python thread a login with the right password and "
        f"a password reset each second, alternating, each on a new connection, over {SOAK_USERS} accounts in "
        "turn (each address every two minutes: every reset is mailed; the logins, from clients without a "
        "device cookie, mail new-sign-in notices). Before it, a 5 s warm-up of the same load and "
        f"{SOAK_SETTLE} s idle: the baseline holds what the server opens once and keeps (the pooled SQLite "
        "connections, which r2d2 keeps 10 minutes when idle), so a difference after is what the load left "
        f"behind. Samples every {SOAK_SAMPLE_EVERY} s (and near the end) of the server's RSS "
        "(`/proc/PID/status` VmRSS), its open file descriptors (`/proc/PID/fd`; sockets and the SQLite database's files "
        "counted apart) and, from `/metrics`, the pooled database connections and the mails; after the "
        f"load, {SOAK_SETTLE} s idle and a last sample.",
        "",
        "| t (s) | RSS MiB | open fds | of which sockets | of which the database's files | pooled DB connections "
        "| mails sent | mail attempts failed | outbox pending |",
        "|---|---|---|---|---|---|---|---|---|",
        *(f"| {label} | {rss:.1f} | " + " | ".join("?" if v is None else f"{v:.0f}" for v in rest) + " |"
          for label, rss, *rest in samples),
        "",
        "| load | requests | per second | p50 ms | p99 ms | non-2xx + socket errors |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Reset mails received: {reset_mails} of {len(trickle.resets)} resets answered 202 during the soak "
        f"(mails sent in all, verification and notices included: "
        f"{mails_after.get('wristband_mail_sent_total', 0):.0f}; failed attempts: "
        f"{mails_after.get('wristband_mail_failed_total', 0):.0f}).",
        "",
        f"The server's log: {warnings} warnings, {log_errors} errors"
        + (": " + "; ".join(f"`{e}`" for e in examples) if examples else "") + ".",
        "",
        socket_note,
        "",
        "## Targets",
        "",
        "| target | measured | |",
        "|---|---|---|",
        *targets,
        "",
    ]
    with open(out_path, "w") as f:
        f.write("\n".join(out))
    log("\n".join(out))
    log(f"written: {out_path}")


# ---------------------------------------------------------------- main


def postgres_database():
    """A fresh database for (b), or None if PostgreSQL cannot be reached."""
    name = f"wristband_bench_{os.getpid()}"
    try:
        subprocess.run(["psql", PG_URL + "/postgres", "-qc", f"CREATE DATABASE {name}"],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        log(f"PostgreSQL is not reachable at {PG_URL}: {e}")
        return None, None
    # Loopback: TLS (libpq's default `prefer`) would only add work.
    return f"{PG_URL}/{name}?sslmode=disable", name


def versions():
    def first_line(command):
        try:
            done = subprocess.run(command, capture_output=True, text=True)
            return (done.stdout or done.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "?"
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    kernel = platform.release()
    return (f"Machine: {cpu}, {platform.machine()}, {CORES} cores (the load generator shares them), "
            f"Linux {kernel}. {first_line(['rustc', '--version'])}; {first_line(['wrk', '--version'])}; "
            f"Node {first_line(['node', '--version'])}; {first_line(['psql', '--version'])}; "
            f"SQLite {sqlite3.sqlite_version} (Python's; Wristband bundles its own).")


def main():
    out_path = os.path.join(BENCH, "RESULTS.md")
    if SMOKE:
        out_path = os.path.join(tempfile.gettempdir(), "wristband-bench-smoke.md")
    elif os.environ.get("BENCH_ONLY"):
        # A partial run never replaces the full results.
        out_path = os.path.join(tempfile.gettempdir(), "wristband-bench-partial.md")
    git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True)
    out = [
        "# Benchmark results" + (" (smoke run: one short round, not a measurement)" if SMOKE else ""),
        "",
        f"Written by `bench/run.sh` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC "
        f"at commit {git.stdout.strip() or '?'}; {ROUNDS} alternating rounds of {DURATION} s per system; "
        "medians, with min–max of req/s. Server CPU per request is the server process's user + system "
        "time (from `/proc/PID/stat`) over the requests served. RSS idle is read before the load, *after* "
        "at the end of the workload.",
        "",
        versions(),
        "",
    ]
    postgres_url, postgres_name = postgres_database()
    rss = []
    # BENCH_ONLY=a,b,c,e,f,g,h runs some workloads only (while working on one).
    only = set(os.environ.get("BENCH_ONLY", "a,b,c,e,f,g,h").split(","))
    try:
        if "a" in only:
            rss += workload_a(out)[1]
        if "b" in only:
            rss += workload_b(out, postgres_url)
        if "c" in only:
            rss += workload_cd(out)
        if "e" in only:
            rss += workload_e(out)
        if "f" in only:
            rss += workload_f(out)
        if "g" in only:
            rss += workload_g(out)
        if "h" in only:
            rss += workload_h(out)
    finally:
        for server in SERVERS:
            server.stop()
        if postgres_name:
            subprocess.run(["psql", PG_URL + "/postgres", "-qc", f"DROP DATABASE IF EXISTS {postgres_name}"],
                           capture_output=True)
    ours = [(n, i, a) for n, i, a in rss if n.startswith("wristband")]
    if ours:
        out += ["## Memory", "", "| process | RSS idle (MiB) | RSS after its runs (MiB) |", "|---|---|---|"]
        out += [f"| {name} | {idle:.1f} | {after:.1f} |" for name, idle, after in rss]
        idle_max = max(i for _, i, _ in ours)
        after_max = max(a for _, _, a in ours)
        out.append("")
        target("RSS ≤ 20 MB idle", idle_max <= 20, f"{idle_max:.1f} MiB at most")
        target("RSS ≤ 64 MB after the runs", after_max <= 64, f"{after_max:.1f} MiB at most")
    if not SMOKE:
        out += ["## Targets", "", "| target | measured | |", "|---|---|---|", *TARGETS, ""]
    with open(out_path, "w") as f:
        f.write("\n".join(out))
    log("\n".join(out))
    log(f"written: {out_path}")


def profile(name, workload, seconds=10):
    """A CPU profile of the server under one workload: `perf record -e
    cpu-clock` (a software clock, so it works where hardware counters are not
    exposed) while wrk drives it; written to bench/profiles/NAME.txt."""
    postgres_name = None
    if workload == "refresh-postgres":
        url, postgres_name = postgres_database()
        if url is None:
            sys.exit("PostgreSQL is not reachable")
    else:
        url = sqlite_url("profile")
    grown = re.fullmatch(r"me-(\d+)k", workload)
    if grown:
        # `me-1000k`: /auth/me with WARM_TOKENS tokens over that many thousand
        # seeded sessions, as in workload (e).
        path = url.removeprefix("sqlite://")
        subprocess.run([WRISTBAND, "migrate"], check=True, capture_output=True,
                       env={**os.environ, "WRISTBAND_DATABASE_URL": url, "WRISTBAND_JWT_SECRET": SECRET})
        pairs = seed(path, int(grown.group(1)) * 1000)
        step = max(1, len(pairs) // WARM_TOKENS)
        tokens = lines_file("profile-tokens", [access_token(u, s) for u, s in pairs[::step][:WARM_TOKENS]])
    server = wristband("wristband-profile", url)
    try:
        if grown:
            drive = lambda: wrk(server, "/auth/me", seconds, CONNECTIONS, script="tokens.lua", lines=tokens)
        elif workload == "me":
            token, _ = sign_in(server)
            drive = lambda: wrk(server, "/auth/me", seconds, CONNECTIONS,
                                headers=[f"Authorization: Bearer {token}"])
        elif workload.startswith("refresh"):
            cookies = fresh_cookies(server, REFRESH_CONNECTIONS)
            drive = lambda: refresh_run(server, cookies, seconds)
        else:
            sys.exit(f"unknown workload {workload!r}: me, me-NNNk, refresh-sqlite or refresh-postgres")
        data = os.path.join(WORK, "perf.data")
        perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "1000", "--call-graph", "dwarf,8192",
                                 "-p", str(server.process.pid), "-o", data, "--", "sleep", str(seconds)],
                                stderr=subprocess.DEVNULL)
        result = drive()
        perf.wait()
        log_bytes = os.path.getsize(server.err_path)
        if os.environ.get("BENCH_KEEP_PERF"):
            subprocess.run(["cp", data, os.environ["BENCH_KEEP_PERF"]])
    finally:
        server.stop()
        if postgres_name:
            subprocess.run(["psql", PG_URL + "/postgres", "-qc", f"DROP DATABASE IF EXISTS {postgres_name}"],
                           capture_output=True)

    def report(*sort, children=False, limit=40):
        text = subprocess.run(["perf", "report", "-i", data, "--stdio", "-g", "none", "--percent-limit", "0.3",
                               "--children" if children else "--no-children", "--sort", ",".join(sort)],
                              capture_output=True, text=True).stdout
        rows = [re.sub(r"\s+", " ", line).strip() for line in text.splitlines()
                if line.strip() and not line.startswith("#")]
        return rows[:limit]

    git = subprocess.run(["git", "-C", ROOT, "describe", "--always", "--dirty"], capture_output=True, text=True)
    lines = [
        f"# profile {name}: workload {workload}, {seconds} s, git {git.stdout.strip()}, "
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"# wrk: {result['rps']:,.0f} req/s, p50 {result['p50']:.2f} ms, p99 {result['p99']:.2f} ms, "
        f"server CPU {result['cpu_us']:.1f} µs/req, {result['errors']} errors; log {log_bytes:,} bytes",
        "# perf record -e cpu-clock -F 1000 --call-graph dwarf on the server, perf report",
        "", "## by thread", *report("comm", limit=6),
        "", "## by symbol (self)", *report("dso", "symbol"),
        "", "## by symbol (with callees), Wristband's own frames",
        *[r for r in report("symbol", children=True, limit=400) if "wristband::" in r][:30],
    ]
    os.makedirs(os.path.join(BENCH, "profiles"), exist_ok=True)
    path = os.path.join(BENCH, "profiles", f"{name}.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    log("\n".join(lines))


if __name__ == "__main__":
    try:
        if len(sys.argv) >= 4 and sys.argv[1] == "--profile":
            profile(sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 10)
        elif "--soak" in sys.argv:
            soak()
        else:
            main()
    finally:
        for server in SERVERS:
            server.stop()
        subprocess.run(["rm", "-rf", WORK])
