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
WRISTBAND = os.path.join(ROOT, "target/release/wristband")
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
    floor = Server("floor", [FLOOR], {"WRISTBAND_JWT_SECRET": SECRET})
    tutorial = Server("express-tutorial", ["node", "server.js"], {"JWT_SECRET": SECRET, "JWT_KEY": "string"}, EXPRESS)
    tuned = Server("express-tuned", ["node", "server.js"], {"JWT_SECRET": SECRET, "JWT_KEY": "keyobject"}, EXPRESS)
    tokens = {"wristband": token, "floor": token}
    for name, peer in (("express-tutorial", tutorial), ("express-tuned", tuned)):
        tokens[name], _ = sign_in_express(peer)
    systems = {"wristband": ours, "floor": floor, "express-tutorial": tutorial, "express-tuned": tuned}
    paths = {"wristband": "/auth/me", "floor": "/auth/me", "express-tutorial": "/api/me", "express-tuned": "/api/me"}
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
        "process; *tutorial* verifies with the secret as a string, *tuned* with a `KeyObject` built once.",
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
    target("(a) ≥ 60 % of the floor", floor_ratio >= 0.60, f"{floor_ratio:.0%}")
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

    def run_once(server):
        name = next(n for n, s in systems.items() if s is server)
        rounds[name] += 1
        email = f"bench{rounds[name]}@example.com"
        return refresh_run(server, fresh_cookies(server, REFRESH_CONNECTIONS, email), DURATION)

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
    goals = {"SQLite": 10_000, "PostgreSQL": 4_500}
    for name, s in results.items():
        target(f"(b) {name} ≥ {goals[name]:,} rotations/s", s["rps"] >= goals[name], f"{s['rps']:,.0f}/s")
        target(f"(b) {name} p99 ≤ 10 ms", s["p99"] <= 10, f"{s['p99']:.2f} ms")
        target(f"(b) {name} zero non-2xx", s["errors"] == 0, f"{s['errors']}")
    if not postgres_url:
        out += ["PostgreSQL was not reachable: its row is missing.", ""]
    else:
        ceiling = pgbench_ceiling(postgres_url)
        if ceiling:
            out += [
                f"For scale, PostgreSQL's own ceiling here for a rotation's three statements (the pool's "
                f"`SELECT 1` check-out test, the session-and-user read, the compare-and-swap `UPDATE`) from "
                f"{REFRESH_CONNECTIONS} pgbench clients, no HTTP and no tokens: **{ceiling:,.0f} per second**.",
                "",
            ]
    rss = [(f"wristband (b) {n}", s.idle_rss, s.rss_mib()) for n, s in systems.items()]
    for server in systems.values():
        server.stop()
    return rss


def pgbench_ceiling(url):
    """Transactions/s of a rotation's statements run by pgbench alone (its own
    table, in the benchmark's database), or None without pgbench."""
    script = lines_file("rotation.sql", [
        "\\set id random(1, 16)",
        "SELECT 1;",
        "SELECT * FROM bench_rotation WHERE id = :id;",
        "UPDATE bench_rotation SET generation = generation + 1, rotated_at = now() WHERE id = :id;",
    ])
    try:
        subprocess.run(["psql", url, "-qc", "CREATE TABLE bench_rotation (id int PRIMARY KEY, generation bigint, "
                        "rotated_at timestamp); INSERT INTO bench_rotation SELECT i, 1, now() FROM "
                        "generate_series(1, 16) i"], check=True, capture_output=True)
        done = subprocess.run(["pgbench", "-n", f"-c{REFRESH_CONNECTIONS}", "-j2", f"-T{DURATION}", "-f", script, url],
                              check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
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
    # BENCH_ONLY=a,b,c,e,f,g runs some workloads only (while working on one).
    only = set(os.environ.get("BENCH_ONLY", "a,b,c,e,f,g").split(","))
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
        else:
            main()
    finally:
        for server in SERVERS:
            server.stop()
        subprocess.run(["rm", "-rf", WORK])
