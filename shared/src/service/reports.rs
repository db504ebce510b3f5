//! The reports an accountant ties the ledger to (LEDGER.md, "Roll-forward"): the
//! roll-forward of a period, the valuation as of any instant (by SKU and by layer),
//! the cost of sales by SKU and period, inventory ageing, and the trace of a sale or a
//! lot. All read the live book; every figure is exact.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;

use super::{AllocationLine, MovementLine, ServiceError};
use crate::db::{self, Flow, TenantTx};
use crate::model::{Location, Methods, MovementKind, RollForwardLine, Sku, TenantId};
use crate::money::exact_add;

/// How a flow of `kind` moves its layer's stock: (value sign, quantity sign). A
/// transfer moves units out of one layer and into another (nothing in a SKU's total).
fn signs(kind: &str) -> Result<(i8, i8), ServiceError> {
    match kind {
        "receipt" => Ok((1, 1)),
        "sale" => Ok((-1, -1)),
        other => {
            let kind: MovementKind = other.parse().map_err(|reason| db::DbError::Corrupt { column: "kind", reason })?;
            let sign = kind.location_sign();
            Ok((sign, if kind.moves_units() { sign } else { 0 }))
        }
    }
}

fn add(total: &mut Decimal, amount: Decimal) -> Result<(), ServiceError> {
    *total = exact_add(*total, amount).ok_or(ServiceError::AmountOverflow)?;
    Ok(())
}

fn signed(sign: i8, amount: Decimal) -> Decimal {
    match sign {
        1 => amount,
        -1 => -amount,
        _ => Decimal::ZERO,
    }
}

/// One line of the roll-forward: a SKU's, a location's (`sku` none, `location` its
/// own), or the total (both none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RollForwardRow {
    pub sku: Option<Sku>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    pub opening_quantity: Decimal,
    pub opening_value: Decimal,
    pub receipts: Decimal,
    pub landed_costs: Decimal,
    pub restocked_returns: Decimal,
    pub adjustments_in: Decimal,
    /// Stock moved in from another location (a SKU's equals its transfers out).
    pub transfers_in: Decimal,
    pub supplier_returns: Decimal,
    pub adjustments_out: Decimal,
    pub transfers_out: Decimal,
    /// Gross: every sale's cost, the landed cost sales carried, and landed-cost shares
    /// of units already sold.
    pub cogs: Decimal,
    pub closing_quantity: Decimal,
    pub closing_value: Decimal,
}

impl RollForwardRow {
    fn line(&mut self, line: RollForwardLine) -> &mut Decimal {
        match line {
            RollForwardLine::LandedCosts => &mut self.landed_costs,
            RollForwardLine::RestockedReturns => &mut self.restocked_returns,
            RollForwardLine::AdjustmentsIn => &mut self.adjustments_in,
            RollForwardLine::TransfersIn => &mut self.transfers_in,
            RollForwardLine::SupplierReturns => &mut self.supplier_returns,
            RollForwardLine::AdjustmentsOut => &mut self.adjustments_out,
            RollForwardLine::TransfersOut => &mut self.transfers_out,
            RollForwardLine::Cogs => &mut self.cogs,
        }
    }

    /// Adds a flow: to the closing balance, and to the opening one (before the period)
    /// or to the line it falls on.
    fn add_flow(&mut self, flow: &Flow) -> Result<(), ServiceError> {
        let (value_sign, quantity_sign) = signs(&flow.kind)?;
        add(&mut self.closing_value, signed(value_sign, flow.value))?;
        add(&mut self.closing_quantity, signed(quantity_sign, flow.quantity))?;
        if flow.opening {
            add(&mut self.opening_value, signed(value_sign, flow.value))?;
            return add(&mut self.opening_quantity, signed(quantity_sign, flow.quantity));
        }
        match flow.kind.as_str() {
            "receipt" => add(&mut self.receipts, flow.value),
            "sale" => add(&mut self.cogs, flow.value),
            kind => {
                let kind: MovementKind =
                    kind.parse().map_err(|reason| db::DbError::Corrupt { column: "kind", reason })?;
                for line in kind.roll_forward() {
                    add(self.line(*line), flow.value)?;
                }
                Ok(())
            }
        }
    }

    /// Adds another row's figures.
    fn absorb(&mut self, other: &RollForwardRow) -> Result<(), ServiceError> {
        for (total, amount) in [
            (&mut self.opening_quantity, other.opening_quantity),
            (&mut self.opening_value, other.opening_value),
            (&mut self.receipts, other.receipts),
            (&mut self.landed_costs, other.landed_costs),
            (&mut self.restocked_returns, other.restocked_returns),
            (&mut self.adjustments_in, other.adjustments_in),
            (&mut self.transfers_in, other.transfers_in),
            (&mut self.supplier_returns, other.supplier_returns),
            (&mut self.adjustments_out, other.adjustments_out),
            (&mut self.transfers_out, other.transfers_out),
            (&mut self.cogs, other.cogs),
            (&mut self.closing_quantity, other.closing_quantity),
            (&mut self.closing_value, other.closing_value),
        ] {
            add(total, amount)?;
        }
        Ok(())
    }

    /// opening + receipts + landed costs + restocked returns + adjustments in +
    /// transfers in − supplier returns − adjustments out − transfers out − COGS.
    pub fn computed_closing(&self) -> Option<Decimal> {
        let inflows = [
            self.opening_value,
            self.receipts,
            self.landed_costs,
            self.restocked_returns,
            self.adjustments_in,
            self.transfers_in,
        ];
        let outflows = [self.supplier_returns, self.adjustments_out, self.transfers_out, self.cogs];
        let mut total = Decimal::ZERO;
        for amount in inflows {
            total = exact_add(total, amount)?;
        }
        for amount in outflows {
            total = exact_add(total, -amount)?;
        }
        Some(total)
    }

    fn normalized(mut self) -> Self {
        for amount in [
            &mut self.opening_quantity,
            &mut self.opening_value,
            &mut self.receipts,
            &mut self.landed_costs,
            &mut self.restocked_returns,
            &mut self.adjustments_in,
            &mut self.transfers_in,
            &mut self.supplier_returns,
            &mut self.adjustments_out,
            &mut self.transfers_out,
            &mut self.cogs,
            &mut self.closing_quantity,
            &mut self.closing_value,
        ] {
            *amount = amount.normalize();
        }
        self
    }
}

/// The roll-forward of the local days `from` to `to` (inclusive) in the tenant's time
/// zone, by SKU, by location and in total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollForward {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub time_zone: String,
    /// The costing methods the book is by.
    pub methods: Methods,
    pub skus: Vec<RollForwardRow>,
    /// Each location's stock: its transfers in and out differ, and they add up to the
    /// total.
    pub locations: Vec<RollForwardRow>,
    pub total: RollForwardRow,
}

/// The tenant's time zone and the instants its local days `from` (start) and `to`
/// (end) bound.
async fn period(
    tx: &TenantTx,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(String, DateTime<Utc>, DateTime<Utc>), ServiceError> {
    if to < from {
        return Err(ServiceError::InvalidRequest(format!("the period ends ({to}) before it starts ({from})")));
    }
    let time_zone = db::load_settings(tx).await?.time_zone;
    let after = to.succ_opt().ok_or_else(|| ServiceError::InvalidRequest(format!("{to} is too late a day")))?;
    let start = db::day_starts(tx, from, &time_zone).await?;
    let end = db::day_starts(tx, after, &time_zone).await?;
    Ok((time_zone, start, end))
}

/// The roll-forward of a period: per SKU, opening value (the valuation as its first
/// day starts) + receipts + landed costs + restocked returns + adjustments in +
/// transfers in − supplier returns − adjustments out − transfers out − COGS = closing
/// value (the valuation as its last day ends), exactly; the same per location, and in
/// total.
pub async fn roll_forward(
    pool: &deadpool_postgres::Pool,
    tenant_id: &TenantId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<RollForward, ServiceError> {
    let tx = db::begin_snapshot(pool, tenant_id).await?;
    let (time_zone, start, end) = period(&tx, from, to).await?;
    let flows = db::flows(&tx, Some(start), end, false).await?;
    let settings = db::load_settings(&tx).await?;
    let (methods, default_location) = (settings.methods, settings.default_location);
    // Layer by layer only where stock was ever anywhere but the default location.
    let layer_flows = if db::stock_elsewhere(&tx, &default_location).await? {
        Some(db::flows(&tx, Some(start), end, true).await?)
    } else {
        None
    };
    tx.rollback().await?;
    let mut rows: BTreeMap<Sku, RollForwardRow> = BTreeMap::new();
    for flow in &flows {
        rows.entry(flow.sku.clone())
            .or_insert_with(|| RollForwardRow { sku: Some(flow.sku.clone()), ..Default::default() })
            .add_flow(flow)?;
    }
    let mut total = RollForwardRow::default();
    for row in rows.values() {
        total.absorb(row)?;
        debug_assert_eq!(row.computed_closing(), Some(row.closing_value), "the roll-forward of {:?} ties", row.sku);
    }
    let locations = match layer_flows {
        Some(flows) => by_location(&flows)?,
        None if flows.is_empty() => Vec::new(),
        None => vec![RollForwardRow { location: Some(default_location), ..total.clone() }],
    };
    let skus = rows.into_values().map(RollForwardRow::normalized).collect();
    let locations = locations.into_iter().map(RollForwardRow::normalized).collect();
    Ok(RollForward { from, to, time_zone, methods, skus, locations, total: total.normalized() })
}

/// The roll-forward per location from flows by layer, each at its layer's location.
fn by_location(flows: &[Flow]) -> Result<Vec<RollForwardRow>, ServiceError> {
    let mut rows: BTreeMap<Location, RollForwardRow> = BTreeMap::new();
    for flow in flows {
        let location = flow.location.clone().unwrap_or_default();
        rows.entry(location.clone())
            .or_insert_with(|| RollForwardRow { location: Some(location), ..Default::default() })
            .add_flow(flow)?;
    }
    for row in rows.values() {
        debug_assert_eq!(
            row.computed_closing(),
            Some(row.closing_value),
            "the roll-forward at {:?} ties",
            row.location
        );
    }
    Ok(rows.into_values().collect())
}

/// One layer's stock as of an instant: a lot, or stock a return, an adjustment or a
/// count brought in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerValue {
    pub lot_id: String,
    pub sku: Sku,
    pub location: Location,
    pub received_date: Option<DateTime<Utc>>,
    pub quantity: Decimal,
    pub value: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkuValue {
    pub sku: Sku,
    pub quantity: Decimal,
    pub value: Decimal,
}

/// What one location held as of an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LocationValue {
    pub location: Location,
    pub quantity: Decimal,
    pub value: Decimal,
}

/// What the book held as of an instant, by SKU, by location and by layer (layers
/// holding nothing left out), and in total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Valuation {
    pub as_of: DateTime<Utc>,
    /// The costing methods the book is by.
    pub methods: Methods,
    pub skus: Vec<SkuValue>,
    pub locations: Vec<LocationValue>,
    pub lots: Vec<LayerValue>,
    pub total_quantity: Decimal,
    pub total_value: Decimal,
}

/// When a report is as of: an instant, or the end of a local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    Instant(DateTime<Utc>),
    EndOfDay(NaiveDate),
}

impl std::str::FromStr for AsOf {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        if let Ok(day) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
            return Ok(AsOf::EndOfDay(day));
        }
        DateTime::parse_from_rfc3339(value).map(|instant| AsOf::Instant(instant.with_timezone(&Utc))).map_err(|_| {
            format!("{value:?} is not a day (2024-06-30: as it ends) or an instant (2024-06-30T12:00:00Z)")
        })
    }
}

async fn instant_of(tx: &TenantTx, as_of: AsOf) -> Result<DateTime<Utc>, ServiceError> {
    match as_of {
        AsOf::Instant(instant) => Ok(instant),
        AsOf::EndOfDay(day) => {
            let time_zone = db::load_settings(tx).await?.time_zone;
            let after =
                day.succ_opt().ok_or_else(|| ServiceError::InvalidRequest(format!("{day} is too late a day")))?;
            Ok(db::day_starts(tx, after, &time_zone).await?)
        }
    }
}

/// Each layer's quantity and value as of `end` (exclusive), from every flow before it.
async fn layers_as_of(tx: &TenantTx, end: DateTime<Utc>) -> Result<Vec<LayerValue>, ServiceError> {
    let flows: Vec<Flow> = db::flows(tx, None, end, true).await?;
    let mut layers: BTreeMap<(Sku, String), LayerValue> = BTreeMap::new();
    for flow in flows {
        let name = flow.layer.clone().unwrap_or_default();
        let layer = layers.entry((flow.sku.clone(), name.clone())).or_insert_with(|| LayerValue {
            lot_id: name,
            sku: flow.sku.clone(),
            location: flow.location.clone().unwrap_or_default(),
            received_date: flow.received,
            quantity: Decimal::ZERO,
            value: Decimal::ZERO,
        });
        let (value_sign, quantity_sign) = signs(&flow.kind)?;
        add(&mut layer.value, signed(value_sign, flow.value))?;
        add(&mut layer.quantity, signed(quantity_sign, flow.quantity))?;
    }
    Ok(layers
        .into_values()
        .filter(|layer| !layer.quantity.is_zero() || !layer.value.is_zero())
        .map(|layer| LayerValue { quantity: layer.quantity.normalize(), value: layer.value.normalize(), ..layer })
        .collect())
}

/// The valuation as of an instant (or the end of a local day), exact at any past date:
/// what every flow of the live book before it leaves in each layer.
pub async fn valuation(
    pool: &deadpool_postgres::Pool,
    tenant_id: &TenantId,
    as_of: AsOf,
) -> Result<Valuation, ServiceError> {
    let tx = db::begin_snapshot(pool, tenant_id).await?;
    let end = instant_of(&tx, as_of).await?;
    let lots = layers_as_of(&tx, end).await?;
    let methods = db::load_settings(&tx).await?.methods;
    tx.rollback().await?;
    let mut skus: BTreeMap<Sku, SkuValue> = BTreeMap::new();
    let mut locations: BTreeMap<Location, LocationValue> = BTreeMap::new();
    let (mut total_quantity, mut total_value) = (Decimal::ZERO, Decimal::ZERO);
    for layer in &lots {
        let sku = skus.entry(layer.sku.clone()).or_insert_with(|| SkuValue {
            sku: layer.sku.clone(),
            quantity: Decimal::ZERO,
            value: Decimal::ZERO,
        });
        add(&mut sku.quantity, layer.quantity)?;
        add(&mut sku.value, layer.value)?;
        let location = locations.entry(layer.location.clone()).or_insert_with(|| LocationValue {
            location: layer.location.clone(),
            quantity: Decimal::ZERO,
            value: Decimal::ZERO,
        });
        add(&mut location.quantity, layer.quantity)?;
        add(&mut location.value, layer.value)?;
        add(&mut total_quantity, layer.quantity)?;
        add(&mut total_value, layer.value)?;
    }
    let skus = skus
        .into_values()
        .map(|sku| SkuValue { quantity: sku.quantity.normalize(), value: sku.value.normalize(), ..sku })
        .collect();
    let locations = locations
        .into_values()
        .map(|at| LocationValue { quantity: at.quantity.normalize(), value: at.value.normalize(), ..at })
        .collect();
    Ok(Valuation {
        as_of: end,
        methods,
        skus,
        locations,
        lots,
        total_quantity: total_quantity.normalize(),
        total_value: total_value.normalize(),
    })
}

/// One SKU's cost of sales in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CogsRow {
    /// The day, or the first day of the month.
    pub period: NaiveDate,
    pub sku: Sku,
    pub quantity_sold: Decimal,
    /// Gross: sales, the landed cost they carried, landed-cost shares of sold units.
    pub cogs: Decimal,
    pub restocked_returns: Decimal,
    pub net_cogs: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CogsReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub time_zone: String,
    /// The costing methods the book is by.
    pub methods: Methods,
    pub by_month: bool,
    pub rows: Vec<CogsRow>,
    pub total_cogs: Decimal,
    pub total_restocked_returns: Decimal,
    pub total_net_cogs: Decimal,
}

/// The cost of sales by SKU and local day (or month) of the period.
pub async fn cogs_by_sku(
    pool: &deadpool_postgres::Pool,
    tenant_id: &TenantId,
    from: NaiveDate,
    to: NaiveDate,
    by_month: bool,
) -> Result<CogsReport, ServiceError> {
    let tx = db::begin_snapshot(pool, tenant_id).await?;
    let (time_zone, start, end) = period(&tx, from, to).await?;
    let sums = db::cost_of_sales(&tx, start, end, &time_zone, by_month).await?;
    let methods = db::load_settings(&tx).await?.methods;
    tx.rollback().await?;
    let mut rows: BTreeMap<(NaiveDate, Sku), CogsRow> = BTreeMap::new();
    let (mut total_cogs, mut total_returns) = (Decimal::ZERO, Decimal::ZERO);
    for (period, sku, kind, quantity, value) in sums {
        let row = rows.entry((period, sku.clone())).or_insert_with(|| CogsRow {
            period,
            sku,
            quantity_sold: Decimal::ZERO,
            cogs: Decimal::ZERO,
            restocked_returns: Decimal::ZERO,
            net_cogs: Decimal::ZERO,
        });
        if kind == "return_restocked" {
            add(&mut row.restocked_returns, value)?;
            add(&mut total_returns, value)?;
        } else {
            if kind == "sale" {
                add(&mut row.quantity_sold, quantity)?;
            }
            add(&mut row.cogs, value)?;
            add(&mut total_cogs, value)?;
        }
    }
    let rows = rows
        .into_values()
        .map(|row| {
            let net = exact_add(row.cogs, -row.restocked_returns).ok_or(ServiceError::AmountOverflow)?;
            Ok(CogsRow {
                quantity_sold: row.quantity_sold.normalize(),
                cogs: row.cogs.normalize(),
                restocked_returns: row.restocked_returns.normalize(),
                net_cogs: net.normalize(),
                ..row
            })
        })
        .collect::<Result<_, ServiceError>>()?;
    let net = exact_add(total_cogs, -total_returns).ok_or(ServiceError::AmountOverflow)?;
    Ok(CogsReport {
        from,
        to,
        time_zone,
        methods,
        by_month,
        rows,
        total_cogs: total_cogs.normalize(),
        total_restocked_returns: total_returns.normalize(),
        total_net_cogs: net.normalize(),
    })
}

/// Age buckets by days since a layer was received: up to and including each bound,
/// the last open-ended.
pub const AGE_BUCKETS: [(&str, Option<i64>); 6] = [
    ("0-30", Some(30)),
    ("31-60", Some(60)),
    ("61-90", Some(90)),
    ("91-180", Some(180)),
    ("181-365", Some(365)),
    ("over 365", None),
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgeBucket {
    pub days: &'static str,
    pub quantity: Decimal,
    pub value: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkuAgeing {
    /// None: every SKU.
    pub sku: Option<Sku>,
    pub buckets: Vec<AgeBucket>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ageing {
    pub as_of: DateTime<Utc>,
    /// The costing methods the book is by.
    pub methods: Methods,
    pub skus: Vec<SkuAgeing>,
    pub total: SkuAgeing,
}

fn empty_buckets() -> Vec<AgeBucket> {
    AGE_BUCKETS.iter().map(|(days, _)| AgeBucket { days, quantity: Decimal::ZERO, value: Decimal::ZERO }).collect()
}

/// What the book held as of an instant by how long ago each layer was received.
pub async fn ageing(pool: &deadpool_postgres::Pool, tenant_id: &TenantId, as_of: AsOf) -> Result<Ageing, ServiceError> {
    let tx = db::begin_snapshot(pool, tenant_id).await?;
    let end = instant_of(&tx, as_of).await?;
    let layers = layers_as_of(&tx, end).await?;
    let methods = db::load_settings(&tx).await?.methods;
    tx.rollback().await?;
    let mut skus: BTreeMap<Sku, Vec<AgeBucket>> = BTreeMap::new();
    let mut total = empty_buckets();
    for layer in layers.iter().filter(|layer| !layer.quantity.is_zero()) {
        let age = layer.received_date.map_or(0, |received| (end - received).num_days());
        let bucket = AGE_BUCKETS.iter().position(|(_, upto)| upto.is_none_or(|upto| age <= upto)).unwrap_or(5);
        let buckets = skus.entry(layer.sku.clone()).or_insert_with(empty_buckets);
        for buckets in [&mut buckets[bucket], &mut total[bucket]] {
            add(&mut buckets.quantity, layer.quantity)?;
            add(&mut buckets.value, layer.value)?;
        }
    }
    let normalized = |buckets: Vec<AgeBucket>| {
        buckets
            .into_iter()
            .map(|b| AgeBucket { quantity: b.quantity.normalize(), value: b.value.normalize(), ..b })
            .collect()
    };
    Ok(Ageing {
        as_of: end,
        methods,
        skus: skus
            .into_iter()
            .map(|(sku, buckets)| SkuAgeing { sku: Some(sku), buckets: normalized(buckets) })
            .collect(),
        total: SkuAgeing { sku: None, buckets: normalized(total) },
    })
}

/// Every live allocation of a sale, and the landed cost it carried or that fell on its
/// units later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SaleTrace {
    pub sale_id: String,
    pub allocations: Vec<AllocationLine>,
    /// The landed cost it carried out of its lots, and landed-cost shares of its units
    /// that arrived after it.
    pub landed_costs: Vec<MovementLine>,
    pub cogs: Decimal,
}

/// Every live consumer of a lot and every movement on it, wherever its units were
/// transferred.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LotTrace {
    pub lot_id: String,
    /// Sales that drew on it, in costing order: `sale_id`, quantity and cost.
    pub sales: Vec<TraceSale>,
    /// Supplier returns, write-offs, count differences and landed costs on it.
    pub movements: Vec<MovementLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TraceSale {
    pub sale_id: String,
    /// The layer it drew on: the lot, or a layer its units became by a transfer.
    pub lot_id: String,
    pub sale_date: DateTime<Utc>,
    pub quantity: Decimal,
    pub unit_cost: Decimal,
    pub cost: Decimal,
}

/// The trace of a sale: `NotFound` for a sale not loaded.
pub async fn sale_trace(
    pool: &deadpool_postgres::Pool,
    tenant_id: &TenantId,
    sale_id: &str,
) -> Result<SaleTrace, ServiceError> {
    let tx = db::begin_snapshot(pool, tenant_id).await?;
    let traced = db::sale_trace(&tx, sale_id).await?;
    tx.rollback().await?;
    let (allocations, movements) =
        traced.ok_or_else(|| ServiceError::NotFound { what: "sale", id: sale_id.to_owned() })?;
    let mut cogs = Decimal::ZERO;
    for amount in allocations.iter().map(|a| a.extended_cost).chain(movements.iter().map(|m| m.cost)) {
        add(&mut cogs, amount)?;
    }
    Ok(SaleTrace {
        sale_id: sale_id.to_owned(),
        allocations: allocations
            .iter()
            .map(|a| AllocationLine {
                lot_id: a.lot_id.clone(),
                quantity: a.quantity.normalize(),
                unit_cost: a.unit_cost.normalize(),
                cost: a.extended_cost.normalize(),
            })
            .collect(),
        landed_costs: movements.iter().map(MovementLine::from).collect(),
        cogs: cogs.normalize(),
    })
}

/// The trace of a lot: `NotFound` for a lot not loaded.
pub async fn lot_trace(
    pool: &deadpool_postgres::Pool,
    tenant_id: &TenantId,
    lot_id: &str,
) -> Result<LotTrace, ServiceError> {
    let tx = db::begin_snapshot(pool, tenant_id).await?;
    let traced = db::lot_trace(&tx, lot_id).await?;
    tx.rollback().await?;
    let (allocations, movements) =
        traced.ok_or_else(|| ServiceError::NotFound { what: "lot", id: lot_id.to_owned() })?;
    Ok(LotTrace {
        lot_id: lot_id.to_owned(),
        sales: allocations
            .iter()
            .map(|a| TraceSale {
                sale_id: a.sale_id.to_string(),
                lot_id: a.lot_id.to_string(),
                sale_date: a.sale_date,
                quantity: a.quantity.normalize(),
                unit_cost: a.unit_cost.normalize(),
                cost: a.extended_cost.normalize(),
            })
            .collect(),
        movements: movements.iter().map(MovementLine::from).collect(),
    })
}

/// A report as CSV for spreadsheets: one row per line, exact decimals.
pub trait CsvReport {
    fn csv(&self) -> String;
}

fn csv_of(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    writer.write_record(header).expect("writing to memory cannot fail");
    for row in rows {
        // A text cell a spreadsheet would run as a formula is kept inert.
        let row: Vec<String> = row
            .into_iter()
            .map(|cell| if cell.starts_with(['=', '+', '@', '\t', '\r']) { format!("'{cell}") } else { cell })
            .collect();
        writer.write_record(&row).expect("writing to memory cannot fail");
    }
    String::from_utf8(writer.into_inner().expect("writing to memory cannot fail")).expect("CSV of text is text")
}

impl CsvReport for RollForward {
    /// A line per SKU, then per location, then the total.
    fn csv(&self) -> String {
        let row = |r: &RollForwardRow| {
            let total = r.sku.is_none() && r.location.is_none();
            vec![
                r.sku
                    .as_ref()
                    .map_or_else(|| if total { "TOTAL".to_owned() } else { String::new() }, ToString::to_string),
                r.location.as_ref().map(ToString::to_string).unwrap_or_default(),
                r.opening_quantity.to_string(),
                r.opening_value.to_string(),
                r.receipts.to_string(),
                r.landed_costs.to_string(),
                r.restocked_returns.to_string(),
                r.adjustments_in.to_string(),
                r.transfers_in.to_string(),
                r.supplier_returns.to_string(),
                r.adjustments_out.to_string(),
                r.transfers_out.to_string(),
                r.cogs.to_string(),
                r.closing_quantity.to_string(),
                r.closing_value.to_string(),
            ]
        };
        csv_of(
            &[
                "sku",
                "location",
                "opening_quantity",
                "opening_value",
                "receipts",
                "landed_costs",
                "restocked_returns",
                "adjustments_in",
                "transfers_in",
                "supplier_returns",
                "adjustments_out",
                "transfers_out",
                "cogs",
                "closing_quantity",
                "closing_value",
            ],
            self.skus.iter().chain(&self.locations).chain([&self.total]).map(row),
        )
    }
}

impl CsvReport for Valuation {
    fn csv(&self) -> String {
        csv_of(
            &["lot_id", "sku", "received_date", "quantity", "value"],
            self.lots.iter().map(|l| {
                vec![
                    l.lot_id.clone(),
                    l.sku.to_string(),
                    l.received_date.map(|d| d.to_rfc3339()).unwrap_or_default(),
                    l.quantity.to_string(),
                    l.value.to_string(),
                ]
            }),
        )
    }
}

impl CsvReport for CogsReport {
    fn csv(&self) -> String {
        csv_of(
            &["period", "sku", "quantity_sold", "cogs", "restocked_returns", "net_cogs"],
            self.rows.iter().map(|r| {
                vec![
                    r.period.to_string(),
                    r.sku.to_string(),
                    r.quantity_sold.to_string(),
                    r.cogs.to_string(),
                    r.restocked_returns.to_string(),
                    r.net_cogs.to_string(),
                ]
            }),
        )
    }
}

impl CsvReport for Ageing {
    fn csv(&self) -> String {
        let mut header = vec!["sku".to_owned()];
        for (days, _) in AGE_BUCKETS {
            header.push(format!("{days} days quantity"));
            header.push(format!("{days} days value"));
        }
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        csv_of(
            &header,
            self.skus.iter().chain([&self.total]).map(|sku| {
                let mut row = vec![sku.sku.as_ref().map_or_else(|| "TOTAL".to_owned(), ToString::to_string)];
                for bucket in &sku.buckets {
                    row.push(bucket.quantity.to_string());
                    row.push(bucket.value.to_string());
                }
                row
            }),
        )
    }
}
