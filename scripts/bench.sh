#!/usr/bin/env bash
# The benchmark: loads the reference data (10,000 SKUs, 100,000 lots, about 1,000,000
# sales; `--scale N` multiplies lots and sales) through the real upload path of the
# `cogs` CLI (release build), runs to completion, exports the journal, rolls back and
# re-runs, reports the roll-forward of the year and the valuation as of a date, then
# loads a late lot for one SKU and re-costs it (with its journal of
# differences), then a late lot for every SKU (every sale re-costed) and rolls that
# back, then changes the costing method of the whole book to the moving average and
# back to FIFO, running after each, timing each step and recording the peak resident memory of the process
# (GNU time). It does so twice: with the rows grouped by SKU in date order (sorted)
# and in a random row order (shuffled), as merged exports come (`--order` picks one).
#
# For each order, on the same server and data, it also measures:
#   - the floors: plain COPY of the same rows into tables with the same columns and no
#     indexes (raw), and into tables with exactly the project's indexes but no RLS, as
#     the owner (indexed);
#   - what a merchant's developer would write instead: tests/bench/py_baseline.py
#     (pandas + psycopg: COPY both files into indexed tables, FIFO in Python, COPY the
#     allocations, update the lots), installed from PyPI when missing;
#   - upload + run again with the CLI connected through PgBouncer in transaction mode
#     (scripts/pgbouncer-local.sh).
# Prints a table per order and the ratios the targets name, and writes
# target/bench/results.csv. Safe to run again; prompts for nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

scale=1 orders="sorted shuffled"
while [ $# -gt 0 ]; do
  case $1 in
    --scale) scale=${2:?--scale takes a number}; shift 2 ;;
    --order) orders=${2:?--order takes sorted or shuffled}; shift 2 ;;
    *) echo "usage: scripts/bench.sh [--scale N] [--order sorted|shuffled]" >&2; exit 2 ;;
  esac
done
ensure_command /usr/bin/time time
ensure_command bc bc
ensure_rust_tools
scripts/setup-db.sh --test >/dev/null
scripts/pgbouncer-local.sh >/dev/null
if ! python3 -c 'import pandas, psycopg' 2>/dev/null; then
  say "installing pandas and psycopg from PyPI (the Python baseline)"
  python3 -m pip install --quiet --disable-pip-version-check pandas 'psycopg[binary]'
fi

say "building the release binaries (cogs, cogs-generate)"
# One invocation: the two packages unify cogs-core's features, so neither rebuilds it.
cargo build --release --locked --quiet -p cogs-cli -p cogs-tests --bin cogs --bin cogs-generate
out=target/bench
mkdir -p "$out"
cogs=target/release/cogs
export COGS_TENANT_ID=bench-corp COGS_ACTOR=bench
pooler_port=${COGS_POOLER_PORT:-6432}

results=$out/results.csv
echo "order,step,seconds,rows,rows_per_second,peak_mib,floor_raw_seconds,floor_indexed_seconds" >"$results"
declare -A seconds rows peak raw indexed

# measure STEP ROWS COMMAND…: wall time and peak RSS of COMMAND. Each step starts
# right after a checkpoint, so none pays for another's full-page writes.
measure() {
  local step=$1 count=$2
  shift 2
  local stats start end
  as_superuser psql -q -d postgres -c checkpoint
  stats=$(mktemp)
  start=$(date +%s.%N)
  /usr/bin/time -v -o "$stats" "$@" >/dev/null
  end=$(date +%s.%N)
  seconds[$step]=$(echo "$end - $start" | bc)
  rows[$step]=$count
  peak[$step]=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$stats")
  rm -f "$stats"
  printf '  %-16s %8.2f s  %9s rows  %7s MiB\n' "$step" "${seconds[$step]}" "$count" "${peak[$step]}"
}

# fresh_database NAME: a new database from the migrated template.
fresh_database() {
  as_superuser psql -q -d postgres -c "drop database if exists $1 with (force)" \
    -c "create database $1 template cogs_test_template owner cogs_owner"
}

# copy_seconds URL SQL: how long psql takes to run SQL (a \copy), as the owner.
copy_seconds() {
  local start end
  start=$(date +%s.%N)
  PGPASSWORD=cogs_owner psql -X -q -v ON_ERROR_STOP=1 "$1" -c "$2" >/dev/null
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

ratio() { echo "scale=2; $1 / $2" | bc; }

# bench ORDER DATA: every measurement for one data set.
bench() {
  local order=$1 data=$2 db=cogs_bench
  local lots_rows sales_rows owner_url run_id allocations
  lots_rows=$(($(wc -l <"$data/lots.csv") - 1))
  sales_rows=$(($(wc -l <"$data/sales.csv") - 1))
  owner_url="postgres://cogs_owner:cogs_owner@$COGS_PGHOST:$COGS_PGPORT/$db"
  say "$order: $lots_rows lots, $sales_rows sales (a fresh database $db)"
  fresh_database $db
  export DATABASE_URL="postgres://cogs_api:cogs_api@$COGS_PGHOST:$COGS_PGPORT/$db"
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
  measure rollforward "$sales_rows" "$cogs" report rollforward --from 2024-01-01 --to 2024-12-31 --format json
  measure valuation "$lots_rows" "$cogs" report valuation --as-of 2024-06-30 --format json

  say "$order: corrections: a late lot for one SKU, then a late lot for every SKU, each received before every sale"
  local header="lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit"
  printf '%s\nLATE-00000,SKU-00000,2024-01-01T00:00:00Z,5,5,1.00,0.10\n' "$header" >"$out/late-one.csv"
  { echo "$header"; for i in $(seq 0 9999); do printf 'EARLY-%05d,SKU-%05d,2024-01-01T00:00:00Z,5,5,1.00,0.10\n' "$i" "$i"; done; } \
    >"$out/late-all.csv"
  measure late-one-upload 1 "$cogs" upload lots "$out/late-one.csv"
  measure late-one-run 1 "$cogs" run --format json
  run_id=$("$cogs" list-runs --limit 1 --format json | sed -n 's/^ *"run_id": "\(.*\)",$/\1/p' | head -n 1)
  measure late-one-journal 1 "$cogs" journal-entry "$run_id" --format csv --period month --output-file "$out/late-one.csv.journal"
  measure late-all-upload 10000 "$cogs" upload lots "$out/late-all.csv"
  measure late-all-run "$sales_rows" "$cogs" run --format json
  run_id=$("$cogs" list-runs --limit 1 --format json | sed -n 's/^ *"run_id": "\(.*\)",$/\1/p' | head -n 1)
  measure late-all-rollback "$sales_rows" "$cogs" rollback "$run_id" --confirm

  say "$order: a change of costing method for the whole book: the moving average throughout, then FIFO again"
  "$cogs" settings --method moving-average >/dev/null
  measure method-average-run "$sales_rows" "$cogs" run --format json
  "$cogs" settings --method fifo >/dev/null
  measure method-fifo-run "$sales_rows" "$cogs" run --format json

  say "$order: the floors, on the same server"
  as_tenant -c "\\copy (select * from lots) to '$out/lots_full.csv' with (format csv)" \
    -c "\\copy (select * from sales) to '$out/sales_full.csv' with (format csv)" \
    -c "\\copy (select * from cogs_allocations where run_id = '$run_id') to '$out/allocations.bin' with (format binary)"
  PGPASSWORD=cogs_owner psql -X -q -v ON_ERROR_STOP=1 "$owner_url" <<'SQL'
create table floor_raw_lots (like lots);
create table floor_raw_sales (like sales);
create table floor_raw_allocations (like cogs_allocations);
create table floor_indexed_lots (like lots including defaults including constraints including indexes);
create table floor_indexed_sales (like sales including defaults including constraints including indexes);
create table floor_indexed_allocations (like cogs_allocations including defaults including constraints including indexes);
SQL
  local table
  for table in lots sales; do
    raw[upload-$table]=$(copy_seconds "$owner_url" "\\copy floor_raw_$table from '$out/${table}_full.csv' with (format csv)")
    indexed[upload-$table]=$(copy_seconds "$owner_url" "\\copy floor_indexed_$table from '$out/${table}_full.csv' with (format csv)")
  done
  raw[run]=$(copy_seconds "$owner_url" "\\copy floor_raw_allocations from '$out/allocations.bin' with (format binary)")
  indexed[run]=$(copy_seconds "$owner_url" "\\copy floor_indexed_allocations from '$out/allocations.bin' with (format binary)")

  say "$order: the pandas + psycopg baseline (tests/bench/py_baseline.py), same data and server"
  measure pandas "$sales_rows" python3 tests/bench/py_baseline.py "$data/lots.csv" "$data/sales.csv" --dsn "$owner_url"

  say "$order: upload + run with the CLI connected through PgBouncer (transaction mode, port $pooler_port)"
  fresh_database cogs_bench_pooled
  export DATABASE_URL="postgres://cogs_api:cogs_api@127.0.0.1:$pooler_port/cogs_bench_pooled"
  measure pooled-lots "$lots_rows" "$cogs" upload lots "$data/lots.csv"
  measure pooled-sales "$sales_rows" "$cogs" upload sales "$data/sales.csv"
  measure pooled-run "$sales_rows" "$cogs" run --format json

  say "results, $order, scale x$scale (floors: raw = COPY into unindexed tables, indexed = COPY into tables with the project's indexes, no RLS)"
  printf '%-14s %9s %11s %12s %9s %10s %14s\n' step seconds rows rows/s "peak MiB" "x raw" "x indexed"
  local step s r rate x_raw x_indexed
  for step in upload-lots upload-sales run journal rollback re-run rollforward valuation late-one-upload late-one-run \
    late-one-journal late-all-upload late-all-run late-all-rollback method-average-run method-fifo-run pandas; do
    s=${seconds[$step]} r=${rows[$step]}
    rate=$(echo "$r / $s" | bc)
    x_raw=- x_indexed=-
    if [ -n "${raw[$step]:-}" ]; then
      x_raw=$(ratio "$s" "${raw[$step]}")
      x_indexed=$(ratio "$s" "${indexed[$step]}")
    fi
    printf '%-14s %9.2f %11s %12s %9s %10s %14s\n' "$step" "$s" "$r" "$rate" "${peak[$step]}" "$x_raw" "$x_indexed"
    echo "$order,$step,$s,$r,$rate,${peak[$step]},${raw[$step]:-},${indexed[$step]:-}" >>"$results"
  done
  local total total_raw total_indexed pooled
  total=$(echo "${seconds[upload-lots]} + ${seconds[upload-sales]} + ${seconds[run]}" | bc)
  total_raw=$(echo "${raw[upload-lots]} + ${raw[upload-sales]} + ${raw[run]}" | bc)
  total_indexed=$(echo "${indexed[upload-lots]} + ${indexed[upload-sales]} + ${indexed[run]}" | bc)
  pooled=$(echo "${seconds[pooled-lots]} + ${seconds[pooled-sales]} + ${seconds[pooled-run]}" | bc)
  printf '%-14s %9.2f %11s %12s %9s %10s %14s\n' "upload+run" "$total" - - - "$(ratio "$total" "$total_raw")" \
    "$(ratio "$total" "$total_indexed")"
  echo "$order,upload+run,$total,,,,$total_raw,$total_indexed" >>"$results"
  echo "$order,upload+run-pgbouncer,$pooled,,,,," >>"$results"
  echo "ratios, $order:"
  echo "  pandas baseline / cogs upload+run      $(ratio "${seconds[pandas]}" "$total")  (target >= 3)"
  echo "  upload+run / raw COPY floor             $(ratio "$total" "$total_raw")  (target <= 2)"
  echo "  run / raw COPY of its allocations       $(ratio "${seconds[run]}" "${raw[run]}")  (target <= 2)"
  echo "  rollback / run                          $(ratio "${seconds[rollback]}" "${seconds[run]}")  (target <= 0.5)"
  echo "  re-run / run                            $(ratio "${seconds[re-run]}" "${seconds[run]}")  (target <= 1.1)"
  echo "  through PgBouncer / direct (upload+run) $(ratio "$pooled" "$total")  (target <= 1.2)"
  printf '  roll-forward of the year                %.2f s  (target < 2)\n' "${seconds[rollforward]}"
  printf '  valuation as of a date, by lot          %.2f s  (target < 2)\n' "${seconds[valuation]}"
  local late_one
  late_one=$(echo "${seconds[late-one-upload]} + ${seconds[late-one-run]} + ${seconds[late-one-journal]}" | bc)
  echo "  one late lot, one SKU: upload+run+journal / run  $(echo "scale=3; $late_one / ${seconds[run]}" | bc)  (target < 0.02)"
  echo "  a late lot for every SKU: run / run     $(ratio "${seconds[late-all-run]}" "${seconds[run]}")  (target <= 1.2)"
  echo "  its rollback / its run                  $(ratio "${seconds[late-all-rollback]}" "${seconds[late-all-run]}")  (target <= 0.5)"
  echo "  method change to the average: run / run $(ratio "${seconds[method-average-run]}" "${seconds[run]}")  (target <= 1.2)"
  echo "  and back to FIFO: run / run             $(ratio "${seconds[method-fifo-run]}" "${seconds[run]}")  (target <= 1.2)"
  local highest=0
  for step in upload-lots upload-sales run journal rollback re-run rollforward valuation late-one-upload late-one-run \
    late-one-journal late-all-upload late-all-run late-all-rollback method-average-run method-fifo-run pooled-lots pooled-sales \
    pooled-run; do
    highest=$(printf '%s\n%s\n' "$highest" "${peak[$step]}" | sort -n | tail -n 1)
  done
  echo "  peak memory of any cogs step            $highest MiB  (target <= 128)"
}

for order in $orders; do
  data=$out/data-x$scale-$order
  if [ ! -s "$data/sales.csv" ]; then
    say "generating the reference data x$scale, $order, into $data"
    flags=()
    [ "$order" = shuffled ] && flags=(--shuffle)
    target/release/cogs-generate "$data" --skus 10000 --lots $((100000 * scale)) --sales $((1000000 * scale)) "${flags[@]}"
  fi
  bench "$order" "$data"
done
say "written to $results"
