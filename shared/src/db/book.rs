//! The live book, read in the shape of an offline costing: the costed sales with their
//! live allocations, every lot's stock, and the SKUs still parked.

use tokio_postgres::Row;

use super::{DbError, TenantTx};
use crate::engine::Layer;
use crate::model::{Allocation, EventId, Lot, LotId, Movement, MovementKind, Sale, Shortfall, Sku};

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
            r"select a.sale_id, a.lot_id, a.sku, a.sale_date, a.quantity, a.unit_cost, a.extended_cost, a.landed,
                     s.quantity_sold, s.location
              from live_allocations a
              join sales s on s.tenant_id = a.tenant_id and s.sale_id = a.sale_id
              left join lots l on l.tenant_id = a.tenant_id and l.lot_id = a.lot_id
              -- A SKU with movements: its layers in drawing order, as its costing left them.
              left join cogs_layers y on (y.tenant_id, y.run_id, y.sku, y.layer) = (a.tenant_id, a.run_id, a.sku, a.lot_id)
              where a.sku > coalesce($1, '') and a.sku <= $2
              order by a.sale_date, a.sale_id, y.seq, l.received_date, a.lot_id",
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
                lot_id: None,
                location: super::location_of(row, "location")?,
            });
        }
        allocations.push(allocation);
    }
    Ok((sales, allocations))
}

/// The lots of the SKUs in (`after`, `upto`] as they stand, by SKU in FIFO order: of
/// the SKUs whose costing left no layers of their own ([`load_book_layers`]).
pub async fn load_book_lots(tx: &TenantTx, after: Option<&str>, upto: &str) -> Result<Vec<Lot>, DbError> {
    let rows = tx
        .query(
            r"select lot_id, sku, received_date, original_quantity, remaining_quantity, unit_price,
                     freight_cost_per_unit, receipt_id, location
              from lots l
              where sku > coalesce($1, '') and sku <= $2
                and not exists (select 1 from live_layers y where y.sku = l.sku)
              order by sku, received_date, lot_id",
            &[&after, &upto],
        )
        .await?;
    rows.iter().map(Lot::try_from).collect()
}

/// The layers of the SKUs in (`after`, `upto`] whose costing left layers of their own
/// (SKUs with movements besides lots and sales), by SKU in drawing order.
pub async fn load_book_layers(tx: &TenantTx, after: Option<&str>, upto: &str) -> Result<Vec<Layer>, DbError> {
    let rows = tx
        .query(
            r"select sku, layer, location, received_date, remaining_quantity, unit_cost, landed from live_layers
              where sku > coalesce($1, '') and sku <= $2
              order by sku, seq",
            &[&after, &upto],
        )
        .await?;
    rows.iter().map(Layer::try_from).collect()
}

impl TryFrom<&Row> for Layer {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        Ok(Layer {
            layer: LotId::stored(row.try_get::<_, String>("layer")?).map_err(DbError::corrupt("layer"))?,
            sku: Sku::parse(row.try_get::<_, String>("sku")?).map_err(DbError::corrupt("sku"))?,
            location: super::location_of(row, "location")?,
            received_date: row.try_get("received_date")?,
            remaining_quantity: row.try_get("remaining_quantity")?,
            unit_cost: row.try_get("unit_cost")?,
            landed: row.try_get("landed")?,
        })
    }
}

/// The columns a [`Movement`] is read from, of `cogs_movements` or `live_movements`.
pub(super) const MOVEMENT_COLUMNS: &str = "sku, kind, event_id, event_date, layer, quantity, cost, consumer, location";

/// The movements a run made, by SKU in costing order.
pub async fn load_movements_of_run(tx: &TenantTx, run_id: uuid::Uuid) -> Result<Vec<Movement>, DbError> {
    let rows = tx
        .query(
            &format!("select {MOVEMENT_COLUMNS} from cogs_movements where run_id = $1 order by sku, seq"),
            &[&run_id],
        )
        .await?;
    rows.iter().map(Movement::try_from).collect()
}

/// The live movements of the SKUs in (`after`, `upto`], by SKU in costing order.
pub async fn load_book_movements(tx: &TenantTx, after: Option<&str>, upto: &str) -> Result<Vec<Movement>, DbError> {
    let rows = tx
        .query(
            &format!(
                "select {MOVEMENT_COLUMNS} from live_movements where sku > coalesce($1, '') and sku <= $2 order by sku, seq"
            ),
            &[&after, &upto],
        )
        .await?;
    rows.iter().map(Movement::try_from).collect()
}

impl TryFrom<&Row> for Movement {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        let event = |column: &'static str, value: String| EventId::parse(value).map_err(DbError::corrupt(column));
        Ok(Movement {
            kind: row
                .try_get::<_, &str>("kind")?
                .parse::<MovementKind>()
                .map_err(|reason| DbError::Corrupt { column: "kind", reason })?,
            sku: Sku::parse(row.try_get::<_, String>("sku")?).map_err(DbError::corrupt("sku"))?,
            event_id: event("event_id", row.try_get("event_id")?)?,
            event_date: row.try_get("event_date")?,
            layer: LotId::stored(row.try_get::<_, String>("layer")?).map_err(DbError::corrupt("layer"))?,
            quantity: row.try_get("quantity")?,
            cost: row.try_get("cost")?,
            consumer: row.try_get::<_, Option<String>>("consumer")?.map(|c| event("consumer", c)).transpose()?,
            location: super::location_of(row, "location")?,
        })
    }
}

/// The SKUs in (`after`, `upto`] still parked: of SKUs of lots and sales, those the
/// latest completed run parked; of SKUs with other movements, those parked by the run
/// whose costing of them is live.
pub async fn load_parked(tx: &TenantTx, after: Option<&str>, upto: &str) -> Result<Vec<Shortfall>, DbError> {
    let rows = tx
        .query(
            r"with latest as (
                  select run_id from cogs_runs where status = 'completed' order by created_at desc, run_id desc limit 1
              )
              select p.sku, p.event_kind, p.event_id, p.event_date, p.quantity_short, p.on_hand, p.location
              from cogs_run_shortfalls p
              join sku_watermarks w on w.sku = p.sku
              where p.sku > coalesce($1, '') and p.sku <= $2
                and case when w.movements then p.run_id = w.recosted_by_run
                         else p.run_id in (select run_id from latest) end
              order by p.sku",
            &[&after, &upto],
        )
        .await?;
    rows.iter().map(Shortfall::try_from).collect()
}
