//! What the reports read: every flow of the live book into or out of inventory (lots
//! received, sales' allocations, movements), summed per SKU (or layer) and kind, and
//! the trace of one sale or one lot.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use tokio_postgres::Row;

use super::book::MOVEMENT_COLUMNS;
use super::{DbError, TenantTx};
use crate::model::{Allocation, EventId, Location, Movement, MovementKind, Sku};

/// The flows of one SKU (and layer, when asked by layer) of one kind, before the period
/// (`opening`) or in it, summed. `kind` is `receipt`, `sale` or a movement kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub sku: Sku,
    pub layer: Option<String>,
    pub opening: bool,
    pub kind: String,
    pub quantity: Decimal,
    pub value: Decimal,
    /// When the layer was received or brought in (by layer only; every flow of the
    /// layer says).
    pub received: Option<DateTime<Utc>>,
    /// Where the layer is (by layer only; every flow of the layer says).
    pub location: Option<Location>,
}

/// Every flow of the live book dated before `end`, summed per SKU (and layer, with
/// `by_layer`) and kind, those before `start` apart. One scan of each source.
pub async fn flows(
    tx: &TenantTx,
    start: Option<DateTime<Utc>>,
    end: DateTime<Utc>,
    by_layer: bool,
) -> Result<Vec<Flow>, DbError> {
    let rows = tx
        .query(
            r"with f as (
                  select l.sku, l.lot_id as layer, l.received_date as at, 'receipt' as kind,
                         l.initial_remaining_quantity as quantity,
                         l.initial_remaining_quantity * (l.unit_price + l.freight_cost_per_unit) as value,
                         l.location
                  from lots l
                  where l.received_date < $2
                  union all
                  -- A sale's units at their layer's cost, and what they carried beyond it.
                  select a.sku, a.lot_id, a.sale_date, v.kind, a.quantity, v.value, null
                  from live_allocations a
                  cross join lateral (values ('sale', a.extended_cost), ('sale_landed', a.landed)) v(kind, value)
                  where a.sale_date < $2 and (v.kind = 'sale' or a.landed <> 0)
                  union all
                  select m.sku, m.layer, m.event_date, m.kind, m.quantity, m.cost, m.location
                  from live_movements m
                  where m.event_date < $2
              )
              select sku, case when $3 then layer end as layer, at < coalesce($1, '-infinity') as opening, kind,
                     sum(quantity) as quantity, sum(value) as value,
                     -- Every flow of a layer names when and where the layer came in (a sale's
                     -- allocation names neither: the flows that brought the layer in do).
                     case when $3 then min(min(at) filter (where kind in ('receipt', 'return_restocked', 'adjustment_in',
                                                                          'count_surplus', 'transfer_in')))
                                       over (partition by sku, case when $3 then layer end) end as received,
                     case when $3 then max(max(location)) over (partition by sku, case when $3 then layer end) end as location
              from f
              group by 1, 2, 3, 4
              order by 1, 2, 3, 4",
            &[&start, &end, &by_layer],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Flow {
                sku: Sku::parse(row.try_get::<_, String>("sku")?).map_err(DbError::corrupt("sku"))?,
                layer: row.try_get("layer")?,
                opening: row.try_get("opening")?,
                kind: row.try_get("kind")?,
                quantity: row.try_get("quantity")?,
                value: row.try_get("value")?,
                received: row.try_get("received")?,
                location: row
                    .try_get::<_, Option<String>>("location")?
                    .map(Location::parse)
                    .transpose()
                    .map_err(DbError::corrupt("location"))?,
            })
        })
        .collect()
}

/// Whether any stock was ever anywhere but `default_location`: a lot received
/// elsewhere or a movement there (a transfer's arrival, a return, an adjustment or a
/// count). A sale elsewhere draws on such stock, or falls short.
pub async fn stock_elsewhere(tx: &TenantTx, default_location: &Location) -> Result<bool, DbError> {
    let row = tx
        .query_one(
            r"select exists (select 1 from lots where location <> $1)
                     or exists (select 1 from live_movements where location <> $1)",
            &[&default_location.as_str()],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// The cost of sales of [`flows`]' kinds (sales, the landed cost they carried, landed
/// costs of units already sold, restocked returns) dated in [`start`, `end`), summed
/// per local day or month of `time_zone` and SKU and kind.
pub async fn cost_of_sales(
    tx: &TenantTx,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    time_zone: &str,
    by_month: bool,
) -> Result<Vec<(NaiveDate, Sku, String, Decimal, Decimal)>, DbError> {
    let rows = tx
        .query(
            r"with f as (
                  select a.sku, a.sale_date as at, v.kind, a.quantity, v.value
                  from live_allocations a
                  cross join lateral (values ('sale', a.extended_cost), ('sale_landed', a.landed)) v(kind, value)
                  where a.sale_date >= $1 and a.sale_date < $2 and (v.kind = 'sale' or a.landed <> 0)
                  union all
                  select m.sku, m.event_date, m.kind, m.quantity, m.cost
                  from live_movements m
                  where m.event_date >= $1 and m.event_date < $2
                    and m.kind in ('landed_to_cogs', 'return_restocked')
              ),
              local as (select sku, (at at time zone $3::text)::date as day, kind, quantity, value from f)
              select case when $4 then date_trunc('month', day)::date else day end as period, sku, kind,
                     sum(quantity), sum(value)
              from local
              group by 1, 2, 3
              order by 1, 2, 3",
            &[&start, &end, &time_zone, &by_month],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get(0)?,
                Sku::parse(row.try_get::<_, String>(1)?).map_err(DbError::corrupt("sku"))?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
            ))
        })
        .collect()
}

/// The instant a local day of `time_zone` starts.
pub async fn day_starts(tx: &TenantTx, day: NaiveDate, time_zone: &str) -> Result<DateTime<Utc>, DbError> {
    let row = tx.query_one(r"select ($1::date)::timestamp at time zone $2::text", &[&day, &time_zone]).await?;
    Ok(row.try_get(0)?)
}

/// What a trace reads: live allocations and movements.
pub type Trace = (Vec<Allocation>, Vec<Movement>);

/// The live allocations of one sale, in the order drawn, and the landed cost it carried
/// (`sale_landed`, as its allocations say) or that fell on its units later; `None` when
/// no such sale is loaded.
pub async fn sale_trace(tx: &TenantTx, sale_id: &str) -> Result<Option<Trace>, DbError> {
    if tx.query_opt("select 1 from sales where sale_id = $1", &[&sale_id]).await?.is_none() {
        return Ok(None);
    }
    let allocations = tx
        .query(
            r"select a.sale_id, a.lot_id, a.sku, a.sale_date, a.quantity, a.unit_cost, a.extended_cost, a.landed,
                     s.location
              from live_allocations a
              join sales s on s.sale_id = a.sale_id
              left join lots l on l.lot_id = a.lot_id
              left join cogs_layers y on (y.run_id, y.sku, y.layer) = (a.run_id, a.sku, a.lot_id)
              where a.sale_id = $1
              order by y.seq, l.received_date, a.lot_id",
            &[&sale_id],
        )
        .await?;
    let movements = tx
        .query(
            &format!(
                r"select {MOVEMENT_COLUMNS} from live_movements
                  where consumer = $1 and kind = 'landed_to_cogs'
                  order by event_date, seq"
            ),
            &[&sale_id],
        )
        .await?;
    traced(&allocations, &movements)
}

/// Every live consumer of one lot (sales' allocations in costing order) and every
/// movement that fed or drew on it (supplier returns, write-offs, landed costs,
/// transfers), at its own location and wherever its units were transferred (the layers
/// `transfer:{transfer_id}:…{lot_id}` of its SKU); `None` when no such lot is loaded.
pub async fn lot_trace(tx: &TenantTx, lot_id: &str) -> Result<Option<Trace>, DbError> {
    let Some(lot) = tx.query_opt("select sku from lots where lot_id = $1", &[&lot_id]).await? else {
        return Ok(None);
    };
    let sku: String = lot.try_get(0)?;
    let layers: Vec<String> = tx
        .query(
            r"select $2::text union
              select layer from live_layers
              where sku = $1 and layer like 'transfer:%' and right(layer, length($2) + 1) = ':' || $2",
            &[&sku, &lot_id],
        )
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    let allocations = tx
        .query(
            r"select a.sale_id, a.lot_id, a.sku, a.sale_date, a.quantity, a.unit_cost, a.extended_cost, a.landed,
                     s.location
              from live_allocations a
              join sales s on s.sale_id = a.sale_id
              where a.lot_id = any($1)
              order by a.sale_date, a.sale_id, a.lot_id",
            &[&layers],
        )
        .await?;
    let movements = tx
        .query(
            &format!("select {MOVEMENT_COLUMNS} from live_movements where layer = any($1) order by event_date, seq"),
            &[&layers],
        )
        .await?;
    traced(&allocations, &movements)
}

/// The allocations (each row with its sale's `location`) and movements read, with a
/// `sale_landed` movement for each allocation whose units carried a landed cost, in
/// date order (a sale's before a later movement of the same instant).
fn traced(allocations: &[Row], movements: &[Row]) -> Result<Option<Trace>, DbError> {
    let mut read = Vec::with_capacity(allocations.len());
    let mut carried = Vec::new();
    for row in allocations {
        let allocation = Allocation::try_from(row)?;
        if !allocation.landed.is_zero() {
            carried.push(Movement {
                kind: MovementKind::SaleLanded,
                sku: allocation.sku.clone(),
                event_id: EventId::from(&allocation.sale_id),
                event_date: allocation.sale_date,
                layer: allocation.lot_id.clone(),
                quantity: allocation.quantity,
                cost: allocation.landed,
                consumer: None,
                location: super::location_of(row, "location")?,
            });
        }
        read.push(allocation);
    }
    for row in movements {
        carried.push(Movement::try_from(row)?);
    }
    carried.sort_by_key(|movement| movement.event_date);
    Ok(Some((read, carried)))
}
