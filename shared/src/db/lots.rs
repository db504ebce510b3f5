//! Lots: loading files through a temporary table, reading them in FIFO order, and
//! the set-wise updates of a run.

use std::pin::pin;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use tokio_postgres::Row;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::model::{Lot, LotId, Sku};

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
        })
    }
}

/// Streams numbered lots into `incoming_lots`, a temporary table dropped at commit,
/// by binary COPY (COPY cannot target a table under row-level security). Returns the
/// number of rows copied.
pub async fn copy_incoming_lots(
    tx: &TenantTx,
    lots: &mut (dyn Iterator<Item = (u64, Lot)> + Send),
) -> Result<u64, DbError> {
    tx.batch(
        r"create temporary table incoming_lots (
              row_number bigint not null, lot_id text not null, sku text not null, received_date timestamptz not null,
              original_quantity numeric not null, remaining_quantity numeric not null, unit_price numeric not null,
              freight_cost_per_unit numeric not null
          ) on commit drop",
    )
    .await?;
    let sink = tx.copy_in(r"copy incoming_lots from stdin (format binary)").await?;
    let types = [
        Type::INT8,
        Type::TEXT,
        Type::TEXT,
        Type::TIMESTAMPTZ,
        Type::NUMERIC,
        Type::NUMERIC,
        Type::NUMERIC,
        Type::NUMERIC,
    ];
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
    for (row, lot) in lots {
        let row = i64::try_from(row).unwrap_or(i64::MAX);
        let values: [&(dyn ToSql + Sync); 8] = [
            &row,
            &lot.lot_id.as_str(),
            &lot.sku.as_str(),
            &lot.received_date,
            &lot.original_quantity,
            &lot.remaining_quantity,
            &lot.unit_price,
            &lot.freight_cost_per_unit,
        ];
        writer.as_mut().write(&values).await?;
    }
    Ok(writer.finish().await?)
}

/// Incoming lots whose id is already taken by a lot with other values: (row, lot_id).
/// A lot is compared as it was loaded (`initial_remaining_quantity`), not as runs left it.
pub async fn conflicting_lots(tx: &TenantTx) -> Result<Vec<(i64, String)>, DbError> {
    let rows = tx
        .query(
            r"select i.row_number, i.lot_id from incoming_lots i
              join lots l on l.lot_id = i.lot_id
              where (l.sku, l.received_date, l.original_quantity, l.initial_remaining_quantity, l.unit_price,
                     l.freight_cost_per_unit)
                    is distinct from
                    (i.sku, i.received_date, i.original_quantity, i.remaining_quantity, i.unit_price,
                     i.freight_cost_per_unit)
              order by i.row_number",
            &[],
        )
        .await?;
    rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
}

/// Inserts the incoming lots not already present (identical ones were checked by
/// [`conflicting_lots`]) and returns how many were new.
pub async fn insert_incoming_lots(tx: &TenantTx, upload_id: Uuid) -> Result<u64, DbError> {
    tx.execute(
        r"insert into lots (tenant_id, lot_id, sku, received_date, original_quantity, initial_remaining_quantity,
                            remaining_quantity, unit_price, freight_cost_per_unit, upload_id)
          select $1, lot_id, sku, received_date, original_quantity, remaining_quantity, remaining_quantity, unit_price,
                 freight_cost_per_unit, $2
          from incoming_lots
          order by lot_id
          on conflict (tenant_id, lot_id) do nothing",
        &[&tx.tenant_id().as_str(), &upload_id],
    )
    .await
}

/// The lots of `skus` that still have stock, each SKU's in FIFO order.
pub async fn load_lots_with_stock(tx: &TenantTx, skus: &[&str]) -> Result<Vec<Lot>, DbError> {
    let rows = tx
        .query(
            r"select lot_id, sku, received_date, original_quantity, remaining_quantity, unit_price, freight_cost_per_unit
              from lots
              where sku = any($1) and remaining_quantity > 0
              order by sku, received_date, lot_id",
            &[&skus],
        )
        .await?;
    rows.iter().map(Lot::try_from).collect()
}

/// Sets each lot's remaining quantity, in one statement.
pub async fn update_remaining(tx: &TenantTx, lot_ids: &[&str], remaining: &[Decimal]) -> Result<u64, DbError> {
    tx.execute(
        r"update lots l set remaining_quantity = v.remaining_quantity
          from unnest($1::text[], $2::numeric[]) as v(lot_id, remaining_quantity)
          where l.lot_id = v.lot_id",
        &[&lot_ids, &remaining],
    )
    .await
}

/// The highest `lots.seq` so far: lots loaded later were not seen by a run starting now.
pub async fn lot_seq_max(tx: &TenantTx) -> Result<i64, DbError> {
    Ok(tx.query_one(r"select coalesce(max(seq), 0) from lots", &[]).await?.try_get(0)?)
}

/// A lot loaded after the latest completed run started, received at or before a sale
/// already costed: costing it now would change past costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackdatedLot {
    pub lot_id: String,
    pub sku: String,
    pub received_date: DateTime<Utc>,
    /// The run that costed the earliest such sale.
    pub first_affected_run: Uuid,
}

pub async fn backdated_lots(tx: &TenantTx, loaded_after_seq: i64, limit: i64) -> Result<Vec<BackdatedLot>, DbError> {
    let rows = tx
        .query(
            r"select l.lot_id, l.sku, l.received_date, c.run_id
              from lots l
              cross join lateral (
                  select s.run_id from sales s
                  where s.run_id is not null and s.sku = l.sku and s.sale_date >= l.received_date
                  order by s.sale_date, s.sale_id
                  limit 1
              ) c
              where l.seq > $1
              order by l.received_date, l.lot_id
              limit $2",
            &[&loaded_after_seq, &limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(BackdatedLot {
                lot_id: row.try_get(0)?,
                sku: row.try_get(1)?,
                received_date: row.try_get(2)?,
                first_affected_run: row.try_get(3)?,
            })
        })
        .collect()
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

/// Refreshes the planner's statistics of the hot tables (`cogs_analyze()`, run as the
/// tables' owner), so statements after a bulk load are planned for its size.
pub async fn refresh_statistics(tx: &TenantTx) -> Result<(), DbError> {
    tx.execute(r"select cogs_analyze()", &[]).await?;
    Ok(())
}
