-- Large files staged in object storage, and scheduled maintenance.

-- An upload requested through a presigned URL waits as `pending` until its object's
-- event loads it; the object's identity makes a repeated event a no-op.
alter table uploads drop constraint uploads_status;
alter table uploads add constraint uploads_status check (status in ('pending', 'loaded', 'rejected'));
alter table uploads add column expected_size bigint constraint uploads_expected_size_positive check (expected_size > 0);
alter table uploads add column object_etag text;
alter table uploads add column object_version text;
alter table uploads add column updated_at timestamptz not null default now();
create unique index uploads_object_key on uploads (tenant_id, object_key) where object_key is not null;

-- Maintenance finds stale runs across tenants and acts on each through the tenant's
-- own transaction as the application; it needs no update grant of its own.
drop policy cogs_runs_maintenance_mark on cogs_runs;
revoke update (status, error_message, updated_at) on cogs_runs from cogs_maintenance;
grant select (heartbeat_at, updated_at, created_at, status) on cogs_runs to cogs_maintenance;

-- It also finds staged uploads still pending, to load them once a run no longer blocks.
grant select (tenant_id, upload_id, status, object_key, created_at) on uploads to cogs_maintenance;
create policy uploads_maintenance_read on uploads for select to cogs_maintenance using (true);

-- ANALYZE needs the tables' owner: this function, owned by the (non-superuser) owner,
-- does exactly that and nothing else, for maintenance to call.
create function cogs_analyze() returns void
    language sql
    security definer
    set search_path = public, pg_temp
as $$
    analyze lots;
    analyze sales;
    analyze cogs_runs;
    analyze cogs_allocations;
    analyze inventory_snapshots;
    analyze uploads;
$$;
revoke all on function cogs_analyze() from public;
grant execute on function cogs_analyze() to cogs_maintenance;
