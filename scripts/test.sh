#!/usr/bin/env bash
# Runs every check CI runs: layer rules, formatting, clippy with warnings denied, the
# whole test suite against a real PostgreSQL (installed and started if need be; see
# scripts/setup-db.sh), the database tests a second time through PgBouncer in
# transaction mode, the HTTP functions served by cargo lambda end to end, and the
# dashboard driven in Chromium against them.
# Safe to run again; prompts for nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

ensure_rust_tools

say "checking the layer rules (scripts/check-layers.sh)"
scripts/check-layers.sh

say "checking formatting (cargo fmt --check)"
cargo fmt --all -- --check

say "validating template.yaml: SAM transform, then cfn-lint (scripts/check-template.sh)"
scripts/check-template.sh

say "running clippy with warnings denied"
cargo clippy --workspace --all-targets --locked -- -D warnings

say "preparing PostgreSQL and the migrated test template (scripts/setup-db.sh --test)"
scripts/setup-db.sh --test

say "starting the local S3-protocol server the staging tests use (scripts/s3-local.sh)"
scripts/s3-local.sh

say "running the tests (tests/restart.rs restarts the local PostgreSQL cluster once)"
cargo test --workspace --locked

say "starting PgBouncer in transaction mode in front of the same server (scripts/pgbouncer-local.sh)"
scripts/pgbouncer-local.sh
say "running the database tests again, the code under test connected through PgBouncer"
COGS_TEST_POOLER=127.0.0.1:${COGS_POOLER_PORT:-6432} cargo test --locked -p cogs-tests -p cogs-cli

say "serving the HTTP functions locally and driving the runbook's API flow (scripts/e2e-local.sh)"
scripts/e2e-local.sh

say "the dashboard in a real browser against the local stack (scripts/browser-test.sh)"
COGS_SCREENSHOTS=target/screenshots scripts/browser-test.sh

say "all checks passed"
