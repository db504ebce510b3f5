-- Whether a SKU's input lets the FIFO allocator of the fast path cost it as the engine
-- would under FIFO: lots and sales only, all at the tenant's default location, no sale
-- naming a lot and no landed cost on its lots (docs/DECISIONS.md, "Costing methods").
-- Uploads keep it as they load; loaded input stays, so once false it stays false. A run
-- back on FIFO throughout gives a SKU it re-costs whole back to the fast path by this
-- flag, instead of looking through every sale and lot of each such SKU (0.4 s of the
-- reference book's run back to FIFO).
alter table sku_watermarks add column allocator_fits boolean not null default true;

-- The SKUs already loaded. The owner reads every tenant's rows here, so row-level
-- security is lifted for this migration's transaction only.
do $$
declare
    t text;
begin
    foreach t in array array['sku_watermarks', 'customer_returns', 'supplier_returns', 'adjustments', 'stock_counts',
                             'transfers', 'sales', 'lots', 'landed_costs', 'tenant_settings']
    loop
        execute format('alter table %I no force row level security', t);
    end loop;

    update sku_watermarks w
    set allocator_fits = false
    from (
        select tenant_id, sku from customer_returns
        union select tenant_id, sku from supplier_returns
        union select tenant_id, sku from adjustments
        union select tenant_id, sku from stock_counts
        union select tenant_id, sku from transfers
        union
        select s.tenant_id, s.sku
        from sales s left join tenant_settings t on t.tenant_id = s.tenant_id
        where s.lot_id is not null or s.location <> coalesce(t.default_location, 'main')
        union
        select l.tenant_id, l.sku
        from lots l left join tenant_settings t on t.tenant_id = l.tenant_id
        where l.location <> coalesce(t.default_location, 'main')
           or exists (select 1 from landed_costs c
                      where c.tenant_id = l.tenant_id and (c.lot_id = l.lot_id or c.receipt_id = l.receipt_id))
    ) k
    where (k.tenant_id, k.sku) = (w.tenant_id, w.sku);

    foreach t in array array['sku_watermarks', 'customer_returns', 'supplier_returns', 'adjustments', 'stock_counts',
                             'transfers', 'sales', 'lots', 'landed_costs', 'tenant_settings']
    loop
        execute format('alter table %I force row level security', t);
    end loop;
end
$$;
