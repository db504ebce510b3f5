//! The movements besides lots and sales: loading their files, reading a SKU's events
//! for a run that costs it whole, and what that costing moved and left.
//!
//! Each file's batch is one insert statement that also marks the SKUs it touches:
//! `movements` (costed whole from now on) and a backdating mark at its earliest event
//! (what the lock date is checked against, and what makes the next run re-cost it).

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tokio_postgres::Row;
use uuid::Uuid;

use super::location_of;
use super::{BatchProblem, DbError, Param, TenantTx};
use crate::engine::Layer;
use crate::ingest::{RowError, RowErrorKind};
use crate::model::{
    Adjustment, AllocateBy, CustomerReturn, EventId, LandedCost, LandedTarget, Location, Lot, LotId, Methods, Movement,
    ReceiptId, Sale, SaleId, Sku, StockCount, SupplierReturn, Transfer,
};

/// The statement's tail that marks the SKUs of `inserted (sku, at, id)`: a new SKU gets
/// its row, marked; a known one is marked from its earliest new event unless an earlier
/// mark waits. `$1` is the tenant; `{kind}` names the event kind.
fn mark_skus(kind: &str) -> String {
    format!(
        r"earliest as (
              select distinct on (sku) sku, at, id from touched order by sku, at, id
          ),
          new_skus as (
              insert into sku_watermarks (tenant_id, sku, movements, allocator_fits, rewind_date, rewind_sale_id,
                                          backdated_kind, backdated_id)
              select $1, e.sku, true, false, e.at, '', '{kind}', e.id from earliest e
              on conflict (tenant_id, sku) do nothing
          ),
          known as (
              select e.sku, e.at, e.id, k.rewind_date is null or (e.at, '') < (k.rewind_date, k.rewind_sale_id) as earlier
              from earliest e join sku_watermarks k on k.sku = e.sku
          ),
          marked as (
              update sku_watermarks w
              set movements = true,
                  allocator_fits = false,
                  rewind_date = case when m.earlier then m.at else w.rewind_date end,
                  rewind_sale_id = case when m.earlier then '' else w.rewind_sale_id end,
                  backdated_kind = case when m.earlier then '{kind}' else w.backdated_kind end,
                  backdated_id = case when m.earlier then m.id else w.backdated_id end
              from known m
              where w.sku = m.sku
          )
          select count(*) from inserted"
    )
}

/// Inserts one batch of customer returns (each taking its sale's SKU; a return of a
/// sale not loaded is not inserted, and [`return_reference_problems`] names it) and
/// returns how many were new.
pub async fn insert_returns_batch(
    tx: &TenantTx,
    upload_id: Uuid,
    batch: &[(u64, CustomerReturn)],
) -> Result<u64, DbError> {
    let columns = ReturnColumns::of(batch);
    let statement = format!(
        r"with inserted as (
              insert into customer_returns (tenant_id, return_id, sale_id, sku, return_date, quantity, restock,
                                            location, upload_id, upload_row)
              select $1, i.return_id, i.sale_id, s.sku, i.return_date, i.quantity, i.restock, i.location, $2,
                     i.upload_row
              from unnest($3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::numeric[], $8::bool[],
                          $9::text[])
                   as i(upload_row, return_id, sale_id, return_date, quantity, restock, location)
              join sales s on s.sale_id = i.sale_id
              order by i.return_id, i.upload_row
              on conflict (tenant_id, return_id) do nothing
              returning sku, return_date as at, return_id as id
          ),
          touched as (select * from inserted),
          {}",
        mark_skus("return")
    );
    count(tx, &statement, &columns.params(&[&tx.tenant_id().as_str(), &upload_id])).await
}

/// Ids used twice in the file, or loaded already with other values.
pub async fn returns_batch_problems(
    tx: &TenantTx,
    upload_id: Uuid,
    batch: &[(u64, CustomerReturn)],
) -> Result<Vec<BatchProblem>, DbError> {
    let columns = ReturnColumns::of(batch);
    let incoming = r"select * from unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::numeric[],
                                          $7::bool[], $8::text[])
                          as i(upload_row, id, sale_id, return_date, quantity, restock, location)";
    let differs = "(x.sale_id, x.return_date, x.quantity, x.restock, x.location) is distinct from (i.sale_id, i.return_date, i.quantity, i.restock, i.location)";
    let compared = Compared { incoming, table: "customer_returns", id_column: "return_id", differs };
    batch_problems(tx, compared, &columns.params(&[&upload_id])).await
}

/// Returns of a sale not loaded, dated before it, or more of it than was sold (all its
/// returns loaded so far, restocked or not, taken together).
pub async fn return_reference_problems(
    tx: &TenantTx,
    batch: &[(u64, CustomerReturn)],
) -> Result<Vec<RowError>, DbError> {
    let columns = ReturnColumns::of(batch);
    let rows = tx
        .query(
            r"with incoming as (
                  select * from unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::numeric[], $6::bool[],
                                       $7::text[])
                       as i(upload_row, return_id, sale_id, return_date, quantity, restock, location)
              ),
              returned as (
                  select r.sale_id, sum(r.quantity) as quantity from customer_returns r
                  where r.sale_id in (select sale_id from incoming) group by r.sale_id
              )
              select i.upload_row, 'sale_id', 'unknown_reference',
                     'sale_id ' || i.sale_id || ' is not loaded; load the sales file with the sale first'
              from incoming i where not exists (select 1 from sales s where s.sale_id = i.sale_id)
              union all
              select i.upload_row, 'return_date', 'dated_before_reference',
                     'return ' || i.return_id || ' is dated before sale ' || s.sale_id || ', which it returns'
              from incoming i join sales s on s.sale_id = i.sale_id
              where i.return_date < s.sale_date
              union all
              select i.upload_row, 'quantity', 'return_exceeds_sale',
                     'the returns of sale ' || s.sale_id || ' add up to ' || trim_scale(r.quantity)
                         || ', more than the ' || trim_scale(s.quantity_sold) || ' it sold'
              from incoming i join sales s on s.sale_id = i.sale_id join returned r on r.sale_id = i.sale_id
              where r.quantity > s.quantity_sold
              order by 1, 2",
            &columns.params(&[]),
        )
        .await?;
    rows.iter().map(row_error).collect()
}

struct ReturnColumns<'a> {
    rows: Vec<i64>,
    ids: Vec<&'a str>,
    sale_ids: Vec<&'a str>,
    dates: Vec<DateTime<Utc>>,
    quantities: Vec<Decimal>,
    restock: Vec<bool>,
    locations: Vec<&'a str>,
}

impl<'a> ReturnColumns<'a> {
    fn of(batch: &'a [(u64, CustomerReturn)]) -> Self {
        Self {
            rows: upload_rows(batch),
            ids: batch.iter().map(|(_, r)| r.return_id.as_str()).collect(),
            sale_ids: batch.iter().map(|(_, r)| r.sale_id.as_str()).collect(),
            dates: batch.iter().map(|(_, r)| r.return_date).collect(),
            quantities: batch.iter().map(|(_, r)| r.quantity).collect(),
            restock: batch.iter().map(|(_, r)| r.restock).collect(),
            locations: batch.iter().map(|(_, r)| r.location.as_str()).collect(),
        }
    }

    fn params(&'a self, leading: &[&'a dyn Param]) -> Vec<&'a dyn Param> {
        let columns: [&'a dyn Param; 7] =
            [&self.rows, &self.ids, &self.sale_ids, &self.dates, &self.quantities, &self.restock, &self.locations];
        leading.iter().copied().chain(columns).collect()
    }
}

/// Inserts one batch of supplier returns (each taking its lot's SKU; one of a lot not
/// loaded is not inserted, and [`supplier_return_reference_problems`] names it).
pub async fn insert_supplier_returns_batch(
    tx: &TenantTx,
    upload_id: Uuid,
    batch: &[(u64, SupplierReturn)],
) -> Result<u64, DbError> {
    let columns = SupplierReturnColumns::of(batch);
    let statement = format!(
        r"with inserted as (
              insert into supplier_returns (tenant_id, supplier_return_id, lot_id, sku, return_date, quantity,
                                            location, upload_id, upload_row)
              select $1, i.supplier_return_id, i.lot_id, l.sku, i.return_date, i.quantity, i.location, $2,
                     i.upload_row
              from unnest($3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::numeric[], $8::text[])
                   as i(upload_row, supplier_return_id, lot_id, return_date, quantity, location)
              join lots l on l.lot_id = i.lot_id
              order by i.supplier_return_id, i.upload_row
              on conflict (tenant_id, supplier_return_id) do nothing
              returning sku, return_date as at, supplier_return_id as id
          ),
          touched as (select * from inserted),
          {}",
        mark_skus("supplier_return")
    );
    count(tx, &statement, &columns.params(&[&tx.tenant_id().as_str(), &upload_id])).await
}

pub async fn supplier_returns_batch_problems(
    tx: &TenantTx,
    upload_id: Uuid,
    batch: &[(u64, SupplierReturn)],
) -> Result<Vec<BatchProblem>, DbError> {
    let columns = SupplierReturnColumns::of(batch);
    let incoming = r"select * from unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::numeric[],
                                          $7::text[])
                          as i(upload_row, id, lot_id, return_date, quantity, location)";
    let differs = "(x.lot_id, x.return_date, x.quantity, x.location) is distinct from (i.lot_id, i.return_date, i.quantity, i.location)";
    let compared = Compared { incoming, table: "supplier_returns", id_column: "supplier_return_id", differs };
    batch_problems(tx, compared, &columns.params(&[&upload_id])).await
}

/// Supplier returns of a lot not loaded. (One larger than its lot holds at its instant
/// is found by costing, which parks the SKU there.)
pub async fn supplier_return_reference_problems(
    tx: &TenantTx,
    batch: &[(u64, SupplierReturn)],
) -> Result<Vec<RowError>, DbError> {
    let columns = SupplierReturnColumns::of(batch);
    let rows = tx
        .query(
            r"select i.upload_row, 'lot_id', 'unknown_reference',
                     'lot_id ' || i.lot_id || ' is not loaded; load the lots file with the lot first'
              from unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::numeric[], $6::text[])
                   as i(upload_row, supplier_return_id, lot_id, return_date, quantity, location)
              where not exists (select 1 from lots l where l.lot_id = i.lot_id)
              order by 1",
            &columns.params(&[]),
        )
        .await?;
    rows.iter().map(row_error).collect()
}

struct SupplierReturnColumns<'a> {
    rows: Vec<i64>,
    ids: Vec<&'a str>,
    lot_ids: Vec<&'a str>,
    dates: Vec<DateTime<Utc>>,
    quantities: Vec<Decimal>,
    locations: Vec<Option<&'a str>>,
}

impl<'a> SupplierReturnColumns<'a> {
    fn of(batch: &'a [(u64, SupplierReturn)]) -> Self {
        Self {
            rows: upload_rows(batch),
            ids: batch.iter().map(|(_, r)| r.supplier_return_id.as_str()).collect(),
            lot_ids: batch.iter().map(|(_, r)| r.lot_id.as_str()).collect(),
            dates: batch.iter().map(|(_, r)| r.return_date).collect(),
            quantities: batch.iter().map(|(_, r)| r.quantity).collect(),
            locations: batch.iter().map(|(_, r)| r.location.as_ref().map(Location::as_str)).collect(),
        }
    }

    fn params(&'a self, leading: &[&'a dyn Param]) -> Vec<&'a dyn Param> {
        let columns: [&'a dyn Param; 6] =
            [&self.rows, &self.ids, &self.lot_ids, &self.dates, &self.quantities, &self.locations];
        leading.iter().copied().chain(columns).collect()
    }
}

/// Inserts one batch of adjustments.
pub async fn insert_adjustments_batch(
    tx: &TenantTx,
    upload_id: Uuid,
    batch: &[(u64, Adjustment)],
) -> Result<u64, DbError> {
    let columns = AdjustmentColumns::of(batch);
    let statement = format!(
        r"with inserted as (
              insert into adjustments (tenant_id, adjustment_id, sku, adjustment_date, quantity, unit_cost, reason,
                                       lot_id, location, upload_id, upload_row)
              select $1, i.adjustment_id, i.sku, i.adjustment_date, i.quantity, i.unit_cost, i.reason, i.lot_id,
                     i.location, $2, i.upload_row
              from unnest($3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::numeric[], $8::numeric[],
                          $9::text[], $10::text[], $11::text[])
                   as i(upload_row, adjustment_id, sku, adjustment_date, quantity, unit_cost, reason, lot_id, location)
              order by i.adjustment_id, i.upload_row
              on conflict (tenant_id, adjustment_id) do nothing
              returning sku, adjustment_date as at, adjustment_id as id
          ),
          touched as (select * from inserted),
          {}",
        mark_skus("adjustment")
    );
    count(tx, &statement, &columns.params(&[&tx.tenant_id().as_str(), &upload_id])).await
}

pub async fn adjustments_batch_problems(
    tx: &TenantTx,
    upload_id: Uuid,
    batch: &[(u64, Adjustment)],
) -> Result<Vec<BatchProblem>, DbError> {
    let columns = AdjustmentColumns::of(batch);
    let incoming = r"select * from unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::numeric[],
                                          $7::numeric[], $8::text[], $9::text[], $10::text[])
                          as i(upload_row, id, sku, adjustment_date, quantity, unit_cost, reason, lot_id, location)";
    let differs = "(x.sku, x.adjustment_date, x.quantity, x.unit_cost, x.reason, x.lot_id, x.location) is distinct from (i.sku, i.adjustment_date, i.quantity, i.unit_cost, i.reason, i.lot_id, i.location)";
    let compared = Compared { incoming, table: "adjustments", id_column: "adjustment_id", differs };
    batch_problems(tx, compared, &columns.params(&[&upload_id])).await
}

struct AdjustmentColumns<'a> {
    rows: Vec<i64>,
    ids: Vec<&'a str>,
    skus: Vec<&'a str>,
    dates: Vec<DateTime<Utc>>,
    quantities: Vec<Decimal>,
    unit_costs: Vec<Option<Decimal>>,
    reasons: Vec<&'a str>,
    lot_ids: Vec<Option<&'a str>>,
    locations: Vec<&'a str>,
}

impl<'a> AdjustmentColumns<'a> {
    fn of(batch: &'a [(u64, Adjustment)]) -> Self {
        Self {
            rows: upload_rows(batch),
            ids: batch.iter().map(|(_, a)| a.adjustment_id.as_str()).collect(),
            skus: batch.iter().map(|(_, a)| a.sku.as_str()).collect(),
            dates: batch.iter().map(|(_, a)| a.adjustment_date).collect(),
            quantities: batch.iter().map(|(_, a)| a.quantity).collect(),
            unit_costs: batch.iter().map(|(_, a)| a.unit_cost).collect(),
            reasons: batch.iter().map(|(_, a)| a.reason.as_str()).collect(),
            lot_ids: batch.iter().map(|(_, a)| a.lot_id.as_ref().map(LotId::as_str)).collect(),
            locations: batch.iter().map(|(_, a)| a.location.as_str()).collect(),
        }
    }

    fn params(&'a self, leading: &[&'a dyn Param]) -> Vec<&'a dyn Param> {
        let columns: [&'a dyn Param; 9] = [
            &self.rows,
            &self.ids,
            &self.skus,
            &self.dates,
            &self.quantities,
            &self.unit_costs,
            &self.reasons,
            &self.lot_ids,
            &self.locations,
        ];
        leading.iter().copied().chain(columns).collect()
    }
}

/// The adjustments of a batch that name a lot not loaded, or of another SKU.
pub async fn adjustment_reference_problems(
    tx: &TenantTx,
    batch: &[(u64, Adjustment)],
) -> Result<Vec<RowError>, DbError> {
    let columns = AdjustmentColumns::of(batch);
    named_lot_problems(tx, &columns.rows, &columns.skus, &columns.lot_ids).await
}

/// The rows (`rows[i]`, of SKU `skus[i]`) whose `lot_ids[i]` names a lot that is not
/// loaded, or is of another SKU: what a sale or write-off naming its lot must not do.
pub(super) async fn named_lot_problems(
    tx: &TenantTx,
    rows: &[i64],
    skus: &[&str],
    lot_ids: &[Option<&str>],
) -> Result<Vec<RowError>, DbError> {
    if lot_ids.iter().all(Option::is_none) {
        return Ok(Vec::new());
    }
    let problems = tx
        .query(
            r"select i.upload_row, 'lot_id', 'unknown_reference',
                     case when l.lot_id is null
                          then 'lot_id ' || i.lot_id || ' is not loaded; load the lots file with the lot first'
                          else 'lot_id ' || i.lot_id || ' is a lot of SKU ' || l.sku || ', not of ' || i.sku
                     end
              from unnest($1::bigint[], $2::text[], $3::text[]) as i(upload_row, sku, lot_id)
              left join lots l on l.lot_id = i.lot_id
              where i.lot_id is not null and (l.lot_id is null or l.sku <> i.sku)
              order by 1",
            &[&rows, &skus, &lot_ids],
        )
        .await?;
    problems.iter().map(row_error).collect()
}

/// Inserts one batch of stock counts.
pub async fn insert_counts_batch(tx: &TenantTx, upload_id: Uuid, batch: &[(u64, StockCount)]) -> Result<u64, DbError> {
    let columns = CountColumns::of(batch);
    let statement = format!(
        r"with inserted as (
              insert into stock_counts (tenant_id, count_id, sku, count_date, counted_quantity, unit_cost, location,
                                        upload_id, upload_row)
              select $1, i.count_id, i.sku, i.count_date, i.counted_quantity, i.unit_cost, i.location, $2, i.upload_row
              from unnest($3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::numeric[], $8::numeric[],
                          $9::text[])
                   as i(upload_row, count_id, sku, count_date, counted_quantity, unit_cost, location)
              order by i.count_id, i.upload_row
              on conflict (tenant_id, count_id) do nothing
              returning sku, count_date as at, count_id as id
          ),
          touched as (select * from inserted),
          {}",
        mark_skus("count")
    );
    count(tx, &statement, &columns.params(&[&tx.tenant_id().as_str(), &upload_id])).await
}

pub async fn counts_batch_problems(
    tx: &TenantTx,
    upload_id: Uuid,
    batch: &[(u64, StockCount)],
) -> Result<Vec<BatchProblem>, DbError> {
    let columns = CountColumns::of(batch);
    let incoming = r"select * from unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::numeric[],
                                          $7::numeric[], $8::text[])
                          as i(upload_row, id, sku, count_date, counted_quantity, unit_cost, location)";
    let differs = "(x.sku, x.count_date, x.counted_quantity, x.unit_cost, x.location) is distinct from (i.sku, i.count_date, i.counted_quantity, i.unit_cost, i.location)";
    let compared = Compared { incoming, table: "stock_counts", id_column: "count_id", differs };
    batch_problems(tx, compared, &columns.params(&[&upload_id])).await
}

struct CountColumns<'a> {
    rows: Vec<i64>,
    ids: Vec<&'a str>,
    skus: Vec<&'a str>,
    dates: Vec<DateTime<Utc>>,
    counted: Vec<Decimal>,
    unit_costs: Vec<Option<Decimal>>,
    locations: Vec<&'a str>,
}

impl<'a> CountColumns<'a> {
    fn of(batch: &'a [(u64, StockCount)]) -> Self {
        Self {
            rows: upload_rows(batch),
            ids: batch.iter().map(|(_, c)| c.count_id.as_str()).collect(),
            skus: batch.iter().map(|(_, c)| c.sku.as_str()).collect(),
            dates: batch.iter().map(|(_, c)| c.count_date).collect(),
            counted: batch.iter().map(|(_, c)| c.counted_quantity).collect(),
            unit_costs: batch.iter().map(|(_, c)| c.unit_cost).collect(),
            locations: batch.iter().map(|(_, c)| c.location.as_str()).collect(),
        }
    }

    fn params(&'a self, leading: &[&'a dyn Param]) -> Vec<&'a dyn Param> {
        let columns: [&'a dyn Param; 7] =
            [&self.rows, &self.ids, &self.skus, &self.dates, &self.counted, &self.unit_costs, &self.locations];
        leading.iter().copied().chain(columns).collect()
    }
}

/// Inserts one batch of transfers.
pub async fn insert_transfers_batch(tx: &TenantTx, upload_id: Uuid, batch: &[(u64, Transfer)]) -> Result<u64, DbError> {
    let columns = TransferColumns::of(batch);
    let statement = format!(
        r"with inserted as (
              insert into transfers (tenant_id, transfer_id, sku, from_location, to_location, transfer_date, quantity,
                                     upload_id, upload_row)
              select $1, i.transfer_id, i.sku, i.from_location, i.to_location, i.transfer_date, i.quantity, $2,
                     i.upload_row
              from unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[],
                          $9::numeric[])
                   as i(upload_row, transfer_id, sku, from_location, to_location, transfer_date, quantity)
              order by i.transfer_id, i.upload_row
              on conflict (tenant_id, transfer_id) do nothing
              returning sku, transfer_date as at, transfer_id as id
          ),
          touched as (select * from inserted),
          {}",
        mark_skus("transfer")
    );
    count(tx, &statement, &columns.params(&[&tx.tenant_id().as_str(), &upload_id])).await
}

pub async fn transfers_batch_problems(
    tx: &TenantTx,
    upload_id: Uuid,
    batch: &[(u64, Transfer)],
) -> Result<Vec<BatchProblem>, DbError> {
    let columns = TransferColumns::of(batch);
    let incoming = r"select * from unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                                          $7::timestamptz[], $8::numeric[])
                          as i(upload_row, id, sku, from_location, to_location, transfer_date, quantity)";
    let differs = "(x.sku, x.from_location, x.to_location, x.transfer_date, x.quantity) is distinct from (i.sku, i.from_location, i.to_location, i.transfer_date, i.quantity)";
    let compared = Compared { incoming, table: "transfers", id_column: "transfer_id", differs };
    batch_problems(tx, compared, &columns.params(&[&upload_id])).await
}

struct TransferColumns<'a> {
    rows: Vec<i64>,
    ids: Vec<&'a str>,
    skus: Vec<&'a str>,
    from: Vec<&'a str>,
    to: Vec<&'a str>,
    dates: Vec<DateTime<Utc>>,
    quantities: Vec<Decimal>,
}

impl<'a> TransferColumns<'a> {
    fn of(batch: &'a [(u64, Transfer)]) -> Self {
        Self {
            rows: upload_rows(batch),
            ids: batch.iter().map(|(_, t)| t.transfer_id.as_str()).collect(),
            skus: batch.iter().map(|(_, t)| t.sku.as_str()).collect(),
            from: batch.iter().map(|(_, t)| t.from_location.as_str()).collect(),
            to: batch.iter().map(|(_, t)| t.to_location.as_str()).collect(),
            dates: batch.iter().map(|(_, t)| t.transfer_date).collect(),
            quantities: batch.iter().map(|(_, t)| t.quantity).collect(),
        }
    }

    fn params(&'a self, leading: &[&'a dyn Param]) -> Vec<&'a dyn Param> {
        let columns: [&'a dyn Param; 7] =
            [&self.rows, &self.ids, &self.skus, &self.from, &self.to, &self.dates, &self.quantities];
        leading.iter().copied().chain(columns).collect()
    }
}

/// Inserts one batch of landed costs; every SKU of the lots each falls on is marked.
pub async fn insert_landed_costs_batch(
    tx: &TenantTx,
    upload_id: Uuid,
    batch: &[(u64, LandedCost)],
) -> Result<u64, DbError> {
    let columns = LandedColumns::of(batch);
    let statement = format!(
        r"with inserted as (
              insert into landed_costs (tenant_id, landed_cost_id, lot_id, receipt_id, cost_date, amount, allocate_by,
                                        upload_id, upload_row)
              select $1, i.landed_cost_id, i.lot_id, i.receipt_id, i.cost_date, i.amount, i.allocate_by, $2,
                     i.upload_row
              from unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::numeric[],
                          $9::text[])
                   as i(upload_row, landed_cost_id, lot_id, receipt_id, cost_date, amount, allocate_by)
              order by i.landed_cost_id, i.upload_row
              on conflict (tenant_id, landed_cost_id) do nothing
              returning lot_id, receipt_id, cost_date, landed_cost_id
          ),
          touched as (
              select l.sku, i.cost_date as at, i.landed_cost_id as id
              from inserted i
              join lots l on l.lot_id = i.lot_id or l.receipt_id = i.receipt_id
          ),
          {}",
        mark_skus("landed_cost")
    );
    count(tx, &statement, &columns.params(&[&tx.tenant_id().as_str(), &upload_id])).await
}

pub async fn landed_costs_batch_problems(
    tx: &TenantTx,
    upload_id: Uuid,
    batch: &[(u64, LandedCost)],
) -> Result<Vec<BatchProblem>, DbError> {
    let columns = LandedColumns::of(batch);
    let incoming = r"select * from unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
                                          $7::numeric[], $8::text[])
                          as i(upload_row, id, lot_id, receipt_id, cost_date, amount, allocate_by)";
    let differs = "(x.lot_id, x.receipt_id, x.cost_date, x.amount, x.allocate_by) is distinct from (i.lot_id, i.receipt_id, i.cost_date, i.amount, i.allocate_by)";
    let compared = Compared { incoming, table: "landed_costs", id_column: "landed_cost_id", differs };
    batch_problems(tx, compared, &columns.params(&[&upload_id])).await
}

/// Landed costs for a lot or receipt not loaded, dated before one of its lots arrived,
/// or for lots that held nothing (of quantity or value, as it is spread) to spread it
/// over.
pub async fn landed_cost_reference_problems(
    tx: &TenantTx,
    batch: &[(u64, LandedCost)],
) -> Result<Vec<RowError>, DbError> {
    let columns = LandedColumns::of(batch);
    let rows = tx
        .query(
            r"with incoming as (
                  select * from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::timestamptz[],
                                       $6::numeric[], $7::text[])
                       as i(upload_row, landed_cost_id, lot_id, receipt_id, cost_date, amount, allocate_by)
              ),
              targets as (
                  select i.upload_row, i.lot_id, i.receipt_id, i.cost_date, i.allocate_by,
                         count(l.lot_id) as lots, max(l.received_date) as arrived,
                         coalesce(sum(case when i.allocate_by = 'value'
                                           then l.initial_remaining_quantity * (l.unit_price + l.freight_cost_per_unit)
                                           else l.initial_remaining_quantity end), 0) as weight
                  from incoming i
                  left join lots l on l.lot_id = i.lot_id or l.receipt_id = i.receipt_id
                  group by i.upload_row, i.lot_id, i.receipt_id, i.cost_date, i.allocate_by
              )
              select upload_row, case when lot_id is not null then 'lot_id' else 'receipt_id' end, 'unknown_reference',
                     case when lot_id is not null
                          then 'lot_id ' || lot_id || ' is not loaded; load the lots file with the lot first'
                          else 'no loaded lot has receipt_id ' || receipt_id || '; load the delivery''s lots first' end
              from targets where lots = 0
              union all
              select upload_row, 'cost_date', 'dated_before_reference',
                     'the cost is dated before ' || case when lot_id is not null then 'lot ' || lot_id
                                                         else 'the last lot of receipt ' || receipt_id end
                         || ' was received'
              from targets where lots > 0 and cost_date < arrived
              union all
              select upload_row, 'allocate_by', 'nothing_to_spread',
                     'the lots it names held no ' || allocate_by || ' when loaded to spread the cost over'
              from targets where lots > 0 and cost_date >= arrived and weight = 0
              order by 1",
            &columns.params(&[]),
        )
        .await?;
    rows.iter().map(row_error).collect()
}

struct LandedColumns<'a> {
    rows: Vec<i64>,
    ids: Vec<&'a str>,
    lot_ids: Vec<Option<&'a str>>,
    receipt_ids: Vec<Option<&'a str>>,
    dates: Vec<DateTime<Utc>>,
    amounts: Vec<Decimal>,
    allocate_by: Vec<&'static str>,
}

impl<'a> LandedColumns<'a> {
    fn of(batch: &'a [(u64, LandedCost)]) -> Self {
        let target = |cost: &'a LandedCost| match &cost.target {
            LandedTarget::Lot(lot_id) => (Some(lot_id.as_str()), None),
            LandedTarget::Receipt(receipt_id) => (None, Some(receipt_id.as_str())),
        };
        Self {
            rows: upload_rows(batch),
            ids: batch.iter().map(|(_, c)| c.landed_cost_id.as_str()).collect(),
            lot_ids: batch.iter().map(|(_, c)| target(c).0).collect(),
            receipt_ids: batch.iter().map(|(_, c)| target(c).1).collect(),
            dates: batch.iter().map(|(_, c)| c.cost_date).collect(),
            amounts: batch.iter().map(|(_, c)| c.amount).collect(),
            allocate_by: batch.iter().map(|(_, c)| c.allocate_by.as_str()).collect(),
        }
    }

    fn params(&'a self, leading: &[&'a dyn Param]) -> Vec<&'a dyn Param> {
        let columns: [&'a dyn Param; 7] =
            [&self.rows, &self.ids, &self.lot_ids, &self.receipt_ids, &self.dates, &self.amounts, &self.allocate_by];
        leading.iter().copied().chain(columns).collect()
    }
}

fn upload_rows<T>(batch: &[(u64, T)]) -> Vec<i64> {
    batch.iter().map(|(row, _)| i64::try_from(*row).unwrap_or(i64::MAX)).collect()
}

async fn count(tx: &TenantTx, statement: &str, params: &[&dyn Param]) -> Result<u64, DbError> {
    Ok(tx.query_one(statement, params).await?.try_get::<_, i64>(0)?.unsigned_abs())
}

/// What a batch's problem statement compares: the rows sent (`incoming`, `$1` the
/// upload, columns `upload_row` and `id` first), the table they went to with its id
/// column, and `differs`, true when a loaded row `x` has other values than a sent `i`.
struct Compared<'s> {
    incoming: &'s str,
    table: &'s str,
    id_column: &'s str,
    differs: &'s str,
}

/// The rows whose id was used on an earlier row of the file, or is loaded by another
/// upload with other values (as [`super::sales_batch_problems`]).
async fn batch_problems(
    tx: &TenantTx,
    compared: Compared<'_>,
    params: &[&dyn Param],
) -> Result<Vec<BatchProblem>, DbError> {
    let Compared { incoming, table, id_column, differs } = compared;
    let rows = tx
        .query(
            &format!(
                r"with incoming as ({incoming})
                  select i.upload_row, i.id, case when x.upload_id = $1 then x.upload_row end
                  from incoming i join {table} x on x.{id_column} = i.id
                  where (x.upload_id = $1 and x.upload_row <> i.upload_row) or (x.upload_id <> $1 and {differs})
                  union
                  select upload_row, id, first_row
                  from (select upload_row, id, min(upload_row) over (partition by id) as first_row from incoming) d
                  where upload_row <> first_row
                  order by 1"
            ),
            params,
        )
        .await?;
    rows.iter().map(BatchProblem::try_from).collect()
}

/// A reference problem as (upload_row, column, kind, message).
pub(super) fn row_error(row: &Row) -> Result<RowError, DbError> {
    let kind: String = row.try_get(2)?;
    let kind = [
        RowErrorKind::UnknownReference,
        RowErrorKind::DatedBeforeReference,
        RowErrorKind::ReturnExceedsSale,
        RowErrorKind::NothingToSpread,
    ]
    .into_iter()
    .find(|known| known.as_str() == kind)
    .ok_or_else(|| DbError::Corrupt { column: "error_type", reason: kind })?;
    Ok(RowError::new(
        row.try_get::<_, i64>(0)?.unsigned_abs(),
        Some(row.try_get::<_, &str>(1)?),
        kind,
        row.try_get::<_, String>(3)?,
    ))
}

/// A SKU a run is to cost whole, and whether its input fits the FIFO allocator of the
/// fast path (`allocator_fits`: lots and sales only, all at the tenant's default
/// location, no sale naming a lot and no landed cost on its lots, as the uploads keep
/// it). Where it fits and the tenant's methods are FIFO throughout, the allocator costs
/// it exactly as the engine does, so the chunk that costs it whole from its start gives
/// it back to the fast path: it writes its allocations and lots as the fast path
/// would, and no layers. Its watermark's snapshot keeps the flag, so a rollback flags
/// it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuToRecost {
    pub sku: String,
    pub allocator_fits: bool,
}

/// The SKUs with movements a run has yet to cost whole, by SKU: as many as their sales
/// loaded fit in `sales` (at least one SKU, however many it has), and no more than `skus`.
pub async fn skus_to_recost(tx: &TenantTx, sales: i64, skus: i64) -> Result<Vec<SkuToRecost>, DbError> {
    let rows = tx
        .query(
            r"select sku, allocator_fits
              from (
                  select sku, allocator_fits, sales, sum(sales) over (order by sku rows unbounded preceding) as running
                  from (select sku, allocator_fits, sales from sku_watermarks where recost order by sku limit $2) w
              ) w
              -- The first SKU with sales goes however many it has.
              where running <= $1 or running = sales
              order by sku",
            &[&sales, &skus],
        )
        .await?;
    rows.iter().map(|row| Ok(SkuToRecost { sku: row.try_get(0)?, allocator_fits: row.try_get(1)? })).collect()
}

/// Everything loaded of some SKUs, as the engine takes it ([`crate::engine::Inputs`]).
#[derive(Debug, Default)]
pub struct SkuEvents {
    /// As loaded: `remaining_quantity` is the quantity the book received.
    pub lots: Vec<Lot>,
    /// Lots of other SKUs in a delivery a landed cost of these SKUs is spread over.
    pub spread_lots: Vec<Lot>,
    pub sales: Vec<Sale>,
    pub returns: Vec<CustomerReturn>,
    pub supplier_returns: Vec<SupplierReturn>,
    pub adjustments: Vec<Adjustment>,
    pub counts: Vec<StockCount>,
    pub landed_costs: Vec<LandedCost>,
    pub transfers: Vec<Transfer>,
}

impl SkuEvents {
    /// The events as the engine takes them, costed by `methods`.
    pub fn inputs<'a>(&'a self, methods: &'a Methods) -> crate::engine::Inputs<'a> {
        crate::engine::Inputs {
            methods,
            lots: &self.lots,
            spread_lots: &self.spread_lots,
            sales: &self.sales,
            returns: &self.returns,
            supplier_returns: &self.supplier_returns,
            adjustments: &self.adjustments,
            counts: &self.counts,
            landed_costs: &self.landed_costs,
            transfers: &self.transfers,
        }
    }
}

/// Every event of `skus`, and the lots their landed costs are spread over.
pub async fn load_sku_events(tx: &TenantTx, skus: &[&str]) -> Result<SkuEvents, DbError> {
    let lot_columns = r"lot_id, sku, received_date, original_quantity, initial_remaining_quantity as remaining_quantity,
                        unit_price, freight_cost_per_unit, receipt_id, location";
    let lots_sql = format!("select {lot_columns} from lots where sku = any($1)");
    let spread_sql = format!(
        r"select {lot_columns} from lots
          where sku <> all($1)
            and receipt_id in (select c.receipt_id from landed_costs c join lots l on l.receipt_id = c.receipt_id
                               where l.sku = any($1))"
    );
    // Sent together (pipelined on the one connection): each waits on the server, not
    // on the answer to the one before.
    let by_skus: &[&dyn Param] = &[&skus];
    let (lots, landed, spread, sales, returns, supplier_returns, adjustments, counts, transfers) = tokio::try_join!(
        tx.query(&lots_sql, by_skus),
        tx.query(
            r"select landed_cost_id, lot_id, receipt_id, cost_date, amount, allocate_by from landed_costs c
              where c.lot_id in (select lot_id from lots where sku = any($1))
                 or c.receipt_id in (select receipt_id from lots where sku = any($1) and receipt_id is not null)",
            by_skus,
        ),
        tx.query(&spread_sql, by_skus),
        tx.query(
            r"select sale_id, sku, sale_date, quantity_sold, lot_id, location from sales where sku = any($1)",
            by_skus,
        ),
        tx.query(
            r"select return_id, sale_id, return_date, quantity, restock, location from customer_returns
              where sku = any($1)",
            by_skus,
        ),
        tx.query(
            r"select supplier_return_id, lot_id, return_date, quantity, location from supplier_returns
              where sku = any($1)",
            by_skus,
        ),
        tx.query(
            r"select adjustment_id, sku, adjustment_date, quantity, unit_cost, reason, lot_id, location from adjustments
              where sku = any($1)",
            by_skus,
        ),
        tx.query(
            r"select count_id, sku, count_date, counted_quantity, unit_cost, location from stock_counts
              where sku = any($1)",
            by_skus,
        ),
        tx.query(
            r"select transfer_id, sku, from_location, to_location, transfer_date, quantity from transfers
              where sku = any($1)",
            by_skus,
        ),
    )?;
    let event_id = |row: &Row, column: &'static str| -> Result<EventId, DbError> {
        EventId::parse(row.try_get::<_, String>(column)?).map_err(DbError::corrupt(column))
    };
    Ok(SkuEvents {
        lots: lots.iter().map(Lot::try_from).collect::<Result<_, _>>()?,
        spread_lots: spread.iter().map(Lot::try_from).collect::<Result<_, _>>()?,
        sales: sales.iter().map(Sale::try_from).collect::<Result<_, _>>()?,
        returns: returns
            .iter()
            .map(|row| {
                Ok(CustomerReturn {
                    return_id: event_id(row, "return_id")?,
                    sale_id: SaleId::parse(row.try_get::<_, String>("sale_id")?)
                        .map_err(DbError::corrupt("sale_id"))?,
                    return_date: row.try_get("return_date")?,
                    quantity: row.try_get("quantity")?,
                    restock: row.try_get("restock")?,
                    location: location_of(row, "location")?,
                })
            })
            .collect::<Result<_, DbError>>()?,
        supplier_returns: supplier_returns
            .iter()
            .map(|row| {
                Ok(SupplierReturn {
                    supplier_return_id: event_id(row, "supplier_return_id")?,
                    lot_id: LotId::parse(row.try_get::<_, String>("lot_id")?).map_err(DbError::corrupt("lot_id"))?,
                    return_date: row.try_get("return_date")?,
                    quantity: row.try_get("quantity")?,
                    location: row
                        .try_get::<_, Option<String>>("location")?
                        .map(Location::parse)
                        .transpose()
                        .map_err(DbError::corrupt("location"))?,
                })
            })
            .collect::<Result<_, DbError>>()?,
        adjustments: adjustments
            .iter()
            .map(|row| {
                Ok(Adjustment {
                    adjustment_id: event_id(row, "adjustment_id")?,
                    sku: sku_of(row)?,
                    adjustment_date: row.try_get("adjustment_date")?,
                    quantity: row.try_get("quantity")?,
                    unit_cost: row.try_get("unit_cost")?,
                    reason: row.try_get("reason")?,
                    lot_id: row
                        .try_get::<_, Option<String>>("lot_id")?
                        .map(LotId::parse)
                        .transpose()
                        .map_err(DbError::corrupt("lot_id"))?,
                    location: location_of(row, "location")?,
                })
            })
            .collect::<Result<_, DbError>>()?,
        counts: counts
            .iter()
            .map(|row| {
                Ok(StockCount {
                    count_id: event_id(row, "count_id")?,
                    sku: sku_of(row)?,
                    count_date: row.try_get("count_date")?,
                    counted_quantity: row.try_get("counted_quantity")?,
                    unit_cost: row.try_get("unit_cost")?,
                    location: location_of(row, "location")?,
                })
            })
            .collect::<Result<_, DbError>>()?,
        landed_costs: landed
            .iter()
            .map(|row| {
                let target = match (
                    row.try_get::<_, Option<String>>("lot_id")?,
                    row.try_get::<_, Option<String>>("receipt_id")?,
                ) {
                    (Some(lot_id), _) => LandedTarget::Lot(LotId::parse(lot_id).map_err(DbError::corrupt("lot_id"))?),
                    (None, Some(receipt_id)) => {
                        LandedTarget::Receipt(ReceiptId::parse(receipt_id).map_err(DbError::corrupt("receipt_id"))?)
                    }
                    (None, None) => return Err(DbError::Corrupt { column: "lot_id", reason: "no target".into() }),
                };
                let allocate_by: String = row.try_get("allocate_by")?;
                Ok(LandedCost {
                    landed_cost_id: event_id(row, "landed_cost_id")?,
                    target,
                    cost_date: row.try_get("cost_date")?,
                    amount: row.try_get("amount")?,
                    allocate_by: allocate_by
                        .parse::<AllocateBy>()
                        .map_err(|reason| DbError::Corrupt { column: "allocate_by", reason })?,
                })
            })
            .collect::<Result<_, DbError>>()?,
        transfers: transfers
            .iter()
            .map(|row| {
                Ok(Transfer {
                    transfer_id: event_id(row, "transfer_id")?,
                    sku: sku_of(row)?,
                    from_location: location_of(row, "from_location")?,
                    to_location: location_of(row, "to_location")?,
                    transfer_date: row.try_get("transfer_date")?,
                    quantity: row.try_get("quantity")?,
                })
            })
            .collect::<Result<_, DbError>>()?,
    })
}

fn sku_of(row: &Row) -> Result<Sku, DbError> {
    Sku::parse(row.try_get::<_, String>("sku")?).map_err(DbError::corrupt("sku"))
}

/// Writes what costing some SKUs whole moved, numbered per SKU in costing order.
pub async fn insert_movements(tx: &TenantTx, run_id: Uuid, movements: &[Movement]) -> Result<u64, DbError> {
    let skus: Vec<&str> = movements.iter().map(|m| m.sku.as_str()).collect();
    let seqs = numbered_per_sku(&skus);
    let kinds: Vec<&str> = movements.iter().map(|m| m.kind.as_str()).collect();
    let event_ids: Vec<&str> = movements.iter().map(|m| m.event_id.as_str()).collect();
    let dates: Vec<DateTime<Utc>> = movements.iter().map(|m| m.event_date).collect();
    let layers: Vec<&str> = movements.iter().map(|m| m.layer.as_str()).collect();
    let quantities: Vec<Decimal> = movements.iter().map(|m| m.quantity).collect();
    let costs: Vec<Decimal> = movements.iter().map(|m| m.cost).collect();
    let consumers: Vec<Option<&str>> = movements.iter().map(|m| m.consumer.as_ref().map(EventId::as_str)).collect();
    let locations: Vec<&str> = movements.iter().map(|m| m.location.as_str()).collect();
    tx.execute(
        r"insert into cogs_movements (tenant_id, run_id, sku, seq, kind, event_id, event_date, layer, quantity, cost,
                                     consumer, location)
          select $1, $2, v.sku, v.seq, v.kind, v.event_id, v.event_date, v.layer, v.quantity, v.cost, v.consumer,
                 v.location
          from unnest($3::text[], $4::int[], $5::text[], $6::text[], $7::timestamptz[], $8::text[], $9::numeric[],
                      $10::numeric[], $11::text[], $12::text[])
               as v(sku, seq, kind, event_id, event_date, layer, quantity, cost, consumer, location)",
        &[
            &tx.tenant_id().as_str(),
            &run_id,
            &skus,
            &seqs,
            &kinds,
            &event_ids,
            &dates,
            &layers,
            &quantities,
            &costs,
            &consumers,
            &locations,
        ],
    )
    .await
}

/// Writes the layers costing some SKUs whole left, numbered per SKU in drawing order.
pub async fn insert_layers(tx: &TenantTx, run_id: Uuid, layers: &[Layer]) -> Result<u64, DbError> {
    let skus: Vec<&str> = layers.iter().map(|l| l.sku.as_str()).collect();
    let seqs = numbered_per_sku(&skus);
    let names: Vec<&str> = layers.iter().map(|l| l.layer.as_str()).collect();
    let dates: Vec<DateTime<Utc>> = layers.iter().map(|l| l.received_date).collect();
    let remaining: Vec<Decimal> = layers.iter().map(|l| l.remaining_quantity).collect();
    let unit_costs: Vec<Decimal> = layers.iter().map(|l| l.unit_cost).collect();
    let landed: Vec<Decimal> = layers.iter().map(|l| l.landed).collect();
    let locations: Vec<&str> = layers.iter().map(|l| l.location.as_str()).collect();
    tx.execute(
        r"insert into cogs_layers (tenant_id, run_id, sku, seq, layer, received_date, remaining_quantity, unit_cost,
                                  landed, location)
          select $1, $2, v.sku, v.seq, v.layer, v.received_date, v.remaining_quantity, v.unit_cost, v.landed,
                 v.location
          from unnest($3::text[], $4::int[], $5::text[], $6::timestamptz[], $7::numeric[], $8::numeric[], $9::numeric[],
                      $10::text[])
               as v(sku, seq, layer, received_date, remaining_quantity, unit_cost, landed, location)",
        &[
            &tx.tenant_id().as_str(),
            &run_id,
            &skus,
            &seqs,
            &names,
            &dates,
            &remaining,
            &unit_costs,
            &landed,
            &locations,
        ],
    )
    .await
}

/// 1, 2, … within each run of equal SKUs.
fn numbered_per_sku(skus: &[&str]) -> Vec<i32> {
    let mut seqs = Vec::with_capacity(skus.len());
    for (index, sku) in skus.iter().enumerate() {
        let seq = if index > 0 && skus[index - 1] == *sku { seqs[index - 1] + 1 } else { 1 };
        seqs.push(seq);
    }
    seqs
}

/// For the journal of differences: each live run whose movements of a SKU `run_id`
/// has just rewound are superseded with the SKU's whole book, so every such run is
/// recorded as a source of the rewind (a run the rewind already recorded for its
/// allocations keeps their range).
///
/// The SKUs with movements among those rewound are read first: a rewind of SKUs of lots
/// and sales only (a late lot for every SKU) then stops there. One statement over all
/// of them was planned, on the statistics of the rewind's own fresh supersessions, as
/// a scan of every supersession per SKU: 23 s for the bench's 10,000 SKUs.
pub async fn record_superseded_movements(tx: &TenantTx, run_id: Uuid) -> Result<(), DbError> {
    let skus: Vec<String> = tx
        .query(
            r"select s.sku from cogs_supersessions s join sku_watermarks w on w.sku = s.sku and w.movements
              where s.run_id = $1",
            &[&run_id],
        )
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    if skus.is_empty() {
        return Ok(());
    }
    tx.execute(
        r"with rewound as materialized (select unnest($3::text[]) as sku),
          live_runs as materialized (
              select run_id, created_at from cogs_runs
              where run_id <> $1 and status in ('pending', 'running', 'completed')
          ),
          -- Each SKU's latest live superseding run besides this one: runs before it no
          -- longer hold the SKU's live outputs.
          last_cut as materialized (
              select distinct on (x.sku) x.sku, r.created_at, r.run_id
              from rewound k
              join cogs_supersessions x on x.sku = k.sku
              join live_runs r on r.run_id = x.run_id
              order by x.sku, r.created_at desc, r.run_id desc
          )
          insert into cogs_superseded_ranges (tenant_id, run_id, sku, source_run_id, from_date, from_sale_id, to_date,
                                              to_sale_id)
          select $2, $1, k.sku, r.run_id, '-infinity'::timestamptz, '', 'infinity'::timestamptz, ''
          from rewound k
          cross join live_runs r
          left join last_cut c on c.sku = k.sku
          where (c.sku is null or (r.created_at, r.run_id) >= (c.created_at, c.run_id))
            -- One look into the movements' primary key per (SKU, live run), not every
            -- movement of the SKU: a book costed by the average has one per sale.
            and exists (select 1 from cogs_movements m where m.run_id = r.run_id and m.sku = k.sku)
          on conflict (tenant_id, run_id, sku, source_run_id) do nothing",
        &[&run_id, &tx.tenant_id().as_str(), &skus],
    )
    .await?;
    Ok(())
}
