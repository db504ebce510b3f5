//! The live book, read in the shape of an offline costing: the costed sales with their
//! live allocations, every lot's stock, and the SKUs still parked.

use super::{DbError, TenantTx};
use crate::model::{Allocation, Lot, Sale, Shortfall};

/// One slice of the book: the SKUs after `after_sku` (all, or the first `limit`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SkuRange<'a> {
    pub after_sku: Option<&'a str>,
    pub limit: Option<i64>,
}

/// The last SKU of `range`, if it holds any: the slice's upper bound.
pub async fn last_sku_of(tx: &TenantTx, range: SkuRange<'_>) -> Result<Option<String>, DbError> {
    let row = tx
        .query_one(
            r"select max(sku) from (
                  select sku from sku_watermarks where sku > coalesce($1, '') order by sku limit $2
              ) page",
            &[&range.after_sku, &range.limit],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// The costed sales of the SKUs in (`after`, `upto`] with their live allocations, in
/// costing order (sale_date, sale_id), each sale's lots in the order they were drawn.
pub async fn load_live_book(
    tx: &TenantTx,
    after: Option<&str>,
    upto: &str,
) -> Result<(Vec<Sale>, Vec<Allocation>), DbError> {
    let rows = tx
        .query(
            r"select a.sale_id, a.lot_id, a.sku, a.sale_date, a.quantity, a.unit_cost, a.extended_cost,
                     s.quantity_sold
              from live_allocations a
              join sales s on s.tenant_id = a.tenant_id and s.sale_id = a.sale_id
              join lots l on l.tenant_id = a.tenant_id and l.lot_id = a.lot_id
              where a.sku > coalesce($1, '') and a.sku <= $2
              order by a.sale_date, a.sale_id, l.received_date, a.lot_id",
            &[&after, &upto],
        )
        .await?;
    let mut sales: Vec<Sale> = Vec::new();
    let mut allocations = Vec::with_capacity(rows.len());
    for row in &rows {
        let allocation = Allocation::try_from(row)?;
        if sales.last().is_none_or(|sale| sale.sale_id != allocation.sale_id) {
            sales.push(Sale {
                sale_id: allocation.sale_id.clone(),
                sku: allocation.sku.clone(),
                sale_date: allocation.sale_date,
                quantity_sold: row.try_get("quantity_sold")?,
            });
        }
        allocations.push(allocation);
    }
    Ok((sales, allocations))
}

/// The lots of the SKUs in (`after`, `upto`] as they stand, by SKU in FIFO order.
pub async fn load_book_lots(tx: &TenantTx, after: Option<&str>, upto: &str) -> Result<Vec<Lot>, DbError> {
    let rows = tx
        .query(
            r"select lot_id, sku, received_date, original_quantity, remaining_quantity, unit_price,
                     freight_cost_per_unit
              from lots
              where sku > coalesce($1, '') and sku <= $2
              order by sku, received_date, lot_id",
            &[&after, &upto],
        )
        .await?;
    rows.iter().map(Lot::try_from).collect()
}

/// The SKUs still parked: those the latest completed run parked, in (`after`, `upto`].
pub async fn load_parked(tx: &TenantTx, after: Option<&str>, upto: &str) -> Result<Vec<Shortfall>, DbError> {
    let latest = tx
        .query_opt(
            r"select run_id from cogs_runs where status = 'completed' order by created_at desc, run_id desc limit 1",
            &[],
        )
        .await?;
    let Some(latest) = latest else { return Ok(Vec::new()) };
    let mut parked = super::load_shortfalls(tx, latest.try_get(0)?).await?;
    parked.retain(|s| after.is_none_or(|after| s.sku.as_str() > after) && s.sku.as_str() <= upto);
    Ok(parked)
}
