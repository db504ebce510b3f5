//! Watermarks: per SKU, the last sale costed (everything after it is uncosted), the
//! snapshots a rollback restores them from, and the rewind of a SKU whose backdated
//! input a run re-costs.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{DbError, TenantTx};

/// Snapshots, for run `$1`, the watermarks `w` the statement goes on to choose (a
/// `where` or a join follows): what a rollback restores. A statement's first clause.
pub(super) const SNAPSHOT_WATERMARKS: &str = r"insert into watermark_snapshots (tenant_id, run_id, sku, costed_date,
        costed_sale_id, costed_by_run, rewind_date, rewind_sale_id, backdated_kind, backdated_id, recost,
        recosted_by_run, movements)
    select w.tenant_id, $1, w.sku, w.costed_date, w.costed_sale_id, w.costed_by_run, w.rewind_date,
           w.rewind_sale_id, w.backdated_kind, w.backdated_id, w.recost, w.recosted_by_run, w.movements
    from sku_watermarks w";

/// Moves each SKU's watermark to the last sale a chunk costed for it: `skus[i]` to
/// `last_sales[i]` (none: a SKU with movements whose costing took no sale), costed by
/// `run_id`. The watermark each SKU had before the run first moved it is kept in
/// `watermark_snapshots` (a later chunk of the same run keeps the first snapshot). A
/// stale backdating mark (one the watermark had already gone back before, by a
/// rollback) is cleared: costing forward covers it. A SKU with movements, costed whole,
/// no longer waits to be re-costed, and its costing is `run_id`'s, unless
/// `to_fast_path[i]` gives it back to the FIFO allocator of the fast path (empty: none
/// is; see [`super::SkuToRecost`]): its lots are then its book, and later runs take
/// it there.
pub async fn advance_watermarks(
    tx: &TenantTx,
    run_id: Uuid,
    skus: &[&str],
    last_sales: &[Option<(DateTime<Utc>, &str)>],
    to_fast_path: &[bool],
) -> Result<u64, DbError> {
    let dates: Vec<Option<DateTime<Utc>>> = last_sales.iter().map(|last| last.map(|(date, _)| date)).collect();
    let ids: Vec<Option<&str>> = last_sales.iter().map(|last| last.map(|(_, id)| id)).collect();
    tx.execute(
        &format!(
            r"with snapshot as (
              {SNAPSHOT_WATERMARKS}
              where w.sku = any($2)
              on conflict (tenant_id, run_id, sku) do nothing
          )
          update sku_watermarks w
          set costed_date = v.sale_date, costed_sale_id = v.sale_id,
              costed_by_run = case when v.sale_id is null then null else $1 end,
              rewind_date = null, rewind_sale_id = null, backdated_kind = null, backdated_id = null,
              recost = false, movements = w.movements and not coalesce(v.to_fast_path, false),
              recosted_by_run = case when w.movements and not coalesce(v.to_fast_path, false) then $1
                                     else w.recosted_by_run end
          -- unnest pads a shorter array (an empty `to_fast_path`) with nulls.
          from unnest($2::text[], $3::timestamptz[], $4::text[], $5::boolean[]) as v(sku, sale_date, sale_id, to_fast_path)
          where w.sku = v.sku"
        ),
        &[&run_id, &skus, &dates, &ids, &to_fast_path],
    )
    .await
}

/// Puts back the watermark of every SKU the run moved, as it was before the run. The
/// SKU's backdating mark becomes the earlier of the one it had then (a rewind cleared
/// it: the backdated event is uncosted again, and the next run rewinds for it again)
/// and the one it has now (input loaded after the run, still waiting).
pub async fn restore_watermarks(tx: &TenantTx, run_id: Uuid) -> Result<u64, DbError> {
    tx.execute(
        &format!(
            r"update sku_watermarks w
              set costed_date = s.costed_date, costed_sale_id = s.costed_sale_id, costed_by_run = s.costed_by_run,
                  recost = s.recost, recosted_by_run = s.recosted_by_run,
                  -- Only ever set again: input loaded since may have flagged the SKU.
                  movements = w.movements or coalesce(s.movements, false),
                  {}
              from watermark_snapshots s
              where s.run_id = $1 and s.sku = w.sku",
            earlier_mark("s.rewind_date, s.rewind_sale_id, s.backdated_kind, s.backdated_id")
        ),
        &[&run_id],
    )
    .await
}

/// The `set` clause that keeps the earlier of a watermark `w`'s backdating mark and
/// `other` (rewind_date, rewind_sale_id, backdated_kind, backdated_id); no mark is
/// later than any.
fn earlier_mark(other: &str) -> String {
    format!(
        r"(rewind_date, rewind_sale_id, backdated_kind, backdated_id) = (
              select m.rewind_date, m.rewind_sale_id, m.backdated_kind, m.backdated_id
              from (values ({other}), (w.rewind_date, w.rewind_sale_id, w.backdated_kind, w.backdated_id))
                   as m(rewind_date, rewind_sale_id, backdated_kind, backdated_id)
              order by m.rewind_date nulls last, m.rewind_sale_id
              limit 1
          )"
    )
}

/// Up to this many SKUs, a rewind reads their allocations and lots SKU by SKU.
const FEW_SKUS: i64 = 50;

/// A SKU with a sale after its watermark (`w`), which a run costs: its latest loaded
/// sale is after the last one costed. The predicate of the `sku_watermarks_uncosted`
/// index, written out the same way so that the planner can use it.
pub(super) const HAS_UNCOSTED: &str = "w.last_sale_date is not null
    and (w.costed_date is null or (w.last_sale_date, w.last_sale_id) > (w.costed_date, w.costed_sale_id))";

/// The SKUs a rewind takes (`marked`: each from its backdating mark, where that lies at
/// or before the last sale costed, and each SKU with movements flagged `recost`, from
/// its start) and each live run's outputs
/// of them as their summary tells (`sources`: wholly superseded by a later live run,
/// wholly live, and whether they all come from the mark on). A SKU is taken over whole
/// when each of its sources is wholly superseded or wholly live from the mark on
/// (`sku_whole`): its summaries say all a rewind needs. The others (`partial`) must
/// have their outputs read. Flags are computed per SKU with a window, not by joining
/// one of these sets with another, whose sizes the planner can only guess.
const CLASSIFIED_MARKS: &str = r"marked as materialized (
        select sku, recost as costed_whole,
               case when movements then '-infinity' else rewind_date end as from_date,
               case when movements then '' else rewind_sale_id end as from_sale_id
        from sku_watermarks
        where recost or (rewind_date, rewind_sale_id) <= (costed_date, costed_sale_id)
    ),
    -- Each live run's supersession of a marked SKU, ranked by where it starts.
    cuts as materialized (
        select x.sku, r.created_at, r.run_id, x.from_date, x.from_sale_id,
               dense_rank() over (partition by x.sku order by x.from_date, x.from_sale_id) as cut_rank
        from marked m
        join cogs_supersessions x on x.sku = m.sku
        join cogs_runs r on r.run_id = x.run_id and r.status in ('pending', 'running', 'completed')
    ),
    -- Each live run's outputs of a marked SKU, with the earliest point a later live run
    -- superseded the SKU from (live_allocations' rule): the least rank among the cuts
    -- of later runs, in one pass over each SKU's runs from the latest (a run's own cut
    -- comes after its outputs, so it does not count for them). A lookup per output
    -- into every later run's cut took 4.6 s of a rewind after 19 runs of 10,000 SKUs.
    outputs as (
        select o.*, r.created_at
        from marked m
        join cogs_run_sku_outputs o on o.sku = m.sku
        join cogs_runs r on r.run_id = o.run_id and r.status in ('pending', 'running', 'completed')
    ),
    cut_of_outputs as (
        select *
        from (
            select u.*, min(u.cut_rank) over (partition by u.sku order by u.created_at desc, u.run_id desc, u.is_cut
                                              rows between unbounded preceding and 1 preceding) as later_cut
            from (
                select sku, run_id, created_at, false as is_cut, null::bigint as cut_rank, first_date, first_sale_id,
                       last_date, last_sale_id, sales, cost
                from outputs
                union all
                select sku, run_id, created_at, true, cut_rank, null, null, null, null, null, null
                from cuts
            ) u
        ) c
        where not is_cut
    ),
    sources as materialized (
        select c.*, bool_and(c.superseded or (c.live and c.from_mark_on)) over (partition by c.sku) as sku_whole
        from (
            select o.sku, o.run_id, o.last_date, o.last_sale_id, o.sales, o.cost, m.from_date, m.from_sale_id,
                   cut.from_date is not null
                       and (cut.from_date, cut.from_sale_id) <= (o.first_date, o.first_sale_id) as superseded,
                   cut.from_date is null
                       or (cut.from_date, cut.from_sale_id) > (o.last_date, o.last_sale_id) as live,
                   (o.first_date, o.first_sale_id) >= (m.from_date, m.from_sale_id) as from_mark_on
            from cut_of_outputs o
            join marked m on m.sku = o.sku
            left join (select distinct sku, cut_rank, from_date, from_sale_id from cuts) cut
                   on (cut.sku, cut.cut_rank) = (o.sku, o.later_cut)
        ) c
    ),
    partial as materialized (
        select distinct sku, from_date, from_sale_id from sources where not sku_whole
    ),
    -- The SKUs rewound to a point whose lots the rewind puts back: a SKU costed whole
    -- keeps its lots as the run found them until the chunk that costs it sets them.
    in_part as materialized (
        select sku from marked where not costed_whole
    )";

/// Readies the SKUs with movements besides lots and sales for `run_id` to cost them
/// whole: each with new input (a mark) or a sale after its watermark (a parked SKU
/// tried again) is snapshotted as it was, then flagged `recost`: the rewind takes all
/// its live outputs over, and the run's chunks cost it. Returns how many.
pub async fn mark_movement_skus(tx: &TenantTx, run_id: Uuid) -> Result<u64, DbError> {
    tx.execute(
        &format!(
            r"with snapshot as (
                  {SNAPSHOT_WATERMARKS}
                  where w.movements and (w.recost or w.rewind_date is not null or ({HAS_UNCOSTED}))
              )
              update sku_watermarks w
              set recost = true
              where w.movements and (w.recost or w.rewind_date is not null or ({HAS_UNCOSTED}))"
        ),
        &[&run_id],
    )
    .await
}

/// What a run's rewind of backdated SKUs took over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rewound {
    pub skus: i32,
    pub sales_superseded: i64,
    pub superseded_cogs: Decimal,
}

/// Rewinds every SKU whose backdating mark lies at or before its watermark, for
/// `run_id` (whose row exists, so its supersessions take effect): the SKU's live
/// outputs from the mark on become superseded by the run (one `cogs_supersessions`
/// row; `cogs_superseded_ranges` records whose outputs they were, for the journal of
/// differences), its lots go back to their loaded quantity less the live consumption
/// before the mark, and its watermark to the last sale still live; the mark is
/// cleared. A SKU flagged to be costed whole keeps its lots as they are: the chunk
/// that costs it sets each to what its costing leaves (most stay as they were after a
/// change between FIFO and the average, so are written by neither).
/// The lots it moves and the watermarks are snapshotted first (marks
/// included; a SKU with movements keeps the snapshot [`mark_movement_skus`] took
/// before marking it), so a rollback puts everything back. A SKU whose live outputs all come
/// from the mark on (a late lot dated before every sale) is rewound from its runs'
/// per-SKU summaries (`cogs_run_sku_outputs`) without reading its outputs; the
/// others' outputs are read once. One statement after the count that chooses how to read them.
pub async fn rewind_backdated(tx: &TenantTx, run_id: Uuid) -> Result<Rewound, DbError> {
    // Rewinding many SKUs in part aggregates a million outputs; with the default 4 MB
    // its hashes spill to disk in batches. For this (short) transaction only.
    tx.execute(r"select set_config('work_mem', '64MB', true)", &[]).await?;
    let counts = tx
        .query_one(
            &format!(
                "with {CLASSIFIED_MARKS}
                 select (select count(*) from marked), (select count(*) from partial), (select count(*) from in_part)"
            ),
            &[],
        )
        .await?;
    let (marked, partial, in_part): (i64, i64, i64) = (counts.try_get(0)?, counts.try_get(1)?, counts.try_get(2)?);
    if marked == 0 {
        return Ok(Rewound::default());
    }
    // The lots of a few SKUs are looked up by SKU; many SKUs' lots are one scan.
    let lots_in_part = if in_part <= FEW_SKUS {
        "in_part m cross join lateral (select * from lots l where l.sku = m.sku offset 0) l"
    } else {
        "lots l join in_part m on m.sku = l.sku"
    };
    // A few SKUs are looked up one by one through the block-range index by SKU (a
    // millisecond each; `offset 0` keeps the planner from turning the lookups into one
    // scan); many are joined with one scan of the allocations.
    let live_outputs = if partial <= FEW_SKUS {
        "partial m cross join lateral (select * from live_allocations a where a.sku = m.sku offset 0) a"
    } else {
        "live_allocations a join partial m on m.sku = a.sku"
    };
    let row = tx
        .query_one(
            &format!(
                r"with {CLASSIFIED_MARKS},
              live as materialized (
                  select a.sku, a.lot_id, a.run_id, a.sale_date, a.sale_id, a.quantity, a.extended_cost + a.landed as cost,
                         m.from_date, m.from_sale_id,
                         (a.sale_date, a.sale_id) >= (m.from_date, m.from_sale_id) as superseded
                  from {live_outputs}
              ),
              -- Each source run's last superseded output, by two hash aggregates: sorting
              -- every superseded output for `distinct on` took most of a large rewind.
              last_dates as (
                  select sku, run_id, max(sale_date) as sale_date from live where superseded group by sku, run_id
              ),
              whole_sources as (
                  select * from sources where sku_whole and not superseded
              ),
              ranges as (
                  insert into cogs_superseded_ranges (tenant_id, run_id, sku, source_run_id, from_date, from_sale_id,
                                                      to_date, to_sale_id)
                  select $2, $1, l.sku, l.run_id, l.from_date, l.from_sale_id, d.sale_date, max(l.sale_id)
                  from live l
                  join last_dates d on (d.sku, d.run_id, d.sale_date) = (l.sku, l.run_id, l.sale_date)
                  where l.superseded
                  group by l.sku, l.run_id, l.from_date, l.from_sale_id, d.sale_date
                  union all
                  select $2, $1, sku, run_id, from_date, from_sale_id, last_date, last_sale_id
                  from whole_sources
              ),
              superseded_sales as (
                  select sale_id, sum(cost) as cost from live where superseded group by sale_id
              ),
              supersessions as (
                  insert into cogs_supersessions (tenant_id, run_id, sku, from_date, from_sale_id)
                  select $2, $1, sku, from_date, from_sale_id from marked
              ),
              kept as (
                  select lot_id, sum(quantity) as quantity from live where not superseded group by lot_id
              ),
              -- Only the lots whose remaining quantity moves are snapshotted and written.
              lots_moved as materialized (
                  select l.lot_id, l.remaining_quantity,
                         l.initial_remaining_quantity - coalesce(k.quantity, 0) as remaining_after
                  from {lots_in_part} left join kept k on k.lot_id = l.lot_id
                  where l.remaining_quantity <> l.initial_remaining_quantity - coalesce(k.quantity, 0)
              ),
              lot_snapshots as (
                  insert into inventory_snapshots (tenant_id, run_id, lot_id, remaining_quantity)
                  select $2, $1, lot_id, remaining_quantity from lots_moved
              ),
              lots_back as (
                  update lots l set remaining_quantity = v.remaining_after from lots_moved v where l.lot_id = v.lot_id
              ),
              watermark_snapshots as (
                  {SNAPSHOT_WATERMARKS} join marked m on m.sku = w.sku
                  -- A SKU with movements was snapshotted before it was marked.
                  on conflict (tenant_id, run_id, sku) do nothing
              ),
              last_kept as (
                  select distinct on (sku) sku, sale_date, sale_id, run_id
                  from live where not superseded
                  order by sku, sale_date desc, sale_id desc
              ),
              watermarks_back as (
                  update sku_watermarks w
                  set costed_date = k.sale_date, costed_sale_id = k.sale_id, costed_by_run = k.run_id,
                      rewind_date = null, rewind_sale_id = null, backdated_kind = null, backdated_id = null
                  from marked m left join last_kept k on k.sku = m.sku
                  where w.sku = m.sku
              )
              select (select count(*) from marked)::integer,
                     (select count(*) from superseded_sales)
                         + (select coalesce(sum(sales), 0) from whole_sources)::bigint,
                     (select coalesce(sum(cost), 0) from superseded_sales)
                         + (select coalesce(sum(cost), 0) from whole_sources)"
            ),
            &[&run_id, &tx.tenant_id().as_str()],
        )
        .await?;
    Ok(Rewound { skus: row.try_get(0)?, sales_superseded: row.try_get(1)?, superseded_cogs: row.try_get(2)? })
}

/// Readies the SKUs a change of costing method from `since` (`None`: from the start)
/// can re-cost, and returns the earliest event it re-costs as (kind, id, SKU, date):
/// what the lock date is checked against. Between FIFO and specific identification
/// only outflows that name their lot (sales, adjustments out) cost differently; with
/// the moving average on either side, every outflow and return does
/// (`every_outflow`). Each such SKU is costed whole, marked from its earliest such
/// event unless an earlier mark waits.
pub async fn mark_method_change(
    tx: &TenantTx,
    since: Option<DateTime<Utc>>,
    every_outflow: bool,
) -> Result<Option<(String, String, String, DateTime<Utc>)>, DbError> {
    let events = if every_outflow {
        r"select 'sale' as kind, sale_id as id, sku, sale_date as at from sales
          union all select 'return', return_id, sku, return_date from customer_returns
          union all select 'supplier_return', supplier_return_id, sku, return_date from supplier_returns
          union all select 'adjustment', adjustment_id, sku, adjustment_date from adjustments where quantity < 0
          union all select 'count', count_id, sku, count_date from stock_counts
          union all select 'transfer', transfer_id, sku, transfer_date from transfers"
    } else {
        r"select 'sale' as kind, sale_id as id, sku, sale_date as at from sales where lot_id is not null
          union all
          select 'adjustment', adjustment_id, sku, adjustment_date from adjustments
          where lot_id is not null and quantity < 0"
    };
    let mark = earlier_mark("a.at, case when a.kind = 'sale' then a.id else '' end, a.kind, a.id");
    let row = tx
        .query_opt(
            &format!(
                r"with affected as materialized (
                  select distinct on (sku) kind, id, sku, at
                  from ({events}) e
                  where at >= coalesce($1, '-infinity'::timestamptz)
                  order by sku, at, id
              ),
              marked as (
                  update sku_watermarks w
                  set movements = true, {mark}
                  from affected a
                  where w.sku = a.sku
              )
              select kind, id, sku, at from affected order by at, id limit 1"
            ),
            &[&since],
        )
        .await?;
    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?))).transpose()
}

/// Makes every SKU with something to cost (a sale after its watermark, or backdated
/// input waiting) one costed whole: what a run does while
/// any of the tenant's methods is the moving average, which the FIFO allocator of the
/// fast path does not know. Returns how many changed.
pub async fn cost_every_sku_whole(tx: &TenantTx) -> Result<u64, DbError> {
    tx.execute(
        &format!(
            r"update sku_watermarks w set movements = true
              where not w.movements and (({HAS_UNCOSTED}) or w.rewind_date is not null)"
        ),
        &[],
    )
    .await
}
