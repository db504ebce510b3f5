-- Backdated input is re-costed, not refused (LEDGER.md, "Supersession, re-costing,
-- rollback"). A run that finds a lot or sale at or before its SKU's watermark rewinds
-- that SKU to just before it: one supersession row per SKU, the lots put back to
-- their initial quantity less the consumption that stays live, the watermark back to
-- the last sale still live, and costing goes on from there in the usual chunks.

-- What a rollback restores includes the backdating mark the rewind cleared.
alter table watermark_snapshots
    add column rewind_date timestamptz,
    add column rewind_sale_id text collate "C",
    add column backdated_kind text,
    add column backdated_id text;

-- Which live outputs a rewind took over: per SKU and run that had made them, the key
-- range from the rewind point to that run's last live output (a supersession always
-- takes a suffix of a run's outputs, so its live ones are one range of costing
-- order). The journal of differences subtracts exactly these, whatever happens to
-- other runs later. Written once by the rewinding run, never changed.
create table cogs_superseded_ranges (
    tenant_id text not null,
    run_id uuid not null,
    sku text collate "C" not null,
    source_run_id uuid not null,
    from_date timestamptz not null,
    from_sale_id text collate "C" not null,
    to_date timestamptz not null,
    to_sale_id text collate "C" not null,
    constraint cogs_superseded_ranges_pkey primary key (tenant_id, run_id, sku, source_run_id),
    constraint cogs_superseded_ranges_tenant_not_empty check (tenant_id <> '')
);
alter table cogs_superseded_ranges enable row level security;
alter table cogs_superseded_ranges force row level security;
create policy cogs_superseded_ranges_tenant_isolation on cogs_superseded_ranges to cogs_app
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
grant select, insert on cogs_superseded_ranges to cogs_app;

-- What a run re-costed, for its result and its list line: SKUs rewound, the sales
-- whose live outputs it superseded, and their cost.
alter table cogs_runs
    add column skus_recosted integer not null default 0,
    add column sales_superseded bigint not null default 0,
    add column superseded_cogs numeric not null default 0;
