//! Lots: loading files in batches, reading them in FIFO order, and the set-wise
//! updates of a run.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use tokio_postgres::Row;
use uuid::Uuid;

use super::settings::DEFAULT_LOCATION;
use super::{BatchProblem, DbError, Param, TenantTx};
use crate::ingest::{RowError, RowErrorKind};
use crate::model::{Lot, LotId, ReceiptId, Sku};

impl TryFrom<&Row> for Lot {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        Ok(Lot {
            lot_id: LotId::parse(row.try_get::<_, String>("lot_id")?).map_err(DbError::corrupt("lot_id"))?,
            sku: Sku::parse(row.try_get::<_, String>("sku")?).map_err(DbError::corrupt("sku"))?,
            received_date: row.try_get("received_date")?,
            original_quantity: row.try_get("original_quantity")?,
            remaining_quantity: row.try_get("remaining_quantity")?,
            unit_price: row.try_get("unit_price")?,
            freight_cost_per_unit: row.try_get("freight_cost_per_unit")?,
            receipt_id: row
                .try_get::<_, Option<String>>("receipt_id")?
                .map(ReceiptId::parse)
                .transpose()
                .map_err(DbError::corrupt("receipt_id"))?,
            location: super::location_of(row, "location")?,
        })
    }
}

/// Inserts one batch of a file's numbered lots, in one statement, and returns how
/// many were new. A lot whose id is already loaded is left as it is (the caller tells
/// an identical row from a conflict with [`lots_batch_problems`] when fewer were new
/// than sent). Each new SKU gets its watermark row; a new lot received at or before its
/// SKU's watermark marks the SKU backdated from the lot's receipt on. A SKU with
/// movements besides lots and sales is marked by any new lot, and so is every SKU of a
/// delivery a landed cost is spread over, when the delivery gains a lot: its costing is
/// out of date.
pub async fn insert_lots_batch(tx: &TenantTx, upload_id: Uuid, batch: &[(u64, Lot)]) -> Result<u64, DbError> {
    let columns = LotColumns::of(batch);
    let row = tx
        .query_one(
            &format!(
                r"with inserted as (
                  insert into lots (tenant_id, lot_id, sku, received_date, original_quantity,
                                    initial_remaining_quantity, remaining_quantity, unit_price, freight_cost_per_unit,
                                    receipt_id, location, upload_id, upload_row)
                  select $1, i.lot_id, i.sku, i.received_date, i.original_quantity, i.remaining_quantity,
                         i.remaining_quantity, i.unit_price, i.freight_cost_per_unit, i.receipt_id, i.location, $2,
                         i.upload_row
                  from unnest($3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::numeric[], $8::numeric[],
                              $9::numeric[], $10::numeric[], $11::text[], $12::text[])
                       as i(upload_row, lot_id, sku, received_date, original_quantity, remaining_quantity, unit_price,
                            freight_cost_per_unit, receipt_id, location)
                  order by i.lot_id, i.upload_row
                  on conflict (tenant_id, lot_id) do nothing
                  returning sku, received_date, lot_id, receipt_id, location
              ),
              -- A delivery with a landed cost spread over it: each of its SKUs is costed
              -- again with the new lot taking its share. A lot received elsewhere than at
              -- the tenant's default location makes its SKU one costed whole too.
              spread as (
                  select i.sku, i.received_date, i.lot_id from inserted i
                  where i.location <> {DEFAULT_LOCATION}
                  union
                  select distinct l.sku, i.received_date, i.lot_id
                  from inserted i
                  join landed_costs c on c.receipt_id = i.receipt_id
                  join lots l on l.receipt_id = i.receipt_id
                  union
                  select i.sku, i.received_date, i.lot_id
                  from inserted i
                  where exists (select 1 from landed_costs c where c.receipt_id = i.receipt_id)
              ),
              -- Each SKU's earliest new lot, and whether any of its rows makes it one
              -- costed whole (not only the earliest's).
              earliest as (
                  select distinct on (sku) sku, received_date, lot_id, bool_or(spread) over (partition by sku) as spread
                  from (select sku, received_date, lot_id, false as spread from inserted
                        union all select sku, received_date, lot_id, true from spread) e
                  order by sku, received_date, lot_id
              ),
              -- A new SKU's row is marked here: the update below does not see rows this
              -- statement inserts. One a landed cost already falls on is costed whole.
              new_skus as (
                  insert into sku_watermarks (tenant_id, sku, movements, allocator_fits, rewind_date, rewind_sale_id,
                                              backdated_kind, backdated_id)
                  select $1, e.sku, m.spread, not m.spread, case when m.spread then e.received_date end,
                         case when m.spread then '' end, case when m.spread then 'lot' end,
                         case when m.spread then e.lot_id end
                  from earliest e
                  join (select i.sku, bool_or(s.sku is not null) as spread
                        from inserted i left join spread s on s.sku = i.sku
                        group by i.sku) m on m.sku = e.sku
                  on conflict (tenant_id, sku) do nothing
              ),
              -- A known SKU is marked from its earliest new lot unless an earlier mark
              -- waits; one such a lot makes costed whole is flagged either way (a
              -- waiting mark has the run cost it whole from its start), for good.
              known as (
                  select e.sku, e.received_date, e.lot_id, e.spread,
                         (e.received_date <= w.costed_date or w.movements or e.spread)
                             and (w.rewind_date is null
                                  or (e.received_date, '') < (w.rewind_date, w.rewind_sale_id)) as earlier
                  from earliest e join sku_watermarks w on w.sku = e.sku
              ),
              backdated as (
                  update sku_watermarks w
                  set rewind_date = case when k.earlier then k.received_date else w.rewind_date end,
                      rewind_sale_id = case when k.earlier then '' else w.rewind_sale_id end,
                      backdated_kind = case when k.earlier then 'lot' else w.backdated_kind end,
                      backdated_id = case when k.earlier then k.lot_id else w.backdated_id end,
                      movements = w.movements or k.spread,
                      allocator_fits = w.allocator_fits and not k.spread
                  from known k
                  where w.sku = k.sku and (k.earlier or k.spread)
              )
              select count(*) from inserted"
            ),
            &columns.params(&[&tx.tenant_id().as_str(), &upload_id]),
        )
        .await?;
    Ok(row.try_get::<_, i64>(0)?.unsigned_abs())
}

/// The lots of a batch that were not inserted for a reason: an id used on an earlier
/// row of the same file, or an id already loaded with other values (compared as
/// loaded, `initial_remaining_quantity`, not as runs left it). Run after
/// [`insert_lots_batch`], in row order.
pub async fn lots_batch_problems(
    tx: &TenantTx,
    upload_id: Uuid,
    batch: &[(u64, Lot)],
) -> Result<Vec<BatchProblem>, DbError> {
    let columns = LotColumns::of(batch);
    let rows = tx
        .query(
            r"with incoming as (
                  select * from unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::numeric[],
                                       $7::numeric[], $8::numeric[], $9::numeric[], $10::text[], $11::text[])
                       as i(upload_row, lot_id, sku, received_date, original_quantity, remaining_quantity, unit_price,
                            freight_cost_per_unit, receipt_id, location)
              )
              select i.upload_row, i.lot_id, case when l.upload_id = $1 then l.upload_row end
              from incoming i join lots l on l.lot_id = i.lot_id
              where (l.upload_id = $1 and l.upload_row <> i.upload_row)
                 or (l.upload_id <> $1
                     and (l.sku, l.received_date, l.original_quantity, l.initial_remaining_quantity, l.unit_price,
                          l.freight_cost_per_unit, l.receipt_id, l.location)
                         is distinct from
                         (i.sku, i.received_date, i.original_quantity, i.remaining_quantity, i.unit_price,
                          i.freight_cost_per_unit, i.receipt_id, i.location))
              union
              select upload_row, lot_id, first_row
              from (select upload_row, lot_id, min(upload_row) over (partition by lot_id) as first_row from incoming) d
              where upload_row <> first_row
              order by 1",
            &columns.params(&[&upload_id]),
        )
        .await?;
    rows.iter().map(BatchProblem::try_from).collect()
}

/// Lots received after a landed cost of their delivery is dated: the cost is spread over
/// the delivery's lots at its date, and this one had not arrived.
pub async fn lot_reference_problems(tx: &TenantTx, batch: &[(u64, Lot)]) -> Result<Vec<RowError>, DbError> {
    let columns = LotColumns::of(batch);
    let rows = tx
        .query(
            r"select distinct on (i.upload_row) i.upload_row, c.landed_cost_id
              from unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::numeric[], $6::numeric[],
                          $7::numeric[], $8::numeric[], $9::text[], $10::text[])
                   as i(upload_row, lot_id, sku, received_date, original_quantity, remaining_quantity, unit_price,
                        freight_cost_per_unit, receipt_id, location)
              join landed_costs c on c.receipt_id = i.receipt_id and c.cost_date < i.received_date
              order by i.upload_row, c.cost_date, c.landed_cost_id",
            &columns.params(&[]),
        )
        .await?;
    rows.iter()
        .map(|row| {
            let landed: String = row.try_get(1)?;
            Ok(RowError::new(
                row.try_get::<_, i64>(0)?.unsigned_abs(),
                Some("received_date"),
                RowErrorKind::DatedBeforeReference,
                format!(
                    "landed cost {landed} of this lot's delivery is dated before the lot was received; \
                     a delivery's landed costs come after all its lots"
                ),
            ))
        })
        .collect()
}

/// A batch of lots as the columns of one statement.
struct LotColumns<'a> {
    rows: Vec<i64>,
    lot_ids: Vec<&'a str>,
    skus: Vec<&'a str>,
    received_dates: Vec<DateTime<Utc>>,
    original: Vec<Decimal>,
    remaining: Vec<Decimal>,
    unit_prices: Vec<Decimal>,
    freight: Vec<Decimal>,
    receipt_ids: Vec<Option<&'a str>>,
    locations: Vec<&'a str>,
}

impl<'a> LotColumns<'a> {
    fn of(batch: &'a [(u64, Lot)]) -> Self {
        Self {
            rows: batch.iter().map(|(row, _)| i64::try_from(*row).unwrap_or(i64::MAX)).collect(),
            lot_ids: batch.iter().map(|(_, lot)| lot.lot_id.as_str()).collect(),
            skus: batch.iter().map(|(_, lot)| lot.sku.as_str()).collect(),
            received_dates: batch.iter().map(|(_, lot)| lot.received_date).collect(),
            original: batch.iter().map(|(_, lot)| lot.original_quantity).collect(),
            remaining: batch.iter().map(|(_, lot)| lot.remaining_quantity).collect(),
            unit_prices: batch.iter().map(|(_, lot)| lot.unit_price).collect(),
            freight: batch.iter().map(|(_, lot)| lot.freight_cost_per_unit).collect(),
            receipt_ids: batch.iter().map(|(_, lot)| lot.receipt_id.as_ref().map(ReceiptId::as_str)).collect(),
            locations: batch.iter().map(|(_, lot)| lot.location.as_str()).collect(),
        }
    }

    /// `leading` followed by the columns, in the order the statements number them.
    fn params(&'a self, leading: &[&'a dyn Param]) -> Vec<&'a dyn Param> {
        let columns: [&'a dyn Param; 10] = [
            &self.rows,
            &self.lot_ids,
            &self.skus,
            &self.received_dates,
            &self.original,
            &self.remaining,
            &self.unit_prices,
            &self.freight,
            &self.receipt_ids,
            &self.locations,
        ];
        leading.iter().copied().chain(columns).collect()
    }
}

/// The lots of `skus` that still have stock, each SKU's in FIFO order.
pub async fn load_lots_with_stock(tx: &TenantTx, skus: &[&str]) -> Result<Vec<Lot>, DbError> {
    let rows = tx
        .query(
            r"select lot_id, sku, received_date, original_quantity, remaining_quantity, unit_price, freight_cost_per_unit,
                     receipt_id, location
              from lots
              where sku = any($1) and remaining_quantity > 0
              order by sku, received_date, lot_id",
            &[&skus],
        )
        .await?;
    rows.iter().map(Lot::try_from).collect()
}

/// Sets each lot's remaining quantity where it moves, snapshotting it for `run_id`
/// first (a lot the run snapshotted already keeps its first snapshot), in one
/// statement. A lot left where it was is neither written nor snapshotted.
pub async fn move_lots(tx: &TenantTx, run_id: Uuid, lot_ids: &[&str], remaining: &[Decimal]) -> Result<u64, DbError> {
    // Each lot is looked up by its key (`offset 0` keeps the planner from joining the
    // ids with a scan of every lot of the tenant, which it chose for a chunk's thousand:
    // 48 ms a chunk against 2.5 ms, 4.1 s of the reference book's change of method).
    tx.execute(
        r"with moved as materialized (
              select l.lot_id, l.remaining_quantity as before, v.remaining_quantity as after
              from unnest($3::text[], $4::numeric[]) as v(lot_id, remaining_quantity)
              cross join lateral (select lot_id, remaining_quantity from lots where lot_id = v.lot_id offset 0) l
              where l.remaining_quantity <> v.remaining_quantity
          ),
          snapshots as (
              insert into inventory_snapshots (tenant_id, run_id, lot_id, remaining_quantity)
              select $1, $2, lot_id, before from moved
              on conflict (tenant_id, run_id, lot_id) do nothing
          )
          update lots l set remaining_quantity = m.after from moved m where l.lot_id = m.lot_id",
        &[&tx.tenant_id().as_str(), &run_id, &lot_ids, &remaining],
    )
    .await
}

/// One lot's stock and value, for the inventory report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LotStock {
    pub lot_id: LotId,
    pub sku: Sku,
    pub received_date: DateTime<Utc>,
    pub original_quantity: Decimal,
    pub remaining_quantity: Decimal,
    pub unit_cost: Decimal,
    pub remaining_value: Decimal,
}

/// Every lot (of one SKU, if given) with its remaining quantity and value, by SKU in
/// FIFO order.
pub async fn load_stock(tx: &TenantTx, sku: Option<&str>) -> Result<Vec<LotStock>, DbError> {
    let rows = tx
        .query(
            r"select lot_id, sku, received_date, original_quantity, remaining_quantity,
                     unit_price + freight_cost_per_unit as unit_cost,
                     remaining_quantity * (unit_price + freight_cost_per_unit) as remaining_value
              from lots
              where ($1::text is null or sku = $1)
              order by sku, received_date, lot_id",
            &[&sku],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(LotStock {
                lot_id: LotId::parse(row.try_get::<_, String>(0)?).map_err(DbError::corrupt("lot_id"))?,
                sku: Sku::parse(row.try_get::<_, String>(1)?).map_err(DbError::corrupt("sku"))?,
                received_date: row.try_get(2)?,
                original_quantity: row.try_get(3)?,
                remaining_quantity: row.try_get(4)?,
                unit_cost: row.try_get(5)?,
                remaining_value: row.try_get(6)?,
            })
        })
        .collect()
}
