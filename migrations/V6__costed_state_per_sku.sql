-- A run writes each fact once (docs/DECISIONS.md, "Costed state per SKU").
--
-- What a run costed is recorded by its allocations and by one watermark per SKU (the
-- last sale costed), never by rewriting each sale: uncosted = after the SKU's
-- watermark. Allocations lose their per-row foreign keys (run, sale, lot), which cost
-- more than the costing itself; `cogs verify` proves what they proved, and more, over
-- the whole book. Later runs supersede earlier outputs per SKU and range
-- (`cogs_supersessions`), so a rewind or its rollback writes one row per SKU.

-- The keys that were checked once per allocation and per snapshot row.
alter table cogs_allocations drop constraint cogs_allocations_run_fkey;
alter table cogs_allocations drop constraint cogs_allocations_sale_fkey;
alter table cogs_allocations drop constraint cogs_allocations_lot_fkey;
alter table cogs_allocations drop constraint cogs_allocations_pkey;
alter table inventory_snapshots drop constraint inventory_snapshots_run_fkey;
alter table inventory_snapshots drop constraint inventory_snapshots_lot_fkey;

-- Ids and SKUs compare byte by byte, the engine's order, whatever the database's
-- collation, so every index serves the costing order without a `collate` clause.
alter table lots alter column lot_id type text collate "C", alter column sku type text collate "C";
alter table sales alter column sale_id type text collate "C", alter column sku type text collate "C";
alter table cogs_allocations alter column sale_id type text collate "C", alter column lot_id type text collate "C",
    alter column sku type text collate "C";
alter table inventory_snapshots alter column lot_id type text collate "C";

-- Where each lot and sale came from: the row of its upload's file. Also how a file
-- that uses one id twice is told on which row it was first used.
alter table lots add column upload_row bigint;
alter table sales add column upload_row bigint;

-- One watermark per SKU, and the earliest backdated event waiting for a rewind.
create table sku_watermarks (
    tenant_id text not null,
    sku text collate "C" not null,
    -- The last sale costed, in (sale_date, sale_id) order, and the run that costed it.
    costed_date timestamptz,
    costed_sale_id text collate "C",
    costed_by_run uuid,
    -- A lot or sale loaded at or before the watermark: costing must go back to
    -- (rewind_date, rewind_sale_id), '' standing for a lot's receipt (before any sale
    -- of that instant). backdated_kind and backdated_id name the event.
    rewind_date timestamptz,
    rewind_sale_id text collate "C",
    backdated_kind text constraint sku_watermarks_backdated_kind check (backdated_kind in ('lot', 'sale')),
    backdated_id text,
    constraint sku_watermarks_pkey primary key (tenant_id, sku),
    constraint sku_watermarks_tenant_not_empty check (tenant_id <> ''),
    constraint sku_watermarks_costed_whole
        check ((costed_date is null) = (costed_sale_id is null) and (costed_date is null) = (costed_by_run is null)),
    constraint sku_watermarks_rewind_whole
        check ((rewind_date is null) = (rewind_sale_id is null) and (rewind_date is null) = (backdated_kind is null)
               and (rewind_date is null) = (backdated_id is null))
);

-- Each SKU's watermark before a run first moved it: what a rollback restores.
create table watermark_snapshots (
    tenant_id text not null,
    run_id uuid not null,
    sku text collate "C" not null,
    costed_date timestamptz,
    costed_sale_id text collate "C",
    costed_by_run uuid,
    constraint watermark_snapshots_pkey primary key (tenant_id, run_id, sku),
    constraint watermark_snapshots_tenant_not_empty check (tenant_id <> '')
);

-- A run that rewound a SKU supersedes every earlier run's output of that SKU from
-- (from_date, from_sale_id) on; rolled back, it supersedes nothing and they are live
-- again. One row per SKU and run, whatever the number of outputs.
create table cogs_supersessions (
    tenant_id text not null,
    run_id uuid not null,
    sku text collate "C" not null,
    from_date timestamptz not null,
    from_sale_id text collate "C" not null,
    constraint cogs_supersessions_pkey primary key (tenant_id, run_id, sku),
    constraint cogs_supersessions_tenant_not_empty check (tenant_id <> '')
);
create index cogs_supersessions_by_sku on cogs_supersessions (tenant_id, sku);

-- The watermarks of the data already costed, taken from the sales' run marks before
-- they go. The owner reads every tenant's rows here, so row-level security is lifted
-- for this migration's transaction only.
alter table sales no force row level security;
alter table lots no force row level security;
alter table sku_watermarks no force row level security;
insert into sku_watermarks (tenant_id, sku, costed_date, costed_sale_id, costed_by_run)
select distinct on (tenant_id, sku) tenant_id, sku, sale_date, sale_id, run_id
from sales where run_id is not null
order by tenant_id, sku, sale_date desc, sale_id desc;
insert into sku_watermarks (tenant_id, sku)
select tenant_id, sku from sales union select tenant_id, sku from lots
on conflict (tenant_id, sku) do nothing;
-- Uncosted sales at or before their SKU's watermark were backdated under the old rule
-- too; they stay marked, so no run passes them by.
update sku_watermarks w set rewind_date = b.sale_date, rewind_sale_id = b.sale_id, backdated_kind = 'sale',
                            backdated_id = b.sale_id
from (
    select distinct on (s.tenant_id, s.sku) s.tenant_id, s.sku, s.sale_date, s.sale_id
    from sales s join sku_watermarks k on k.tenant_id = s.tenant_id and k.sku = s.sku
    where s.run_id is null and (s.sale_date, s.sale_id) <= (k.costed_date, k.costed_sale_id)
    order by s.tenant_id, s.sku, s.sale_date, s.sale_id
) b
where w.tenant_id = b.tenant_id and w.sku = b.sku;
alter table sales force row level security;
alter table lots force row level security;
alter table sku_watermarks force row level security;

-- Sales are no longer rewritten by runs.
drop index sales_uncosted;
drop index sales_costed_by_sku;
drop index sales_by_run;
alter table sales drop constraint sales_run_fkey;
alter table sales drop column run_id;
-- Costing order within a SKU: what a run reads after each SKU's watermark.
create index sales_costing_order on sales (tenant_id, sku, sale_date, sale_id);

-- Backdating is found per SKU when a file is loaded, not by load order.
alter table lots drop column seq;
alter table cogs_runs drop column lot_seq_max;
-- The watermarks are the cursor within a SKU; a run remembers only the SKU it reached.
alter table cogs_runs drop constraint cogs_runs_cursor_sku_whole;
alter table cogs_runs drop constraint cogs_runs_cursor_whole;
alter table cogs_runs drop column cursor_sale_date;
alter table cogs_runs drop column cursor_sale_id;

-- A run's allocations in costing order: its journal, its totals, and the outputs a
-- later run supersedes by SKU and range. Written in this order, so appended.
create index cogs_allocations_by_run on cogs_allocations (tenant_id, run_id, sku, sale_date, sale_id);

-- The live book: allocations of live runs that no later live run has superseded.
create view live_allocations with (security_invoker = true) as
select a.*
from cogs_allocations a
join cogs_runs r on r.tenant_id = a.tenant_id and r.run_id = a.run_id
where r.status in ('pending', 'running', 'completed')
  and not exists (
      select 1
      from cogs_supersessions x
      join cogs_runs xr on xr.tenant_id = x.tenant_id and xr.run_id = x.run_id
      where x.tenant_id = a.tenant_id and x.sku = a.sku
        and xr.status in ('pending', 'running', 'completed')
        and (xr.created_at, xr.run_id) > (r.created_at, r.run_id)
        and (a.sale_date, a.sale_id) >= (x.from_date, x.from_sale_id)
  );

do $$
declare
    t text;
begin
    foreach t in array array['sku_watermarks', 'watermark_snapshots', 'cogs_supersessions']
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

-- The application keeps no DELETE on lots, sales or allocations (it never had one);
-- snapshots and supersessions are written once, watermarks move.
grant select, insert, update on sku_watermarks to cogs_app;
grant select, insert on watermark_snapshots, cogs_supersessions to cogs_app;
grant select on live_allocations to cogs_app;

-- Maintenance verifies every tenant's book, through each tenant's own transaction; it
-- only needs to know the tenants.
grant select (tenant_id) on tenants to cogs_maintenance;
create policy tenants_maintenance_read on tenants for select to cogs_maintenance using (true);

create or replace function cogs_analyze() returns void
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
    analyze sku_watermarks;
    analyze watermark_snapshots;
    analyze cogs_supersessions;
$$;
