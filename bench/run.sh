#!/usr/bin/env bash
# Wristband's benchmark: builds the release binaries and the peers, makes sure
# wrk, Node.js and PostgreSQL are there, then runs bench/harness.py, which
# writes bench/RESULTS.md. Usage: bench/run.sh [--smoke | --soak]
#   --smoke   one short round of every workload (seconds), results to a
#             temporary file, no targets judged: CI runs this so it cannot rot.
#   --soak    instead of the workloads, one server under mixed load for
#             SOAK_SECONDS (600), sampling its RSS and open fds: bench/SOAK.md
#             (a shorter run writes /tmp/wristband-soak.md). Not run by CI.
# Environment: ROUNDS (3), DURATION (10 s), CONNECTIONS (64),
# BENCH_POSTGRES_URL (postgres://postgres@127.0.0.1:5432), SOAK_SECONDS (600).
# Everything runs on 127.0.0.1; only the package registries are contacted.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
command -v psql >/dev/null || need+=(postgresql-client)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# PostgreSQL for workload (b): started if it is installed here but down.
pg_url="${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
if ! psql "$pg_url/postgres" -qtc 'SELECT 1' >/dev/null 2>&1 && command -v pg_lsclusters >/dev/null; then
    pg_lsclusters --no-header | while read -r version cluster _; do
        pg_ctlcluster "$version" "$cluster" start || true
    done
fi

# The SMTP server that workload (h) and the soak send mail to (in-process).
python3 -c 'import aiosmtpd' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check aiosmtpd

cargo build --release --quiet
case " $* " in
*" --soak "*) ;;  # the soak needs Wristband alone
*)
    (cd bench/peers/floor && CARGO_TARGET_DIR=../../../target/bench-floor cargo build --release --quiet)
    (cd bench/load && CARGO_TARGET_DIR=../../target/bench-load cargo build --release --quiet)
    (cd bench/peers/express && npm ci --silent --no-audit --no-fund)
    ;;
esac

exec python3 bench/harness.py "$@"
