-- A run's reads and a rewind's work proportional to the SKUs they touch, not to the
-- book (LEDGER.md, "Speed without per-row keys").
--
-- 1. Each SKU's watermark row knows the SKU's latest loaded sale, so "has uncosted
--    sales" (the latest sale after the watermark) is a test of one row: a run, its
--    count and the lock check read only the SKUs with work, instead of looking into
--    `sales` once per SKU of the book. Uploads keep it; runs, rewinds and rollbacks
--    move only the watermark, so it needs no undoing.
-- 2. Each run's outputs per SKU are summed as it writes them (key range, sales,
--    quantity, cost): a rewind that takes a SKU's outputs over whole (a late lot dated
--    before every sale) reads these rows instead of every output. `cogs verify` proves
--    them equal to the outputs.

alter table sku_watermarks
    add column last_sale_date timestamptz,
    add column last_sale_id text collate "C",
    add constraint sku_watermarks_last_sale_whole check ((last_sale_date is null) = (last_sale_id is null));

-- The SKUs with a sale after their watermark: what a run costs.
create index sku_watermarks_uncosted on sku_watermarks (tenant_id, sku)
    where last_sale_date is not null
      and (costed_date is null or (last_sale_date, last_sale_id) > (costed_date, costed_sale_id));

-- Every lot of a SKU, spent or not: what a rewind of a few SKUs puts back (`lots_fifo`
-- holds only the lots with stock).
create index lots_by_sku on lots (tenant_id, sku);

-- Per run and SKU: the first and last output's (sale_date, sale_id), the sales costed,
-- and the quantity and cost of the outputs. One row per SKU a run costed, grown by each
-- of its chunks (a SKU's sales come in costing order across chunks).
create table cogs_run_sku_outputs (
    tenant_id text not null,
    run_id uuid not null,
    sku text collate "C" not null,
    first_date timestamptz not null,
    first_sale_id text collate "C" not null,
    last_date timestamptz not null,
    last_sale_id text collate "C" not null,
    sales bigint not null constraint cogs_run_sku_outputs_sales_positive check (sales > 0),
    quantity numeric not null,
    cost numeric not null,
    constraint cogs_run_sku_outputs_pkey primary key (tenant_id, run_id, sku),
    constraint cogs_run_sku_outputs_tenant_not_empty check (tenant_id <> ''),
    constraint cogs_run_sku_outputs_range_ordered
        check ((first_date, first_sale_id) <= (last_date, last_sale_id))
);
-- What a rewind looks up: the runs that costed a SKU.
create index cogs_run_sku_outputs_by_sku on cogs_run_sku_outputs (tenant_id, sku);
alter table cogs_run_sku_outputs enable row level security;
alter table cogs_run_sku_outputs force row level security;
create policy cogs_run_sku_outputs_tenant_isolation on cogs_run_sku_outputs to cogs_app
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
grant select, insert, update on cogs_run_sku_outputs to cogs_app;

-- The data already loaded and costed. The owner reads every tenant's rows here, so
-- row-level security is lifted for this migration's transaction only.
alter table sales no force row level security;
alter table sku_watermarks no force row level security;
alter table cogs_allocations no force row level security;
alter table cogs_run_sku_outputs no force row level security;

update sku_watermarks w
set last_sale_date = s.sale_date, last_sale_id = s.sale_id
from (
    select distinct on (tenant_id, sku) tenant_id, sku, sale_date, sale_id
    from sales
    order by tenant_id, sku, sale_date desc, sale_id desc
) s
where w.tenant_id = s.tenant_id and w.sku = s.sku;

with totals as (
    select tenant_id, run_id, sku, min(sale_date) as first_date, max(sale_date) as last_date,
           count(distinct sale_id) as sales, sum(quantity) as quantity, sum(extended_cost) as cost
    from cogs_allocations
    group by tenant_id, run_id, sku
),
first_ids as (
    select a.tenant_id, a.run_id, a.sku, min(a.sale_id) as sale_id
    from cogs_allocations a join totals t using (tenant_id, run_id, sku)
    where a.sale_date = t.first_date
    group by a.tenant_id, a.run_id, a.sku
),
last_ids as (
    select a.tenant_id, a.run_id, a.sku, max(a.sale_id) as sale_id
    from cogs_allocations a join totals t using (tenant_id, run_id, sku)
    where a.sale_date = t.last_date
    group by a.tenant_id, a.run_id, a.sku
)
insert into cogs_run_sku_outputs (tenant_id, run_id, sku, first_date, first_sale_id, last_date, last_sale_id, sales,
                                  quantity, cost)
select t.tenant_id, t.run_id, t.sku, t.first_date, f.sale_id, t.last_date, l.sale_id, t.sales, t.quantity, t.cost
from totals t
join first_ids f using (tenant_id, run_id, sku)
join last_ids l using (tenant_id, run_id, sku);

alter table sales force row level security;
alter table sku_watermarks force row level security;
alter table cogs_allocations force row level security;
alter table cogs_run_sku_outputs force row level security;

-- Statistics for every table of the schema, this one and any later one, so that no
-- migration has to name its tables here again.
create or replace function cogs_analyze() returns void
    language plpgsql
    security definer
    set search_path = public, pg_temp
    set lock_timeout = '1s'
as $$
declare
    stale record;
begin
    if not pg_try_advisory_xact_lock(hashtextextended('cogs.analyze', 0)) then
        return;
    end if;
    begin
        perform brin_summarize_new_values('cogs_allocations_by_sku'::regclass);
        perform brin_summarize_new_values('cogs_allocations_by_run'::regclass);
    exception when lock_not_available then
        -- Autovacuum has the table, and summarises as it goes.
        null;
    end;
    for stale in
        select s.relname
        from pg_stat_user_tables s
        join pg_class c on c.oid = s.relid
        where s.schemaname = 'public'
          and s.n_mod_since_analyze > 0
          and (
              (s.last_analyze is null and s.last_autoanalyze is null)
              or s.n_mod_since_analyze > 1000 + 0.1 * greatest(c.reltuples, 0)
          )
    loop
        begin
            execute format('analyze %I', stale.relname);
        exception when lock_not_available then
            -- Autovacuum or another ANALYZE has the table: its statistics are being kept.
            null;
        end;
    end loop;
end
$$;
