-- A sale the layers cannot cover parks its SKU, not the run (LEDGER.md, "Shortfalls"):
-- that sale and the SKU's later ones stay uncosted, every other SKU is costed, and the
-- run completes with its shortfalls. `on_shortfall = 'fail'` keeps the all-or-nothing
-- run. A later run takes a parked SKU up again: its sales are still after its
-- watermark.
alter table cogs_runs
    add column on_shortfall text not null default 'park'
        constraint cogs_runs_on_shortfall check (on_shortfall in ('park', 'fail')),
    add column skus_parked integer not null default 0;

-- One row per SKU a run parked: its first uncovered sale, how much of it nothing could
-- cover, and what its lots received by then held. The run's chunks skip a SKU it
-- parked.
create table cogs_run_shortfalls (
    tenant_id text not null,
    run_id uuid not null,
    sku text collate "C" not null,
    sale_id text collate "C" not null,
    sale_date timestamptz not null,
    quantity_short numeric not null constraint cogs_run_shortfalls_short_positive check (quantity_short > 0),
    on_hand numeric not null constraint cogs_run_shortfalls_on_hand_not_negative check (on_hand >= 0),
    constraint cogs_run_shortfalls_pkey primary key (tenant_id, run_id, sku),
    constraint cogs_run_shortfalls_tenant_not_empty check (tenant_id <> '')
);
alter table cogs_run_shortfalls enable row level security;
alter table cogs_run_shortfalls force row level security;
create policy cogs_run_shortfalls_tenant_isolation on cogs_run_shortfalls to cogs_app
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
grant select, insert on cogs_run_shortfalls to cogs_app;
