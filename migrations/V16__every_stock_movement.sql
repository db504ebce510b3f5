-- Every stock movement a merchant has (LEDGER.md, "Events"): customer returns, supplier
-- returns, adjustments, counts and landed costs beside lots and sales, each loaded from
-- its own file; what costing them moves, and the layers it leaves.
--
-- A SKU with any of these movements is costed whole: any new input of it marks it, and
-- the next run supersedes all its live outputs and costs every event of it again, in
-- one chunk (docs/DECISIONS.md, "A SKU with movements is re-costed whole"). SKUs with
-- lots and sales only keep the chunked, per-range machinery of V9 to V14.

-- The delivery a lot came in, which a landed cost may name for all its lots.
alter table lots add column receipt_id text collate "C";
create index lots_by_receipt on lots (tenant_id, receipt_id) where receipt_id is not null;

create table customer_returns (
    tenant_id text not null,
    return_id text collate "C" not null,
    sale_id text collate "C" not null,
    -- The returned sale's, so that a SKU's events are read by SKU.
    sku text collate "C" not null,
    return_date timestamptz not null,
    quantity numeric not null constraint customer_returns_quantity_positive check (quantity > 0),
    restock boolean not null,
    upload_id uuid not null,
    upload_row bigint not null,
    created_at timestamptz not null default now(),
    constraint customer_returns_pkey primary key (tenant_id, return_id),
    constraint customer_returns_tenant_not_empty check (tenant_id <> '')
);
create index customer_returns_by_sku on customer_returns (tenant_id, sku);
create index customer_returns_by_sale on customer_returns (tenant_id, sale_id);

create table supplier_returns (
    tenant_id text not null,
    supplier_return_id text collate "C" not null,
    lot_id text collate "C" not null,
    -- The lot's.
    sku text collate "C" not null,
    return_date timestamptz not null,
    quantity numeric not null constraint supplier_returns_quantity_positive check (quantity > 0),
    upload_id uuid not null,
    upload_row bigint not null,
    created_at timestamptz not null default now(),
    constraint supplier_returns_pkey primary key (tenant_id, supplier_return_id),
    constraint supplier_returns_tenant_not_empty check (tenant_id <> '')
);
create index supplier_returns_by_sku on supplier_returns (tenant_id, sku);

create table adjustments (
    tenant_id text not null,
    adjustment_id text collate "C" not null,
    sku text collate "C" not null,
    adjustment_date timestamptz not null,
    quantity numeric not null constraint adjustments_quantity_not_zero check (quantity <> 0),
    -- Stock found is valued at it; stock written off is costed from the layers.
    unit_cost numeric constraint adjustments_unit_cost_not_negative check (unit_cost >= 0),
    reason text not null default '',
    upload_id uuid not null,
    upload_row bigint not null,
    created_at timestamptz not null default now(),
    constraint adjustments_pkey primary key (tenant_id, adjustment_id),
    constraint adjustments_tenant_not_empty check (tenant_id <> ''),
    constraint adjustments_unit_cost_when_in check ((quantity > 0) = (unit_cost is not null))
);
create index adjustments_by_sku on adjustments (tenant_id, sku);

create table stock_counts (
    tenant_id text not null,
    count_id text collate "C" not null,
    sku text collate "C" not null,
    count_date timestamptz not null,
    counted_quantity numeric not null constraint stock_counts_counted_not_negative check (counted_quantity >= 0),
    unit_cost numeric constraint stock_counts_unit_cost_not_negative check (unit_cost >= 0),
    upload_id uuid not null,
    upload_row bigint not null,
    created_at timestamptz not null default now(),
    constraint stock_counts_pkey primary key (tenant_id, count_id),
    constraint stock_counts_tenant_not_empty check (tenant_id <> '')
);
create index stock_counts_by_sku on stock_counts (tenant_id, sku);

create table landed_costs (
    tenant_id text not null,
    landed_cost_id text collate "C" not null,
    lot_id text collate "C",
    receipt_id text collate "C",
    cost_date timestamptz not null,
    amount numeric not null constraint landed_costs_amount_positive check (amount > 0),
    allocate_by text not null constraint landed_costs_allocate_by check (allocate_by in ('quantity', 'value')),
    upload_id uuid not null,
    upload_row bigint not null,
    created_at timestamptz not null default now(),
    constraint landed_costs_pkey primary key (tenant_id, landed_cost_id),
    constraint landed_costs_tenant_not_empty check (tenant_id <> ''),
    constraint landed_costs_one_target check ((lot_id is null) <> (receipt_id is null))
);
create index landed_costs_by_lot on landed_costs (tenant_id, lot_id) where lot_id is not null;
create index landed_costs_by_receipt on landed_costs (tenant_id, receipt_id) where receipt_id is not null;

alter table uploads drop constraint uploads_kind;
alter table uploads add constraint uploads_kind
    check (kind in ('lots', 'sales', 'returns', 'supplier_returns', 'adjustments', 'counts', 'landed_costs'));

-- `movements`: the SKU has a movement besides lots and sales, and is costed whole.
-- `recost`: its costing is out of date; the next run costs it whole.
-- `recosted_by_run`: the run whose whole costing of it is live (its shortfall, if any,
-- is the SKU's).
alter table sku_watermarks
    add column movements boolean not null default false,
    add column recost boolean not null default false,
    add column recosted_by_run uuid,
    add constraint sku_watermarks_recost_with_movements check (movements or not recost),
    drop constraint sku_watermarks_backdated_kind,
    add constraint sku_watermarks_backdated_kind
        check (backdated_kind in ('lot', 'sale', 'return', 'supplier_return', 'adjustment', 'count', 'landed_cost'));
create index sku_watermarks_recost on sku_watermarks (tenant_id, sku) where recost;
alter table watermark_snapshots
    add column recost boolean not null default false,
    add column recosted_by_run uuid;

-- A SKU parks at any outflow nothing covers, not only at a sale.
alter table cogs_run_shortfalls rename column sale_id to event_id;
alter table cogs_run_shortfalls rename column sale_date to event_date;
alter table cogs_run_shortfalls
    add column event_kind text not null default 'sale'
        constraint cogs_run_shortfalls_event_kind check (event_kind in ('sale', 'adjustment', 'supplier_return', 'count'));

-- What costing a movement SKU moved besides its sales' allocations (model::Movement),
-- in costing order per run and SKU.
create table cogs_movements (
    tenant_id text not null,
    run_id uuid not null,
    sku text collate "C" not null,
    seq integer not null,
    kind text not null constraint cogs_movements_kind check (kind in (
        'return_restocked', 'supplier_return', 'adjustment_in', 'adjustment_out', 'count_surplus', 'count_deficit',
        'sale_landed', 'landed_on_hand', 'landed_to_cogs', 'landed_to_write_off', 'landed_to_supplier_returns')),
    event_id text collate "C" not null,
    event_date timestamptz not null,
    layer text collate "C" not null,
    quantity numeric not null constraint cogs_movements_quantity_not_negative check (quantity >= 0),
    cost numeric not null constraint cogs_movements_cost_not_negative check (cost >= 0),
    consumer text collate "C",
    constraint cogs_movements_pkey primary key (tenant_id, run_id, sku, seq),
    constraint cogs_movements_tenant_not_empty check (tenant_id <> '')
);
create index cogs_movements_by_sku on cogs_movements (tenant_id, sku);

-- The layers a movement SKU's costing left, in drawing order: its lots, and the stock
-- restocked returns, adjustments and counts brought in, each with the landed costs its
-- units still carry.
create table cogs_layers (
    tenant_id text not null,
    run_id uuid not null,
    sku text collate "C" not null,
    seq integer not null,
    layer text collate "C" not null,
    received_date timestamptz not null,
    remaining_quantity numeric not null constraint cogs_layers_remaining_not_negative check (remaining_quantity >= 0),
    unit_cost numeric not null constraint cogs_layers_unit_cost_not_negative check (unit_cost >= 0),
    landed numeric not null constraint cogs_layers_landed_not_negative check (landed >= 0),
    constraint cogs_layers_pkey primary key (tenant_id, run_id, sku, seq),
    constraint cogs_layers_tenant_not_empty check (tenant_id <> '')
);
create index cogs_layers_by_sku on cogs_layers (tenant_id, sku);

-- A movement SKU's outputs are superseded whole by a later live run that rewound it.
create view live_movements with (security_invoker = true) as
select m.*
from cogs_movements m
join cogs_runs r on r.tenant_id = m.tenant_id and r.run_id = m.run_id
where r.status in ('pending', 'running', 'completed')
  and not exists (
      select 1
      from cogs_supersessions x
      join cogs_runs xr on xr.tenant_id = x.tenant_id and xr.run_id = x.run_id
      where x.tenant_id = m.tenant_id and x.sku = m.sku
        and xr.status in ('pending', 'running', 'completed')
        and (xr.created_at, xr.run_id) > (r.created_at, r.run_id)
  );

create view live_layers with (security_invoker = true) as
select y.*
from cogs_layers y
join cogs_runs r on r.tenant_id = y.tenant_id and r.run_id = y.run_id
where r.status in ('pending', 'running', 'completed')
  and not exists (
      select 1
      from cogs_supersessions x
      join cogs_runs xr on xr.tenant_id = x.tenant_id and xr.run_id = x.run_id
      where x.tenant_id = y.tenant_id and x.sku = y.sku
        and xr.status in ('pending', 'running', 'completed')
        and (xr.created_at, xr.run_id) > (r.created_at, r.run_id)
  );

do $$
declare
    t text;
begin
    foreach t in array array['customer_returns', 'supplier_returns', 'adjustments', 'stock_counts', 'landed_costs',
                             'cogs_movements', 'cogs_layers']
    loop
        execute format('alter table %I enable row level security', t);
        execute format('alter table %I force row level security', t);
        execute format(
            'create policy %I on %I to cogs_app '
            'using (tenant_id = current_setting(''app.tenant_id'', true)) '
            'with check (tenant_id = current_setting(''app.tenant_id'', true))',
            t || '_tenant_isolation', t);
        execute format('grant select, insert on %I to cogs_app', t);
    end loop;
end
$$;
grant select on live_movements, live_layers to cogs_app;
