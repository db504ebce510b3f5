#!/usr/bin/env bash
# The main job on the bundled examples, as an operator runs it: prepares PostgreSQL
# (scripts/setup-db.sh), costs the examples offline (FIFO and the moving average),
# loads examples/ for tenant acme-corp, runs FIFO costing,
# shows the run and its journal, rolls it back, runs again to the same result, loads
# a late lot and a late sale that the next run re-costs (its journal holds only the
# difference), then a return, a supplier return, adjustments, a count and a late
# freight bill flowing into the journal and the roll-forward, then costs by specific
# identification from August (a sale naming its lot), moves stock to a shop and sells
# it there (a transfer), gives the shop an inventory account of its own (the transfer
# then posts between the two) and rolls each location forward, and verifies the book.
# Safe to run again: the examples load once, and each call rolls back and re-runs.
# Prompts for nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust_tools
scripts/setup-db.sh

export DATABASE_URL="postgres://cogs_api:cogs_api@$COGS_PGHOST:$COGS_PGPORT/cogs"
export COGS_TENANT_ID=acme-corp COGS_ACTOR=demo
cogs=target/debug/cogs
latest_run() {
  "$cogs" list-runs --limit 1 --format json | sed -n 's/^ *"run_id": "\(.*\)",$/\1/p' | head -n 1
}

say "offline first, no database: cogs cost --lots examples/lots.csv --sales examples/sales.csv"
"$cogs" cost --lots examples/lots.csv --sales examples/sales.csv | tail -n 3
say "the same files by the moving average: cogs cost … --method moving-average"
"$cogs" cost --lots examples/lots.csv --sales examples/sales.csv --method moving-average | tail -n 3

# The oldest run still completed: rolled back with --cascade, it takes every later run
# that rests on it along; repeated until none is left, so each call costs afresh.
oldest_completed_run() {
  "$cogs" list-runs --limit 500 --format json |
    awk -F'"' '/"run_id":/ { id = $4 } /"status": "completed"/ { oldest = id } END { print oldest }'
}
while previous=$(oldest_completed_run) && [ -n "$previous" ]; do
  say "an earlier demo left run $previous completed: rolling it back first, with every later run on it"
  "$cogs" rollback "$previous" --confirm --cascade >/dev/null
done

say "cogs run --tenant-id acme-corp --lots-file examples/lots.csv --sales-file examples/sales.csv --dry-run"
"$cogs" run --lots-file examples/lots.csv --sales-file examples/sales.csv --dry-run | tail -n 3

say "cogs run --tenant-id acme-corp --lots-file examples/lots.csv --sales-file examples/sales.csv"
"$cogs" run --lots-file examples/lots.csv --sales-file examples/sales.csv
run=$(latest_run)

say "cogs list-runs --tenant-id acme-corp --limit 5"
"$cogs" list-runs --limit 5

say "cogs journal-entry $run --format xero --period month"
"$cogs" journal-entry "$run" --format xero --period month

say "cogs rollback $run --confirm"
"$cogs" rollback "$run" --confirm

say "cogs inventory --tenant-id acme-corp (every lot back to what was loaded)"
"$cogs" inventory | tail -n 1

say "cogs journal-entry $run --format iif --period run (the reversing entry)"
"$cogs" journal-entry "$run" --format iif --period run

say "cogs run --tenant-id acme-corp --sales-file examples/sales.csv (re-run: same figures)"
"$cogs" run --sales-file examples/sales.csv

say "cogs inventory --tenant-id acme-corp"
"$cogs" inventory

say "a purchase invoice and a marketplace export arrive late: cogs upload lots examples/late-lots.csv, cogs upload sales examples/late-sales.csv"
"$cogs" upload lots examples/late-lots.csv
"$cogs" upload sales examples/late-sales.csv

say "cogs run --tenant-id acme-corp (re-costs WIDGET-A from 5 July and GADGET-B from 3 July; nothing is refused)"
"$cogs" run
correction=$(latest_run)

say "cogs journal-entry $correction --format csv --period month (only the difference the late input made)"
"$cogs" journal-entry "$correction" --format csv --period month

say "a customer return, a supplier return, a write-off and found stock, a stock count and a late freight bill: cogs upload returns|supplier_returns|adjustments|counts|landed_costs"
"$cogs" upload returns examples/returns.csv
"$cogs" upload supplier_returns examples/supplier-returns.csv
"$cogs" upload adjustments examples/adjustments.csv
"$cogs" upload counts examples/counts.csv
"$cogs" upload landed_costs examples/landed-costs.csv

say "cogs run --tenant-id acme-corp (each SKU with movements is costed again, whole)"
"$cogs" run
movements=$(latest_run)

say "cogs journal-entry $movements --format csv --period month (the return, the write-offs, the freight bill: only what changed)"
"$cogs" journal-entry "$movements" --format csv --period month

say "cogs report rollforward --from 2024-07-01 --to 2024-07-31 (opening + receipts + landed + returns + found + moved in − to suppliers − written off − moved out − COGS = closing)"
"$cogs" report rollforward --from 2024-07-01 --to 2024-07-31

say "cogs report trace --sale SALE-007 (its lots, and the freight it carried)"
"$cogs" report trace --sale SALE-007

say "specific identification from August: cogs settings --method specific-identification --method-from 2024-08-01"
"$cogs" settings --method specific-identification --method-from 2024-08-01 | grep '^method'
say "a sale that names its lot: cogs upload sales examples/named-sales.csv; cogs run"
"$cogs" upload sales examples/named-sales.csv
"$cogs" run

say "cogs report trace --sale SALE-101 (from LOT-005, the lot it names, though older lots still hold stock)"
"$cogs" report trace --sale SALE-101

say "stock moved to a shop, and sold there: cogs upload transfers examples/transfers.csv; cogs upload sales examples/shop-sales.csv; cogs run"
"$cogs" upload transfers examples/transfers.csv
"$cogs" upload sales examples/shop-sales.csv
"$cogs" run
shop=$(latest_run)

say "the shop's own inventory account: cogs settings --location-account SHOP-1=1420:Inventory Shop; cogs journal-entry $shop (the transfer Dr 1420 / Cr 1400, the shop's sale Cr 1420)"
"$cogs" settings --location-account "SHOP-1=1420:Inventory Shop" | grep '^location'
"$cogs" journal-entry "$shop" --format csv
say "cogs report rollforward --from 2024-07-01 --to 2024-12-31 (by SKU, and by location: what moved between main and SHOP-1)"
"$cogs" report rollforward --from 2024-07-01 --to 2024-12-31

say "cogs report trace --sale SALE-102 (sold at SHOP-1, from the layer TR-001 moved there at LOT-003's cost)"
"$cogs" report trace --sale SALE-102
say "cogs report trace --lot LOT-003 (its units sold at main and, moved by TR-001, at SHOP-1)"
"$cogs" report trace --lot LOT-003

say "cogs verify --tenant-id acme-corp (the whole book checked against a fresh costing)"
"$cogs" verify

say "demo finished"
