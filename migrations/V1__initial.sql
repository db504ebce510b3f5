-- cogs schema, version 1.
--
-- Every tenant table: tenant_id not null and never '' (a transaction-local setting reads
-- as '' once its transaction ends), row-level security enabled AND forced, and one
-- policy for the application on current_setting('app.tenant_id', true).
-- Roles (created once per cluster by scripts/setup-db.sh): this migration's owner owns
-- everything; cogs_app (NOLOGIN) holds the application's grants; cogs_maintenance
-- (NOLOGIN) holds the narrow cross-tenant grants of scheduled maintenance.

create table tenants (
    tenant_id text primary key
        constraint tenants_id_format check (tenant_id ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(tenant_id) <= 128),
    created_at timestamptz not null default now()
);

create table uploads (
    tenant_id text not null references tenants,
    upload_id uuid not null,
    kind text not null constraint uploads_kind check (kind in ('lots', 'sales')),
    file_name text not null,
    object_key text,
    status text not null constraint uploads_status check (status in ('loaded', 'rejected')),
    rows_received bigint not null default 0,
    rows_inserted bigint not null default 0,
    rows_unchanged bigint not null default 0,
    error_count bigint not null default 0,
    created_at timestamptz not null default now(),
    constraint uploads_pkey primary key (tenant_id, upload_id),
    constraint uploads_tenant_not_empty check (tenant_id <> '')
);
create index uploads_newest_first on uploads (tenant_id, created_at desc, upload_id desc);

create table lots (
    tenant_id text not null references tenants,
    lot_id text not null,
    sku text not null,
    received_date timestamptz not null,
    original_quantity numeric not null,
    -- As loaded; remaining_quantity is this minus what completed and running runs took.
    initial_remaining_quantity numeric not null,
    remaining_quantity numeric not null,
    unit_price numeric not null,
    freight_cost_per_unit numeric not null,
    upload_id uuid not null,
    -- Load order: lots loaded after a run started are the ones a run checks for backdating.
    seq bigint generated always as identity,
    created_at timestamptz not null default now(),
    constraint lots_pkey primary key (tenant_id, lot_id),
    constraint lots_tenant_not_empty check (tenant_id <> ''),
    constraint lots_original_positive check (original_quantity > 0),
    constraint lots_initial_in_range check (initial_remaining_quantity >= 0 and initial_remaining_quantity <= original_quantity),
    constraint lots_remaining_in_range check (remaining_quantity >= 0 and remaining_quantity <= initial_remaining_quantity),
    constraint lots_price_not_negative check (unit_price >= 0 and freight_cost_per_unit >= 0),
    constraint lots_upload_fkey foreign key (tenant_id, upload_id) references uploads
);
-- FIFO order within a SKU, lots with stock only: what a run reads.
create index lots_fifo on lots (tenant_id, sku, received_date, lot_id) where remaining_quantity > 0;

create table cogs_runs (
    tenant_id text not null references tenants,
    run_id uuid not null,
    mode text not null constraint cogs_runs_mode check (mode in ('fifo')),
    status text not null
        constraint cogs_runs_status check (status in ('pending', 'running', 'completed', 'failed', 'rolled_back')),
    -- The highest lots.seq when the run started: lots loaded later were not seen by it.
    lot_seq_max bigint not null,
    sales_total bigint not null,
    sales_processed bigint not null default 0,
    allocations_count bigint not null default 0,
    total_quantity numeric not null default 0,
    total_cogs numeric not null default 0,
    -- The last sale costed, in (sale_date, sale_id) order; null before the first chunk.
    cursor_sale_date timestamptz,
    cursor_sale_id text,
    chunks_applied bigint not null default 0,
    heartbeat_at timestamptz,
    error_message text,
    validation_errors_count integer not null default 0,
    created_by text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    completed_at timestamptz,
    rolled_back_at timestamptz,
    constraint cogs_runs_pkey primary key (tenant_id, run_id),
    constraint cogs_runs_tenant_not_empty check (tenant_id <> ''),
    constraint cogs_runs_progress check (sales_processed >= 0 and sales_processed <= sales_total),
    constraint cogs_runs_cursor_whole check ((cursor_sale_date is null) = (cursor_sale_id is null))
);
-- At most one pending or running run per tenant: a second start gets 23505 (409).
create unique index cogs_runs_one_active on cogs_runs (tenant_id) where status in ('pending', 'running');
create index cogs_runs_newest_first on cogs_runs (tenant_id, created_at desc, run_id desc);

create table sales (
    tenant_id text not null references tenants,
    sale_id text not null,
    sku text not null,
    sale_date timestamptz not null,
    quantity_sold numeric not null,
    upload_id uuid not null,
    -- The run that costed the sale; null while uncosted.
    run_id uuid,
    created_at timestamptz not null default now(),
    constraint sales_pkey primary key (tenant_id, sale_id),
    constraint sales_tenant_not_empty check (tenant_id <> ''),
    constraint sales_quantity_positive check (quantity_sold > 0),
    constraint sales_upload_fkey foreign key (tenant_id, upload_id) references uploads,
    constraint sales_run_fkey foreign key (tenant_id, run_id) references cogs_runs
);
-- Uncosted sales in costing order: what a run's chunks read.
create index sales_uncosted on sales (tenant_id, sale_date, sale_id) where run_id is null;
-- Costed sales per SKU in costing order: backdating checks and rollback dependencies.
create index sales_costed_by_sku on sales (tenant_id, sku, sale_date desc, sale_id desc) include (run_id)
    where run_id is not null;
create index sales_by_run on sales (tenant_id, run_id) where run_id is not null;

create table cogs_allocations (
    tenant_id text not null,
    run_id uuid not null,
    sale_id text not null,
    lot_id text not null,
    sku text not null,
    sale_date timestamptz not null,
    quantity numeric not null,
    unit_cost numeric not null,
    extended_cost numeric not null,
    constraint cogs_allocations_pkey primary key (tenant_id, run_id, sale_id, lot_id),
    constraint cogs_allocations_tenant_not_empty check (tenant_id <> ''),
    constraint cogs_allocations_quantity_positive check (quantity > 0),
    constraint cogs_allocations_cost_exact check (extended_cost = quantity * unit_cost and unit_cost >= 0),
    constraint cogs_allocations_run_fkey foreign key (tenant_id, run_id) references cogs_runs,
    constraint cogs_allocations_sale_fkey foreign key (tenant_id, sale_id) references sales,
    constraint cogs_allocations_lot_fkey foreign key (tenant_id, lot_id) references lots
);

create table inventory_snapshots (
    tenant_id text not null,
    run_id uuid not null,
    lot_id text not null,
    remaining_quantity numeric not null constraint inventory_snapshots_not_negative check (remaining_quantity >= 0),
    created_at timestamptz not null default now(),
    constraint inventory_snapshots_pkey primary key (tenant_id, run_id, lot_id),
    constraint inventory_snapshots_tenant_not_empty check (tenant_id <> ''),
    constraint inventory_snapshots_run_fkey foreign key (tenant_id, run_id) references cogs_runs,
    constraint inventory_snapshots_lot_fkey foreign key (tenant_id, lot_id) references lots
);

create table validation_errors (
    tenant_id text not null,
    validation_error_id bigint generated always as identity,
    upload_id uuid,
    run_id uuid,
    row_number bigint,
    column_name text,
    error_type text not null,
    message text not null,
    sale_id text,
    created_at timestamptz not null default now(),
    constraint validation_errors_pkey primary key (tenant_id, validation_error_id),
    constraint validation_errors_tenant_not_empty check (tenant_id <> ''),
    constraint validation_errors_has_subject check (upload_id is not null or run_id is not null),
    constraint validation_errors_upload_fkey foreign key (tenant_id, upload_id) references uploads,
    constraint validation_errors_run_fkey foreign key (tenant_id, run_id) references cogs_runs
);
create index validation_errors_by_upload on validation_errors (tenant_id, upload_id) where upload_id is not null;
create index validation_errors_by_run on validation_errors (tenant_id, run_id) where run_id is not null;
create index validation_errors_by_age on validation_errors (created_at);

create table audit_log (
    tenant_id text not null,
    audit_id bigint generated always as identity,
    actor text not null,
    action text not null,
    run_id uuid,
    upload_id uuid,
    details jsonb not null default '{}',
    created_at timestamptz not null default now(),
    constraint audit_log_pkey primary key (tenant_id, audit_id),
    constraint audit_log_tenant_not_empty check (tenant_id <> '')
);
create index audit_log_by_run on audit_log (tenant_id, run_id) where run_id is not null;

-- Row-level security: the same rule for every tenant table.
do $$
declare
    t text;
begin
    foreach t in array array['tenants', 'uploads', 'lots', 'cogs_runs', 'sales', 'cogs_allocations',
                             'inventory_snapshots', 'validation_errors', 'audit_log']
    loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy %I on %I to cogs_app '
            'using (tenant_id = current_setting(''app.tenant_id'', true)) '
            'with check (tenant_id = current_setting(''app.tenant_id'', true))',
            t || '_tenant_isolation', t);
    end loop;
end
$$;

-- The application: read and write rows, never change or drop tables. Allocations,
-- snapshots and the audit log are never updated; runs' rows are never deleted.
grant usage on schema public to cogs_app;
grant select, insert on tenants to cogs_app;
grant select, insert, update on uploads, lots, sales, cogs_runs to cogs_app;
grant select, insert on cogs_allocations, inventory_snapshots, audit_log to cogs_app;
grant select, insert on validation_errors to cogs_app;

-- Maintenance crosses tenants, but only here: it reads runs to find stale ones and
-- marks them, and deletes expired validation errors. It reads no lots, sales or costs.
grant usage on schema public to cogs_maintenance;
grant select (tenant_id, run_id, status, heartbeat_at, updated_at, created_at) on cogs_runs to cogs_maintenance;
grant update (status, error_message, updated_at) on cogs_runs to cogs_maintenance;
grant select (tenant_id, validation_error_id, created_at), delete on validation_errors to cogs_maintenance;
grant insert on audit_log to cogs_maintenance;
create policy cogs_runs_maintenance_read on cogs_runs for select to cogs_maintenance using (true);
create policy cogs_runs_maintenance_mark on cogs_runs for update to cogs_maintenance
    using (status in ('pending', 'running')) with check (status in ('pending', 'running', 'failed'));
create policy validation_errors_maintenance_expire on validation_errors for select to cogs_maintenance using (true);
create policy validation_errors_maintenance_delete on validation_errors for delete to cogs_maintenance using (true);
create policy audit_log_maintenance_write on audit_log for insert to cogs_maintenance with check (tenant_id <> '');
