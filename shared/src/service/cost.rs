//! Costing without a database: files in, a report out. The same report shape serves
//! a dry run of a persisted run.

use std::io::Read;

use rust_decimal::Decimal;
use serde::Serialize;

use super::ServiceError;
use crate::engine::{self, LotBook};
use crate::ingest;
use crate::model::{Allocation, Lot, LotId, Sale, SaleId, Sku, TenantId, Timestamp};
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
/// problem in [`ServiceError::Ingest`]; a sale that cannot be covered →
/// `InsufficientInventory` naming the first one in costing order. Nothing is written.
pub fn cost_files(lots: impl Read, sales: impl Read, tenant: Option<&TenantId>) -> Result<CostReport, ServiceError> {
    let lots: Vec<Lot> = ingest::read_all(lots, tenant)?;
    let mut sales: Vec<Sale> = ingest::read_all(sales, tenant)?;
    sales.sort_by(|a, b| a.costing_key().cmp(&b.costing_key()));
    let mut book = LotBook::new(lots)?;
    let allocations = engine::allocate(&mut book, &sales)?;
    let lots = book
        .lots()
        .map(|lot| {
            Ok(LotBalance {
                lot_id: lot.lot_id.clone(),
                sku: lot.sku.clone(),
                remaining_quantity: lot.remaining_quantity.normalize(),
                remaining_value: exact_mul(lot.remaining_quantity, lot.unit_cost)
                    .ok_or(ServiceError::AmountOverflow)?
                    .normalize(),
            })
        })
        .collect::<Result<_, ServiceError>>()?;
    report(&sales, &allocations, lots)
}

/// Builds the report of sales costed into `allocations` (both in costing order) and
/// the lots as they were left.
pub fn report(sales: &[Sale], allocations: &[Allocation], lots: Vec<LotBalance>) -> Result<CostReport, ServiceError> {
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
    Ok(CostReport { sales: sale_costs, lots, totals })
}
