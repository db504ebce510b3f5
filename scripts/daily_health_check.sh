#!/usr/bin/env bash
# Daily health check (the runbook's, for this stack). Reads API_URL (the HTTP API's
# base URL; /health is appended), DASHBOARD_URL (the dashboard; $API_URL/app unless
# set) and DATABASE_URL (a role that reads runs across tenants: the maintenance role,
# cogs_maint). Checks the API's health, that the dashboard's page and its script load,
# that the database answers, and the runs and failed runs of the last 24 hours.
# Exits 1 when the API, the dashboard or the database is down, 2 when failed runs pass
# FAILED_RUN_THRESHOLD (default 5), else 0. Prompts for nothing.
set -uo pipefail
: "${API_URL:?set API_URL to the HTTP API base URL}"
: "${DATABASE_URL:?set DATABASE_URL to the maintenance role URL (cogs_maint)}"
threshold=${FAILED_RUN_THRESHOLD:-5}
status=0

echo "FIFO COGS health check - $(date -u +%Y-%m-%dT%H:%M:%SZ)"
api=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$API_URL/health")
if [ "$api" = 200 ]; then echo "ok    API is healthy"; else echo "FAIL  API /health answered HTTP $api"; status=1; fi

# Dashboard Health: the page answers, and the script it loads does (a page whose
# script is missing is a blank screen).
dashboard=${DASHBOARD_URL:-$API_URL/app}
page=$(curl -s --max-time 10 -w '\n%{http_code}' "$dashboard")
if [ "${page##*$'\n'}" = 200 ] && base=$(printf '%s' "$page" | grep -o '<base href="[^"]*"' | cut -d'"' -f2) \
  && script=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$(printf '%s' "$dashboard" | grep -oE '^https?://[^/]+')${base}app/assets/app.js") \
  && [ "$script" = 200 ]; then
  echo "ok    dashboard is healthy"
else
  echo "FAIL  dashboard is down (page HTTP ${page##*$'\n'}, script HTTP ${script:-none})"
  status=1
fi

query() { psql "$DATABASE_URL" -X -tA -v ON_ERROR_STOP=1 -c "$1" 2>/dev/null; }
if [ "$(query 'select 1')" = 1 ]; then
  echo "ok    database is reachable"
  runs=$(query "select count(*) from cogs_runs where created_at >= now() - interval '24 hours'")
  failed=$(query "select count(*) from cogs_runs where status = 'failed' and created_at >= now() - interval '24 hours'")
  echo "info  runs in the last 24 h: $runs"
  echo "info  failed runs in the last 24 h: $failed"
  if [ "$failed" -gt "$threshold" ]; then
    echo "WARN  more than $threshold failed runs: investigate (cogs show-run RUN; validation_errors)"
    [ "$status" = 0 ] && status=2
  fi
else
  echo "FAIL  database connection failed"
  status=1
fi
exit "$status"
