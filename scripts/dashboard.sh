#!/usr/bin/env bash
# Opens the dashboard locally: prepares PostgreSQL (scripts/setup-db.sh, the `cogs`
# database scripts/demo.sh fills) and the local S3 server, then serves every function
# and the dashboard with `cargo lambda watch` (rebuilt as the code changes) until
# Ctrl-C. Open the address it prints and pick a tenant (acme-corp holds the demo's
# data). Development mode: no sign-in, only ever on this machine. Installs cargo-lambda
# from PyPI when missing. Safe to run again; prompts for nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

port=${COGS_DASHBOARD_PORT:-9000}
ensure_rust_tools
ensure_cargo_lambda
scripts/setup-db.sh
scripts/s3-local.sh
s3=http://127.0.0.1:${COGS_S3_PORT:-5055}
bucket=cogs-local
# The page PUTs large files to presigned URLs: the bucket lets its origins do so.
local_bucket $bucket "http://127.0.0.1:$port" "http://localhost:$port"

say "serving the dashboard: open http://localhost:$port/lambda-url/cogs-web/app (Ctrl-C stops it)"
export DATABASE_URL="postgres://cogs_api:cogs_api@$COGS_PGHOST:$COGS_PGPORT/cogs" COGS_DEV_TENANT_HEADER=true \
  RUST_LOG=${RUST_LOG:-warn} COGS_BUCKET=$bucket COGS_S3_ENDPOINT=$s3 AWS_ACCESS_KEY_ID=test \
  AWS_SECRET_ACCESS_KEY=testtesttest AWS_REGION=us-east-1 COGS_WEB_BASE_PATH=/lambda-url/cogs-web \
  COGS_WEB_API_BASE='/lambda-url/cogs-{function}'
exec cargo lambda watch -A 127.0.0.1 -P "$port"
