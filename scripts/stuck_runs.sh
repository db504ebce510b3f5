#!/usr/bin/env bash
# Stuck-run report: pending or running runs with no heartbeat for STUCK_MINUTES
# (default 15), across tenants. Reads DATABASE_URL (the maintenance role, cogs_maint).
# Exits 0 when there are none, 1 when there are (listed with what to do), 2 when the
# database cannot be queried. Scheduled maintenance resumes such runs by itself; this
# is for the operator who wants to know now. Prompts for nothing.
set -uo pipefail
: "${DATABASE_URL:?set DATABASE_URL to the maintenance role URL (cogs_maint)}"
minutes=${STUCK_MINUTES:-15}

stuck=$(psql "$DATABASE_URL" -X -tA -F ' ' -v ON_ERROR_STOP=1 -v minutes="$minutes" <<'SQL'
select tenant_id, run_id, status, to_char(coalesce(heartbeat_at, created_at) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
  from cogs_runs
  where status in ('pending', 'running')
    and coalesce(heartbeat_at, created_at) < now() - make_interval(mins => :minutes)
  order by coalesce(heartbeat_at, created_at);
SQL
) || { echo "FAIL  cannot query cogs_runs"; exit 2; }

if [ -z "$stuck" ]; then
  echo "ok    no run has been silent for more than $minutes minutes"
  exit 0
fi
echo "WARN  runs silent for more than $minutes minutes (tenant, run, status, last heartbeat):"
echo "$stuck" | sed 's/^/      /'
echo "      resume: cogs resume RUN --tenant-id TENANT   or undo: cogs rollback RUN --tenant-id TENANT --confirm"
echo "      (or let scheduled maintenance resume them: cogs maintenance)"
exit 1
