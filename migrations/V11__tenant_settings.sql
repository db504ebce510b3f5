-- Per-tenant settings (LEDGER.md, "Journals of differences and the lock date"): the
-- time zone whose days and months the journals use (an IANA name PostgreSQL knows),
-- the lock date (period close) and what a run does about a change on or before it,
-- and what a run does about a sale the lots cannot cover. A tenant without a row has
-- the defaults.
create table tenant_settings (
    tenant_id text not null,
    time_zone text not null default 'UTC',
    lock_date date,
    lock_policy text not null default 'post_in_open_period'
        constraint tenant_settings_lock_policy check (lock_policy in ('post_in_open_period', 'refuse')),
    on_shortfall text not null default 'park'
        constraint tenant_settings_on_shortfall check (on_shortfall in ('park', 'fail')),
    updated_at timestamptz not null default now(),
    updated_by text not null,
    constraint tenant_settings_pkey primary key (tenant_id),
    constraint tenant_settings_tenant_fkey foreign key (tenant_id) references tenants,
    constraint tenant_settings_tenant_not_empty check (tenant_id <> '')
);
alter table tenant_settings enable row level security;
alter table tenant_settings force row level security;
create policy tenant_settings_tenant_isolation on tenant_settings to cogs_app
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
grant select, insert, update on tenant_settings to cogs_app;
