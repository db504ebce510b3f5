-- A sale may name the lot it was taken from: specific identification costs it from
-- that lot alone (FIFO ignores it). Checked at upload: the lot must be loaded and of
-- the sale's SKU.
alter table sales add column lot_id text;
