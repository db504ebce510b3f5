#!/usr/bin/env bash
# The benchmark: loads the reference data (10,000 SKUs, 100,000 lots, about 1,000,000
# sales; `--scale N` multiplies lots and sales) through the real upload path of the
# `cogs` CLI (release build), runs to completion, exports the journal, rolls back and
# re-runs, timing each step and recording the peak resident memory of the process
# (GNU time). In the same run it measures two floors on the same server: plain COPY of
# the same rows into tables with the same columns and no indexes (raw), and into
# tables with exactly the project's indexes but no RLS, as the owner (indexed).
# Prints a table and writes target/bench/results.csv. Safe to run again; prompts for
# nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

scale=1
[ "${1:-}" = "--scale" ] && scale=${2:?--scale takes a number}
ensure_command /usr/bin/time time
ensure_command bc bc
ensure_rust_tools
scripts/setup-db.sh --test >/dev/null

say "building the release binaries (cogs, cogs-generate)"
cargo build --release --locked --quiet --bin cogs -p cogs-cli
cargo build --release --locked --quiet --bin cogs-generate -p cogs-tests
out=target/bench
data=$out/data-x$scale
mkdir -p "$out"
if [ ! -s "$data/sales.csv" ]; then
  say "generating the reference data x$scale into $data"
  target/release/cogs-generate "$data" --skus 10000 --lots $((100000 * scale)) --sales $((1000000 * scale))
fi
lots_rows=$(($(wc -l <"$data/lots.csv") - 1))
sales_rows=$(($(wc -l <"$data/sales.csv") - 1))

db=cogs_bench
say "a fresh database $db from the migrated template"
as_superuser psql -q -d postgres -c "drop database if exists $db with (force)" -c "create database $db template cogs_test_template owner cogs_owner"
export DATABASE_URL="postgres://cogs_api:cogs_api@$COGS_PGHOST:$COGS_PGPORT/$db" COGS_TENANT_ID=bench-corp COGS_ACTOR=bench
owner_url="postgres://cogs_owner:cogs_owner@$COGS_PGHOST:$COGS_PGPORT/$db"
cogs=target/release/cogs

results=$out/results.csv
echo "step,seconds,rows,rows_per_second,peak_mib,floor_raw_seconds,floor_indexed_seconds" >"$results"
declare -A seconds rows peak

# measure STEP ROWS COMMAND…: wall time and peak RSS of COMMAND.
measure() {
  local step=$1 count=$2
  shift 2
  local stats start end
  stats=$(mktemp)
  start=$(date +%s.%N)
  /usr/bin/time -v -o "$stats" "$@" >/dev/null
  end=$(date +%s.%N)
  seconds[$step]=$(echo "$end - $start" | bc)
  rows[$step]=$count
  peak[$step]=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$stats")
  printf '  %-14s %8.2f s  %9s rows  %7s MiB\n' "$step" "${seconds[$step]}" "$count" "${peak[$step]}"
}

# copy_seconds SQL…: how long psql takes to run SQL (a \copy), as the owner.
copy_seconds() {
  local start end
  start=$(date +%s.%N)
  PGPASSWORD=cogs_owner psql -X -q -v ON_ERROR_STOP=1 "$owner_url" -c "$1" >/dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

say "the system: $lots_rows lots, $sales_rows sales"
measure upload-lots "$lots_rows" "$cogs" upload lots "$data/lots.csv"
measure upload-sales "$sales_rows" "$cogs" upload sales "$data/sales.csv"
measure run "$sales_rows" "$cogs" run --format json
run_id=$("$cogs" list-runs --limit 1 --format json | sed -n 's/^ *"run_id": "\(.*\)",$/\1/p' | head -n 1)
# The application role reads the tenant's rows (a standalone session, so a session setting is fine).
as_tenant() { PGPASSWORD=cogs_api psql -X -q -tA -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "select set_config('app.tenant_id', 'bench-corp', false)" "$@"; }
allocations=$(as_tenant -c "select count(*) from cogs_allocations where run_id = '$run_id'" | tail -n 1)
measure journal "$allocations" "$cogs" journal-entry "$run_id" --format csv --period month --output-file "$out/journal.csv"
measure rollback "$sales_rows" "$cogs" rollback "$run_id" --confirm
measure re-run "$sales_rows" "$cogs" run --format json

say "the floors, on the same server"
as_tenant -c "\\copy (select * from lots) to '$out/lots_full.csv' with (format csv)" \
  -c "\\copy (select tenant_id, sale_id, sku, sale_date, quantity_sold, upload_id, null::uuid, created_at from sales) to '$out/sales_full.csv' with (format csv)" \
  -c "\\copy (select * from cogs_allocations where run_id = '$run_id') to '$out/allocations.bin' with (format binary)"
PGPASSWORD=cogs_owner psql -X -q -v ON_ERROR_STOP=1 "$owner_url" <<'SQL'
create table floor_raw_lots (like lots);
create table floor_raw_sales (like sales);
create table floor_raw_allocations (like cogs_allocations);
create table floor_indexed_lots (like lots including defaults including constraints including indexes);
create table floor_indexed_sales (like sales including defaults including constraints including indexes);
create table floor_indexed_allocations (like cogs_allocations including defaults including constraints including indexes);
alter table floor_indexed_lots alter column seq drop identity if exists;
SQL
declare -A raw indexed
raw[upload-lots]=$(copy_seconds "\\copy floor_raw_lots from '$out/lots_full.csv' with (format csv)")
indexed[upload-lots]=$(copy_seconds "\\copy floor_indexed_lots from '$out/lots_full.csv' with (format csv)")
raw[upload-sales]=$(copy_seconds "\\copy floor_raw_sales from '$out/sales_full.csv' with (format csv)")
indexed[upload-sales]=$(copy_seconds "\\copy floor_indexed_sales from '$out/sales_full.csv' with (format csv)")
raw[run]=$(copy_seconds "\\copy floor_raw_allocations from '$out/allocations.bin' with (format binary)")
indexed[run]=$(copy_seconds "\\copy floor_indexed_allocations from '$out/allocations.bin' with (format binary)")

say "results (scale x$scale; floors: raw = COPY into unindexed tables, indexed = COPY into tables with the project's indexes, no RLS)"
printf '%-14s %9s %11s %12s %9s %10s %14s\n' step seconds rows rows/s "peak MiB" "x raw" "x indexed"
total=0 total_raw=0 total_indexed=0
for step in upload-lots upload-sales run journal rollback re-run; do
  s=${seconds[$step]} r=${rows[$step]}
  rate=$(echo "$r / $s" | bc)
  floor_raw=${raw[$step]:-} floor_indexed=${indexed[$step]:-}
  x_raw=- x_indexed=-
  if [ -n "$floor_raw" ]; then
    x_raw=$(echo "scale=2; $s / $floor_raw" | bc)
    x_indexed=$(echo "scale=2; $s / $floor_indexed" | bc)
    total=$(echo "$total + $s" | bc)
    total_raw=$(echo "$total_raw + $floor_raw" | bc)
    total_indexed=$(echo "$total_indexed + $floor_indexed" | bc)
  fi
  printf '%-14s %9.2f %11s %12s %9s %10s %14s\n' "$step" "$s" "$r" "$rate" "${peak[$step]}" "$x_raw" "$x_indexed"
  echo "$step,$s,$r,$rate,${peak[$step]},$floor_raw,$floor_indexed" >>"$results"
done
printf '%-14s %9.2f %11s %12s %9s %10s %14s\n' "upload+run" "$total" - - - \
  "$(echo "scale=2; $total / $total_raw" | bc)" "$(echo "scale=2; $total / $total_indexed" | bc)"
echo "upload+run,$total,,,,$total_raw,$total_indexed" >>"$results"
say "written to $results"
