-- Moving weighted average (docs/DECISIONS.md, "Costing methods"): units still leave
-- the layers oldest first, but an outflow costs its share of the pool. What a sale
-- costs beyond its allocations at their layers' unit costs (`sale_landed`) may then
-- be negative, and a layer's value beyond its unit cost (`landed`) too; a layer is
-- never worth less than nothing.
alter table cogs_runs
    drop constraint cogs_runs_mode,
    add constraint cogs_runs_mode check (mode in ('fifo', 'specific_identification', 'moving_average'));

alter table cogs_movements
    drop constraint cogs_movements_cost_not_negative,
    add constraint cogs_movements_cost_not_negative check (cost >= 0 or kind = 'sale_landed');

alter table cogs_layers
    drop constraint cogs_layers_landed_not_negative,
    add constraint cogs_layers_value_not_negative check (remaining_quantity * unit_cost + landed >= 0);
