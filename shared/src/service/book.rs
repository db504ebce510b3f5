//! `cogs book`: the tenant's live book in exactly the shape of `cogs cost --format json`
//! (LEDGER.md, "One rule above all"), so that anyone can compare the two.

use serde::Serialize;

use super::{CostReport, LotBalance, ServiceError, layer_balance, lot_balance, report};
use crate::db::{self, SkuRange};
use crate::model::TenantId;

/// A page of the book: the report of its SKUs, and where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BookPage {
    #[serde(flatten)]
    pub book: CostReport,
    /// Pass as `after_sku` for the next page; none on the last.
    pub next_after_sku: Option<String>,
}

/// The most SKUs a page holds: a page must fit Lambda's 6 MB response.
pub const MAX_BOOK_PAGE_SKUS: i64 = 1000;

/// The live book of the SKUs after `after_sku` (the first `limit` of them, at most
/// [`MAX_BOOK_PAGE_SKUS`], or all),
/// read in one snapshot: each costed sale with its live allocations in costing order,
/// every lot with its remaining quantity and value, the totals of those, and the SKUs
/// the latest completed run parked. Over all SKUs, after a run has costed everything
/// loaded, it equals `cogs cost` over every file loaded.
pub async fn book(
    pool: &deadpool_postgres::Pool,
    tenant_id: &TenantId,
    range: SkuRange<'_>,
) -> Result<BookPage, ServiceError> {
    if range.limit.is_some_and(|limit| !(1..=MAX_BOOK_PAGE_SKUS).contains(&limit)) {
        return Err(ServiceError::InvalidRequest(format!("limit must be between 1 and {MAX_BOOK_PAGE_SKUS} SKUs")));
    }
    let tx = db::begin_snapshot(pool, tenant_id).await?;
    tx.allow_statements_for(super::verify::WHOLE_BOOK_STATEMENT_TIMEOUT).await?;
    let methods = db::load_settings(&tx).await?.methods;
    let Some(upto) = db::last_sku_of(&tx, range).await? else {
        tx.rollback().await?;
        return Ok(BookPage { book: report(methods, &[], &[], &[], Vec::new(), Vec::new())?, next_after_sku: None });
    };
    let (sales, allocations) = db::load_live_book(&tx, range.after_sku, &upto).await?;
    let balances = stock(&tx, range.after_sku, &upto).await?;
    let movements = db::load_book_movements(&tx, range.after_sku, &upto).await?;
    let parked = db::load_parked(&tx, range.after_sku, &upto).await?;
    let more = range.limit.is_some()
        && db::last_sku_of(&tx, SkuRange { after_sku: Some(&upto), limit: Some(1) }).await?.is_some();
    tx.rollback().await?;
    let book = report(methods, &sales, &allocations, &movements, balances, parked)?;
    Ok(BookPage { book, next_after_sku: more.then_some(upto) })
}

/// The stock of the SKUs in (`after`, `upto`] as the book has it, by SKU, each SKU's
/// layers in drawing order: the lots, or for a SKU with movements the layers its live
/// costing left.
pub(super) async fn stock(tx: &db::TenantTx, after: Option<&str>, upto: &str) -> Result<Vec<LotBalance>, ServiceError> {
    let lots = db::load_book_lots(tx, after, upto).await?;
    let layers = db::load_book_layers(tx, after, upto).await?;
    let mut balances =
        lots.iter().map(lot_balance).chain(layers.iter().map(layer_balance)).collect::<Result<Vec<_>, _>>()?;
    // Each SKU's lines are in order already; the SKUs, from two sources, are put in order.
    balances.sort_by(|a, b| a.sku.cmp(&b.sku));
    Ok(balances)
}
