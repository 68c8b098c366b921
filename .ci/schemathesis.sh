#!/usr/bin/env bash
# Runs schemathesis against a live release server with its own /openapi.json,
# for a bounded time: no 5xx, and every response conforms to the document
# (status, content type, headers, schema; undeclared methods get 405 with
# Allow; schema-invalid requests are refused). Two passes: as an admin (the
# operations that would end the admin's own session are left out, so the
# token stays valid), then anonymously over every operation.
# One worker: with two threads, hypothesis's ast.parse trips CPython 3.11's
# "AST constructor recursion depth mismatch" (a crash of the tool, not a
# finding). Usage: .ci/schemathesis.sh [SECONDS-PER-PASS]
set -euo pipefail
cd "$(dirname "$0")/.."
budget="${1:-60}"

command -v schemathesis >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check schemathesis

dir=$(mktemp -d)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

WRISTBAND_BIND=127.0.0.1:0 \
WRISTBAND_DATABASE_URL="sqlite://$dir/wristband.db" \
WRISTBAND_BCRYPT_COST=4 \
WRISTBAND_SMTP_URL=smtp://127.0.0.1:9 \
WRISTBAND_RATE_LIMIT_PER_MINUTE=1000000 \
WRISTBAND_ADMIN_EMAIL=admin@example.com \
WRISTBAND_ADMIN_PASSWORD='correct horse battery' \
RUST_LOG=warn \
    target/release/wristband serve >"$dir/out" 2>"$dir/err" &
server_pid=$!
for _ in $(seq 1 100); do [ -s "$dir/out" ] && break; sleep 0.1; done
url=$(head -n 1 "$dir/out" | sed -n 's/^wristband listening on //p')
[ -n "$url" ] || { echo "the server did not start" >&2; cat "$dir/err" >&2; exit 1; }

token=$(curl -sf -X POST -H 'content-type: application/json' \
    -d '{"email":"admin@example.com","password":"correct horse battery"}' "$url/auth/login" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,unsupported_method,negative_data_rejection

echo "-- schemathesis as an admin ($budget s)"
schemathesis --config-file .ci/schemathesis.toml run "$url/openapi.json" --checks "$checks" --max-time "$budget" --workers 1 \
    --exclude-path /auth/logout-all --exclude-path /auth/password --exclude-path /auth/logout \
    -H "Authorization: Bearer $token" --warnings off --seed 1

echo "-- schemathesis anonymously ($budget s)"
schemathesis --config-file .ci/schemathesis.toml run "$url/openapi.json" --checks "$checks" --max-time "$budget" --workers 1 \
    --warnings off --seed 2
