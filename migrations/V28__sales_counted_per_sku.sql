-- How many sales each SKU has loaded, kept as sales are loaded: a run's chunk of SKUs
-- costed whole takes SKUs until their sales fill the chunk's size (docs/DECISIONS.md,
-- "Costing methods"), rather than a fixed number of SKUs whatever their sales.
alter table sku_watermarks add column sales bigint not null default 0
    constraint sku_watermarks_sales_not_negative check (sales >= 0);

-- The sales already loaded. The owner reads every tenant's rows here, so row-level
-- security is lifted for this migration's transaction only.
alter table sku_watermarks no force row level security;
alter table sales no force row level security;

update sku_watermarks w
set sales = s.sales
from (select tenant_id, sku, count(*) as sales from sales group by tenant_id, sku) s
where (s.tenant_id, s.sku) = (w.tenant_id, w.sku);

alter table sku_watermarks force row level security;
alter table sales force row level security;
