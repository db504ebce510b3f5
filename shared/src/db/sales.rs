//! Sales: loading files through a temporary table, reading uncosted sales in costing
//! order, marking them costed and uncosted.

use std::pin::pin;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use uuid::Uuid;

use super::{DbError, SaleKey, TenantTx};
use crate::model::{Sale, SaleId, Sku};

impl TryFrom<&Row> for Sale {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        Ok(Sale {
            sale_id: SaleId::parse(row.try_get::<_, String>("sale_id")?).map_err(DbError::corrupt("sale_id"))?,
            sku: Sku::parse(row.try_get::<_, String>("sku")?).map_err(DbError::corrupt("sku"))?,
            sale_date: row.try_get("sale_date")?,
            quantity_sold: row.try_get("quantity_sold")?,
        })
    }
}

/// Streams numbered sales into `incoming_sales`, a temporary table dropped at commit,
/// by binary COPY. Returns the number of rows copied.
pub async fn copy_incoming_sales(
    tx: &TenantTx,
    sales: &mut (dyn Iterator<Item = (u64, Sale)> + Send),
) -> Result<u64, DbError> {
    tx.batch(
        r"create temporary table incoming_sales (
              row_number bigint not null, sale_id text not null, sku text not null, sale_date timestamptz not null,
              quantity_sold numeric not null
          ) on commit drop",
    )
    .await?;
    let sink = tx.copy_in(r"copy incoming_sales from stdin (format binary)").await?;
    let types = [Type::INT8, Type::TEXT, Type::TEXT, Type::TIMESTAMPTZ, Type::NUMERIC];
    let mut writer = pin!(BinaryCopyInWriter::new(sink, &types));
    for (row, sale) in sales {
        let row = i64::try_from(row).unwrap_or(i64::MAX);
        let values: [&(dyn ToSql + Sync); 5] =
            [&row, &sale.sale_id.as_str(), &sale.sku.as_str(), &sale.sale_date, &sale.quantity_sold];
        writer.as_mut().write(&values).await?;
    }
    Ok(writer.finish().await?)
}

/// Incoming sales whose id is already taken by a sale with other values: (row, sale_id).
pub async fn conflicting_sales(tx: &TenantTx) -> Result<Vec<(i64, String)>, DbError> {
    let rows = tx
        .query(
            r"select i.row_number, i.sale_id from incoming_sales i
              join sales s on s.sale_id = i.sale_id
              where (s.sku, s.sale_date, s.quantity_sold) is distinct from (i.sku, i.sale_date, i.quantity_sold)
              order by i.row_number",
            &[],
        )
        .await?;
    rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
}

/// Inserts the incoming sales not already present and returns how many were new.
pub async fn insert_incoming_sales(tx: &TenantTx, upload_id: Uuid) -> Result<u64, DbError> {
    tx.execute(
        r"insert into sales (tenant_id, sale_id, sku, sale_date, quantity_sold, upload_id)
          select $1, sale_id, sku, sale_date, quantity_sold, $2
          from incoming_sales
          order by sale_id
          on conflict (tenant_id, sale_id) do nothing",
        &[&tx.tenant_id().as_str(), &upload_id],
    )
    .await
}

/// Up to `limit` uncosted sales after `after` (exclusive), in costing order (sku,
/// sale_date, sale_id), which the `sales_uncosted` index holds. SKUs are compared
/// byte by byte (`collate "C"`), the engine's order.
pub async fn load_uncosted_after(tx: &TenantTx, after: Option<SaleKey<'_>>, limit: i64) -> Result<Vec<Sale>, DbError> {
    let rows = match after {
        None => {
            tx.query(
                r#"select sale_id, sku, sale_date, quantity_sold from sales
                   where run_id is null
                   order by sku collate "C", sale_date, sale_id collate "C"
                   limit $1"#,
                &[&limit],
            )
            .await?
        }
        Some(after) => {
            tx.query(
                r#"select sale_id, sku, sale_date, quantity_sold from sales
                   where run_id is null and (sku collate "C", sale_date, sale_id collate "C") > ($1, $2, $3)
                   order by sku collate "C", sale_date, sale_id collate "C"
                   limit $4"#,
                &[&after.sku, &after.sale_date, &after.sale_id, &limit],
            )
            .await?
        }
    };
    rows.iter().map(Sale::try_from).collect()
}

pub async fn count_uncosted(tx: &TenantTx) -> Result<i64, DbError> {
    Ok(tx.query_one(r"select count(*) from sales where run_id is null", &[]).await?.try_get(0)?)
}

/// Marks sales as costed by `run_id`.
pub async fn mark_costed(tx: &TenantTx, run_id: Uuid, sale_ids: &[&str]) -> Result<u64, DbError> {
    tx.execute(r"update sales set run_id = $1 where sale_id = any($2) and run_id is null", &[&run_id, &sale_ids]).await
}

/// Makes the sales of `run_id` uncosted again.
pub async fn uncost_run(tx: &TenantTx, run_id: Uuid) -> Result<u64, DbError> {
    tx.execute(r"update sales set run_id = null where run_id = $1", &[&run_id]).await
}

/// An uncosted sale that comes before a costed sale of the same SKU in costing order:
/// costing it now would change past costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackdatedSale {
    pub sale_id: String,
    pub sku: String,
    pub sale_date: DateTime<Utc>,
    /// The run that costed the earliest sale it should have come before.
    pub first_affected_run: Uuid,
}

/// For each SKU, its earliest uncosted sale if a costed sale of the SKU comes after it.
pub async fn backdated_sales(tx: &TenantTx, limit: i64) -> Result<Vec<BackdatedSale>, DbError> {
    let rows = tx
        .query(
            r"with first_uncosted as (
                  select distinct on (sku) sku, sale_date, sale_id
                  from sales where run_id is null
                  order by sku, sale_date, sale_id
              )
              select f.sale_id, f.sku, f.sale_date, c.run_id
              from first_uncosted f
              cross join lateral (
                  select s.run_id from sales s
                  where s.run_id is not null and s.sku = f.sku and (s.sale_date, s.sale_id) > (f.sale_date, f.sale_id)
                  order by s.sale_date, s.sale_id
                  limit 1
              ) c
              order by f.sale_date, f.sale_id
              limit $1",
            &[&limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(BackdatedSale {
                sale_id: row.try_get(0)?,
                sku: row.try_get(1)?,
                sale_date: row.try_get(2)?,
                first_affected_run: row.try_get(3)?,
            })
        })
        .collect()
}

/// The sales a run costed, in costing order.
pub async fn load_sales_of_run(tx: &TenantTx, run_id: Uuid) -> Result<Vec<Sale>, DbError> {
    let rows = tx
        .query(
            r"select sale_id, sku, sale_date, quantity_sold from sales where run_id = $1 order by sale_date, sale_id",
            &[&run_id],
        )
        .await?;
    rows.iter().map(Sale::try_from).collect()
}
