-- Allocations by SKU: what a rewind of a few SKUs and a journal of differences read.
-- A run writes its outputs in SKU order, so a block-range index of 16 pages a range
-- keeps each range to a narrow band of SKUs; keeping it costs a run next to nothing,
-- where a B-tree entry per output would cost seconds (LEDGER, "Speed without per-row
-- keys"). A one-SKU lookup in three million outputs reads about 60 pages.
create index cogs_allocations_by_sku on cogs_allocations using brin (sku) with (pages_per_range = 16, autosummarize = on);

-- Ranges written since the last summary match every lookup, so a run's new outputs are
-- summarised when statistics are refreshed (after each run), as well as by autovacuum.
create or replace function cogs_analyze() returns void
    language plpgsql
    security definer
    set search_path = public, pg_temp
    set lock_timeout = '1s'
as $$
declare
    stale record;
begin
    if not pg_try_advisory_xact_lock(hashtextextended('cogs.analyze', 0)) then
        return;
    end if;
    begin
        perform brin_summarize_new_values('cogs_allocations_by_sku'::regclass);
        perform brin_summarize_new_values('cogs_allocations_by_run'::regclass);
    exception when lock_not_available then
        -- Autovacuum has the table, and summarises as it goes.
        null;
    end;
    for stale in
        select s.relname
        from pg_stat_user_tables s
        join pg_class c on c.oid = s.relid
        where s.schemaname = 'public'
          and s.relname in ('lots', 'sales', 'cogs_runs', 'cogs_allocations', 'inventory_snapshots', 'uploads',
                            'sku_watermarks', 'watermark_snapshots', 'cogs_supersessions')
          and s.n_mod_since_analyze > 0
          and (
              (s.last_analyze is null and s.last_autoanalyze is null)
              or s.n_mod_since_analyze > 1000 + 0.1 * greatest(c.reltuples, 0)
          )
    loop
        begin
            execute format('analyze %I', stale.relname);
        exception when lock_not_available then
            -- Autovacuum or another ANALYZE has the table: its statistics are being kept.
            null;
        end;
    end loop;
end
$$;
