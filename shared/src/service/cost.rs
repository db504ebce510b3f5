//! Costing without a database: files in, a report out. The same report shape serves
//! a dry run of a persisted run.

use std::io::Read;

use rust_decimal::Decimal;
use serde::Serialize;

use super::ServiceError;
use crate::engine::{self, LotBook};
use crate::ingest;
use crate::model::{Allocation, Lot, LotId, Sale, SaleId, Shortfall, ShortfallPolicy, Sku, TenantId, Timestamp};
use crate::money::{exact_mul, exact_sum};

/// The outcome of costing: each sale with the lots that fed it, each lot's balance,
/// and the totals. Amounts are exact (rendered as decimal strings, never rounded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CostReport {
    /// Sales in costing order.
    pub sales: Vec<SaleCost>,
    /// Lots by SKU, each SKU's lots in consumption order.
    pub lots: Vec<LotBalance>,
    pub totals: Totals,
    /// SKUs parked at a sale nothing could cover, by SKU: that sale and the SKU's later
    /// ones are not in `sales`.
    pub shortfalls: Vec<Shortfall>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SaleCost {
    pub sale_id: SaleId,
    pub sku: Sku,
    pub sale_date: Timestamp,
    pub quantity_sold: Decimal,
    pub cogs: Decimal,
    pub allocations: Vec<AllocationLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllocationLine {
    pub lot_id: LotId,
    pub quantity: Decimal,
    pub unit_cost: Decimal,
    pub cost: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LotBalance {
    pub lot_id: LotId,
    pub sku: Sku,
    pub remaining_quantity: Decimal,
    pub remaining_value: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub total_cogs: Decimal,
    pub ending_inventory_value: Decimal,
    pub ending_inventory_quantity: Decimal,
}

/// Reads a lots file and a sales file, costs every sale by FIFO, and reports.
///
/// With a tenant, `tenant_id` cells must name it. Either file rejected → every row
/// problem in [`ServiceError::Ingest`]. A sale that cannot be covered parks its SKU
/// (`ShortfallPolicy::Park`: the report lists it) or fails with
/// `InsufficientInventory` naming the first one in costing order (`Fail`). Nothing
/// is written.
pub fn cost_files(
    lots: impl Read,
    sales: impl Read,
    tenant: Option<&TenantId>,
    on_shortfall: ShortfallPolicy,
) -> Result<CostReport, ServiceError> {
    let mut lots: Vec<Lot> = ingest::read_all(lots, tenant)?;
    // The report lists lots by SKU, each SKU's in consumption order, as the book does.
    lots.sort_by(|a, b| (&a.sku, a.received_date, &a.lot_id).cmp(&(&b.sku, b.received_date, &b.lot_id)));
    let mut sales: Vec<Sale> = ingest::read_all(sales, tenant)?;
    sales.sort_by(|a, b| (a.sku.as_str(), a.costing_key()).cmp(&(b.sku.as_str(), b.costing_key())));
    let mut book = LotBook::new(lots)?;
    let (allocations, shortfalls) = match on_shortfall {
        ShortfallPolicy::Park => engine::allocate_or_park(&mut book, &sales)?,
        ShortfallPolicy::Fail => (engine::allocate(&mut book, &sales)?, Vec::new()),
    };
    // The report lists sales in date order, and only those costed.
    let costed: std::collections::HashSet<&SaleId> = allocations.iter().map(|a| &a.sale_id).collect();
    sales.retain(|sale| costed.contains(&sale.sale_id));
    sales.sort_by(|a, b| a.costing_key().cmp(&b.costing_key()));
    let allocations = in_costing_order(allocations);
    let lots = book
        .lots()
        .map(|lot| lot_balance(&lot.lot_id, &lot.sku, lot.remaining_quantity, lot.unit_cost))
        .collect::<Result<_, ServiceError>>()?;
    report(&sales, &allocations, lots, shortfalls)
}

/// A lot's line in a report: what is left of it and what that is worth, exactly.
pub fn lot_balance(
    lot_id: &LotId,
    sku: &Sku,
    remaining: Decimal,
    unit_cost: Decimal,
) -> Result<LotBalance, ServiceError> {
    Ok(LotBalance {
        lot_id: lot_id.clone(),
        sku: sku.clone(),
        remaining_quantity: remaining.normalize(),
        remaining_value: exact_mul(remaining, unit_cost).ok_or(ServiceError::AmountOverflow)?.normalize(),
    })
}

/// Allocations in the report's order: by sale in (sale_date, sale_id) order, each
/// sale's lots in the order drawn (a stable sort keeps that).
fn in_costing_order(mut allocations: Vec<Allocation>) -> Vec<Allocation> {
    allocations.sort_by(|a, b| (a.sale_date, &a.sale_id).cmp(&(b.sale_date, &b.sale_id)));
    allocations
}

/// Builds the report of sales costed into `allocations` (both in costing order), the
/// lots as they were left and the SKUs parked.
pub fn report(
    sales: &[Sale],
    allocations: &[Allocation],
    lots: Vec<LotBalance>,
    mut shortfalls: Vec<Shortfall>,
) -> Result<CostReport, ServiceError> {
    let sum = |values: Vec<Decimal>| exact_sum(values).ok_or(ServiceError::AmountOverflow);
    let mut pending = allocations.iter().peekable();
    let mut sale_costs = Vec::with_capacity(sales.len());
    for sale in sales {
        let mut lines = Vec::new();
        while let Some(allocation) = pending.next_if(|a| a.sale_id == sale.sale_id) {
            lines.push(AllocationLine {
                lot_id: allocation.lot_id.clone(),
                quantity: allocation.quantity.normalize(),
                unit_cost: allocation.unit_cost.normalize(),
                cost: allocation.extended_cost.normalize(),
            });
        }
        let cogs = sum(lines.iter().map(|line| line.cost).collect())?;
        sale_costs.push(SaleCost {
            sale_id: sale.sale_id.clone(),
            sku: sale.sku.clone(),
            sale_date: sale.sale_date,
            quantity_sold: sale.quantity_sold.normalize(),
            cogs: cogs.normalize(),
            allocations: lines,
        });
    }
    let totals = Totals {
        total_cogs: sum(sale_costs.iter().map(|sale| sale.cogs).collect())?.normalize(),
        ending_inventory_value: sum(lots.iter().map(|lot| lot.remaining_value).collect())?.normalize(),
        ending_inventory_quantity: sum(lots.iter().map(|lot| lot.remaining_quantity).collect())?.normalize(),
    };
    shortfalls.sort_by(|a, b| a.sku.cmp(&b.sku));
    let shortfalls = shortfalls.into_iter().map(Shortfall::normalized).collect();
    Ok(CostReport { sales: sale_costs, lots, totals, shortfalls })
}
