#!/usr/bin/env bash
# A bounded load test of the HTTP functions on loopback, and their cold start.
#
# Serves the functions with `cargo lambda watch --release` on a fresh database
# `cogs_load` seeded with the examples (a run costed and rolled back ten times, then
# costed once more: eleven runs to list). Cold start: for each HTTP function, the
# time from the emulator spawning its (already built) process to the first answer of
# GET /health, taken from the first request's total time; then a warm /health for
# comparison. Load: wrk against the list and show endpoints, DURATION seconds each at
# CONNECTIONS connections; any non-2xx answer or socket error fails the script. Prints
# the latency distribution (p50, p90, p99) and requests per second.
#
#   scripts/load-test.sh [DURATION=20] [CONNECTIONS=32]
#
# Installs wrk (Debian) and cargo-lambda (PyPI) when missing. Safe to run again;
# prompts for nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

duration=${1:-20}
connections=${2:-32}
port=${COGS_LOAD_PORT:-9141}
base="http://127.0.0.1:$port/lambda-url"
tenant=acme-corp
ensure_command wrk wrk
ensure_cargo_lambda
scripts/setup-db.sh --test >/dev/null

say "a fresh database cogs_load, seeded with the examples"
as_superuser psql -q -v ON_ERROR_STOP=1 -d postgres -c "drop database if exists cogs_load with (force)" \
  -c "create database cogs_load template cogs_test_template owner cogs_owner"
export DATABASE_URL="postgres://cogs_api:cogs_api@$COGS_PGHOST:$COGS_PGPORT/cogs_load" COGS_TENANT_ID=$tenant COGS_ACTOR=load-test
cargo build --release --locked --quiet -p cogs-cli -p cogs-upload -p cogs-run -p cogs-list -p cogs-rollback -p cogs-journal-export
cogs=target/release/cogs
"$cogs" upload lots examples/lots.csv >/dev/null
"$cogs" upload sales examples/sales.csv >/dev/null
for _ in $(seq 1 10); do
  "$cogs" run >/dev/null
  "$cogs" rollback "$("$cogs" list-runs --limit 1 --format json | sed -n 's/^ *"run_id": "\(.*\)",$/\1/p' | head -n 1)" --confirm >/dev/null
done
"$cogs" run >/dev/null
run_id=$("$cogs" list-runs --limit 1 --format json | sed -n 's/^ *"run_id": "\(.*\)",$/\1/p' | head -n 1)

say "serving the functions (release) with cargo lambda watch on port $port"
log=$(mktemp)
COGS_DEV_TENANT_HEADER=true RUST_LOG=warn cargo lambda watch --release --ignore-changes -A 127.0.0.1 -P "$port" >"$log" 2>&1 &
watcher=$!
trap 'kill $watcher 2>/dev/null; pkill -P $watcher 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -s -o /dev/null "http://127.0.0.1:$port/" && break
  kill -0 $watcher 2>/dev/null || { cat "$log"; exit 1; }
  sleep 1
done

say "cold start: first and second GET /health of each function (seconds)"
printf '%-22s %8s %8s\n' function first warm
for function in cogs-upload cogs-run cogs-list cogs-rollback cogs-journal-export; do
  first=$(curl -sf -o /dev/null -w '%{time_total}' "$base/$function/health")
  warm=$(curl -sf -o /dev/null -w '%{time_total}' "$base/$function/health")
  printf '%-22s %8s %8s\n' "$function" "$first" "$warm"
done

failed=0
for path in "/api/v1/runs?limit=20" "/api/v1/runs/$run_id"; do
  say "wrk: GET $path, $connections connections, $duration s"
  out=$(wrk -t 2 -c "$connections" -d "${duration}s" --latency -H "X-Tenant-Id: $tenant" "$base/cogs-list$path")
  printf '%s\n' "$out" | grep -E 'Latency  |50%|90%|99%|Requests/sec|requests in|Non-2xx|Socket errors'
  if printf '%s' "$out" | grep -qE 'Non-2xx|Socket errors'; then
    failed=1
  fi
done
[ "$failed" = 0 ] || { echo "FAILED: some requests were answered with errors" >&2; exit 1; }
say "load test passed: no errors"
