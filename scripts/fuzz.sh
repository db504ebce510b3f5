#!/usr/bin/env bash
# Fuzzes CSV ingest and the journal renderers with cargo-fuzz (libFuzzer), each target
# for SECONDS (default 60), with at most 1 GiB of memory and inputs of at most
# 256 KiB. The ingest target starts from the bundled examples and the bad-input
# corpus. A crash stops the run and leaves its input in fuzz/artifacts/TARGET/; turn
# it into a regression test before fixing it. Safe to run again (the corpus under
# fuzz/corpus/ grows from run to run); prompts for nothing.
#
#   scripts/fuzz.sh [SECONDS] [TARGET…]      targets: ingest journal
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(ingest journal)
ensure_rust_tools
ensure_command g++ g++

if ! cargo fuzz --version >/dev/null 2>&1; then
  say "installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked
fi
# libFuzzer's instrumentation needs nightly flags: a nightly toolchain when there is
# one (or rustup can fetch one), else the stable compiler allowed to take them.
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly' || rustup toolchain install nightly --profile minimal >/dev/null 2>&1; then
  toolchain=(+nightly)
else
  say "no nightly toolchain: building with stable and RUSTC_BOOTSTRAP=1"
  export RUSTC_BOOTSTRAP=1
fi

for target in "${targets[@]}"; do
  corpus=fuzz/corpus/$target
  mkdir -p "$corpus"
  seeds=()
  [ "$target" = ingest ] && seeds=(examples tests/fixtures/bad-input/lots tests/fixtures/bad-input/sales)
  say "fuzzing $target for $seconds s"
  log=fuzz/$target.log
  if ! (cd fuzz && cargo "${toolchain[@]}" fuzz run --sanitizer none "$target" "../$corpus" "${seeds[@]/#/../}" -- \
    -max_total_time="$seconds" -rss_limit_mb=1024 -max_len=262144 -print_final_stats=1) >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "FAILED: fuzzing $target stopped (full log: $log; crashing inputs in fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
done
say "no crash in ${targets[*]}"
