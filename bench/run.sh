#!/usr/bin/env bash
# Wristband's benchmark. So far: workload (a), authenticated GET /auth/me,
# Wristband against the floor peer (one HS256 verify, no database), A B A B …
# for ROUNDS rounds of DURATION seconds each with wrk on 127.0.0.1, then
# bench/RESULTS.md. Usage: bench/run.sh [--smoke]   (env: ROUNDS, DURATION,
# CONNECTIONS). Everything runs on this machine; nothing else is contacted.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${ROUNDS:-3}"; duration="${DURATION:-10}"; connections="${CONNECTIONS:-64}"
results=bench/RESULTS.md
if [ "${1:-}" = "--smoke" ]; then rounds=1; duration=2; results=$(mktemp); fi

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet
(cd bench/peers/floor && CARGO_TARGET_DIR=../../../target/bench-floor cargo build --release --quiet)

dir=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT

secret=$(head -c 36 /dev/urandom | base64 | tr -d '/+=' | head -c 48)
start() { # start NAME COMMAND… : waits for "… listening on URL", sets $url and $pid
    "${@:2}" >"$dir/$1.out" 2>"$dir/$1.err" &
    pid=$!; pids+=("$pid")
    for _ in $(seq 1 200); do [ -s "$dir/$1.out" ] && break; sleep 0.05; done
    url=$(head -n 1 "$dir/$1.out" | sed -n 's/^.* listening on //p')
    [ -n "$url" ] || { echo "$1 did not start" >&2; cat "$dir/$1.err" >&2; exit 1; }
}

WRISTBAND_JWT_SECRET="$secret" WRISTBAND_BIND=127.0.0.1:0 WRISTBAND_DATABASE_URL="sqlite://$dir/w.db" \
WRISTBAND_ACCESS_TTL=1h WRISTBAND_BCRYPT_COST=4 WRISTBAND_RATE_LIMIT_PER_MINUTE=1000000 \
    start wristband target/release/wristband serve
wristband_url=$url; wristband_pid=$pid
WRISTBAND_JWT_SECRET="$secret" start floor target/bench-floor/release/wristband-bench-floor
floor_url=$url; floor_pid=$pid

body='{"email":"bench@example.com","password":"correct horse battery"}'
curl -sf -X POST -H 'content-type: application/json' -d "$body" "$wristband_url/auth/register" >/dev/null
token=$(curl -sf -X POST -H 'content-type: application/json' -d "$body" "$wristband_url/auth/login" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
curl -sf -H "Authorization: Bearer $token" "$wristband_url/auth/me" >/dev/null
curl -sf -H "Authorization: Bearer $token" "$floor_url/auth/me" >/dev/null

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
declare -A idle_rss=([wristband]=$(rss_kib "$wristband_pid") [floor]=$(rss_kib "$floor_pid"))

: >"$dir/runs"
for round in $(seq 1 "$rounds"); do
    for system in wristband floor; do
        eval "target=\$${system}_url; pid=\$${system}_pid"
        before=$(cpu_ticks "$pid")
        wrk -t2 -c"$connections" -d"${duration}s" --latency -H "Authorization: Bearer $token" \
            "$target/auth/me" >"$dir/wrk.txt"
        after=$(cpu_ticks "$pid")
        python3 - "$system" "$round" "$((after - before))" "$(getconf CLK_TCK)" "$dir/wrk.txt" >>"$dir/runs" <<'PY'
import re, sys
system, round_, ticks, hz, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
text = open(path).read()
def ms(value):
    match = re.match(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:
        sys.exit(f"cannot read a latency of {value!r} in:\n{text}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
requests = int(re.search(r"(\d+) requests in", text).group(1))
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
p99 = ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errors = int(errors.group(1)) if errors else 0
cpu_us = ticks / hz * 1e6 / max(requests, 1)
print(f"{system} {round_} {rps:.0f} {p50:.3f} {p99:.3f} {cpu_us:.2f} {errors}")
PY
        echo "round $round $system: $(tail -n 1 "$dir/runs")"
    done
done
declare -A load_rss=([wristband]=$(rss_kib "$wristband_pid") [floor]=$(rss_kib "$floor_pid"))

python3 - "$dir/runs" "$results" "$rounds" "$duration" "$connections" \
    "${idle_rss[wristband]}" "${load_rss[wristband]}" "${idle_rss[floor]}" "${load_rss[floor]}" <<'PY'
import platform, statistics, subprocess, sys, datetime
runs, out, rounds, duration, connections = sys.argv[1:6]
rss = {"wristband": (int(sys.argv[6]), int(sys.argv[7])), "floor": (int(sys.argv[8]), int(sys.argv[9]))}
rows = {}
for line in open(runs):
    system, _, rps, p50, p99, cpu, errors = line.split()
    rows.setdefault(system, []).append((float(rps), float(p50), float(p99), float(cpu), int(errors)))
def col(system, i):
    return [r[i] for r in rows[system]]
cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
wrk = (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else "wrk"
lines = [
    "# Benchmark results",
    "",
    f"Written by `bench/run.sh` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC.",
    f"Machine: {cpu_model}, {platform.machine()}, {__import__('os').cpu_count()} cores (the load generator shares them); {rustc}; {wrk}.",
    "",
    f"## (a) authenticated `GET /auth/me`",
    "",
    f"`wrk -t2 -c{connections} -d{duration}s --latency`, {rounds} alternating rounds (A B A B …), medians and min–max.",
    "",
    "| system | req/s median | req/s min–max | p50 ms | p99 ms | server CPU µs/req | non-2xx | RSS idle → after (MiB) |",
    "|---|---|---|---|---|---|---|---|",
]
for system in ("wristband", "floor"):
    rps = col(system, 0)
    lines.append(
        f"| {system} | {statistics.median(rps):,.0f} | {min(rps):,.0f}–{max(rps):,.0f} | "
        f"{statistics.median(col(system, 1)):.2f} | {statistics.median(col(system, 2)):.2f} | "
        f"{statistics.median(col(system, 3)):.1f} | {sum(col(system, 4))} | "
        f"{rss[system][0] / 1024:.1f} → {rss[system][1] / 1024:.1f} |"
    )
ratio = statistics.median(col("wristband", 0)) / statistics.median(col("floor", 0))
lines += ["", f"Wristband / floor: **{ratio:.0%}** of the floor's throughput.", ""]
open(out, "w").write("\n".join(lines))
print("\n".join(lines))
PY
