//! Costing without a database: files of every movement in, a report out. The same report shape serves
//! a dry run of a persisted run.

use std::io::Read;

use rust_decimal::Decimal;
use serde::Serialize;

use super::ServiceError;
use crate::engine::{self, CostingError, Layer};
use crate::ingest;
use crate::model::{
    Adjustment, Allocation, CustomerReturn, EventId, EventKind, LandedCost, Location, Lot, LotId, Methods, Movement,
    MovementKind, Sale, SaleId, Shortfall, ShortfallPolicy, Sku, StockCount, SupplierReturn, TenantId, Timestamp,
    Transfer,
};
use crate::money::{exact_mul, exact_sub, exact_sum};

/// The outcome of costing: each sale with the layers that fed it, every other movement,
/// each layer's balance, and the totals. Amounts are exact (rendered as decimal
/// strings, never rounded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CostReport {
    /// The costing methods, over time: every figure below is by them.
    pub methods: Methods,
    /// Sales in costing order.
    pub sales: Vec<SaleCost>,
    /// Everything else costing moved (returns, supplier returns, adjustments, counts,
    /// landed costs), in costing order per SKU, SKUs in order.
    pub movements: Vec<MovementLine>,
    /// Layers by SKU, each SKU's in consumption order: the lots, and the stock returns,
    /// adjustments and counts brought in.
    pub lots: Vec<LotBalance>,
    pub totals: Totals,
    /// SKUs parked at an event nothing could cover, by SKU: that event and the SKU's
    /// later ones are not costed.
    pub shortfalls: Vec<Shortfall>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SaleCost {
    pub sale_id: SaleId,
    pub sku: Sku,
    pub sale_date: Timestamp,
    pub quantity_sold: Decimal,
    /// The sale's whole cost: its allocations and the landed cost it carried.
    pub cogs: Decimal,
    pub allocations: Vec<AllocationLine>,
    /// Landed costs the units it took carried beyond their lots' unit cost.
    #[serde(skip_serializing_if = "Decimal::is_zero")]
    pub landed_cost: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllocationLine {
    pub lot_id: LotId,
    pub quantity: Decimal,
    pub unit_cost: Decimal,
    pub cost: Decimal,
}

/// One value a movement moved (see [`Movement`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovementLine {
    pub kind: MovementKind,
    pub event_id: EventId,
    pub sku: Sku,
    pub event_date: Timestamp,
    pub lot_id: LotId,
    pub quantity: Decimal,
    pub cost: Decimal,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer: Option<EventId>,
    /// Where the layer is.
    pub location: Location,
}

impl From<&Movement> for MovementLine {
    fn from(movement: &Movement) -> Self {
        Self {
            kind: movement.kind,
            event_id: movement.event_id.clone(),
            sku: movement.sku.clone(),
            event_date: movement.event_date,
            lot_id: movement.layer.clone(),
            quantity: movement.quantity.normalize(),
            cost: movement.cost.normalize(),
            consumer: movement.consumer.clone(),
            location: movement.location.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LotBalance {
    pub lot_id: LotId,
    pub sku: Sku,
    /// Where the layer is.
    pub location: Location,
    pub remaining_quantity: Decimal,
    pub remaining_value: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Gross cost of goods sold: every sale's cost and the landed-cost shares of units
    /// already sold.
    pub total_cogs: Decimal,
    /// The cost restocked returns brought back.
    pub restocked_returns: Decimal,
    /// What the profit and loss shows: `total_cogs − restocked_returns`.
    pub net_cogs: Decimal,
    pub ending_inventory_value: Decimal,
    pub ending_inventory_quantity: Decimal,
}

/// The files `cogs cost` takes: lots and sales, and any of the other movements.
pub struct CostFiles<R> {
    pub lots: R,
    pub sales: R,
    pub returns: Option<R>,
    pub supplier_returns: Option<R>,
    pub adjustments: Option<R>,
    pub counts: Option<R>,
    pub landed_costs: Option<R>,
    pub transfers: Option<R>,
}

impl<R> CostFiles<R> {
    /// Lots and sales only.
    pub fn lots_and_sales(lots: R, sales: R) -> Self {
        Self {
            lots,
            sales,
            returns: None,
            supplier_returns: None,
            adjustments: None,
            counts: None,
            landed_costs: None,
            transfers: None,
        }
    }
}

/// Every record of `file` (none without one), rows that name no location at `at`.
fn read_optional<T: ingest::Record, R: Read>(
    file: Option<R>,
    tenant: Option<&TenantId>,
    at: &Location,
) -> Result<Vec<T>, ServiceError> {
    Ok(file.map(|file| read_at(file, tenant, at)).transpose()?.unwrap_or_default())
}

/// Every record of `file`, rows that name no location at `at`.
fn read_at<T: ingest::Record, R: Read>(
    file: R,
    tenant: Option<&TenantId>,
    at: &Location,
) -> Result<Vec<T>, ServiceError> {
    Ok(ingest::Reader::<R, T>::new(file, tenant)?.at_default_location(at.clone()).records()?)
}

/// Reads the files, costs every event in the order LEDGER.md gives, and reports.
///
/// With a tenant, `tenant_id` cells must name it. A row that names no location is at
/// `default_location`. A file rejected → every row problem
/// in [`ServiceError::Ingest`]; input that names what is not loaded (a return of an
/// unknown sale, say) → [`ServiceError::Costing`]. An outflow that cannot be covered
/// parks its SKU (`ShortfallPolicy::Park`: the report lists it) or fails naming the
/// first one by date (`Fail`: `InsufficientInventory` for a sale). Nothing is written.
pub fn cost_files<R: Read>(
    files: CostFiles<R>,
    tenant: Option<&TenantId>,
    on_shortfall: ShortfallPolicy,
    methods: &Methods,
    default_location: &Location,
) -> Result<CostReport, ServiceError> {
    let at = default_location;
    let lots: Vec<Lot> = read_at(files.lots, tenant, at)?;
    let mut sales: Vec<Sale> = read_at(files.sales, tenant, at)?;
    let returns: Vec<CustomerReturn> = read_optional(files.returns, tenant, at)?;
    let supplier_returns: Vec<SupplierReturn> = read_optional(files.supplier_returns, tenant, at)?;
    let adjustments: Vec<Adjustment> = read_optional(files.adjustments, tenant, at)?;
    let counts: Vec<StockCount> = read_optional(files.counts, tenant, at)?;
    let landed_costs: Vec<LandedCost> = read_optional(files.landed_costs, tenant, at)?;
    let transfers: Vec<Transfer> = read_optional(files.transfers, tenant, at)?;
    let costing = engine::cost_events(&engine::Inputs {
        methods,
        lots: &lots,
        spread_lots: &[],
        sales: &sales,
        returns: &returns,
        supplier_returns: &supplier_returns,
        adjustments: &adjustments,
        counts: &counts,
        landed_costs: &landed_costs,
        transfers: &transfers,
    })?;
    if on_shortfall == ShortfallPolicy::Fail
        && let Some(first) = costing.shortfalls.iter().min_by_key(|s| (s.event_date, s.event_id.clone()))
    {
        return Err(ServiceError::Costing(uncovered(first, &sales)));
    }
    // The report lists sales in date order, and only those costed.
    let allocations = in_costing_order(costing.allocations());
    let engine::Costing { movements, shortfalls, layers, .. } = costing;
    let costed: std::collections::HashSet<&SaleId> = allocations.iter().map(|a| &a.sale_id).collect();
    sales.retain(|sale| costed.contains(&sale.sale_id));
    sales.sort_by(|a, b| a.costing_key().cmp(&b.costing_key()));
    let lots = layers.iter().map(layer_balance).collect::<Result<_, ServiceError>>()?;
    report(methods.clone(), &sales, &allocations, &movements, lots, shortfalls)
}

/// The error a strict costing fails with at its first uncovered event.
pub(super) fn uncovered(shortfall: &Shortfall, sales: &[Sale]) -> CostingError {
    match shortfall.event_kind {
        EventKind::Sale => {
            let sale = sales.iter().find(|sale| sale.sale_id.as_str() == shortfall.event_id.as_str());
            let sale = sale.expect("a sale's shortfall names a loaded sale");
            CostingError::InsufficientInventory {
                sale_id: sale.sale_id.clone(),
                sku: sale.sku.clone(),
                requested: sale.quantity_sold,
                available: shortfall.on_hand,
            }
        }
        kind => CostingError::Uncovered {
            kind,
            id: shortfall.event_id.clone(),
            sku: shortfall.sku.clone(),
            short: shortfall.quantity_short,
            on_hand: shortfall.on_hand,
        },
    }
}

/// A layer's line in a report: what is left of it and what that is worth, landed
/// costs included, exactly.
pub fn layer_balance(layer: &Layer) -> Result<LotBalance, ServiceError> {
    Ok(LotBalance {
        lot_id: layer.layer.clone(),
        sku: layer.sku.clone(),
        location: layer.location.clone(),
        remaining_quantity: layer.remaining_quantity.normalize(),
        remaining_value: layer.value().ok_or(ServiceError::AmountOverflow)?.normalize(),
    })
}

/// A lot's line in a report: what is left of it and what that is worth, exactly.
pub fn lot_balance(lot: &Lot) -> Result<LotBalance, ServiceError> {
    let unit_cost = lot.unit_cost().ok_or(ServiceError::AmountOverflow)?;
    Ok(LotBalance {
        lot_id: lot.lot_id.clone(),
        sku: lot.sku.clone(),
        location: lot.location.clone(),
        remaining_quantity: lot.remaining_quantity.normalize(),
        remaining_value: exact_mul(lot.remaining_quantity, unit_cost).ok_or(ServiceError::AmountOverflow)?.normalize(),
    })
}

/// Allocations in the report's order: by sale in (sale_date, sale_id) order, each
/// sale's lots in the order drawn (a stable sort keeps that).
fn in_costing_order(mut allocations: Vec<Allocation>) -> Vec<Allocation> {
    allocations.sort_by(|a, b| (a.sale_date, &a.sale_id).cmp(&(b.sale_date, &b.sale_id)));
    allocations
}

/// Builds the report of sales costed into `allocations` (both in costing order), the
/// other `movements`, the layers as they were left and the SKUs parked.
pub fn report(
    methods: Methods,
    sales: &[Sale],
    allocations: &[Allocation],
    movements: &[Movement],
    lots: Vec<LotBalance>,
    mut shortfalls: Vec<Shortfall>,
) -> Result<CostReport, ServiceError> {
    let sum = |values: Vec<Decimal>| exact_sum(values).ok_or(ServiceError::AmountOverflow);
    let mut pending = allocations.iter().peekable();
    let mut sale_costs = Vec::with_capacity(sales.len());
    for sale in sales {
        let mut lines = Vec::new();
        let mut landed = Vec::new();
        while let Some(allocation) = pending.next_if(|a| a.sale_id == sale.sale_id) {
            lines.push(AllocationLine {
                lot_id: allocation.lot_id.clone(),
                quantity: allocation.quantity.normalize(),
                unit_cost: allocation.unit_cost.normalize(),
                cost: allocation.extended_cost.normalize(),
            });
            landed.push(allocation.landed);
        }
        let landed_cost = sum(landed)?.normalize();
        let cogs = sum(lines.iter().map(|line| line.cost).chain([landed_cost]).collect())?;
        sale_costs.push(SaleCost {
            sale_id: sale.sale_id.clone(),
            sku: sale.sku.clone(),
            sale_date: sale.sale_date,
            quantity_sold: sale.quantity_sold.normalize(),
            cogs: cogs.normalize(),
            allocations: lines,
            landed_cost,
        });
    }
    let of_kind = |kind: MovementKind| movements.iter().filter(move |m| m.kind == kind).map(|m| m.cost);
    let total_cogs = sum(sale_costs.iter().map(|sale| sale.cogs).chain(of_kind(MovementKind::LandedToCogs)).collect())?;
    let restocked_returns = sum(of_kind(MovementKind::ReturnRestocked).collect())?;
    let totals = Totals {
        total_cogs: total_cogs.normalize(),
        restocked_returns: restocked_returns.normalize(),
        net_cogs: exact_sub(total_cogs, restocked_returns).ok_or(ServiceError::AmountOverflow)?.normalize(),
        ending_inventory_value: sum(lots.iter().map(|lot| lot.remaining_value).collect())?.normalize(),
        ending_inventory_quantity: sum(lots.iter().map(|lot| lot.remaining_quantity).collect())?.normalize(),
    };
    shortfalls.sort_by(|a, b| a.sku.cmp(&b.sku));
    let shortfalls = shortfalls.into_iter().map(Shortfall::normalized).collect();
    let movements = movements.iter().map(MovementLine::from).collect();
    Ok(CostReport { methods, sales: sale_costs, movements, lots, totals, shortfalls })
}
