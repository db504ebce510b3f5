//! Allocations and inventory snapshots: what a run wrote, and what it found.

use std::pin::pin;

use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use rust_decimal::Decimal;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{DbError, Param, TenantTx};
use crate::journal::{DatedCost, Period};
use crate::model::{Allocation, Location, LotId, SaleId, Sku};

impl TryFrom<&Row> for Allocation {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        Ok(Allocation {
            sale_id: SaleId::parse(row.try_get::<_, String>("sale_id")?).map_err(DbError::corrupt("sale_id"))?,
            lot_id: LotId::stored(row.try_get::<_, String>("lot_id")?).map_err(DbError::corrupt("lot_id"))?,
            sku: Sku::parse(row.try_get::<_, String>("sku")?).map_err(DbError::corrupt("sku"))?,
            sale_date: row.try_get("sale_date")?,
            quantity: row.try_get("quantity")?,
            unit_cost: row.try_get("unit_cost")?,
            extended_cost: row.try_get("extended_cost")?,
            landed: row.try_get("landed")?,
        })
    }
}

/// Writes a chunk's allocations, in costing order, in one statement (`unnest` of
/// column arrays: COPY cannot target a table under row-level security, and the
/// temporary table it would need pins a pooler session).
pub async fn insert_allocations(tx: &TenantTx, run_id: Uuid, allocations: &[Allocation]) -> Result<u64, DbError> {
    let sale_ids: Vec<&str> = allocations.iter().map(|a| a.sale_id.as_str()).collect();
    let lot_ids: Vec<&str> = allocations.iter().map(|a| a.lot_id.as_str()).collect();
    let skus: Vec<&str> = allocations.iter().map(|a| a.sku.as_str()).collect();
    let sale_dates: Vec<DateTime<Utc>> = allocations.iter().map(|a| a.sale_date).collect();
    let quantities: Vec<Decimal> = allocations.iter().map(|a| a.quantity).collect();
    let unit_costs: Vec<Decimal> = allocations.iter().map(|a| a.unit_cost).collect();
    let extended_costs: Vec<Decimal> = allocations.iter().map(|a| a.extended_cost).collect();
    let landed: Vec<Decimal> = allocations.iter().map(|a| a.landed).collect();
    tx.execute(
        r"insert into cogs_allocations (tenant_id, run_id, sale_id, lot_id, sku, sale_date, quantity, unit_cost, extended_cost,
                                      landed)
          select $1, $2, v.sale_id, v.lot_id, v.sku, v.sale_date, v.quantity, v.unit_cost, v.extended_cost, v.landed
          from unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::numeric[], $8::numeric[], $9::numeric[],
                      $10::numeric[])
               as v(sale_id, lot_id, sku, sale_date, quantity, unit_cost, extended_cost, landed)",
        &[
            &tx.tenant_id().as_str(),
            &run_id,
            &sale_ids,
            &lot_ids,
            &skus,
            &sale_dates,
            &quantities,
            &unit_costs,
            &extended_costs,
            &landed,
        ],
    )
    .await
}

/// One SKU's outputs in one chunk: the first and last sale's key, how many sales, and
/// the quantity and cost of their allocations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuOutputs<'a> {
    pub sku: &'a str,
    pub first: (DateTime<Utc>, &'a str),
    pub last: (DateTime<Utc>, &'a str),
    pub sales: i64,
    pub quantity: Decimal,
    pub cost: Decimal,
}

/// Adds a chunk's per-SKU outputs to the run's summary (`cogs_run_sku_outputs`),
/// which a rewind reads instead of the outputs themselves. A SKU the run already
/// costed in an earlier chunk keeps its first key and grows: its later sales come in
/// later chunks, in costing order.
pub async fn add_run_sku_outputs(tx: &TenantTx, run_id: Uuid, outputs: &[SkuOutputs<'_>]) -> Result<u64, DbError> {
    let skus: Vec<&str> = outputs.iter().map(|o| o.sku).collect();
    let first_dates: Vec<DateTime<Utc>> = outputs.iter().map(|o| o.first.0).collect();
    let first_sale_ids: Vec<&str> = outputs.iter().map(|o| o.first.1).collect();
    let last_dates: Vec<DateTime<Utc>> = outputs.iter().map(|o| o.last.0).collect();
    let last_sale_ids: Vec<&str> = outputs.iter().map(|o| o.last.1).collect();
    let sales: Vec<i64> = outputs.iter().map(|o| o.sales).collect();
    let quantities: Vec<Decimal> = outputs.iter().map(|o| o.quantity).collect();
    let costs: Vec<Decimal> = outputs.iter().map(|o| o.cost).collect();
    tx.execute(
        r"insert into cogs_run_sku_outputs as o (tenant_id, run_id, sku, first_date, first_sale_id, last_date,
                                                 last_sale_id, sales, quantity, cost)
          select $1, $2, v.sku, v.first_date, v.first_sale_id, v.last_date, v.last_sale_id, v.sales, v.quantity, v.cost
          from unnest($3::text[], $4::timestamptz[], $5::text[], $6::timestamptz[], $7::text[], $8::bigint[],
                      $9::numeric[], $10::numeric[])
               as v(sku, first_date, first_sale_id, last_date, last_sale_id, sales, quantity, cost)
          on conflict (tenant_id, run_id, sku) do update
          set last_date = excluded.last_date, last_sale_id = excluded.last_sale_id, sales = o.sales + excluded.sales,
              quantity = o.quantity + excluded.quantity, cost = o.cost + excluded.cost",
        &[
            &tx.tenant_id().as_str(),
            &run_id,
            &skus,
            &first_dates,
            &first_sale_ids,
            &last_dates,
            &last_sale_ids,
            &sales,
            &quantities,
            &costs,
        ],
    )
    .await
}

/// Puts every lot the run touched back to its snapshot.
pub async fn restore_snapshots(tx: &TenantTx, run_id: Uuid) -> Result<u64, DbError> {
    tx.execute(
        r"update lots l set remaining_quantity = s.remaining_quantity
          from inventory_snapshots s
          where s.run_id = $1 and s.lot_id = l.lot_id",
        &[&run_id],
    )
    .await
}

/// A run's allocations in costing order (sale_date, sale_id), each sale's lots in the
/// order they were drawn.
pub async fn load_allocations(tx: &TenantTx, run_id: Uuid) -> Result<Vec<Allocation>, DbError> {
    let rows = tx
        .query(
            r"select a.sale_id, a.lot_id, a.sku, a.sale_date, a.quantity, a.unit_cost, a.extended_cost, a.landed
              from cogs_allocations a
              left join lots l on l.tenant_id = a.tenant_id and l.lot_id = a.lot_id
              left join cogs_layers y on (y.tenant_id, y.run_id, y.sku, y.layer) = (a.tenant_id, a.run_id, a.sku, a.lot_id)
              where a.run_id = $1
              order by a.sale_date, a.sale_id, y.seq, l.received_date, a.lot_id",
            &[&run_id],
        )
        .await?;
    rows.iter().map(Allocation::try_from).collect()
}

/// The difference a run made, summed per SKU, kind of output (a sale's allocations or
/// a movement kind: what accounts it posts to) and accounting day (the event's day in
/// `time_zone`, an IANA name), per SKU, kind and month (dated on a day of the month), or
/// per SKU and kind alone (dated at the last day), as `period` asks: the run's own
/// outputs less the live outputs its rewinds superseded (`cogs_superseded_ranges`), so
/// a sum may be negative. A journal needs no more, and a
/// million allocations become a few thousand rows. Sums are exact (`numeric`).
///
/// `by_location` (a tenant with inventory accounts per location) also sums per the
/// locations each side posts at (a sale's, a movement's layer's, and for a transfer's
/// arrival the source as the credit side); otherwise every side is at the default
/// location, and no sale is read.
pub async fn journal_costs(
    tx: &TenantTx,
    run_id: Uuid,
    period: Period,
    time_zone: &str,
    by_location: bool,
) -> Result<Vec<DatedCost>, DbError> {
    let period = match period {
        Period::Day => "day",
        Period::Month => "month",
        Period::Run => "run",
    };
    let (sides, located) = if by_location {
        (
            "coalesce(o.location, s.location) as debit_at, coalesce(t.from_location, o.location, s.location) as credit_at",
            "left join sales s on o.kind = 'sale' and s.sale_id = o.event_id
             left join transfers t on o.kind = 'transfer_in' and t.transfer_id = o.event_id",
        )
    } else {
        ("$4::text as debit_at, $4::text as credit_at", "")
    };
    let statement = format!(
        r"with outputs as (
              select a.sale_date as at, a.sku, 'sale' as kind, a.extended_cost + a.landed as cost, a.sale_id as event_id,
                     null::text as location
              from cogs_allocations a
              where a.run_id = $1
              union all
              select m.event_date, m.sku, m.kind, m.cost, m.event_id, m.location
              from cogs_movements m
              where m.run_id = $1
              union all
              select a.sale_date, a.sku, 'sale', -(a.extended_cost + a.landed), a.sale_id, null
              from cogs_superseded_ranges r
              join cogs_allocations a
                on a.run_id = r.source_run_id and a.sku = r.sku
               and (a.sale_date, a.sale_id) between (r.from_date, r.from_sale_id) and (r.to_date, r.to_sale_id)
              where r.run_id = $1
              union all
              -- A SKU with movements is superseded whole: every movement of a source.
              select m.event_date, m.sku, m.kind, -m.cost, m.event_id, m.location
              from cogs_superseded_ranges r
              join cogs_movements m on m.run_id = r.source_run_id and m.sku = r.sku
              where r.run_id = $1
          ),
          daily as (
              select (o.at at time zone $2::text)::date as day, o.sku, o.kind, o.cost,
                     {sides}
              from outputs o
              {located}
          )
          select max(day), sku, kind, debit_at, credit_at, sum(cost)
          from daily
          group by case $3::text when 'day' then day when 'month' then date_trunc('month', day)::date end,
                   sku, kind, debit_at, credit_at"
    );
    let default = Location::default();
    let default = default.as_str();
    let mut parameters: Vec<&dyn Param> = vec![&run_id, &time_zone, &period];
    if !by_location {
        parameters.push(&default);
    }
    let rows = tx.query_stream(&statement, &parameters).await?;
    let mut rows = pin!(rows);
    let mut costs = Vec::new();
    let location = |row: &Row, index: usize| -> Result<Location, DbError> {
        Location::parse(row.try_get::<_, String>(index)?).map_err(DbError::corrupt("location"))
    };
    while let Some(row) = rows.try_next().await? {
        let kind: String = row.try_get(2)?;
        costs.push(DatedCost {
            date: row.try_get(0)?,
            sku: Sku::parse(row.try_get::<_, String>(1)?).map_err(DbError::corrupt("sku"))?,
            pair: crate::journal::pair_of(&kind).ok_or(DbError::Corrupt { column: "kind", reason: kind })?,
            at: (location(&row, 3)?, location(&row, 4)?),
            cost: row.try_get(5)?,
        });
    }
    Ok(costs)
}
