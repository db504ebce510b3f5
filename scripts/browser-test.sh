#!/usr/bin/env bash
# The dashboard tested the way a person uses it: Debian's Chromium, driven by Playwright
# for Python, against the real stack (every function under `cargo lambda watch`,
# PostgreSQL, the local S3 server). tests/browser/dashboard.py holds the steps in
# development mode; it takes a screenshot of each screen into $COGS_SCREENSHOTS
# (docs/screenshots, the README's, unless set). tests/browser/sign_in.py then signs in
# to a second instance of the dashboard configured as deployed (Cognito's hosted page
# played by a stand-in: there is no AWS here).
#
# Installs what is missing: Chromium from Debian's packages, Playwright and axe-core's
# accessibility rules (pinned) into
# target/browser-venv, cargo-lambda from PyPI. The database is a fresh `cogs_browser`
# cloned from the migrated test template (scripts/setup-db.sh --test makes it); the
# bucket `cogs-browser` lets the page's origin PUT to presigned URLs, as the template's
# bucket does. Safe to run again; prompts for nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

port=${COGS_BROWSER_PORT:-9132}
base="http://127.0.0.1:$port/lambda-url"
screenshots=${COGS_SCREENSHOTS:-docs/screenshots}
playwright=1.65.2
axe=0.1.8
venv=$PWD/target/browser-venv

ensure_command chromium chromium
ensure_cargo_lambda
installed=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("playwright"), m.version("axe-playwright-python"))' 2>/dev/null || true)
if [ "$installed" != "$playwright $axe" ]; then
  say "installing Playwright $playwright for Python and axe-core's rules (axe-playwright-python $axe) into $venv (pip; it drives the Debian browser, downloads none)"
  python3 -m venv "$venv" 2>/dev/null || {
    apt_install python3-venv
    python3 -m venv "$venv"
  }
  "$venv/bin/pip" install --quiet --disable-pip-version-check "playwright==$playwright" "axe-playwright-python==$axe"
fi

fresh_database cogs_browser
scripts/s3-local.sh
s3=http://127.0.0.1:${COGS_S3_PORT:-5055}
bucket=cogs-browser
local_bucket $bucket "http://127.0.0.1:$port"

say "serving the functions and the dashboard with cargo lambda watch on port $port"
log=${COGS_BROWSER_LOG:-$(mktemp)}
: >"$log" # both watchers append to it, so neither writes over the other's lines
# Files over 350 bytes go through the bucket, so the examples take both ways in; runs
# are handed to the worker in chunks of two sales (the test plays the state machine),
# so the page shows a run in progress.
DATABASE_URL="postgres://cogs_api:cogs_api@$COGS_PGHOST:$COGS_PGPORT/cogs_browser" COGS_DEV_TENANT_HEADER=true \
  RUST_LOG=${RUST_LOG:-warn} COGS_BUCKET=$bucket COGS_S3_ENDPOINT=$s3 AWS_ACCESS_KEY_ID=test \
  AWS_SECRET_ACCESS_KEY=testtesttest AWS_REGION=us-east-1 COGS_WEB_BASE_PATH=/lambda-url/cogs-web \
  COGS_WEB_API_BASE='/lambda-url/cogs-{function}' COGS_WEB_LARGE_FILE_BYTES=350 COGS_INLINE_RUN_MS=0 COGS_CHUNK_SIZE=2 \
  cargo lambda watch --ignore-changes -A 127.0.0.1 -P "$port" >>"$log" 2>&1 &
watcher=$!
# The dashboard as deployed: signing in through a hosted page (tests/browser/sign_in.py
# stands in for Cognito at this address); only its pages are asked of this instance.
signin_port=$((port + 1))
signin_base="http://127.0.0.1:$signin_port/lambda-url"
RUST_LOG=${RUST_LOG:-warn} COGS_COGNITO_DOMAIN=https://auth.cogs.test COGS_COGNITO_CLIENT_ID=dashboard-client \
  COGS_WEB_BASE_PATH=/lambda-url/cogs-web COGS_WEB_API_BASE='/lambda-url/cogs-{function}' \
  cargo lambda watch --ignore-changes -A 127.0.0.1 -P "$signin_port" >>"$log" 2>&1 &
signin_watcher=$!
stop_watchers() {
  for pid in $watcher $signin_watcher; do
    pkill -P "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
  done
}
trap stop_watchers EXIT
show_log_and_fail() {
  echo "the functions' log (cargo lambda watch), its last 60 lines:" >&2
  tail -n 60 "$log" >&2
  exit 1
}
say "waiting for the functions to build and answer"
for _ in $(seq 1 240); do
  curl -sf "$base/cogs-web/app" >/dev/null 2>&1 && curl -sf "$signin_base/cogs-web/app" >/dev/null 2>&1 && break
  kill -0 $watcher 2>/dev/null && kill -0 $signin_watcher 2>/dev/null || { cat "$log"; exit 1; }
  sleep 1
done
for function in cogs-upload cogs-run cogs-list cogs-rollback cogs-journal-export; do
  curl -sf "$base/$function/health" >/dev/null || { echo "FAILED: $function does not answer /health" >&2; cat "$log"; exit 1; }
done
# Each asset asked once of each instance before a browser asks for them all at once: a
# first answer that fails is said (with the status) and asked again, so that the pages'
# own steps do not meet a function still starting. One that keeps failing fails here.
say "asking each instance for each of the dashboard's assets"
assets=$(grep -oE '^    \("[a-z]+\.(js|css)"' functions/web/src/handler.rs | tr -d ' ("')
[ -n "$assets" ] || { echo "FAILED: no asset found in functions/web/src/handler.rs's ASSETS" >&2; exit 1; }
for asset in $assets; do
  for instance in "$base" "$signin_base"; do
    url="$instance/cogs-web/app/assets/$asset"
    for attempt in 1 2 3 4 5; do
      status=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
      [ "$status" = 200 ] && break
      echo "  $url answered $status (attempt $attempt)" >&2
      [ "$attempt" = 5 ] && show_log_and_fail
      sleep 1
    done
  done
done

say "driving the dashboard in Chromium (tests/browser/dashboard.py); screenshots into $screenshots"
COGS_WEB_URL="$base/cogs-web" COGS_API_URL="$base" COGS_S3="$s3" COGS_BUCKET=$bucket COGS_LAMBDA_PORT=$port \
  SCREENSHOTS="$screenshots" CHROMIUM=$(command -v chromium) "$venv/bin/python" tests/browser/dashboard.py ||
  show_log_and_fail

say "signing in as deployed: authorization code with PKCE, refresh, sign-out (tests/browser/sign_in.py)"
COGS_WEB_URL="$signin_base/cogs-web" COGS_API_URL="$base" COGS_AUTH=https://auth.cogs.test COGS_CLIENT_ID=dashboard-client \
  CHROMIUM=$(command -v chromium) "$venv/bin/python" tests/browser/sign_in.py || show_log_and_fail

say "the dashboard's health check (scripts/daily_health_check.sh, Dashboard Health)"
API_URL="$base/cogs-list" DASHBOARD_URL="$base/cogs-web/app" \
  DATABASE_URL="postgres://cogs_maint:cogs_maint@$COGS_PGHOST:$COGS_PGPORT/cogs_browser" scripts/daily_health_check.sh
if API_URL="$base/cogs-list" DASHBOARD_URL="$base/cogs-nothing/app" \
  DATABASE_URL="postgres://cogs_maint:cogs_maint@$COGS_PGHOST:$COGS_PGPORT/cogs_browser" scripts/daily_health_check.sh >/dev/null; then
  echo "FAILED: the health check passed with the dashboard missing" >&2
  exit 1
fi
say "dashboard: ok"
