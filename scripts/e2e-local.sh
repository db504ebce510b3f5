#!/usr/bin/env bash
# Serves every HTTP function locally with `cargo lambda watch` and drives the
# runbook's API flow with curl: health, upload lots and sales, start a run, poll it,
# export the journal, roll back, list. Each response's status is checked; any
# surprise stops the script with the response printed.
#
# Locally there is no JWT authorizer, so the functions run in development mode
# (COGS_DEV_TENANT_HEADER=true) and take the tenant from X-Tenant-Id. The database is
# a fresh `cogs_e2e`, cloned from the migrated test template. Installs cargo-lambda
# from PyPI when it is missing. Safe to run again; prompts for nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

port=${COGS_E2E_PORT:-9131}
base="http://127.0.0.1:$port/lambda-url"
tenant=acme-corp

if ! cargo lambda --version >/dev/null 2>&1; then
  say "installing cargo-lambda (pip install cargo-lambda)"
  python3 -m pip install --quiet --disable-pip-version-check cargo-lambda
  export PATH="$(python3 -m site --user-base)/bin:$PATH"
fi

say "preparing a fresh database cogs_e2e from the test template"
as_superuser psql -q -v ON_ERROR_STOP=1 -d postgres -c "drop database if exists cogs_e2e with (force)" \
  -c "create database cogs_e2e template cogs_test_template owner cogs_owner"

say "serving the functions with cargo lambda watch on port $port"
log=${COGS_E2E_LOG:-$(mktemp)}
DATABASE_URL="postgres://cogs_api:cogs_api@$COGS_PGHOST:$COGS_PGPORT/cogs_e2e" COGS_DEV_TENANT_HEADER=true RUST_LOG=${RUST_LOG:-warn} \
  cargo lambda watch --ignore-changes -A 127.0.0.1 -P "$port" >"$log" 2>&1 &
watcher=$!
trap 'kill $watcher 2>/dev/null; pkill -P $watcher 2>/dev/null || true' EXIT

# call METHOD FUNCTION PATH EXPECTED_STATUS [curl args…]: prints the body. The tenant
# is acme-corp unless as_tenant says otherwise.
call() {
  local method=$1 function=$2 path=$3 expected=$4
  shift 4
  local out status
  out=$(mktemp)
  status=$(curl -sS -o "$out" -w '%{http_code}' -X "$method" -H "X-Tenant-Id: ${as_tenant:-$tenant}" "$@" "$base/$function$path")
  if [ "$status" != "$expected" ]; then
    echo "FAILED: $method $path answered $status, expected $expected:" >&2
    cat "$out" >&2
    exit 1
  fi
  printf '%s %s -> %s\n' "$method" "$path" "$status" >&2
  cat "$out"
}

say "waiting for the functions to build and answer /health"
for _ in $(seq 1 180); do
  curl -sf "$base/cogs-list/health" >/dev/null 2>&1 && break
  kill -0 $watcher 2>/dev/null || { cat "$log"; exit 1; }
  sleep 1
done
for function in cogs-upload cogs-run cogs-list cogs-rollback cogs-journal-export; do
  call GET "$function" /health 200 >/dev/null
done

say "the runbook's flow"
call POST cogs-upload /api/v1/files/lots 201 -F "tenant_id=$tenant" -F "file=@examples/lots.csv"; echo
call POST cogs-upload /api/v1/files/sales 201 -H 'Content-Type: text/csv' --data-binary @examples/sales.csv; echo
started=$(call POST cogs-run /api/v1/runs 202 -H 'Content-Type: application/json' -d '{"mode": "fifo"}')
echo "$started"
run_id=$(printf '%s' "$started" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["run_id"])')
run=$(call GET cogs-list "/api/v1/runs/$run_id" 200)
printf '%s' "$run" | python3 -c '
import json, sys
run = json.load(sys.stdin)
assert run["status"] == "completed", run
assert run["total_cogs"] == "2310.9375", run
print("run", run["run_id"], run["status"], "total_cogs", run["total_cogs"])'
call GET cogs-journal-export "/api/v1/runs/$run_id/journal-entry?format=xero&group_by=sku" 200
call GET cogs-list "/api/v1/runs?status=completed&limit=5" 200 >/dev/null
call POST cogs-rollback "/api/v1/runs/$run_id/rollback" 200 >/dev/null
call GET cogs-journal-export "/api/v1/runs/$run_id/journal-entry?format=csv&group_by=none" 200
call GET cogs-list /api/v1/runs 200 | python3 -c '
import json, sys
runs = json.load(sys.stdin)["runs"]
assert [r["status"] for r in runs] == ["rolled_back"], runs
print("list: one run,", runs[0]["status"])'
as_tenant=tenant-b call GET cogs-list "/api/v1/runs/$run_id" 404 >/dev/null
say "end to end: ok"
