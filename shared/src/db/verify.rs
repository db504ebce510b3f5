//! The book's integrity, checked in SQL over every row of one tenant: what per-row
//! foreign keys proved (every allocation names a real run, sale and lot), and what they
//! could not (each costed sale covered exactly, each lot's remaining quantity its
//! initial one less its live consumption, run totals the sums of their rows).

use rust_decimal::Decimal;
use serde::Serialize;

use super::book::MOVEMENT_COLUMNS;
use super::{DbError, RunRow, TenantTx};
use crate::engine::Layer;
use crate::model::{Allocation, Lot, Movement, Sale};

/// One broken rule: which check, the record it is about, and what was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub subject: String,
    pub detail: String,
}

/// Each check: its name, what it proves, and a query returning (subject, detail) for
/// every record that breaks it.
pub const CHECKS: [(&str, &str, &str); 13] = [
    (
        "allocation_names_a_sale",
        "every live allocation names a loaded sale of the same SKU and date",
        r"select a.sale_id, 'run ' || a.run_id || ': ' || coalesce('the sale is of ' || s.sku || ' at ' || s.sale_date, 'no such sale')
          from live_allocations a left join sales s on s.sale_id = a.sale_id
          where s.sale_id is null or s.sku <> a.sku or s.sale_date <> a.sale_date",
    ),
    (
        "allocation_names_a_lot",
        "every live allocation names a loaded lot of the same SKU, received by the sale, at the lot's unit cost, \
         or a layer its run's costing of the SKU made (a restocked return, found stock) at the layer's unit cost",
        r"select a.lot_id, 'run ' || a.run_id || ', sale ' || a.sale_id || ': '
                 || case when l.lot_id is null then 'no such lot or layer'
                         when l.sku <> a.sku then 'the lot is of ' || l.sku
                         when l.received_date > a.sale_date then 'the lot was received after the sale'
                         else 'unit cost ' || a.unit_cost || ', the lot''s is ' || l.unit_cost end
          from live_allocations a
          left join lateral (
              select lot_id, sku, received_date, unit_price + freight_cost_per_unit as unit_cost
              from lots where lot_id = a.lot_id
              union all
              select y.layer, y.sku, y.received_date, y.unit_cost
              from cogs_layers y
              where (y.run_id, y.sku, y.layer) = (a.run_id, a.sku, a.lot_id)
                and not exists (select 1 from lots where lot_id = a.lot_id)
              limit 1
          ) l on true
          where l.lot_id is null or l.sku <> a.sku or l.received_date > a.sale_date or a.unit_cost <> l.unit_cost",
    ),
    (
        "allocation_is_exact",
        "every allocation's cost is its quantity times its unit cost, for a positive quantity",
        r"select a.sale_id, 'run ' || a.run_id || ', lot ' || a.lot_id || ': ' || a.quantity || ' x ' || a.unit_cost
                 || ' recorded as ' || a.extended_cost
          from cogs_allocations a
          where a.quantity <= 0 or a.extended_cost <> a.quantity * a.unit_cost",
    ),
    (
        "costed_sale_covered_exactly",
        "each sale at or before its SKU's watermark is covered exactly by live allocations (a backdated one, \
         loaded later, not at all), and no sale after it is covered",
        r"select s.sale_id, 'quantity sold ' || s.quantity_sold || ', covered ' || coalesce(a.quantity::text, 'not at all')
          from sales s
          left join sku_watermarks w on w.sku = s.sku
          left join (select sale_id, sum(quantity) as quantity from live_allocations group by sale_id) a
                 on a.sale_id = s.sale_id
          where case
              when w.costed_date is null or (s.sale_date, s.sale_id) > (w.costed_date, w.costed_sale_id)
                  then a.quantity is not null
              when w.rewind_date is not null and (s.sale_date, s.sale_id) >= (w.rewind_date, w.rewind_sale_id)
                  then a.quantity is not null and a.quantity <> s.quantity_sold
              else a.quantity is distinct from s.quantity_sold
          end",
    ),
    (
        "lot_remaining_is_initial_less_consumption",
        "each lot's remaining quantity (where it was received) is its quantity as loaded less its live \
         consumption (sales, write-offs, count deficits, supplier returns and transfers out); a lot of a SKU the \
         active run has yet to cost whole is as the run found it, less what the run superseded",
        r"with waiting_ranges as (
              -- What the active run superseded of the SKUs it has yet to cost whole (the
              -- journal of differences' reading of it): their lots stay as the run found them.
              select g.* from cogs_superseded_ranges g
              join cogs_runs r on r.run_id = g.run_id and r.status in ('pending', 'running')
              join sku_watermarks w on w.sku = g.sku and w.recost
          ),
          sold as (
              select lot_id, quantity from live_allocations
              union all
              select a.lot_id, a.quantity from waiting_ranges g
              join cogs_allocations a
                on (a.run_id, a.sku) = (g.source_run_id, g.sku)
               and (a.sale_date, a.sale_id) between (g.from_date, g.from_sale_id) and (g.to_date, g.to_sale_id)
          ),
          moved as (
              select layer, kind, quantity from live_movements
              union all
              select m.layer, m.kind, m.quantity from waiting_ranges g
              join cogs_movements m on (m.run_id, m.sku) = (g.source_run_id, g.sku)
          ),
          consumed as (
              select lot_id, sum(quantity) as quantity
              from (select lot_id, quantity from sold
                    union all
                    select layer, quantity from moved
                    where kind in ('supplier_return', 'adjustment_out', 'count_deficit', 'transfer_out')) c
              group by lot_id
          )
          select l.lot_id, 'remaining ' || l.remaining_quantity || ', loaded ' || l.initial_remaining_quantity
                 || ', consumed ' || coalesce(c.quantity, 0)
          from lots l left join consumed c on c.lot_id = l.lot_id
          where l.remaining_quantity <> l.initial_remaining_quantity - coalesce(c.quantity, 0)",
    ),
    (
        "run_totals_are_sums",
        "each running or completed run's totals are the sums of its allocations (its cost, with the landed cost \
         its sales carried)",
        r"select r.run_id::text, 'recorded ' || r.sales_processed || ' sales, ' || r.allocations_count
                 || ' allocations, quantity ' || r.total_quantity || ', cost ' || r.total_cogs
                 || '; rows ' || coalesce(a.sales, 0) || ', ' || coalesce(a.allocations, 0) || ', '
                 || coalesce(a.quantity, 0) || ', ' || coalesce(a.cost, 0)
          from cogs_runs r
          left join (select run_id, count(distinct sale_id) as sales, count(*) as allocations,
                            sum(quantity) as quantity, sum(extended_cost + landed) as cost
                     from cogs_allocations group by run_id) a on a.run_id = r.run_id
          where r.status in ('running', 'completed')
            and (r.sales_processed, r.allocations_count, r.total_quantity, r.total_cogs)
                <> (coalesce(a.sales, 0), coalesce(a.allocations, 0), coalesce(a.quantity, 0), coalesce(a.cost, 0))",
    ),
    (
        "run_sku_outputs_are_sums",
        "each running or completed run's summary of its outputs per SKU (what a rewind reads instead of them) is \
         their first and last sale, their sales, quantity and cost",
        r"with live_runs as (select run_id from cogs_runs where status in ('running', 'completed')),
          summed as (
              select a.run_id, a.sku,
                     bool_and((a.sale_date, a.sale_id) between (o.first_date, o.first_sale_id)
                                                           and (o.last_date, o.last_sale_id))
                         and bool_or((a.sale_date, a.sale_id) = (o.first_date, o.first_sale_id))
                         and bool_or((a.sale_date, a.sale_id) = (o.last_date, o.last_sale_id)) as range_exact,
                     count(distinct a.sale_id) as sales, sum(a.quantity) as quantity,
                     sum(a.extended_cost + a.landed) as cost
              from cogs_allocations a
              join live_runs using (run_id)
              left join cogs_run_sku_outputs o on (o.run_id, o.sku) = (a.run_id, a.sku)
              group by a.run_id, a.sku
          ),
          summaries as (select o.* from cogs_run_sku_outputs o join live_runs using (run_id))
          select coalesce(s.run_id, o.run_id) || ' ' || coalesce(s.sku, o.sku),
                 'summary ' || coalesce(o.first_sale_id || ' to ' || o.last_sale_id || ', ' || o.sales || ' sales, quantity '
                                        || o.quantity || ', cost ' || o.cost, 'missing')
                 || '; outputs ' || coalesce(s.sales || ' sales, quantity ' || s.quantity || ', cost ' || s.cost
                                             || case when s.range_exact then '' else ', another key range' end, 'none')
          from summed s
          full join summaries o on (o.run_id, o.sku) = (s.run_id, s.sku)
          where s.run_id is null or o.run_id is null or not s.range_exact
             or (o.sales, o.quantity, o.cost) <> (s.sales, s.quantity, s.cost)",
    ),
    (
        "watermark_knows_the_latest_sale",
        "each SKU's watermark row names its latest loaded sale and counts its sales (a run looks only into SKUs \
         whose latest sale is after their watermark, and fills a chunk of SKUs costed whole by their sales)",
        r"select coalesce(w.sku, s.sku), 'recorded ' || coalesce(w.last_sale_id, 'none') || ' of ' || coalesce(w.sales, 0)
                 || ' sales, latest loaded ' || coalesce(s.sale_id, 'none') || ' of ' || coalesce(s.sales, 0)
          from sku_watermarks w
          full join (select distinct on (sku) sku, sale_date, sale_id, count(*) over (partition by sku) as sales
                     from sales order by sku, sale_date desc, sale_id desc) s
                 on s.sku = w.sku
          where (w.last_sale_date, w.last_sale_id, coalesce(w.sales, 0))
                is distinct from (s.sale_date, s.sale_id, coalesce(s.sales, 0))",
    ),
    (
        "allocation_belongs_to_a_run",
        "every allocation, snapshot and supersession belongs to a run of the tenant",
        r"select x.run_id::text, x.what
          from (select run_id, 'allocation of sale ' || sale_id as what from cogs_allocations
                union all select run_id, 'snapshot of lot ' || lot_id from inventory_snapshots
                union all select run_id, 'watermark snapshot of ' || sku from watermark_snapshots
                union all select run_id, 'supersession of ' || sku from cogs_supersessions) x
          where not exists (select 1 from cogs_runs r where r.run_id = x.run_id)",
    ),
    (
        "watermark_set_by_a_live_run",
        "each SKU's watermark was set by a live run that covered the sale it names",
        r"select w.sku, 'watermark at sale ' || w.costed_sale_id || ' by run ' || w.costed_by_run
          from sku_watermarks w
          where w.costed_date is not null and not exists (
              select 1 from live_allocations a
              where a.run_id = w.costed_by_run and a.sale_id = w.costed_sale_id and a.sku = w.sku)",
    ),
    (
        "lot_or_sale_names_an_upload",
        "every lot and sale names an upload of the tenant",
        r"select x.id, x.what || ' names upload ' || x.upload_id || ', which the tenant does not have'
          from (select lot_id as id, 'lot' as what, upload_id from lots
                union all select sale_id, 'sale', upload_id from sales) x
          where not exists (select 1 from uploads u where u.upload_id = x.upload_id)",
    ),
    (
        "snapshot_names_a_lot",
        "every lot snapshot names a loaded lot",
        r"select s.lot_id, 'run ' || s.run_id
          from inventory_snapshots s
          where not exists (select 1 from lots l where l.lot_id = s.lot_id)",
    ),
    (
        "allocator_fits_as_loaded",
        "each SKU is flagged as fitting the FIFO allocator of the fast path exactly when its input does: lots and \
         sales only, all at the default location, no sale naming a lot and no landed cost on its lots",
        concat!(
            r"with fits_not as (
                  select sku from customer_returns
                  union select sku from supplier_returns
                  union select sku from adjustments
                  union select sku from stock_counts
                  union select sku from transfers
                  union
                  select sku from sales where lot_id is not null or location <> ",
            default_location_sql!(),
            r"
                  union
                  select l.sku from lots l
                  where l.location <> ",
            default_location_sql!(),
            r"
                     or exists (select 1 from landed_costs c where c.lot_id = l.lot_id or c.receipt_id = l.receipt_id)
              )
              select w.sku, case when w.allocator_fits then 'flagged as fitting, but its input does not'
                                 else 'flagged as not fitting, but its input does' end
              from sku_watermarks w left join fits_not f on f.sku = w.sku
              where w.allocator_fits = (f.sku is not null)"
        ),
    ),
];

/// Runs every check of [`CHECKS`] and returns what each found, at most `limit` per check.
pub async fn find_broken_rules(tx: &TenantTx, limit: i64) -> Result<Vec<Finding>, DbError> {
    let mut findings = Vec::new();
    for (check, _, sql) in CHECKS {
        for row in tx.query(&format!("{sql} limit $1"), &[&limit]).await? {
            findings.push(Finding { check, subject: row.try_get(0)?, detail: row.try_get(1)? });
        }
    }
    Ok(findings)
}

/// The SKUs of lots and sales only whose book can be compared with a fresh costing of
/// their lots and sales (no backdated event waits before their watermark), in costing
/// order. SKUs with other movements are compared whole ([`settled_movement_skus`]).
pub async fn settled_skus(tx: &TenantTx) -> Result<Vec<String>, DbError> {
    let rows = tx
        .query(
            r"select sku from sku_watermarks
              where not movements
                and (rewind_date is null or costed_date is null
                     or (rewind_date, rewind_sale_id) > (costed_date, costed_sale_id))
              order by sku",
            &[],
        )
        .await?;
    rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
}

/// The SKUs with movements besides lots and sales whose costing is up to date (no new
/// input waits), in costing order: their book is compared whole with a fresh costing.
pub async fn settled_movement_skus(tx: &TenantTx) -> Result<Vec<String>, DbError> {
    let rows = tx
        .query(
            r"select sku from sku_watermarks where movements and not recost and rewind_date is null order by sku",
            &[],
        )
        .await?;
    rows.iter().map(|row| Ok(row.try_get(0)?)).collect()
}

/// The live book of `skus` as costing gave it: allocations (by SKU in costing order,
/// each sale's layers in drawing order), movements (by SKU in costing order) and
/// layers (by SKU in drawing order).
pub async fn load_live_costing(
    tx: &TenantTx,
    skus: &[&str],
) -> Result<(Vec<Allocation>, Vec<Movement>, Vec<Layer>), DbError> {
    let allocations = tx
        .query(
            r"select a.sale_id, a.lot_id, a.sku, a.sale_date, a.quantity, a.unit_cost, a.extended_cost, a.landed
              from live_allocations a
              left join cogs_layers y on (y.tenant_id, y.run_id, y.sku, y.layer) = (a.tenant_id, a.run_id, a.sku, a.lot_id)
              where a.sku = any($1)
              order by a.sku, a.sale_date, a.sale_id, y.seq",
            &[&skus],
        )
        .await?;
    let movements = tx
        .query(
            &format!("select {MOVEMENT_COLUMNS} from live_movements where sku = any($1) order by sku, seq"),
            &[&skus],
        )
        .await?;
    let layers = tx
        .query(
            r"select sku, layer, location, received_date, remaining_quantity, unit_cost, landed from live_layers
              where sku = any($1) order by sku, seq",
            &[&skus],
        )
        .await?;
    Ok((
        allocations.iter().map(Allocation::try_from).collect::<Result<_, _>>()?,
        movements.iter().map(Movement::try_from).collect::<Result<_, _>>()?,
        layers.iter().map(Layer::try_from).collect::<Result<_, _>>()?,
    ))
}

/// One range of SKUs as it was loaded and as the book has it.
pub struct BookSlice {
    /// Lots as loaded (`remaining_quantity` is the quantity loaded).
    pub loaded_lots: Vec<Lot>,
    /// Each lot's remaining quantity as the book has it.
    pub remaining: Vec<(String, Decimal)>,
    /// Sales at or before their SKU's watermark, in costing order.
    pub costed_sales: Vec<Sale>,
}

/// The lots and costed sales of `skus`.
pub async fn load_book_slice(tx: &TenantTx, skus: &[&str]) -> Result<BookSlice, DbError> {
    let lots = tx
        .query(
            r"select lot_id, sku, received_date, original_quantity, initial_remaining_quantity as remaining_quantity,
                     unit_price, freight_cost_per_unit, receipt_id, location, remaining_quantity as book_remaining
              from lots where sku = any($1)
              order by sku, received_date, lot_id",
            &[&skus],
        )
        .await?;
    let remaining = lots
        .iter()
        .map(|row| Ok((row.try_get("lot_id")?, row.try_get("book_remaining")?)))
        .collect::<Result<_, DbError>>()?;
    let loaded_lots = lots.iter().map(Lot::try_from).collect::<Result<_, _>>()?;
    let costed_sales = tx
        .query(
            r"select s.sale_id, s.sku, s.sale_date, s.quantity_sold, s.lot_id, s.location
              from sku_watermarks w
              join sales s on s.sku = w.sku and (s.sale_date, s.sale_id) <= (w.costed_date, w.costed_sale_id)
              where w.sku = any($1)
              order by s.sku, s.sale_date, s.sale_id",
            &[&skus],
        )
        .await?
        .iter()
        .map(Sale::try_from)
        .collect::<Result<_, _>>()?;
    Ok(BookSlice { loaded_lots, remaining, costed_sales })
}

/// One line of a SKU's book as its digest reads it: `sale lot quantity cost`, and the
/// landed cost the units carried when there is one, numbers without trailing zeros, in
/// costing order, each sale's lots in FIFO order.
pub fn digest_line(allocation: &Allocation) -> String {
    let line = format!(
        "{} {} {} {}",
        allocation.sale_id,
        allocation.lot_id,
        allocation.quantity.normalize(),
        allocation.extended_cost.normalize()
    );
    if allocation.landed.is_zero() { line } else { format!("{line} {}", allocation.landed.normalize()) }
}

/// Per SKU, the SHA-256 (hex) of its live allocations' [`digest_line`]s joined by
/// newlines: one pass over the book, a few bytes per SKU back.
pub async fn live_sku_digests(tx: &TenantTx) -> Result<Vec<(String, String)>, DbError> {
    let rows = tx
        .query(
            r"select a.sku,
                     encode(sha256(convert_to(string_agg(
                         a.sale_id || ' ' || a.lot_id || ' ' || trim_scale(a.quantity) || ' ' || trim_scale(a.extended_cost)
                             || case when a.landed <> 0 then ' ' || trim_scale(a.landed) else '' end,
                         E'\n' order by a.sale_date, a.sale_id, l.received_date, a.lot_id), 'UTF8')), 'hex')
              from live_allocations a
              left join lots l on l.lot_id = a.lot_id
              group by a.sku",
            &[],
        )
        .await?;
    rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
}

/// One SKU's live allocations in costing order, each sale's lots in FIFO order.
pub async fn load_live_allocations_of_sku(tx: &TenantTx, sku: &str) -> Result<Vec<Allocation>, DbError> {
    let rows = tx
        .query(
            r"select a.sale_id, a.lot_id, a.sku, a.sale_date, a.quantity, a.unit_cost, a.extended_cost, a.landed
              from live_allocations a
              left join lots l on l.lot_id = a.lot_id
              where a.sku = $1
              order by a.sale_date, a.sale_id, l.received_date, a.lot_id",
            &[&sku],
        )
        .await?;
    rows.iter().map(Allocation::try_from).collect()
}

/// The completed runs, oldest first.
pub async fn completed_runs(tx: &TenantTx) -> Result<Vec<RunRow>, DbError> {
    let rows = tx.query(r"select * from cogs_runs where status = 'completed' order by created_at, run_id", &[]).await?;
    rows.iter().map(RunRow::try_from).collect()
}
