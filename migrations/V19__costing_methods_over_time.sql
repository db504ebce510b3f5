-- A tenant's costing methods over time (model::Methods): the method until the first
-- change, then each change's method from its instant on (local midnight of its day in
-- the time zone the tenant had when it was made). FIFO throughout by default.
alter table tenant_settings
    add column costing_methods jsonb not null default '{"initial": "fifo", "changes": []}'
        constraint tenant_settings_costing_methods_object check (jsonb_typeof(costing_methods) = 'object');

-- A run records the method new events take when it starts.
alter table cogs_runs
    drop constraint cogs_runs_mode,
    add constraint cogs_runs_mode check (mode in ('fifo', 'specific_identification'));

-- A change of method re-costs the SKUs whose sales name a lot from its day on.
create index sales_naming_a_lot on sales (tenant_id, sale_date, sku) where lot_id is not null;
