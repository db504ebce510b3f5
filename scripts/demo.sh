#!/usr/bin/env bash
# The main job on the bundled examples: FIFO-costs examples/sales.csv against
# examples/lots.csv with the `cogs` CLI and prints the result for people, then the
# same as JSON for scripts. Safe to run again; prompts for nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust_tools

say "building the cogs command-line tool"
cargo build --locked --bin cogs
cogs=target/debug/cogs

say "cogs cost --lots examples/lots.csv --sales examples/sales.csv"
"$cogs" cost --lots examples/lots.csv --sales examples/sales.csv

say "the same, as JSON totals (--format json)"
"$cogs" cost --lots examples/lots.csv --sales examples/sales.csv --format json \
  | sed -n '/"totals"/,/}/p'

say "demo finished"
