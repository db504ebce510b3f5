-- Statistics are refreshed outside every tenant's transaction, and only where they are
-- stale. ANALYZE holds a SHARE UPDATE EXCLUSIVE lock on each table until its
-- transaction ends, and two ANALYZEs of one table wait for each other: called inside a
-- tenant's long dry run, it made every other tenant's run start wait until the dry run
-- ended. The application now calls this function in a statement of its own; one caller
-- at a time refreshes (another finds the refresh under way and goes on without
-- waiting), a table is analysed only when enough of it changed since its statistics
-- were taken (or it never had any), and a table another session holds is skipped.
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

-- A staged upload whose file never arrives expires (maintenance marks it after a
-- configurable time) instead of being looked for every pass forever; one whose object
-- is larger than it declared is rejected without being loaded.
alter table uploads drop constraint uploads_status;
alter table uploads add constraint uploads_status check (status in ('pending', 'loaded', 'rejected', 'expired'));
