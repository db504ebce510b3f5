-- Locations (docs/DECISIONS.md, "Locations and transfers"): every row that takes stock
-- in or out says where, and FIFO and the average run per SKU and location. A row that
-- names no location is at 'main'. A SKU with stock anywhere else, or with a transfer,
-- is costed whole (the FIFO allocator of lots and sales knows one location only).
alter table lots add column location text collate "C" not null default 'main';
alter table sales add column location text collate "C" not null default 'main';
alter table customer_returns add column location text collate "C" not null default 'main';
alter table adjustments add column location text collate "C" not null default 'main';
alter table stock_counts add column location text collate "C" not null default 'main';
-- Where the units leave from; none: where the lot was received.
alter table supplier_returns add column location text collate "C";

-- Stock moved between two locations: it leaves the source first in, first out (at
-- the average, under that method) and arrives as layers keeping their cost and their
-- original receipt date.
create table transfers (
    tenant_id text not null,
    transfer_id text collate "C" not null,
    sku text collate "C" not null,
    from_location text collate "C" not null,
    to_location text collate "C" not null,
    transfer_date timestamptz not null,
    quantity numeric not null constraint transfers_quantity_positive check (quantity > 0),
    upload_id uuid not null,
    upload_row bigint not null,
    created_at timestamptz not null default now(),
    constraint transfers_pkey primary key (tenant_id, transfer_id),
    constraint transfers_tenant_not_empty check (tenant_id <> ''),
    constraint transfers_between_two_locations check (from_location <> to_location)
);
create index transfers_by_sku on transfers (tenant_id, sku);
alter table transfers enable row level security;
alter table transfers force row level security;
create policy transfers_tenant_isolation on transfers to cogs_app
    using (tenant_id = current_setting('app.tenant_id', true))
    with check (tenant_id = current_setting('app.tenant_id', true));
grant select, insert on transfers to cogs_app;

alter table uploads drop constraint uploads_kind;
alter table uploads add constraint uploads_kind
    check (kind in ('lots', 'sales', 'returns', 'supplier_returns', 'adjustments', 'counts', 'landed_costs',
                    'transfers'));

alter table sku_watermarks
    drop constraint sku_watermarks_backdated_kind,
    add constraint sku_watermarks_backdated_kind
        check (backdated_kind in ('lot', 'sale', 'return', 'supplier_return', 'adjustment', 'count', 'landed_cost',
                                  'transfer'));

alter table cogs_run_shortfalls
    add column location text collate "C" not null default 'main',
    drop constraint cogs_run_shortfalls_event_kind,
    add constraint cogs_run_shortfalls_event_kind
        check (event_kind in ('sale', 'adjustment', 'supplier_return', 'count', 'transfer'));

-- What costing moved and left, at the location of the layer it concerns.
alter table cogs_movements
    add column location text collate "C" not null default 'main',
    drop constraint cogs_movements_kind,
    add constraint cogs_movements_kind check (kind in (
        'return_restocked', 'supplier_return', 'adjustment_in', 'adjustment_out', 'count_surplus', 'count_deficit',
        'sale_landed', 'landed_on_hand', 'landed_to_cogs', 'landed_to_write_off', 'landed_to_supplier_returns',
        'transfer_out', 'transfer_in'));
alter table cogs_layers add column location text collate "C" not null default 'main';

-- The views list their columns as they were made: made again, they add `location`.
create or replace view live_movements with (security_invoker = true) as
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

create or replace view live_layers with (security_invoker = true) as
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
