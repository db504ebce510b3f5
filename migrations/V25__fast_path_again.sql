-- A run that re-costs a SKU of lots and sales only from its start, once the tenant's
-- methods are FIFO throughout again, gives it back to the FIFO allocator of the fast
-- path (docs/DECISIONS.md, "Costing methods"): its `movements` flag, until then never
-- cleared, goes back to false. The run's snapshot of the watermark keeps the flag, so
-- that a rollback flags the SKU again; snapshots taken before this have none.
alter table watermark_snapshots add column movements boolean;
