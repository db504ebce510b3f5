#!/usr/bin/env bash
# Serves every function locally with `cargo lambda watch` and drives the runbook's
# API flow with curl: health; lots uploaded directly; sales as a large file (presigned
# URL from the API, PUT to the local S3 server, the object-created event delivered to
# the upload-events function); a run started by the API and carried on by worker
# invocations, as the state machine would; poll, journal, rollback, list; then the
# operations scripts; then Schemathesis against every function
# (scripts/contract-local.sh), for a tenant of its own with a completed run. Each
# response's status is checked; any surprise stops the script with the response printed.
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

ensure_cargo_lambda

fresh_database cogs_e2e
scripts/s3-local.sh
s3=http://127.0.0.1:${COGS_S3_PORT:-5055}
bucket=cogs-e2e
local_bucket $bucket

say "serving the functions with cargo lambda watch on port $port"
log=${COGS_E2E_LOG:-$(mktemp)}
# No inline costing and tiny chunks: the API starts the run, the worker finishes it.
DATABASE_URL="postgres://cogs_api:cogs_api@$COGS_PGHOST:$COGS_PGPORT/cogs_e2e" COGS_DEV_TENANT_HEADER=true RUST_LOG=${RUST_LOG:-warn} \
  COGS_BUCKET=$bucket COGS_S3_ENDPOINT=$s3 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=testtesttest AWS_REGION=us-east-1 \
  COGS_INLINE_RUN_MS=0 COGS_CHUNK_SIZE=2 COGS_WEB_BASE_PATH=/lambda-url/cogs-web COGS_WEB_API_BASE='/lambda-url/cogs-{function}' \
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
size=$(wc -c <examples/sales.csv)
pending=$(call POST cogs-upload /api/v1/uploads 201 -H 'Content-Type: application/json' \
  -d "{\"kind\": \"sales\", \"file_name\": \"sales.csv\", \"size\": $size}")
read -r upload_id key url < <(printf '%s' "$pending" | python3 -c '
import json, sys
p = json.load(sys.stdin)
print(p["upload_id"], p["object_key"], p["upload_url"]["url"])')
echo "presigned PUT for $key"
curl -sSf -X PUT -H 'Content-Type: text/csv' --upload-file examples/sales.csv "$url"
event=$(python3 -c '
import json, sys
event = json.load(open("tests/fixtures/events/s3-put.json"))
event["Records"][0]["s3"]["bucket"]["name"] = sys.argv[1]
event["Records"][0]["s3"]["object"]["key"] = sys.argv[2]
print(json.dumps(event))' "$bucket" "$key")
cargo lambda invoke cogs-upload-events --invoke-address 127.0.0.1 --invoke-port "$port" --data-ascii "$event"; echo
call GET cogs-upload "/api/v1/uploads/$upload_id" 200 | python3 -c '
import json, sys
upload = json.load(sys.stdin)
assert (upload["status"], upload["rows_inserted"]) == ("loaded", 7), upload
print("staged upload loaded:", upload["rows_inserted"], "sales")'
# start_run: starts a run through the API and invokes the worker until it is done, as
# the state machine would; prints the run id.
start_run() {
  local started run_id invocations=0 out
  started=$(call POST cogs-run /api/v1/runs 202 -H 'Content-Type: application/json' -d '{"mode": "fifo"}')
  echo "$started" >&2
  run_id=$(printf '%s' "$started" | python3 -c 'import json,sys; print(json.load(sys.stdin)["run"]["run_id"])')
  while :; do
    invocations=$((invocations + 1))
    out=$(cargo lambda invoke cogs-worker --invoke-address 127.0.0.1 --invoke-port "$port" \
      --data-ascii "{\"tenant_id\": \"${as_tenant:-$tenant}\", \"run_id\": \"$run_id\"}")
    echo "worker invocation $invocations: $out" >&2
    printf '%s' "$out" | grep -q '"done":true' && break
    [ "$invocations" -lt 20 ] || { echo "FAILED: the worker did not finish the run" >&2; exit 1; }
  done
  echo "$run_id"
}
run_id=$(start_run)
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
say "the operations scripts against the local stack"
maint_url="postgres://cogs_maint:cogs_maint@$COGS_PGHOST:$COGS_PGPORT/cogs_e2e"
API_URL="$base/cogs-list" DASHBOARD_URL="$base/cogs-web/app" DATABASE_URL="$maint_url" scripts/daily_health_check.sh
DATABASE_URL="$maint_url" scripts/weekly_metrics.sh >/dev/null
DATABASE_URL="$maint_url" scripts/stuck_runs.sh
if API_URL="http://127.0.0.1:9/none" DATABASE_URL="$maint_url" scripts/daily_health_check.sh >/dev/null; then
  echo "FAILED: the health check passed with the API down" >&2; exit 1
fi
# A run left silent for an hour, as a worker that died would leave it.
PGPASSWORD=cogs_api psql -X -q -v ON_ERROR_STOP=1 -h "$COGS_PGHOST" -p "$COGS_PGPORT" -U cogs_api -d cogs_e2e >/dev/null <<SQL
begin;
select set_config('app.tenant_id', '$tenant', true);
insert into cogs_runs (tenant_id, run_id, mode, status, sales_total, created_by, heartbeat_at)
values ('$tenant', gen_random_uuid(), 'fifo', 'running', 0, 'e2e', now() - interval '1 hour');
commit;
SQL
if DATABASE_URL="$maint_url" scripts/stuck_runs.sh; then
  echo "FAILED: the stuck-run report missed a silent run" >&2; exit 1
fi

say "a client no one here wrote: Schemathesis against every function (scripts/contract-local.sh)"
as_tenant=contract-test
call POST cogs-upload /api/v1/files/lots 201 -F "file=@examples/lots.csv" >/dev/null
call POST cogs-upload /api/v1/files/sales 201 -F "file=@examples/sales.csv" >/dev/null
contract_run=$(start_run)
scripts/contract-local.sh "$base" "$as_tenant" "$contract_run"
say "end to end: ok"
