//! engine: the pure FIFO allocator. Sorted sales and a `LotBook` in, allocations out,
//! the book updated in place. No I/O, no async, no clock. Depends on `model`, `money`.
//!
//! Perpetual FIFO, as the accounting rules in DESIGN.md state it: each SKU's sales are
//! costed in (sale_date, sale_id) order; each draws on the lots of its SKU in
//! (received_date, lot_id) order, using only lots received at or before the sale's
//! instant. SKUs never share lots, so how the SKUs' sales interleave does not matter:
//! sales sorted by date or by (sku, date), whole or in chunks carrying the same book
//! from chunk to chunk, give exactly the allocations of one pass.

mod error;
mod events;
#[cfg(test)]
mod events_tests;
mod figure;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use rust_decimal::Decimal;

pub use crate::model::{Method, Methods};
pub use error::CostingError;
pub use events::{Costing, Inputs, Layer, cost_events};

use crate::model::{Allocation, EventId, EventKind, Lot, LotId, Sale, SaleId, Shortfall, Sku, Timestamp};
use crate::money::{exact_mul, exact_sub};

/// A lot as the engine sees it: what is left of it and what a unit costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookLot {
    pub lot_id: LotId,
    pub sku: Sku,
    pub received_date: Timestamp,
    pub original_quantity: Decimal,
    pub remaining_quantity: Decimal,
    pub unit_cost: Decimal,
}

/// The lots of one SKU in consumption order; every lot before `head` is used up. The
/// last sale costed against them is kept so the order of sales is checked across
/// chunks too.
#[derive(Debug, Clone)]
struct SkuQueue {
    lots: Vec<BookLot>,
    head: usize,
    last_sale: Option<(Timestamp, SaleId)>,
}

/// The remaining quantities of every lot, grouped by SKU in (received_date, lot_id)
/// order.
#[derive(Debug, Clone)]
pub struct LotBook {
    queues: Vec<SkuQueue>,
    queue_of_sku: HashMap<Sku, usize>,
}

impl LotBook {
    /// Builds the book from lots in any order. Refuses a lot id given twice, a lot whose
    /// quantities break `0 <= remaining <= original`, a negative price or freight, and a
    /// unit cost that cannot be represented exactly.
    pub fn new(lots: impl IntoIterator<Item = Lot>) -> Result<Self, CostingError> {
        let mut queues: Vec<SkuQueue> = Vec::new();
        let mut queue_of_sku: HashMap<Sku, usize> = HashMap::new();
        for lot in lots {
            let unit_cost = checked_unit_cost(&lot)?;
            let next = queues.len();
            let index = *queue_of_sku.entry(lot.sku.clone()).or_insert(next);
            if index == next {
                queues.push(SkuQueue { lots: Vec::new(), head: 0, last_sale: None });
            }
            queues[index].lots.push(BookLot {
                lot_id: lot.lot_id,
                sku: lot.sku,
                received_date: lot.received_date,
                original_quantity: lot.original_quantity,
                remaining_quantity: lot.remaining_quantity,
                unit_cost,
            });
        }
        let mut seen = std::collections::HashSet::new();
        for queue in &mut queues {
            queue.lots.sort_by(|a, b| (a.received_date, &a.lot_id).cmp(&(b.received_date, &b.lot_id)));
            if let Some(lot) = queue.lots.iter().find(|lot| !seen.insert(lot.lot_id.clone())) {
                return Err(CostingError::DuplicateLot { lot_id: lot.lot_id.clone() });
            }
            queue.head = first_with_stock(&queue.lots, 0);
        }
        Ok(Self { queues, queue_of_sku })
    }

    /// Every lot, SKUs in first-seen order, each SKU's lots in consumption order.
    pub fn lots(&self) -> impl Iterator<Item = &BookLot> {
        self.queues.iter().flat_map(|queue| queue.lots.iter())
    }
}

/// A lot's unit cost, once its quantities and prices are checked: `0 <= remaining <=
/// original`, no negative price or freight, and a unit cost that is exact.
fn checked_unit_cost(lot: &Lot) -> Result<Decimal, CostingError> {
    let invalid = |reason| CostingError::InvalidLot { lot_id: lot.lot_id.clone(), reason };
    if lot.remaining_quantity.is_sign_negative() && !lot.remaining_quantity.is_zero() {
        return Err(invalid("remaining_quantity is negative"));
    }
    if lot.remaining_quantity > lot.original_quantity {
        return Err(invalid("remaining_quantity exceeds original_quantity"));
    }
    if lot.unit_price.is_sign_negative() || lot.freight_cost_per_unit.is_sign_negative() {
        return Err(invalid("unit_price and freight_cost_per_unit must not be negative"));
    }
    lot.unit_cost().ok_or_else(|| CostingError::UnitCostOverflow { lot_id: lot.lot_id.clone() })
}

fn first_with_stock(lots: &[BookLot], from: usize) -> usize {
    lots[from..].iter().position(|lot| !lot.remaining_quantity.is_zero()).map_or(lots.len(), |offset| from + offset)
}

/// What `allocate` changed, so a failure can put the book back exactly.
#[derive(Default)]
struct UndoLog {
    remaining: Vec<(usize, usize, Decimal)>,
    heads: Vec<(usize, usize)>,
}

/// Costs `sales` against `book` by perpetual FIFO and returns their allocations, sales
/// in the order given, each sale's lots in consumption order.
///
/// Each SKU's sales must be in strictly increasing (sale_date, sale_id) order,
/// continuing after the last sale of the SKU this book has costed; the order is
/// verified before it is relied on. On any error nothing is applied: the book is
/// exactly as before the call. The error names the first failing sale in the order
/// given.
pub fn allocate(book: &mut LotBook, sales: &[Sale]) -> Result<Vec<Allocation>, CostingError> {
    let mut undo = UndoLog::default();
    let mut last_of_queue: Vec<Option<usize>> = vec![None; book.queues.len()];
    let result = allocate_all(book, sales, &mut undo, &mut last_of_queue);
    match result {
        Ok(_) => {
            for (queue, sale) in last_of_queue.into_iter().enumerate().filter_map(|(q, s)| Some((q, s?))) {
                book.queues[queue].last_sale = Some((sales[sale].sale_date, sales[sale].sale_id.clone()));
            }
        }
        Err(_) => {
            for (queue, lot, remaining) in undo.remaining.into_iter().rev() {
                book.queues[queue].lots[lot].remaining_quantity = remaining;
            }
            for (queue, head) in undo.heads.into_iter().rev() {
                book.queues[queue].head = head;
            }
        }
    }
    result
}

/// Like [`allocate`], except that a sale the layers cannot cover parks its SKU instead
/// of failing the call (LEDGER.md, "Shortfalls"): the SKU's sales before it are costed,
/// it and every later sale of the SKU in `sales` are left uncosted, and the other SKUs
/// go on. Returns the allocations and one [`Shortfall`] per parked SKU, in the order
/// given. Any other error fails the call with nothing applied, as [`allocate`] does.
pub fn allocate_or_park(book: &mut LotBook, sales: &[Sale]) -> Result<(Vec<Allocation>, Vec<Shortfall>), CostingError> {
    // Most calls park nothing: one pass, as `allocate`. A failed call applied nothing.
    match allocate(book, sales) {
        Ok(allocations) => return Ok((allocations, Vec::new())),
        Err(CostingError::InsufficientInventory { .. }) => {}
        Err(other) => return Err(other),
    }
    let mut allocations = Vec::with_capacity(sales.len());
    let mut shortfalls: Vec<Shortfall> = Vec::new();
    for run in sales.chunk_by(|a, b| a.sku == b.sku) {
        if shortfalls.iter().any(|parked| parked.sku == run[0].sku) {
            continue;
        }
        match allocate(book, run) {
            Ok(costed) => allocations.extend(costed),
            Err(CostingError::InsufficientInventory { sale_id, sku, requested, available }) => {
                let uncovered =
                    run.iter().position(|sale| sale.sale_id == sale_id).expect("the error names a sale given");
                // The failed call applied nothing; the sales before the uncovered one fit.
                allocations.extend(allocate(book, &run[..uncovered])?);
                shortfalls.push(Shortfall {
                    sku,
                    event_kind: EventKind::Sale,
                    event_id: EventId::from(&sale_id),
                    event_date: run[uncovered].sale_date,
                    quantity_short: requested - available,
                    on_hand: available,
                    // The allocator's SKUs keep all their stock at one location.
                    location: run[uncovered].location.clone(),
                });
            }
            Err(other) => return Err(other),
        }
    }
    Ok((allocations, shortfalls))
}

/// Costs every sale, noting in `last_of_queue` the index of the last sale each SKU
/// queue took (the book's own record is updated only once the whole call succeeds).
fn allocate_all(
    book: &mut LotBook,
    sales: &[Sale],
    undo: &mut UndoLog,
    last_of_queue: &mut [Option<usize>],
) -> Result<Vec<Allocation>, CostingError> {
    let mut allocations = Vec::with_capacity(sales.len());
    // Sales sorted by SKU come in runs of one SKU: look its queue up once per run.
    let mut previous: Option<(&Sku, Option<usize>)> = None;
    for (index, sale) in sales.iter().enumerate() {
        if sale.quantity_sold <= Decimal::ZERO {
            return Err(CostingError::NonPositiveSale {
                sale_id: sale.sale_id.clone(),
                quantity_sold: sale.quantity_sold,
            });
        }
        let queue = match previous {
            Some((sku, queue)) if *sku == sale.sku => queue,
            _ => book.queue_of_sku.get(&sale.sku).copied(),
        };
        previous = Some((&sale.sku, queue));
        let Some(queue) = queue else {
            return Err(insufficient(sale, sale.quantity_sold));
        };
        let earlier = match last_of_queue[queue] {
            Some(earlier) => Some((sales[earlier].sale_date, &sales[earlier].sale_id)),
            None => book.queues[queue].last_sale.as_ref().map(|(date, sale_id)| (*date, sale_id)),
        };
        if let Some((date, sale_id)) = earlier
            && (sale.sale_date, &sale.sale_id) <= (date, sale_id)
        {
            return Err(CostingError::SalesOutOfOrder {
                sale_id: sale.sale_id.clone(),
                previous_sale_id: sale_id.clone(),
            });
        }
        let first = allocations.len();
        allocate_sale(book, queue, sale, undo, &mut allocations)?;
        debug_assert_eq!(
            allocations[first..].iter().map(|a| a.quantity).sum::<Decimal>(),
            sale.quantity_sold,
            "a sale's allocations cover exactly its quantity"
        );
        last_of_queue[queue] = Some(index);
    }
    Ok(allocations)
}

fn insufficient(sale: &Sale, needed: Decimal) -> CostingError {
    CostingError::InsufficientInventory {
        sale_id: sale.sale_id.clone(),
        sku: sale.sku.clone(),
        requested: sale.quantity_sold,
        available: sale.quantity_sold - needed,
    }
}

fn allocate_sale(
    book: &mut LotBook,
    queue_index: usize,
    sale: &Sale,
    undo: &mut UndoLog,
    allocations: &mut Vec<Allocation>,
) -> Result<(), CostingError> {
    let queue = &mut book.queues[queue_index];
    let mut needed = sale.quantity_sold;
    let mut index = queue.head;
    while !needed.is_zero() {
        let Some(lot) = queue.lots.get_mut(index).filter(|lot| lot.received_date <= sale.sale_date) else {
            return Err(insufficient(sale, needed));
        };
        let quantity = needed.min(lot.remaining_quantity);
        let overflow = || CostingError::CostOverflow { sale_id: sale.sale_id.clone(), lot_id: lot.lot_id.clone() };
        let extended_cost = exact_mul(quantity, lot.unit_cost).ok_or_else(overflow)?;
        let remaining = exact_sub(lot.remaining_quantity, quantity).ok_or_else(overflow)?;
        needed = exact_sub(needed, quantity).ok_or_else(overflow)?;
        undo.remaining.push((queue_index, index, lot.remaining_quantity));
        lot.remaining_quantity = remaining;
        debug_assert!(!remaining.is_sign_negative() || remaining.is_zero(), "a lot never goes negative");
        allocations.push(Allocation {
            sale_id: sale.sale_id.clone(),
            lot_id: lot.lot_id.clone(),
            sku: sale.sku.clone(),
            sale_date: sale.sale_date,
            quantity,
            unit_cost: lot.unit_cost,
            extended_cost,
            landed: Decimal::ZERO,
        });
        if remaining.is_zero() {
            index = first_with_stock(&queue.lots, index + 1);
        }
    }
    if index != queue.head {
        undo.heads.push((queue_index, queue.head));
        queue.head = index;
    }
    Ok(())
}
