#!/usr/bin/env bash
# Restarts the local PostgreSQL server for the restart drill in tests/restart.rs: stops
# the cluster on $COGS_PGPORT fast, waits SECONDS (default 1) and starts it again.
# Usage: scripts/restart-postgres.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
restart_postgres "${1:-1}"
