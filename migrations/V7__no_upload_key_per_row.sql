-- Measured on the reference upload of 985,290 sales (README, Performance): the key from
-- each lot and sale to its upload cost 4.6 s of 13.6 s, one lookup and row lock per
-- loaded row. Row-level security's WITH CHECK already proves each row is the loading
-- tenant's; `cogs verify` proves each names an upload of that tenant
-- (lot_or_sale_names_an_upload), and the application can delete no upload or tenant.
alter table lots drop constraint lots_upload_fkey;
alter table sales drop constraint sales_upload_fkey;

-- A run's allocations are read by run (its journal, its totals, its report) and by
-- whole-book passes (verify, supersession), never one by one. A btree in costing order
-- cost 2 s of a 9.5 s run; a block-range index on the run, which UUIDv7 keeps
-- increasing and chunks append in order, costs next to nothing to keep.
drop index cogs_allocations_by_run;
create index cogs_allocations_by_run on cogs_allocations using brin (run_id);
