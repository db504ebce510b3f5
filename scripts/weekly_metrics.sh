#!/usr/bin/env bash
# Weekly metrics (the runbook's, for this stack): active tenants, runs, rollbacks and
# failures of the last 7 days, and table sizes. Reads DATABASE_URL (the maintenance
# role, cogs_maint, reads runs across tenants). Exits non-zero when the database
# cannot be queried. Prompts for nothing.
set -euo pipefail
: "${DATABASE_URL:?set DATABASE_URL to the maintenance role URL (cogs_maint)}"

echo "FIFO COGS weekly metrics - $(date -u +%Y-%m-%dT%H:%M:%SZ)"
psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 -P pager=off <<'SQL'
select 'Active tenants (7 days)' as metric, count(distinct tenant_id) as value
  from cogs_runs where created_at >= now() - interval '7 days'
union all
select 'Total runs (7 days)', count(*) from cogs_runs where created_at >= now() - interval '7 days'
union all
select 'Rollbacks (7 days)', count(*) from cogs_runs where status = 'rolled_back' and created_at >= now() - interval '7 days'
union all
select 'Failed runs (7 days)', count(*) from cogs_runs where status = 'failed' and created_at >= now() - interval '7 days';

select c.relname as table, pg_size_pretty(pg_total_relation_size(c.oid)) as size
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where n.nspname = 'public' and c.relkind = 'r'
  order by pg_total_relation_size(c.oid) desc;
SQL
