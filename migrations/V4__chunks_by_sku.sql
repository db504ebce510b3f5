-- Runs cost uncosted sales in (sku, sale_date, sale_id) order: SKUs never share lots,
-- so each chunk reads and updates the lots of a few SKUs instead of nearly all of
-- them, and the allocations are those of date order.
--
-- The cursor gains the SKU. A run left active by an earlier version has a date cursor
-- without one; its chunks start again from the first uncosted sale, which is right,
-- since costed sales are no longer uncosted.
alter table cogs_runs add column cursor_sku text;
alter table cogs_runs add constraint cogs_runs_cursor_sku_whole check (cursor_sku is null or cursor_sale_id is not null);

drop index sales_uncosted;
-- Byte order ("C"), the engine's order, whatever the database's collation.
create index sales_uncosted on sales (tenant_id, sku collate "C", sale_date, sale_id collate "C") where run_id is null;
