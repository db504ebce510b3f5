-- What a sale's draw on a layer costs beyond its units at the layer's unit cost (the
-- landed cost its units carried; under the moving average, the difference to the
-- pool's average, which may be negative) is kept on the allocation itself, no longer
-- as a `sale_landed` movement of its own (docs/DECISIONS.md, "Costing methods"): a
-- book costed by the average wrote one such row per sale. The allocation's cost is
-- `extended_cost + landed`; `extended_cost` stays `quantity × unit_cost`.
alter table cogs_allocations add column landed numeric not null default 0;

-- The rows already written move over. The owner reads every tenant's rows here, so
-- row-level security is lifted for this migration's transaction only.
alter table cogs_allocations no force row level security;
alter table cogs_movements no force row level security;

update cogs_allocations a
set landed = m.cost
from cogs_movements m
where m.kind = 'sale_landed'
  and (m.tenant_id, m.run_id, m.sku, m.event_id, m.layer) = (a.tenant_id, a.run_id, a.sku, a.sale_id, a.lot_id);

delete from cogs_movements where kind = 'sale_landed';

-- A run's summary per SKU (what a rewind reads instead of its outputs) sums their cost.
alter table cogs_run_sku_outputs no force row level security;
update cogs_run_sku_outputs o
set cost = o.cost + a.landed
from (select tenant_id, run_id, sku, sum(landed) as landed from cogs_allocations group by 1, 2, 3) a
where (a.tenant_id, a.run_id, a.sku) = (o.tenant_id, o.run_id, o.sku) and a.landed <> 0;

alter table cogs_allocations force row level security;
alter table cogs_movements force row level security;
alter table cogs_run_sku_outputs force row level security;

alter table cogs_movements
    drop constraint cogs_movements_kind,
    add constraint cogs_movements_kind check (kind in (
        'return_restocked', 'supplier_return', 'adjustment_in', 'adjustment_out', 'count_surplus', 'count_deficit',
        'landed_on_hand', 'landed_to_cogs', 'landed_to_write_off', 'landed_to_supplier_returns',
        'transfer_out', 'transfer_in')),
    drop constraint cogs_movements_cost_not_negative,
    add constraint cogs_movements_cost_not_negative check (cost >= 0);

-- The view lists its columns as it was made: made again, it adds `landed`.
create or replace view live_allocations with (security_invoker = true) as
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
