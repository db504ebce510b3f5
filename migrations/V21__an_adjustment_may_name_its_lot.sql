-- An adjustment that takes stock out may name the lot it came from: specific
-- identification costs it from that lot alone (the other methods ignore it). Checked
-- at upload: the lot must be loaded and of the adjustment's SKU.
alter table adjustments add column lot_id text;

-- A change between FIFO and specific identification re-costs the SKUs whose
-- adjustments name a lot from its day on, as it does those whose sales do.
create index adjustments_naming_a_lot on adjustments (tenant_id, adjustment_date, sku) where lot_id is not null;
