//! Every stock movement costed in one stream: hand-worked cases, one rule each, and a
//! unit-by-unit reference model that the engine must agree with on random histories.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::events::{Costing, Inputs, cost_events, rounded_share, share_of, share_of_figures, split, split_places};
use super::figure::Figure;
use super::tests::{d, date};
use super::{CostingError, LotBook, allocate_or_park};
use crate::model::{
    Adjustment, AllocateBy, Allocation, CustomerReturn, EventId, EventKind, LandedCost, LandedTarget, Location, Lot,
    LotId, Method, MethodChange, Methods, MovementKind, ReceiptId, Sale, SaleId, Sku, StockCount, SupplierReturn,
    Timestamp, Transfer,
};

fn event_id(id: &str) -> EventId {
    EventId::parse(id).unwrap()
}

/// Inputs written one event per line:
///
/// ```text
/// lot ID SKU DATE QUANTITY UNIT_COST [RECEIPT]
/// sale ID SKU DATE QUANTITY [LOT]
/// return ID SALE DATE QUANTITY restock|keep
/// supplier ID LOT DATE QUANTITY
/// adjust ID SKU DATE QUANTITY [UNIT_COST] [lot:LOT]
/// count ID SKU DATE COUNTED [UNIT_COST]
/// landed ID lot:LOT|receipt:RECEIPT DATE AMOUNT quantity|value
/// transfer ID SKU FROM TO DATE QUANTITY
/// ```
///
/// A word `@LOCATION` anywhere on a line puts the event there (else: the main location).
#[derive(Debug, Clone, Default)]
struct Case {
    methods: Methods,
    lots: Vec<Lot>,
    sales: Vec<Sale>,
    returns: Vec<CustomerReturn>,
    supplier_returns: Vec<SupplierReturn>,
    adjustments: Vec<Adjustment>,
    counts: Vec<StockCount>,
    landed_costs: Vec<LandedCost>,
    transfers: Vec<Transfer>,
}

impl Case {
    fn read(text: &str) -> Self {
        let mut case = Case::default();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let place = line.split_whitespace().find_map(|w| w.strip_prefix('@')).map(|l| Location::parse(l).unwrap());
            let location = place.clone().unwrap_or_default();
            let words: Vec<&str> = line.split_whitespace().filter(|w| !w.starts_with('@')).collect();
            match words.as_slice() {
                ["transfer", id, sku, from, to, at, quantity] => case.transfers.push(Transfer {
                    transfer_id: event_id(id),
                    sku: Sku::parse(*sku).unwrap(),
                    from_location: Location::parse(*from).unwrap(),
                    to_location: Location::parse(*to).unwrap(),
                    transfer_date: date(at),
                    quantity: d(quantity),
                }),
                ["method", name] => case.methods = Methods::only(method_named(name)),
                ["method", name, "from", at] => {
                    let at = date(at);
                    case.methods = case.methods.changed(method_named(name), Some((at.date_naive(), at)));
                }
                ["lot", id, sku, at, quantity, cost, receipt @ ..] => case.lots.push(Lot {
                    lot_id: LotId::parse(*id).unwrap(),
                    sku: Sku::parse(*sku).unwrap(),
                    received_date: date(at),
                    original_quantity: d(quantity).max(Decimal::ONE),
                    remaining_quantity: d(quantity),
                    unit_price: d(cost),
                    freight_cost_per_unit: Decimal::ZERO,
                    receipt_id: receipt.first().map(|r| ReceiptId::parse(*r).unwrap()),
                    location: location.clone(),
                }),
                ["sale", id, sku, at, quantity, lot @ ..] => case.sales.push(Sale {
                    sale_id: SaleId::parse(*id).unwrap(),
                    sku: Sku::parse(*sku).unwrap(),
                    sale_date: date(at),
                    quantity_sold: d(quantity),
                    lot_id: lot.first().map(|lot| LotId::parse(*lot).unwrap()),
                    location: location.clone(),
                }),
                ["return", id, sale, at, quantity, restock] => case.returns.push(CustomerReturn {
                    return_id: event_id(id),
                    sale_id: SaleId::parse(*sale).unwrap(),
                    return_date: date(at),
                    quantity: d(quantity),
                    restock: *restock == "restock",
                    location: location.clone(),
                }),
                ["supplier", id, lot, at, quantity] => case.supplier_returns.push(SupplierReturn {
                    supplier_return_id: event_id(id),
                    lot_id: LotId::parse(*lot).unwrap(),
                    return_date: date(at),
                    quantity: d(quantity),
                    location: place,
                }),
                ["adjust", id, sku, at, quantity, rest @ ..] => case.adjustments.push(Adjustment {
                    adjustment_id: event_id(id),
                    sku: Sku::parse(*sku).unwrap(),
                    adjustment_date: date(at),
                    quantity: d(quantity),
                    unit_cost: rest.iter().find(|w| !w.starts_with("lot:")).map(|c| d(c)),
                    reason: String::new(),
                    lot_id: rest.iter().find_map(|w| w.strip_prefix("lot:")).map(|l| LotId::parse(l).unwrap()),
                    location: location.clone(),
                }),
                ["count", id, sku, at, counted, cost @ ..] => case.counts.push(StockCount {
                    count_id: event_id(id),
                    sku: Sku::parse(*sku).unwrap(),
                    count_date: date(at),
                    counted_quantity: d(counted),
                    unit_cost: cost.first().map(|c| d(c)),
                    location: location.clone(),
                }),
                ["landed", id, target, at, amount, by] => case.landed_costs.push(LandedCost {
                    landed_cost_id: event_id(id),
                    target: match target.split_once(':') {
                        Some(("lot", lot)) => LandedTarget::Lot(LotId::parse(lot).unwrap()),
                        Some(("receipt", receipt)) => LandedTarget::Receipt(ReceiptId::parse(receipt).unwrap()),
                        _ => panic!("landed target {target}"),
                    },
                    cost_date: date(at),
                    amount: d(amount),
                    allocate_by: AllocateBy::from_str(by).unwrap(),
                }),
                _ => panic!("cannot read case line {line:?}"),
            }
        }
        case
    }

    fn inputs(&self) -> Inputs<'_> {
        Inputs {
            methods: &self.methods,
            lots: &self.lots,
            spread_lots: &[],
            sales: &self.sales,
            returns: &self.returns,
            supplier_returns: &self.supplier_returns,
            adjustments: &self.adjustments,
            counts: &self.counts,
            landed_costs: &self.landed_costs,
            transfers: &self.transfers,
        }
    }
}

/// The costing as lines: `sale ID LAYER QUANTITY COST`, `KIND EVENT LAYER QUANTITY COST
/// [CONSUMER]`, `short SKU KIND EVENT SHORT ON_HAND`, `layer NAME REMAINING VALUE`.
fn method_named(name: &str) -> Method {
    match name {
        "fifo" => Method::Fifo,
        "specific" => Method::SpecificIdentification,
        "average" => Method::MovingAverage,
        other => panic!("no method {other:?}"),
    }
}

fn render(costing: &Costing) -> Vec<String> {
    let n = |value: Decimal| value.normalize().to_string();
    let allocations = costing.allocations();
    let mut lines: Vec<String> = allocations
        .iter()
        .map(|a| format!("sale {} {} {} {}", a.sale_id, a.lot_id, n(a.quantity), n(a.extended_cost)))
        .collect();
    // Where it is, when not at the main location.
    let at = |location: &Location| {
        if *location == Location::default() { String::new() } else { format!(" @{location}") }
    };
    // What a sale's units cost beyond their layers' unit cost, at the layer's location.
    let layer_at = |a: &Allocation| {
        let layer = costing.layers.iter().find(|l| l.sku == a.sku && l.layer == a.lot_id);
        layer.map(|l| at(&l.location)).unwrap_or_default()
    };
    lines.extend(
        allocations.iter().filter(|a| !a.landed.is_zero()).map(|a| {
            format!("sale_landed {} {} {} {}{}", a.sale_id, a.lot_id, n(a.quantity), n(a.landed), layer_at(a))
        }),
    );
    lines.extend(costing.movements.iter().map(|m| {
        let consumer = m.consumer.as_ref().map(|c| format!(" {c}")).unwrap_or_default();
        let (kind, layer) = (m.kind.as_str(), &m.layer);
        format!("{kind} {} {layer} {} {}{consumer}{}", m.event_id, n(m.quantity), n(m.cost), at(&m.location))
    }));
    lines.extend(costing.shortfalls.iter().map(|s| {
        let (kind, short, held) = (s.event_kind.as_str(), n(s.quantity_short), n(s.on_hand));
        format!("short {} {kind} {} {short} {held}{}", s.sku, s.event_id, at(&s.location))
    }));
    lines.extend(costing.layers.iter().map(|l| {
        let (remaining, value) = (n(l.remaining_quantity), n(l.value().unwrap()));
        format!("layer {} {remaining} {value}{}", l.layer, at(&l.location))
    }));
    lines
}

fn check(case: &str) {
    let (input, expected) = case.split_once("=>").expect("a case has `=>`");
    let case = Case::read(input);
    let mut expected: Vec<String> = expected
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    let mut actual = match cost_events(&case.inputs()) {
        Ok(costing) => render(&costing),
        Err(error) => vec![format!("error {error}")],
    };
    // Allocations, movements, shortfalls and layers each keep their order; the case
    // may list the groups in any order.
    let group = |line: &String| match line.split(' ').next() {
        Some("sale") => 0,
        Some("sale_landed") => 1,
        Some("short") => 3,
        Some("layer") => 4,
        Some("error") => 5,
        _ => 2,
    };
    actual.sort_by_key(group);
    expected.sort_by_key(group);
    assert_eq!(actual, expected);
}

#[test]
fn a_restocked_return_comes_back_at_the_sales_own_costs_last_drawn_first() {
    check(
        "lot L1 A 2024-01-01 5 10
         lot L2 A 2024-01-02 5 12
         sale S1 A 2024-01-03 7
         lot L3 A 2024-01-04 5 20
         return R1 S1 2024-01-05 3 restock
         sale S2 A 2024-01-06 6
         =>
         sale S1 L1 5 50
         sale S1 L2 2 24
         return_restocked R1 R1:L2 2 24
         return_restocked R1 R1:L1 1 10
         sale S2 L2 3 36
         sale S2 L3 3 60
         layer L1 0 0
         layer L2 0 0
         layer L3 2 40
         layer R1:L1 1 10
         layer R1:L2 2 24",
    );
}

#[test]
fn a_return_layer_is_drawn_after_the_lots_before_it_and_before_later_ones() {
    check(
        "lot L1 A 2024-01-01 2 10
         sale S1 A 2024-01-02 2
         lot L2 A 2024-01-03 2 11
         return R1 S1 2024-01-04 1 restock
         lot L3 A 2024-01-05 2 12
         sale S2 A 2024-01-06 4
         =>
         sale S1 L1 2 20
         return_restocked R1 R1:L1 1 10
         sale S2 L2 2 22
         sale S2 R1:L1 1 10
         sale S2 L3 1 12
         layer L1 0 0
         layer L2 0 0
         layer R1:L1 0 0
         layer L3 1 12",
    );
}

#[test]
fn a_lot_received_at_the_instant_of_a_return_is_drawn_before_the_returned_units() {
    check(
        "lot L1 A 2024-01-01 1 10
         sale S1 A 2024-01-02 1
         return R1 S1 2024-01-03 1 restock
         lot Z0 A 2024-01-03 1 30
         adjust ADJ0 A 2024-01-03 1 50
         sale S2 A 2024-01-04 3
         =>
         sale S1 L1 1 10
         return_restocked R1 R1:L1 1 10
         adjustment_in ADJ0 adj:ADJ0 1 50
         sale S2 Z0 1 30
         sale S2 R1:L1 1 10
         sale S2 adj:ADJ0 1 50
         layer L1 0 0
         layer Z0 0 0
         layer R1:L1 0 0
         layer adj:ADJ0 0 0",
    );
}

#[test]
fn a_return_not_restocked_moves_nothing_but_counts_against_what_may_be_returned() {
    check(
        "lot L1 A 2024-01-01 5 10
         sale S1 A 2024-01-02 3
         return R1 S1 2024-01-03 2 keep
         return R2 S1 2024-01-04 2 restock
         =>
         error return R2 gives back 2 of sale S1, but only 1 of it is not returned yet",
    );
    check(
        "lot L1 A 2024-01-01 5 10
         sale S1 A 2024-01-02 3
         return R1 S1 2024-01-03 2 keep
         =>
         sale S1 L1 3 30
         layer L1 2 20",
    );
}

#[test]
fn a_return_at_the_instant_of_its_sale_comes_right_after_it() {
    check(
        "lot L1 A 2024-01-01 1 10
         lot L2 A 2024-01-01 5 30
         sale S1 A 2024-01-02 1
         return R1 S1 2024-01-02 1 restock
         sale S2 A 2024-01-02 2
         =>
         sale S1 L1 1 10
         return_restocked R1 R1:L1 1 10
         sale S2 L2 2 60
         layer L1 0 0
         layer L2 3 90
         layer R1:L1 1 10",
    );
}

#[test]
fn a_return_dated_before_its_sale_or_of_an_unknown_sale_is_refused() {
    check(
        "lot L1 A 2024-01-01 5 10
         sale S1 A 2024-01-03 3
         return R1 S1 2024-01-02 1 restock
         =>
         error return R1 is invalid: it is dated before sale S1, which it returns",
    );
    check(
        "return R1 S9 2024-01-02 1 restock
         =>
         error return R1 names sale S9, which is not loaded",
    );
}

#[test]
fn a_supplier_return_takes_from_its_lot_at_the_lots_cost() {
    check(
        "lot L1 A 2024-01-01 5 10
         lot L2 A 2024-01-02 5 12
         supplier SR1 L2 2024-01-03 4
         sale S1 A 2024-01-04 6
         =>
         supplier_return SR1 L2 4 48
         sale S1 L1 5 50
         sale S1 L2 1 12
         layer L1 0 0
         layer L2 0 0",
    );
}

#[test]
fn under_specific_identification_a_sale_naming_a_lot_draws_on_it_and_the_others_go_first_in_first_out() {
    check(
        "method specific
         lot L1 A 2024-01-01 5 10
         lot L2 A 2024-01-02 5 12
         lot L3 A 2024-01-03 5 20
         sale S1 A 2024-01-04 4 L3
         sale S2 A 2024-01-05 6
         sale S3 A 2024-01-06 1 L3
         return R1 S1 2024-01-07 2 restock
         =>
         sale S1 L3 4 80
         sale S2 L1 5 50
         sale S2 L2 1 12
         sale S3 L3 1 20
         return_restocked R1 R1:L3 2 40
         layer L1 0 0
         layer L2 4 48
         layer L3 0 0
         layer R1:L3 2 40",
    );
}

#[test]
fn a_sale_naming_a_lot_that_holds_too_little_parks_its_sku_though_others_hold_enough() {
    check(
        "method specific
         lot L1 A 2024-01-01 5 10
         lot L2 A 2024-01-02 2 12
         sale S1 A 2024-01-03 3 L2
         sale S2 A 2024-01-04 1
         lot L3 A 2024-01-05 1 30
         sale S3 A 2024-01-06 1 L3
         =>
         short A sale S1 1 2
         layer L1 5 50
         layer L2 2 24
         layer L3 1 30",
    );
    // Named before it is received: the lot holds nothing yet.
    check(
        "method specific
         lot L1 A 2024-01-01 5 10
         sale S1 A 2024-01-02 1 L2
         lot L2 A 2024-01-03 5 12
         =>
         short A sale S1 1 0
         layer L1 5 50
         layer L2 5 60",
    );
}

#[test]
fn under_fifo_the_lot_a_sale_names_is_ignored_and_an_unknown_one_or_another_skus_is_refused_under_specific() {
    check(
        "lot L1 A 2024-01-01 5 10
         lot L2 A 2024-01-02 5 12
         sale S1 A 2024-01-03 2 L2
         sale S2 A 2024-01-03 1 NOPE
         =>
         sale S1 L1 2 20
         sale S2 L1 1 10
         layer L1 2 20
         layer L2 5 60",
    );
    check(
        "method specific
         lot L1 A 2024-01-01 5 10
         sale S1 A 2024-01-03 2 NOPE
         =>
         error sale S1 names lot NOPE, which is not loaded",
    );
    check(
        "method specific
         lot L1 A 2024-01-01 5 10
         lot B1 B 2024-01-01 5 10
         sale S1 A 2024-01-03 2 B1
         =>
         error sale S1 is invalid: it names lot B1, of SKU B, not its own",
    );
}

#[test]
fn a_named_lot_not_its_skus_own_is_refused_as_the_first_fault_in_input_order_wherever_its_sku_is_costed() {
    // S1 (SKU B, first in input order) names A's lot; S2 (SKU A, costed first) names
    // none loaded: S1 is refused.
    check(
        "method specific
         lot L1 A 2024-01-01 5 10
         lot B1 B 2024-01-01 5 10
         sale S1 B 2024-01-03 2 L1
         sale S2 A 2024-01-02 2 NOPE
         =>
         error sale S1 is invalid: it names lot L1, of SKU A, not its own",
    );
    // Before a fault found later in the input, of a sale or of another kind of event.
    for later in ["sale S2 A 2024-01-04 0", "return R1 S9 2024-01-04 1 restock"] {
        check(&format!(
            "method specific
             lot L1 A 2024-01-01 5 10
             sale S1 A 2024-01-03 2 NOPE
             {later}
             =>
             error sale S1 names lot NOPE, which is not loaded"
        ));
    }
    // Before a fault costing finds in a SKU costed earlier (A's return gives back more
    // than its sale took).
    check(
        "method specific
         lot L1 A 2024-01-01 5 10
         lot B1 B 2024-01-01 5 10
         sale S1 A 2024-01-02 2
         return R1 S1 2024-01-03 5 restock
         sale S2 B 2024-01-04 1 L1
         =>
         error sale S2 is invalid: it names lot L1, of SKU A, not its own",
    );
    // A sale of a SKU parked before it (S1 asks its lot for more than it holds) too.
    check(
        "method specific
         lot L1 A 2024-01-01 5 10
         lot L2 A 2024-01-02 5 10
         sale S1 A 2024-01-03 6 L1
         sale S2 A 2024-01-04 1 NOPE
         =>
         error sale S2 names lot NOPE, which is not loaded",
    );
}

#[test]
fn a_change_of_method_costs_each_sale_by_the_method_of_its_instant() {
    // FIFO until the 4th, specific identification from its first instant on: S1 takes
    // the oldest lot though it names L2; S2, at the change's instant, and S3 take L2.
    check(
        "method specific from 2024-01-04
         lot L1 A 2024-01-01 5 10
         lot L2 A 2024-01-02 5 12
         sale S1 A 2024-01-03 2 L2
         sale S2 A 2024-01-04 1 L2
         sale S3 A 2024-01-05 1 L2
         sale S4 A 2024-01-06 1
         =>
         sale S1 L1 2 20
         sale S2 L2 1 12
         sale S3 L2 1 12
         sale S4 L1 1 10
         layer L1 2 20
         layer L2 3 36",
    );
    // From the average to FIFO: the layers are restated at the average first, so S2
    // takes L2 at 15 (20 less the 5 S1 paid beyond its lot), not at 20.
    check(
        "method average
         method fifo from 2024-01-04
         lot L1 A 2024-01-01 1 10
         lot L2 A 2024-01-02 1 20
         sale S1 A 2024-01-03 1
         sale S2 A 2024-01-04 1
         =>
         sale S1 L1 1 10
         sale S2 L2 1 20
         sale_landed S1 L1 1 5
         sale_landed S2 L2 1 -5
         layer L1 0 0
         layer L2 0 0",
    );
    // And back: a named lot an earlier sale took from is FIFO's again afterwards.
    check(
        "method specific
         method fifo from 2024-01-04
         lot L1 A 2024-01-01 5 10
         lot L2 A 2024-01-02 5 12
         sale S1 A 2024-01-03 2 L2
         sale S2 A 2024-01-04 4 L2
         =>
         sale S1 L2 2 24
         sale S2 L1 4 40
         layer L1 1 10
         layer L2 3 36",
    );
}

#[test]
fn at_the_moving_average_a_sale_costs_its_share_of_the_pool_as_in_a_published_example() {
    // The moving-average example of a CPA exam (FAR) question, as published at
    // https://www.gaodun.com/q/406b5r: 1,000 at $1.00, 600 bought at $3.00 (1,600 at
    // $1.75), 900 sold at $1.75 = $1,575, 400 bought at $5.00: 1,100 worth $3,225.
    // Units leave the lots oldest first; the sale's cost beyond its lots' ($675) is
    // carried like a landed cost, and the layers left are restated at the average
    // ($3,225 ÷ 1,100 units, split by quantity).
    check(
        "method average
         lot L1 A 2024-01-01 1000 1.00
         lot L2 A 2024-01-07 600 3.00
         sale S1 A 2024-01-20 900
         lot L3 A 2024-01-25 400 5.00
         =>
         sale S1 L1 900 900
         sale_landed S1 L1 900 675
         layer L1 100 293.18
         layer L2 600 1759.09
         layer L3 400 1172.73",
    );
}

#[test]
fn at_the_moving_average_each_outflow_is_rounded_once_and_the_last_unit_takes_the_rest() {
    // 30.02 for 3 units: 10.01 (10.0066…), 10.01 (20.01 ÷ 2 = 10.005, half away from
    // zero), then the last unit whatever is left, 10.00: the pool neither gains nor
    // loses a cent.
    check(
        "method average
         lot L1 A 2024-01-01 1 10
         lot L2 A 2024-01-02 2 10.01
         sale S1 A 2024-01-03 1
         sale S2 A 2024-01-04 1
         sale S3 A 2024-01-05 1
         =>
         sale S1 L1 1 10
         sale S2 L2 1 10.01
         sale S3 L2 1 10.01
         sale_landed S1 L1 1 0.01
         sale_landed S3 L2 1 -0.01
         layer L1 0 0
         layer L2 0 0",
    );
    // A write-off and a supplier return go out at the average too (the returned lot's
    // units leave it; the cost is the pool's), and a restocked return comes back at
    // its sale's cost.
    check(
        "method average
         lot L1 A 2024-01-01 2 10
         lot L2 A 2024-01-02 2 20
         sale S1 A 2024-01-03 1
         adjust W1 A 2024-01-04 -1
         supplier V1 L2 2024-01-05 1
         return R1 S1 2024-01-06 1 restock
         =>
         sale S1 L1 1 10
         sale_landed S1 L1 1 5
         adjustment_out W1 L1 1 15
         supplier_return V1 L2 1 15
         return_restocked R1 R1:L1 1 15
         layer L1 0 0
         layer L2 1 15
         layer R1:L1 1 15",
    );
}

#[test]
fn under_specific_identification_a_write_off_naming_a_lot_takes_it_from_that_lot() {
    check(
        "method specific
         lot L1 A 2024-01-01 5 10
         lot L2 A 2024-01-02 5 12
         adjust W1 A 2024-01-03 -2 lot:L2
         adjust W2 A 2024-01-04 -1
         adjust W3 A 2024-01-05 -4 lot:L2
         =>
         adjustment_out W1 L2 2 24
         adjustment_out W2 L1 1 10
         short A adjustment W3 1 3
         layer L1 4 40
         layer L2 3 36",
    );
}

#[test]
fn a_supplier_return_larger_than_its_lot_holds_parks_the_sku_naming_it() {
    check(
        "lot L1 A 2024-01-01 5 10
         sale S1 A 2024-01-02 3
         supplier SR1 L1 2024-01-03 4
         sale S2 A 2024-01-04 1
         =>
         sale S1 L1 3 30
         short A supplier_return SR1 2 2
         layer L1 2 20",
    );
}

#[test]
fn an_adjustment_out_is_costed_like_a_sale_and_one_in_is_a_layer_at_its_cost() {
    check(
        "lot L1 A 2024-01-01 3 10
         adjust ADJ1 A 2024-01-02 -2
         adjust ADJ2 A 2024-01-02 4 7.5
         sale S1 A 2024-01-03 3
         =>
         adjustment_in ADJ2 adj:ADJ2 4 30
         adjustment_out ADJ1 L1 2 20
         sale S1 L1 1 10
         sale S1 adj:ADJ2 2 15
         layer L1 0 0
         layer adj:ADJ2 2 15",
    );
}

#[test]
fn at_one_instant_inflows_come_before_sales_then_adjustments_out_then_counts() {
    // Everything at noon: the lot and the found stock are there for the sale; the
    // write-off comes after the sale; the count sees what all of them left.
    check(
        "lot L1 A 2024-01-01T12:00:00Z 3 10
         sale S1 A 2024-01-01T12:00:00Z 4
         adjust ADJ1 A 2024-01-01T12:00:00Z -1
         adjust ADJ2 A 2024-01-01T12:00:00Z 2 5
         count C1 A 2024-01-01T12:00:00Z 1
         =>
         adjustment_in ADJ2 adj:ADJ2 2 10
         sale S1 L1 3 30
         sale S1 adj:ADJ2 1 5
         adjustment_out ADJ1 adj:ADJ2 1 5
         count_surplus C1 count:C1 1 10
         layer L1 0 0
         layer adj:ADJ2 0 0
         layer count:C1 1 10",
    );
}

#[test]
fn a_count_deficit_is_written_off_like_a_sale_and_a_surplus_takes_the_latest_lots_cost() {
    check(
        "lot L1 A 2024-01-01 5 10
         lot L2 A 2024-01-02 5 12
         count C1 A 2024-01-03 7
         count C2 A 2024-01-04 9
         count C3 A 2024-01-05 10 11
         count C4 A 2024-01-06 10
         =>
         count_deficit C1 L1 3 30
         count_surplus C2 count:C2 2 24
         count_surplus C3 count:C3 1 11
         layer L1 2 20
         layer L2 5 60
         layer count:C2 2 24
         layer count:C3 1 11",
    );
}

#[test]
fn a_count_surplus_with_nothing_to_value_it_at_parks_the_sku() {
    check(
        "count C1 A 2024-01-01 4
         adjust ADJ1 A 2024-01-02 1 3
         =>
         short A count C1 4 0",
    );
}

#[test]
fn a_sale_nothing_covers_parks_its_sku_and_the_others_go_on() {
    check(
        "lot L1 A 2024-01-01 2 10
         lot L2 B 2024-01-01 2 5
         sale S1 A 2024-01-02 3
         sale S2 B 2024-01-02 1
         =>
         sale S2 L2 1 5
         short A sale S1 1 2
         layer L1 2 20
         layer L2 1 5",
    );
}

#[test]
fn a_landed_cost_falls_on_sold_units_as_cogs_and_on_units_on_hand_as_value() {
    // 100 units at 10; 40 sold, then a 100.00 freight bill: 40.00 to COGS for S1, 60.00
    // onto the 60 on hand, which later sales carry out pro rata.
    check(
        "lot L1 A 2024-01-01 100 10
         sale S1 A 2024-01-02 40
         landed F1 lot:L1 2024-01-03 100.00 quantity
         sale S2 A 2024-01-04 30
         sale S3 A 2024-01-05 30
         =>
         sale S1 L1 40 400
         landed_to_cogs F1 L1 40 40 S1
         landed_on_hand F1 L1 60 60
         sale S2 L1 30 300
         sale_landed S2 L1 30 30
         sale S3 L1 30 300
         sale_landed S3 L1 30 30
         layer L1 0 0",
    );
}

#[test]
fn a_landed_cost_share_of_units_written_off_or_sent_back_goes_where_they_went() {
    check(
        "lot L1 A 2024-01-01 10 10
         adjust ADJ1 A 2024-01-02 -2
         supplier SR1 L1 2024-01-02 3
         landed F1 lot:L1 2024-01-03 10 quantity
         =>
         adjustment_out ADJ1 L1 2 20
         supplier_return SR1 L1 3 30
         landed_to_write_off F1 L1 2 2 ADJ1
         landed_to_supplier_returns F1 L1 3 3 SR1
         landed_on_hand F1 L1 5 5
         layer L1 5 55",
    );
}

#[test]
fn a_landed_cost_by_receipt_is_spread_by_quantity_or_value_and_adds_up_to_the_cent() {
    // Three equal lots share 100.00 by quantity: running totals 33.33, 66.67, 100.00.
    check(
        "lot L1 A 2024-01-01 10 1 PO1
         lot L2 B 2024-01-01 10 2 PO1
         lot L3 C 2024-01-01 10 3 PO1
         landed F1 receipt:PO1 2024-01-02 100.00 quantity
         =>
         landed_on_hand F1 L1 10 33.33
         landed_on_hand F1 L2 10 33.34
         landed_on_hand F1 L3 10 33.33
         layer L1 10 43.33
         layer L2 10 53.34
         layer L3 10 63.33",
    );
    // By value (10, 20, 30 of 60): 10.00, 20.00, 30.00.
    check(
        "lot L1 A 2024-01-01 10 1 PO1
         lot L2 B 2024-01-01 10 2 PO1
         lot L3 C 2024-01-01 10 3 PO1
         landed F1 receipt:PO1 2024-01-02 60 value
         =>
         landed_on_hand F1 L1 10 10
         landed_on_hand F1 L2 10 20
         landed_on_hand F1 L3 10 30
         layer L1 10 20
         layer L2 10 40
         layer L3 10 60",
    );
}

#[test]
fn a_restocked_unit_brings_back_the_landed_cost_its_sale_carried() {
    check(
        "lot L1 A 2024-01-01 3 10
         landed F1 lot:L1 2024-01-02 1.00 quantity
         sale S1 A 2024-01-03 3
         return R1 S1 2024-01-04 1 restock
         =>
         landed_on_hand F1 L1 3 1
         sale S1 L1 3 30
         sale_landed S1 L1 3 1
         return_restocked R1 R1:L1 1 10.33
         layer L1 0 0
         layer R1:L1 1 10.33",
    );
}

#[test]
fn each_location_draws_on_its_own_stock_first_in_first_out_and_falls_short_alone() {
    // S1 at WEST takes the newer L2 there, though L1 (older) is at the main location;
    // S3 finds nothing left at WEST and parks the SKU, though the main location holds 5.
    check(
        "lot L1 K 2024-01-01 10 1
         lot L2 K 2024-01-02 10 2 @WEST
         sale S1 K 2024-01-03 5 @WEST
         sale S2 K 2024-01-03 5
         sale S3 K 2024-01-04 6 @WEST
         =>
         sale S1 L2 5 10
         sale S2 L1 5 5
         short K sale S3 1 5 @WEST
         layer L2 5 10 @WEST
         layer L1 5 5",
    );
}

#[test]
fn a_transfer_moves_layers_first_in_first_out_keeping_their_cost_and_receipt_date() {
    // T1 takes L1's 5 and 1 of L2 from the main location. At WEST the units keep their
    // receipt dates: S1 draws L1's units (1 January), then L2's (2 January), then L3
    // (received at WEST on 3 January).
    check(
        "lot L1 K 2024-01-01 5 1
         lot L2 K 2024-01-02 5 2
         lot L3 K 2024-01-03 5 3 @WEST
         transfer T1 K main WEST 2024-01-04 6
         sale S1 K 2024-01-05 8 @WEST
         =>
         transfer_out T1 L1 5 5
         transfer_out T1 L2 1 2
         transfer_in T1 transfer:T1:L1 5 5 @WEST
         transfer_in T1 transfer:T1:L2 1 2 @WEST
         sale S1 transfer:T1:L1 5 5
         sale S1 transfer:T1:L2 1 2
         sale S1 L3 2 6
         layer transfer:T1:L1 0 0 @WEST
         layer transfer:T1:L2 0 0 @WEST
         layer L3 3 9 @WEST
         layer L1 0 0
         layer L2 4 8",
    );
}

#[test]
fn a_transfer_the_source_cannot_cover_parks_the_sku_and_one_to_its_own_location_is_refused() {
    check(
        "lot L1 K 2024-01-01 5 1
         transfer T1 K main WEST 2024-01-02 6
         =>
         short K transfer T1 1 5
         layer L1 5 5",
    );
    check(
        "lot L1 K 2024-01-01 5 1
         transfer T1 K main main 2024-01-02 1
         =>
         error transfer T1 is invalid: it moves stock from main to the same location",
    );
}

#[test]
fn at_the_moving_average_a_transfer_leaves_at_its_sources_average_and_each_location_keeps_its_own_pool() {
    // Main: 10 at 1 and 10 at 2, worth 30 for 20. T1 moves 5 at the average, 7.50 (L1's
    // 5 units at 5.00 and 2.50 beyond). WEST's pool is 5 units worth 7.50; L3 (5 at 4)
    // makes it 10 worth 27.50, so S1's 4 cost 11.00. Main's 15 units are worth 22.50,
    // so S2's 5 cost 7.50.
    check(
        "method average
         lot L1 K 2024-01-01 10 1
         lot L2 K 2024-01-02 10 2
         transfer T1 K main WEST 2024-01-03 5
         lot L3 K 2024-01-04 5 4 @WEST
         sale S1 K 2024-01-05 4 @WEST
         sale S2 K 2024-01-05 5
         =>
         transfer_out T1 L1 5 7.5
         transfer_in T1 transfer:T1:L1 5 7.5 @WEST
         sale S1 transfer:T1:L1 4 4
         sale_landed S1 transfer:T1:L1 4 7 @WEST
         sale S2 L1 5 5
         sale_landed S2 L1 5 2.5
         layer transfer:T1:L1 1 2.75 @WEST
         layer L3 5 13.75 @WEST
         layer L1 0 0
         layer L2 10 15",
    );
}

#[test]
fn a_landed_cost_follows_its_lots_units_to_the_location_they_were_transferred_to() {
    // F1's 10.00 over L1's 10 units: 6 still at the main location, 4 moved to WEST by
    // T1, of which S1 sold 1 there.
    check(
        "lot L1 K 2024-01-01 10 1
         transfer T1 K main WEST 2024-01-02 4
         sale S1 K 2024-01-03 1 @WEST
         landed F1 lot:L1 2024-01-04 10 quantity
         =>
         transfer_out T1 L1 4 4
         transfer_in T1 transfer:T1:L1 4 4 @WEST
         sale S1 transfer:T1:L1 1 1
         landed_on_hand F1 L1 6 6
         landed_to_cogs F1 transfer:T1:L1 1 1 S1 @WEST
         landed_on_hand F1 transfer:T1:L1 3 3 @WEST
         layer transfer:T1:L1 3 6 @WEST
         layer L1 6 12",
    );
}

#[test]
fn under_specific_identification_a_sale_draws_its_lots_units_at_its_own_location() {
    // T1 moves L1's 5 and 1 of L2 to WEST. S1 at WEST names L2: its unit there. S2 names
    // L2 at WEST again, where none is left, though 4 of L2 are at the main location.
    // SR1 sends back 2 of L2 from the main location (where it was received).
    check(
        "method specific
         lot L1 K 2024-01-01 5 1
         lot L2 K 2024-01-02 5 2
         transfer T1 K main WEST 2024-01-03 6
         sale S1 K 2024-01-04 1 L2 @WEST
         supplier SR1 L2 2024-01-04 2
         sale S2 K 2024-01-05 1 L2 @WEST
         =>
         transfer_out T1 L1 5 5
         transfer_out T1 L2 1 2
         transfer_in T1 transfer:T1:L1 5 5 @WEST
         transfer_in T1 transfer:T1:L2 1 2 @WEST
         sale S1 transfer:T1:L2 1 2
         supplier_return SR1 L2 2 4
         short K sale S2 1 0 @WEST
         layer transfer:T1:L1 5 5 @WEST
         layer transfer:T1:L2 0 0 @WEST
         layer L1 0 0
         layer L2 2 4",
    );
}

#[test]
fn a_supplier_return_from_another_location_sends_back_the_lots_units_transferred_there() {
    check(
        "lot L1 K 2024-01-01 5 1
         transfer T1 K main WEST 2024-01-02 3
         supplier SR1 L1 2024-01-03 2 @WEST
         supplier SR2 L1 2024-01-03 3
         =>
         transfer_out T1 L1 3 3
         transfer_in T1 transfer:T1:L1 3 3 @WEST
         supplier_return SR1 transfer:T1:L1 2 2 @WEST
         short K supplier_return SR2 1 2
         layer transfer:T1:L1 1 1 @WEST
         layer L1 2 2",
    );
}

#[test]
fn a_count_and_a_restocked_return_concern_their_own_locations_stock() {
    // The count at WEST finds 1 of the 2 units T1 moved there; R1 restocks S1's unit at
    // WEST, at its cost.
    check(
        "lot L1 K 2024-01-01 5 1
         transfer T1 K main WEST 2024-01-02 2
         sale S1 K 2024-01-03 1
         count C1 K 2024-01-03 1 @WEST
         return R1 S1 2024-01-04 1 restock @WEST
         =>
         transfer_out T1 L1 2 2
         transfer_in T1 transfer:T1:L1 2 2 @WEST
         sale S1 L1 1 1
         count_deficit C1 transfer:T1:L1 1 1 @WEST
         return_restocked R1 R1:L1 1 1 @WEST
         layer transfer:T1:L1 1 1 @WEST
         layer R1:L1 1 1 @WEST
         layer L1 2 2",
    );
}

#[test]
fn input_that_names_what_is_not_there_is_refused() {
    check(
        "supplier SR1 L9 2024-01-01 1
         =>
         error supplier return SR1 names lot L9, which is not loaded",
    );
    check(
        "lot L1 A 2024-01-01 1 1
         landed F1 receipt:PO9 2024-01-02 5 quantity
         =>
         error landed cost F1 names receipt PO9, which no loaded lot has",
    );
    check(
        "lot L1 A 2024-01-05 1 1
         landed F1 lot:L1 2024-01-02 5 quantity
         =>
         error landed cost F1 is invalid: it is dated before lot L1 was received",
    );
    check(
        "adjust ADJ1 A 2024-01-02 3
         =>
         error adjustment ADJ1 adds stock but has no unit_cost to value it at",
    );
}

#[test]
fn split_adds_up_exactly_at_the_amounts_places() {
    assert_eq!(split(d("100.00"), &[d("1"), d("1"), d("1")]), Some(vec![d("33.33"), d("33.34"), d("33.33")]));
    assert_eq!(split(d("0.01"), &[d("1"), d("1")]), Some(vec![d("0.01"), d("0.00")]));
    assert_eq!(split(d("1.005"), &[d("1"), d("1")]), Some(vec![d("0.503"), d("0.502")]));
    assert_eq!(split(d("5"), &[d("0"), d("0")]), None);
    // Halves round away from zero, either sign.
    assert_eq!(split(d("0.05"), &[d("1"), d("1")]), Some(vec![d("0.03"), d("0.02")]));
    assert_eq!(split(d("-1.005"), &[d("1"), d("1")]), Some(vec![d("-0.503"), d("-0.502")]));
    assert_eq!(split(d("10"), &[d("0.5"), d("2.5")]), Some(vec![d("1.67"), d("8.33")]));
}

#[test]
fn a_share_is_rounded_once_from_the_exact_quotient() {
    // 2 × 1 ÷ 3 = 0.666…: 0.67 to cents, 0.6667 to four places.
    assert_eq!(rounded_share(d("2.00"), d("1"), d("3"), 2), Some(d("0.67")));
    assert_eq!(rounded_share(d("2.0000"), d("1"), d("3"), 4), Some(d("0.6667")));
    // Exactly half, and just under it (a remainder one short of half the divisor).
    assert_eq!(rounded_share(d("0.01"), d("1"), d("2"), 2), Some(d("0.01")));
    assert_eq!(rounded_share(d("-0.01"), d("1"), d("2"), 2), Some(d("-0.01")));
    assert_eq!(rounded_share(d("0.01"), d("1"), d("2.0001"), 2), Some(d("0.00")));
    // Scales of every operand: 1.5 × 0.25 ÷ 0.3 = 1.25.
    assert_eq!(rounded_share(d("1.50"), d("0.25"), d("0.3"), 2), Some(d("1.25")));
    // Beyond 128 bits: left to the caller.
    assert_eq!(rounded_share(Decimal::MAX, Decimal::MAX, d("3"), 2), None);
}

// ---------------------------------------------------------------------------------
// The unit-by-unit reference model.

type UnitKey = (Timestamp, u8, String, String);

/// One unit in stock: the layer it sits in, where, the lot it is (if any), and what it cost.
#[derive(Clone, Debug)]
struct Unit {
    key: UnitKey,
    layer: String,
    location: String,
    lot: String,
    cost: Decimal,
}

/// What the model says costing did, unit quantities per line, in the engine's shape.
#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    /// (sale, layer, quantity, unit cost), consecutive units of one layer merged.
    allocations: Vec<(String, String, Decimal, Decimal)>,
    /// (kind, event, layer, quantity, cost) of the kinds that move units.
    movements: Vec<(MovementKind, String, String, Decimal, Decimal)>,
    /// (sku, kind, event).
    shortfalls: Vec<(String, EventKind, String)>,
    /// (layer, remaining) of every layer still holding stock.
    stock: BTreeMap<String, Decimal>,
    /// What each sale costed, in all.
    sale_costs: BTreeMap<String, Decimal>,
    /// What each SKU's stock is worth at the end, where it is worth anything.
    values: BTreeMap<String, Decimal>,
}

/// A movement line of the model: (kind, event, layer, quantity, cost, unit cost when
/// it is units at their own cost, which merge).
type Line = (MovementKind, String, String, Decimal, Decimal, Option<Decimal>);

/// One unit of `layer` at `unit_cost` on a line of its own or merged with the last.
fn push_unit(lines: &mut Vec<Line>, kind: MovementKind, event: &str, layer: &str, unit_cost: Decimal) {
    match lines.last_mut() {
        Some((k, e, l, quantity, cost, Some(unit)))
            if (*k, e.as_str(), l.as_str(), *unit) == (kind, event, layer, unit_cost) =>
        {
            *quantity += Decimal::ONE;
            *cost += unit_cost;
        }
        _ => lines.push((kind, event.to_owned(), layer.to_owned(), Decimal::ONE, unit_cost, Some(unit_cost))),
    }
}

/// The pool model's rule: `n` of `held` units worth `value` cost their proportional
/// share, rounded half away from zero to the value's places (at least cents); the last
/// units take what is left.
fn pool_share(value: Decimal, n: Decimal, held: Decimal) -> Decimal {
    if n >= held || value.is_zero() { value } else { split(value, &[n, held - n]).unwrap()[0] }
}

/// Units of consecutive equal layers as (layer, quantity).
fn by_layer<'u>(units: impl IntoIterator<Item = &'u Unit>) -> Vec<(String, Decimal)> {
    let mut groups: Vec<(String, Decimal)> = Vec::new();
    for unit in units {
        match groups.last_mut() {
            Some((layer, quantity)) if *layer == unit.layer => *quantity += Decimal::ONE,
            _ => groups.push((unit.layer.clone(), Decimal::ONE)),
        }
    }
    groups
}

/// An outflow's lines at the average: `cost` spread over the layers its units left, by quantity.
fn average_lines(lines: &mut Vec<Line>, kind: MovementKind, event: &str, units: &[Unit], cost: Decimal) {
    let groups = by_layer(units);
    let quantities: Vec<Decimal> = groups.iter().map(|(_, quantity)| *quantity).collect();
    for ((layer, quantity), part) in groups.into_iter().zip(split(cost, &quantities).unwrap()) {
        lines.push((kind, event.to_owned(), layer, quantity, part, None));
    }
}

/// Takes `n` units at `location`, of lot `lot` only when given (the lot's own units or
/// units transferred from it; not units returned from it), first in drawing order, or
/// none if there are fewer.
fn take(stock: &mut Vec<Unit>, location: &str, lot: Option<&LotId>, n: Decimal) -> Option<Vec<Unit>> {
    stock.sort_by(|a, b| a.key.cmp(&b.key));
    let from: Vec<usize> = (0..stock.len())
        .filter(|&i| stock[i].location == location && lot.is_none_or(|lot| stock[i].lot == lot.as_str()))
        .collect();
    let n = usize::try_from(n).unwrap();
    if from.len() < n {
        return None;
    }
    let mut units: Vec<Unit> = from[..n].iter().rev().map(|&i| stock.remove(i)).collect();
    units.reverse();
    Some(units)
}

fn push_merged<K: PartialEq>(lines: &mut Vec<(K, Decimal)>, key: K) {
    match lines.last_mut() {
        Some((last, quantity)) if *last == key => *quantity += Decimal::ONE,
        _ => lines.push((key, Decimal::ONE)),
    }
}

/// Costs `case` one unit at a time, scanning the whole stock for each, straight from
/// LEDGER.md's rules, each location's stock apart. No landed costs: it follows units,
/// not value.
fn reference(case: &Case) -> Outcome {
    // (place in the stream, SKU, index into the case's list of that kind)
    let mut events: Vec<(UnitKey, String, usize)> = Vec::new();
    let sale_of: BTreeMap<&SaleId, &Sale> = case.sales.iter().map(|s| (&s.sale_id, s)).collect();
    let lot_of: BTreeMap<&LotId, &Lot> = case.lots.iter().map(|l| (&l.lot_id, l)).collect();
    for (i, lot) in case.lots.iter().enumerate() {
        events.push(((lot.received_date, 0, lot.lot_id.to_string(), String::new()), lot.sku.to_string(), i));
    }
    for (i, sale) in case.sales.iter().enumerate() {
        events.push(((sale.sale_date, 5, sale.sale_id.to_string(), String::new()), sale.sku.to_string(), i));
    }
    for (i, ret) in case.returns.iter().enumerate() {
        let sale = sale_of[&ret.sale_id];
        let key = if ret.return_date == sale.sale_date {
            (ret.return_date, 5, sale.sale_id.to_string(), ret.return_id.to_string())
        } else {
            (ret.return_date, 1, ret.return_id.to_string(), String::new())
        };
        events.push((key, sale.sku.to_string(), i));
    }
    for (i, adjustment) in case.adjustments.iter().enumerate() {
        let rank = if adjustment.quantity > Decimal::ZERO { 2 } else { 6 };
        let key = (adjustment.adjustment_date, rank, adjustment.adjustment_id.to_string(), String::new());
        events.push((key, adjustment.sku.to_string(), i));
    }
    for (i, transfer) in case.transfers.iter().enumerate() {
        let key = (transfer.transfer_date, 4, transfer.transfer_id.to_string(), String::new());
        events.push((key, transfer.sku.to_string(), i));
    }
    for (i, sent) in case.supplier_returns.iter().enumerate() {
        let key = (sent.return_date, 7, sent.supplier_return_id.to_string(), String::new());
        events.push((key, lot_of[&sent.lot_id].sku.to_string(), i));
    }
    for (i, count) in case.counts.iter().enumerate() {
        events.push(((count.count_date, 8, count.count_id.to_string(), String::new()), count.sku.to_string(), i));
    }
    events.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));

    let mut outcome = Outcome::default();
    let mut allocations: Vec<((String, String, Decimal), Decimal)> = Vec::new();
    let mut lines: Vec<Line> = Vec::new();
    let mut stock: Vec<Unit> = Vec::new();
    // What each location's stock of the SKU is worth: its units' costs, or the pool's
    // value once costed at the average.
    let mut pools: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut sold: BTreeMap<String, Vec<Unit>> = BTreeMap::new();
    // Sales costed at the average: (units not returned, their cost).
    let mut sold_at_average: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    let mut latest_lot_cost: Option<Decimal> = None;
    let mut parked: Option<String> = None;
    let mut current_sku = String::new();
    let units_cost = |units: &[Unit]| units.iter().map(|unit| unit.cost).sum::<Decimal>();
    let worth = |pools: &BTreeMap<String, Decimal>| pools.values().copied().sum::<Decimal>();
    for (key, sku, index) in events {
        if sku != current_sku {
            for unit in stock.drain(..) {
                *outcome.stock.entry(unit.layer).or_default() += Decimal::ONE;
            }
            if !worth(&pools).is_zero() {
                outcome.values.insert(current_sku.clone(), worth(&pools));
            }
            current_sku = sku.clone();
            pools.clear();
            latest_lot_cost = None;
            parked = None;
        }
        if parked.is_some() && key.1 != 0 {
            continue;
        }
        let held = |stock: &[Unit], location: &str| {
            Decimal::from(stock.iter().filter(|unit| unit.location == location).count())
        };
        let at = key.0;
        let average = case.methods.at(at) == Method::MovingAverage;
        // An outflow of `units` (taken already, `held` at `location` before): its lines
        // at the units' own costs, or at its share of the location's pool; the pool
        // loses what it cost.
        let outflow = |lines: &mut Vec<Line>,
                       pools: &mut BTreeMap<String, Decimal>,
                       kind: MovementKind,
                       event: &str,
                       units: &[Unit],
                       location: &str,
                       held: Decimal|
         -> Decimal {
            let n = Decimal::from(units.len());
            let pool = pools.entry(location.to_owned()).or_default();
            let cost = if average { pool_share(*pool, n, held) } else { units_cost(units) };
            if average {
                average_lines(lines, kind, event, units, cost);
            } else {
                for unit in units {
                    push_unit(lines, kind, event, &unit.layer, unit.cost);
                }
            }
            *pool -= cost;
            cost
        };
        match key.1 {
            0 => {
                let lot = &case.lots[index];
                let cost = lot.unit_cost().unwrap();
                latest_lot_cost = Some(cost);
                let unit = Unit {
                    key: key.clone(),
                    layer: lot.lot_id.to_string(),
                    location: lot.location.to_string(),
                    lot: lot.lot_id.to_string(),
                    cost,
                };
                stock.extend(std::iter::repeat_n(unit, lot.remaining_quantity.try_into().unwrap()));
                *pools.entry(lot.location.to_string()).or_default() += lot.remaining_quantity * cost;
            }
            1 | 5 if !key.3.is_empty() || key.1 == 1 => {
                let ret = &case.returns[index];
                let units = sold.get_mut(ret.sale_id.as_str()).expect("the sale came first");
                let back: Vec<Unit> =
                    units.split_off(units.len() - usize::try_from(ret.quantity).unwrap()).into_iter().rev().collect();
                // What the units bring back: their share of what is left of an average
                // sale's cost, or their own costs.
                let value = match sold_at_average.get_mut(ret.sale_id.as_str()) {
                    Some((quantity, cost)) => {
                        let value = pool_share(*cost, ret.quantity, *quantity);
                        *quantity -= ret.quantity;
                        *cost -= value;
                        Some(value)
                    }
                    None => None,
                };
                if ret.restock {
                    let id = ret.return_id.to_string();
                    let pool = pools.entry(ret.location.to_string()).or_default();
                    match value {
                        Some(value) => {
                            let groups = by_layer(&back);
                            let quantities: Vec<Decimal> = groups.iter().map(|(_, quantity)| *quantity).collect();
                            for ((layer, quantity), part) in groups.into_iter().zip(split(value, &quantities).unwrap())
                            {
                                lines.push((
                                    MovementKind::ReturnRestocked,
                                    id.clone(),
                                    format!("{id}:{layer}"),
                                    quantity,
                                    part,
                                    None,
                                ));
                            }
                            *pool += value;
                        }
                        None => {
                            for unit in &back {
                                push_unit(
                                    &mut lines,
                                    MovementKind::ReturnRestocked,
                                    &id,
                                    &format!("{id}:{}", unit.layer),
                                    unit.cost,
                                );
                            }
                            *pool += units_cost(&back);
                        }
                    }
                    for unit in back {
                        stock.push(Unit {
                            key: (at, 1, id.clone(), unit.layer.clone()),
                            layer: format!("{id}:{}", unit.layer),
                            location: ret.location.to_string(),
                            lot: String::new(),
                            cost: unit.cost,
                        });
                    }
                }
            }
            4 => {
                let transfer = &case.transfers[index];
                let (id, from, to) =
                    (transfer.transfer_id.as_str(), transfer.from_location.as_str(), transfer.to_location.as_str());
                let before = held(&stock, from);
                let Some(units) = take(&mut stock, from, None, transfer.quantity) else {
                    parked = Some(id.to_owned());
                    outcome.shortfalls.push((sku.clone(), EventKind::Transfer, id.to_owned()));
                    continue;
                };
                let first = lines.len();
                let cost = outflow(&mut lines, &mut pools, MovementKind::TransferOut, id, &units, from, before);
                *pools.entry(to.to_owned()).or_default() += cost;
                // Each line out arrives as a line in, at the layer the units become there.
                let out: Vec<Line> = lines[first..].to_vec();
                for (_, event, layer, quantity, cost, unit) in out {
                    let arrived = format!("transfer:{id}:{layer}");
                    lines.push((MovementKind::TransferIn, event, arrived, quantity, cost, unit));
                }
                for unit in units {
                    let (date, rank, first, second) = unit.key;
                    stock.push(Unit {
                        key: (date, rank, first, format!("{second}>{id}")),
                        layer: format!("transfer:{id}:{}", unit.layer),
                        location: to.to_owned(),
                        lot: unit.lot,
                        cost: unit.cost,
                    });
                }
            }
            5 => {
                let sale = &case.sales[index];
                let location = sale.location.as_str();
                let before = held(&stock, location);
                let units = match (case.methods.at(sale.sale_date), &sale.lot_id) {
                    // The named lot's own units at the sale's location, wherever they
                    // are in drawing order.
                    (Method::SpecificIdentification, Some(lot)) => {
                        take(&mut stock, location, Some(lot), sale.quantity_sold)
                    }
                    _ => take(&mut stock, location, None, sale.quantity_sold),
                };
                let Some(units) = units else {
                    parked = Some(sale.sale_id.to_string());
                    outcome.shortfalls.push((sku.clone(), EventKind::Sale, sale.sale_id.to_string()));
                    continue;
                };
                for unit in &units {
                    push_merged(&mut allocations, (sale.sale_id.to_string(), unit.layer.clone(), unit.cost));
                }
                let pool = pools.entry(location.to_owned()).or_default();
                let cost = if average { pool_share(*pool, sale.quantity_sold, before) } else { units_cost(&units) };
                *pool -= cost;
                if average {
                    sold_at_average.insert(sale.sale_id.to_string(), (sale.quantity_sold, cost));
                }
                outcome.sale_costs.insert(sale.sale_id.to_string(), cost);
                sold.insert(sale.sale_id.to_string(), units);
            }
            2 => {
                let adjustment = &case.adjustments[index];
                let cost = adjustment.unit_cost.unwrap();
                let layer = format!("adj:{}", adjustment.adjustment_id);
                let unit = Unit {
                    key: (at, 2, "adj".into(), adjustment.adjustment_id.to_string()),
                    layer: layer.clone(),
                    location: adjustment.location.to_string(),
                    lot: String::new(),
                    cost,
                };
                for _ in 0..usize::try_from(adjustment.quantity).unwrap() {
                    push_unit(&mut lines, MovementKind::AdjustmentIn, adjustment.adjustment_id.as_str(), &layer, cost);
                    stock.push(unit.clone());
                }
                *pools.entry(adjustment.location.to_string()).or_default() += adjustment.quantity * cost;
            }
            6 => {
                let adjustment = &case.adjustments[index];
                let location = adjustment.location.as_str();
                let before = held(&stock, location);
                let units = match (case.methods.at(at), &adjustment.lot_id) {
                    (Method::SpecificIdentification, Some(lot)) => {
                        take(&mut stock, location, Some(lot), -adjustment.quantity)
                    }
                    _ => take(&mut stock, location, None, -adjustment.quantity),
                };
                let Some(units) = units else {
                    parked = Some(adjustment.adjustment_id.to_string());
                    outcome.shortfalls.push((sku.clone(), EventKind::Adjustment, adjustment.adjustment_id.to_string()));
                    continue;
                };
                let id = adjustment.adjustment_id.as_str();
                outflow(&mut lines, &mut pools, MovementKind::AdjustmentOut, id, &units, location, before);
            }
            7 => {
                let sent = &case.supplier_returns[index];
                let location = sent.location.as_ref().unwrap_or(&lot_of[&sent.lot_id].location).to_string();
                let before = held(&stock, &location);
                let Some(units) = take(&mut stock, &location, Some(&sent.lot_id), sent.quantity) else {
                    parked = Some(sent.supplier_return_id.to_string());
                    outcome.shortfalls.push((
                        sku.clone(),
                        EventKind::SupplierReturn,
                        sent.supplier_return_id.to_string(),
                    ));
                    continue;
                };
                let id = sent.supplier_return_id.as_str();
                outflow(&mut lines, &mut pools, MovementKind::SupplierReturn, id, &units, &location, before);
            }
            8 => {
                let count = &case.counts[index];
                let location = count.location.as_str();
                let on_hand = held(&stock, location);
                let id = count.count_id.to_string();
                if count.counted_quantity < on_hand {
                    let units = take(&mut stock, location, None, on_hand - count.counted_quantity).unwrap();
                    outflow(&mut lines, &mut pools, MovementKind::CountDeficit, &id, &units, location, on_hand);
                } else if count.counted_quantity > on_hand {
                    let Some(cost) = count.unit_cost.or(latest_lot_cost) else {
                        parked = Some(id.clone());
                        outcome.shortfalls.push((sku.clone(), EventKind::Count, id));
                        continue;
                    };
                    let layer = format!("count:{id}");
                    for _ in 0..usize::try_from(count.counted_quantity - on_hand).unwrap() {
                        push_unit(&mut lines, MovementKind::CountSurplus, &id, &layer, cost);
                        stock.push(Unit {
                            key: (at, 2, "count".into(), id.clone()),
                            layer: layer.clone(),
                            location: location.to_owned(),
                            lot: String::new(),
                            cost,
                        });
                    }
                    *pools.entry(location.to_owned()).or_default() += (count.counted_quantity - on_hand) * cost;
                }
            }
            _ => unreachable!(),
        }
    }
    for unit in stock {
        *outcome.stock.entry(unit.layer).or_default() += Decimal::ONE;
    }
    if !worth(&pools).is_zero() {
        outcome.values.insert(current_sku, worth(&pools));
    }
    outcome.allocations = allocations.into_iter().map(|((s, l, c), q)| (s, l, q, c)).collect();
    outcome.movements = lines.into_iter().map(|(k, e, l, q, c, _)| (k, e, l, q, c)).collect();
    outcome
}

/// The engine's costing in the model's shape.
fn outcome_of(costing: &Costing) -> Outcome {
    Outcome {
        allocations: costing
            .allocations()
            .iter()
            .map(|a| (a.sale_id.to_string(), a.lot_id.to_string(), a.quantity, a.unit_cost))
            .collect(),
        movements: costing
            .movements
            .iter()
            .filter(|m| m.kind.moves_units())
            .map(|m| (m.kind, m.event_id.to_string(), m.layer.to_string(), m.quantity, m.cost))
            .collect(),
        shortfalls: costing
            .shortfalls
            .iter()
            .map(|s| (s.sku.to_string(), s.event_kind, s.event_id.to_string()))
            .collect(),
        stock: costing
            .layers
            .iter()
            .filter(|l| !l.remaining_quantity.is_zero())
            .map(|l| (l.layer.to_string(), l.remaining_quantity))
            .collect(),
        sale_costs: {
            let mut costs: BTreeMap<String, Decimal> = BTreeMap::new();
            for a in &costing.allocations() {
                *costs.entry(a.sale_id.to_string()).or_default() += a.cost().unwrap();
            }
            costs
        },
        values: {
            let mut values: BTreeMap<String, Decimal> = BTreeMap::new();
            for l in &costing.layers {
                *values.entry(l.sku.to_string()).or_default() += l.remaining_quantity * l.unit_cost + l.landed;
            }
            values.retain(|_, value| !value.is_zero());
            values
        },
    }
}

/// Histories costed by specific identification throughout, or from a day on, or until
/// a day: some sales name a lot of their SKU, now and then one received after them or
/// holding too little.
fn specific_history(with_landed: bool) -> impl Strategy<Value = Case> {
    let schedule = (any::<bool>(), prop::option::of((0..7u32, any::<bool>())));
    (history(with_landed), prop::collection::vec(prop::option::of(0..8usize), 10), schedule).prop_map(
        |(mut case, picks, (specific_first, change))| {
            let [first, then] = if specific_first {
                [Method::SpecificIdentification, Method::Fifo]
            } else {
                [Method::Fifo, Method::SpecificIdentification]
            };
            case.methods = Methods::only(first);
            if let Some((n, noon)) = change {
                let at = day(n, noon);
                case.methods.changes.push(MethodChange { from: at.date_naive(), at, method: then });
            }
            let lots = &case.lots;
            for (sale, pick) in case.sales.iter_mut().zip(picks) {
                let of_sku: Vec<&Lot> = lots.iter().filter(|lot| lot.sku == sale.sku).collect();
                if let Some(pick) = pick
                    && !of_sku.is_empty()
                {
                    sale.lot_id = Some(of_sku[pick % of_sku.len()].lot_id.clone());
                }
            }
            // Now and then a write-off names a lot of its SKU too.
            for (n, adjustment) in case.adjustments.iter_mut().enumerate() {
                let of_sku: Vec<&Lot> = lots.iter().filter(|lot| lot.sku == adjustment.sku).collect();
                if adjustment.quantity < Decimal::ZERO && n % 2 == 0 && !of_sku.is_empty() {
                    adjustment.lot_id = Some(of_sku[n % of_sku.len()].lot_id.clone());
                }
            }
            case
        },
    )
}

/// Histories costed at the moving average throughout, or from a day on after FIFO or
/// specific identification: the pool model's histories.
fn average_history(with_landed: bool) -> impl Strategy<Value = Case> {
    (specific_history(with_landed), prop::option::of((0..7u32, any::<bool>()))).prop_map(|(mut case, from)| {
        let since = from.map(|(n, noon)| (day(n, noon).date_naive(), day(n, noon)));
        case.methods = case.methods.changed(Method::MovingAverage, since);
        case
    })
}

/// Histories costed by any method, the average included, at one location or two.
fn any_method(with_landed: bool) -> impl Strategy<Value = Case> {
    let one_place = prop_oneof![history(with_landed), specific_history(with_landed), average_history(with_landed)];
    prop_oneof![one_place.clone(), located(one_place)]
}

/// `histories` over two locations: about a third of the events at WEST, the others at
/// the main location, and transfers between them now and then (often at the instant
/// of other events).
fn located(histories: impl Strategy<Value = Case>) -> impl Strategy<Value = Case> {
    let picks = prop::collection::vec(0..3u8, 32);
    let transfers = prop::collection::vec((0..3u8, any::<bool>(), 0..8u32, any::<bool>(), 1..4u32), 0..5);
    (histories, picks, transfers).prop_map(|(mut case, picks, transfers)| {
        let west = Location::parse("WEST").unwrap();
        let mut picks = picks.into_iter().cycle();
        let mut place = || if picks.next() == Some(0) { west.clone() } else { Location::default() };
        for lot in &mut case.lots {
            lot.location = place();
        }
        for sale in &mut case.sales {
            sale.location = place();
        }
        for ret in &mut case.returns {
            ret.location = place();
        }
        for adjustment in &mut case.adjustments {
            adjustment.location = place();
        }
        for count in &mut case.counts {
            count.location = place();
        }
        for sent in &mut case.supplier_returns {
            sent.location = Some(place());
        }
        case.transfers = transfers
            .into_iter()
            .enumerate()
            .map(|(i, (sku, westward, at, noon, quantity))| {
                let (from, to) =
                    if westward { (Location::default(), west.clone()) } else { (west.clone(), Location::default()) };
                Transfer {
                    transfer_id: event_id(&format!("T{i}")),
                    sku: Sku::parse(format!("K{sku}")).unwrap(),
                    from_location: from,
                    to_location: to,
                    transfer_date: day(at, noon),
                    quantity: Decimal::from(quantity),
                }
            })
            .collect();
        case
    })
}

/// Histories whose method changes up to twice, between any two methods (the average
/// followed by another too, which the reference models do not cover).
fn any_schedule(with_landed: bool) -> impl Strategy<Value = Case> {
    let method = || prop::sample::select(Method::ALL.to_vec());
    let changes = prop::collection::vec((0..7u32, any::<bool>(), method()), 0..3);
    let histories = specific_history(with_landed).boxed();
    (prop_oneof![histories.clone(), located(histories)], method(), changes).prop_map(|(mut case, initial, changes)| {
        case.methods = Methods::only(initial);
        let mut changes: Vec<MethodChange> = changes
            .into_iter()
            .map(|(n, noon, method)| MethodChange { from: day(n, noon).date_naive(), at: day(n, noon), method })
            .collect();
        changes.sort_by_key(|change| change.at);
        changes.dedup_by_key(|change| change.at);
        case.methods.changes = changes;
        case
    })
}

fn day(n: u32, noon: bool) -> Timestamp {
    Utc.with_ymd_and_hms(2024, 1, 1 + n, if noon { 12 } else { 0 }, 0, 0).unwrap()
}

/// Random histories of every event kind over three SKUs and a few days, often at the
/// same instant, with valid references (returns never exceed their sale). Freight is
/// often in tenths of a cent, so unit costs and averages carry more places than cents.
fn history(with_landed: bool) -> impl Strategy<Value = Case> {
    let lots = prop::collection::vec((0..3u8, 0..6u32, 0..6u32, 0..2000u32, 0..3u8, 0..20u32), 0..8);
    let sales = prop::collection::vec((0..3u8, 0..8u32, any::<bool>(), 1..4u32), 0..10);
    let returns = prop::collection::vec((0..10usize, 0..3u32, 1..3u32, any::<bool>()), 0..5);
    let supplier = prop::collection::vec((0..8usize, 0..8u32, 1..4u32), 0..3);
    let adjustments = prop::collection::vec((0..3u8, 0..8u32, -3..4i64, 0..1500u32), 0..4);
    let counts = prop::collection::vec((0..3u8, 0..8u32, 0..8u32, prop::option::of(0..1500u32)), 0..3);
    let landed = prop::collection::vec((0..8usize, 0..3u32, 1..20000u32, any::<bool>(), any::<bool>()), 0..4);
    (lots, sales, returns, supplier, adjustments, counts, landed).prop_map(
        move |(lots, sales, returns, supplier, adjustments, counts, landed)| {
            let lots = lots
                .into_iter()
                .enumerate()
                .map(|(i, (sku, at, quantity, cents, receipt, mills))| Lot {
                    lot_id: LotId::parse(format!("L{i}")).unwrap(),
                    sku: Sku::parse(format!("K{sku}")).unwrap(),
                    received_date: day(at, false),
                    original_quantity: Decimal::from(quantity + 1),
                    remaining_quantity: Decimal::from(quantity),
                    unit_price: Decimal::new(i64::from(cents), 2),
                    freight_cost_per_unit: Decimal::new(i64::from(mills), 3),
                    receipt_id: (receipt > 0).then(|| ReceiptId::parse(format!("PO{receipt}")).unwrap()),
                    location: Default::default(),
                })
                .collect();
            let mut case = Case { lots, ..Case::default() };
            case.sales = sales
                .into_iter()
                .enumerate()
                .map(|(i, (sku, at, noon, quantity))| Sale {
                    sale_id: SaleId::parse(format!("S{i}")).unwrap(),
                    sku: Sku::parse(format!("K{sku}")).unwrap(),
                    sale_date: day(at, noon),
                    quantity_sold: Decimal::from(quantity),
                    lot_id: None,
                    location: Default::default(),
                })
                .collect();
            let mut returned: BTreeMap<usize, Decimal> = BTreeMap::new();
            for (i, (sale, after, quantity, restock)) in returns.into_iter().enumerate() {
                let Some(sold) = case.sales.get(sale) else { continue };
                let left = sold.quantity_sold - returned.get(&sale).copied().unwrap_or_default();
                let quantity = Decimal::from(quantity).min(left);
                if quantity.is_zero() {
                    continue;
                }
                *returned.entry(sale).or_default() += quantity;
                case.returns.push(CustomerReturn {
                    // Ids that sort before the lots' at the same instant.
                    return_id: event_id(&format!("B{i}")),
                    sale_id: sold.sale_id.clone(),
                    // Often at the instant a lot arrives, or the sale's own.
                    return_date: day(
                        u32::try_from(i64::from(after) + (sold.sale_date - day(0, false)).num_days()).unwrap(),
                        i % 2 == 1,
                    )
                    .max(sold.sale_date),
                    quantity,
                    restock,
                    location: Default::default(),
                });
            }
            for (i, (lot, at, quantity)) in supplier.into_iter().enumerate() {
                let Some(lot) = case.lots.get(lot) else { continue };
                case.supplier_returns.push(SupplierReturn {
                    supplier_return_id: event_id(&format!("SR{i}")),
                    lot_id: lot.lot_id.clone(),
                    return_date: day(at, true),
                    quantity: Decimal::from(quantity),
                    location: Default::default(),
                });
            }
            for (i, (sku, at, quantity, cents)) in adjustments.into_iter().enumerate() {
                if quantity == 0 {
                    continue;
                }
                case.adjustments.push(Adjustment {
                    adjustment_id: event_id(&format!("A{i}")),
                    sku: Sku::parse(format!("K{sku}")).unwrap(),
                    adjustment_date: day(at, i % 2 == 0),
                    quantity: Decimal::from(quantity),
                    unit_cost: (quantity > 0).then(|| Decimal::new(i64::from(cents), 2)),
                    reason: String::new(),
                    lot_id: None,
                    location: Default::default(),
                });
            }
            for (i, (sku, at, counted, cents)) in counts.into_iter().enumerate() {
                case.counts.push(StockCount {
                    count_id: event_id(&format!("C{i}")),
                    sku: Sku::parse(format!("K{sku}")).unwrap(),
                    count_date: day(at, true),
                    counted_quantity: Decimal::from(counted),
                    unit_cost: cents.map(|c| Decimal::new(i64::from(c), 2)),
                    location: Default::default(),
                });
            }
            if with_landed {
                for (i, (lot, after, cents, by_receipt, by_value)) in landed.into_iter().enumerate() {
                    let Some(lot) = case.lots.get(lot) else { continue };
                    let target = match (&lot.receipt_id, by_receipt) {
                        (Some(receipt), true) => LandedTarget::Receipt(receipt.clone()),
                        _ => LandedTarget::Lot(lot.lot_id.clone()),
                    };
                    let by = if by_value { AllocateBy::Value } else { AllocateBy::Quantity };
                    let weight = |l: &Lot| match by {
                        AllocateBy::Quantity => l.remaining_quantity,
                        AllocateBy::Value => l.remaining_quantity * l.unit_cost().unwrap(),
                    };
                    let spread_over: Vec<&Lot> = match &target {
                        LandedTarget::Lot(_) => vec![lot],
                        LandedTarget::Receipt(r) => {
                            case.lots.iter().filter(|l| l.receipt_id.as_ref() == Some(r)).collect()
                        }
                    };
                    if spread_over.iter().map(|l| weight(l)).sum::<Decimal>().is_zero() {
                        continue;
                    }
                    // After every lot of its receipt arrived.
                    let arrived = spread_over.iter().map(|l| l.received_date).max().unwrap();
                    let cost_date = arrived + chrono::Duration::days(i64::from(after));
                    case.landed_costs.push(LandedCost {
                        landed_cost_id: event_id(&format!("F{i}")),
                        target,
                        cost_date,
                        amount: Decimal::new(i64::from(cents), 2),
                        allocate_by: by,
                    });
                }
            }
            case
        },
    )
}

/// Inventory in (receipts, restocked returns, found stock, landed costs) less out
/// (sales, write-offs, supplier returns) equals what the layers hold at the end.
fn value_balance(case: &Case, costing: &Costing) -> (Decimal, Decimal) {
    let receipts: Decimal = case.lots.iter().map(|l| l.remaining_quantity * l.unit_cost().unwrap()).sum();
    let sales: Decimal = costing.allocations().iter().map(|a| a.cost().unwrap()).sum();
    let moved: Decimal = costing.movements.iter().map(|m| Decimal::from(m.kind.inventory_sign()) * m.cost).sum();
    let closing: Decimal = costing.layers.iter().map(|l| l.value().unwrap()).sum();
    (receipts - sales + moved, closing)
}

fn shuffled(case: &Case) -> Case {
    let mut other = case.clone();
    other.lots.reverse();
    other.sales.reverse();
    other.returns.reverse();
    other.supplier_returns.reverse();
    other.adjustments.reverse();
    other.counts.reverse();
    other.landed_costs.reverse();
    other.transfers.reverse();
    other
}

/// `case` with each row's SKU text its own copy (as rows read from a file or the
/// database hold them), or one text shared by every row of a SKU.
fn with_sku_texts(case: &Case, shared: bool) -> Case {
    let mut texts: BTreeMap<String, Sku> = BTreeMap::new();
    let mut text = |sku: &mut Sku| {
        let fresh = Sku::parse(sku.as_str()).expect("a valid SKU");
        *sku = if shared { texts.entry(sku.to_string()).or_insert(fresh).clone() } else { fresh };
    };
    let mut other = shuffled(case);
    other.lots.iter_mut().for_each(|lot| text(&mut lot.sku));
    other.sales.iter_mut().for_each(|sale| text(&mut sale.sku));
    other.adjustments.iter_mut().for_each(|adjustment| text(&mut adjustment.sku));
    other.counts.iter_mut().for_each(|count| text(&mut count.sku));
    other.transfers.iter_mut().for_each(|transfer| text(&mut transfer.sku));
    other
}

#[test]
fn rows_beyond_those_numbered_by_address_cost_as_rows_that_share_their_sku_text() {
    // Each row read holds its own copy of its SKU's text; past a few per SKU, they are
    // numbered by their text alone.
    for method in ["fifo", "average"] {
        let mut text = format!("method {method}\n");
        for sku in 0..5 {
            text += &format!("lot L{sku} K{sku} 2024-01-01 10000 1.{sku}7\n");
        }
        for n in 0..3000 {
            let at = format!("2024-01-{:02}T{:02}:{:02}:00Z", 2 + n / 1440, n / 60 % 24, n % 60);
            text += &format!("sale S{n:04} K{} {at} {}\n", n * 7 % 5, 1 + n % 3);
        }
        let copied = Case::read(&text);
        let costing = cost_events(&copied.inputs()).unwrap();
        for allocation in costing.allocations() {
            assert_eq!(allocation.lot_id.as_str()[1..], allocation.sku.as_str()[1..], "{allocation:?}");
        }
        assert_eq!(costing.allocations().len(), 3000);
        assert_eq!(costing, cost_events(&with_sku_texts(&copied, true).inputs()).unwrap());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn a_share_in_integers_is_the_decimal_quotient_rounded(
        amount in -10_i64.pow(12)..10_i64.pow(12),
        amount_places in 0_u32..7,
        weight in 1_i64..1_000_000,
        more in 0_i64..1_000_000,
        quantity_places in 0_u32..4,
        extra_places in 0_u32..3,
    ) {
        // A pool's value, and a quantity out of a larger one held (both of one scale).
        let amount = Decimal::new(amount, amount_places);
        let (weight, total) = (Decimal::new(weight, quantity_places), Decimal::new(weight + more, quantity_places));
        let places = amount.normalize().scale().max(2) + extra_places;
        let by_decimals = (amount * weight / total)
            .round_dp_with_strategy(places, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
        prop_assert_eq!(rounded_share(amount, weight, total, places), Some(by_decimals));
    }

    #[test]
    fn a_share_of_figures_is_the_share_of_decimals_to_the_last_place(
        value in prop_oneof![Just(0_i64), -10_i64.pow(12)..10_i64.pow(12)],
        value_places in 0_u32..7,
        quantity in 1_i64..1_000_000,
        more in prop_oneof![Just(0_i64), -10_i64..1_000_000],
        quantity_places in 0_u32..4,
        held_places in 0_u32..4,
        half in any::<bool>(),
    ) {
        // What a sale at the moving average costs: the pool's value, the sale's quantity
        // and what is held (more, or as much or less: the last units take it all; or
        // twice as much, so that an odd value's share lies halfway between two places).
        let value = Decimal::new(value, value_places);
        let (more, held_places) = if half { (quantity, quantity_places) } else { (more, held_places) };
        let (quantity, held) = (Decimal::new(quantity, quantity_places), Decimal::new(quantity + more, held_places));
        let figure = |value| Figure::of(value).expect("no negative zero");
        let by_figures = share_of_figures(figure(value), figure(quantity), figure(held));
        let by_decimals = share_of(value, quantity, held);
        prop_assert!(by_figures.is_some() || held <= Decimal::ZERO && !value.is_zero());
        if let Some(share) = by_figures {
            prop_assert_eq!(format!("{:?}", share.decimal()), format!("{:?}", by_decimals.expect("a share")));
        }
    }

    #[test]
    fn every_movement_agrees_with_the_unit_by_unit_reference(case in any_method(false)) {
        let costing = cost_events(&case.inputs()).expect("valid histories cost");
        prop_assert_eq!(outcome_of(&costing), reference(&case));
    }

    #[test]
    fn a_split_rounds_to_the_places_its_amount_needs_at_least_cents(
        mantissa in prop_oneof![any::<i64>().prop_map(i128::from), -(1i128 << 95)..(1i128 << 95)],
        zeros in 0..12u32,
        scale in 0..=28u32,
    ) {
        // Trailing zeros often, and mantissas beyond 64 bits.
        let Some(mantissa) = 10i128.checked_pow(zeros).and_then(|power| mantissa.checked_mul(power)) else {
            return Ok(());
        };
        let Ok(amount) = Decimal::try_from_i128_with_scale(mantissa, scale) else { return Ok(()) };
        prop_assert_eq!(split_places(amount), amount.normalize().scale().max(2));
    }

    #[test]
    fn value_is_conserved_to_the_last_digit_landed_costs_included(case in any_schedule(true)) {
        let costing = cost_events(&case.inputs()).expect("valid histories cost");
        let (flows, closing) = value_balance(&case, &costing);
        prop_assert_eq!(flows, closing);
        // Every landed cost costed is placed whole: on hand, or where its units went.
        for landed in &case.landed_costs {
            let placed: Decimal = costing
                .movements
                .iter()
                .filter(|m| m.event_id == landed.landed_cost_id && m.kind.event_kind() == EventKind::LandedCost)
                .map(|m| m.cost)
                .sum();
            let skus_parked = costing.shortfalls.iter().any(|s| s.event_date <= landed.cost_date);
            prop_assert!(placed == landed.amount || skus_parked, "landed cost {} placed {placed}", landed.landed_cost_id);
        }
        for layer in &costing.layers {
            // At the average a layer's value beyond its unit cost may be negative, never its value.
            let value = layer.remaining_quantity * layer.unit_cost + layer.landed;
            prop_assert!(layer.remaining_quantity >= Decimal::ZERO && value >= Decimal::ZERO, "{:?}", layer);
            prop_assert!(!layer.remaining_quantity.is_zero() || layer.landed.is_zero(), "value without units in {}", layer.layer);
        }
        // Only what a sale carries beyond its layers' unit costs may be negative (the average below them).
        for movement in &costing.movements {
            prop_assert!(movement.cost >= Decimal::ZERO, "{:?}", movement);
        }
        for (sale, cost) in outcome_of(&costing).sale_costs {
            prop_assert!(cost >= Decimal::ZERO, "sale {sale} costs {cost}");
        }
    }

    #[test]
    fn the_order_inputs_come_in_does_not_matter(case in any_schedule(true)) {
        let shuffled = shuffled(&case);
        prop_assert_eq!(cost_events(&case.inputs()), cost_events(&shuffled.inputs()));
    }

    #[test]
    fn rows_that_share_their_sku_text_cost_as_rows_that_copy_it(case in any_schedule(true)) {
        // SKUs are numbered by where their text lies where rows share it.
        let (copied, shared) = (with_sku_texts(&case, false), with_sku_texts(&case, true));
        let costing = cost_events(&copied.inputs());
        prop_assert_eq!(&costing, &cost_events(&shared.inputs()));
        prop_assert_eq!(costing, cost_events(&case.inputs()));
    }

    #[test]
    fn each_sku_costed_alone_costs_as_in_one_pass_over_all(case in any_schedule(true)) {
        // How a run costs SKUs with movements: a few at a time, with the lots of other
        // SKUs in their deliveries only to spread landed costs over.
        let all = cost_events(&case.inputs()).expect("valid histories cost");
        for sku in ["K0", "K1", "K2"] {
            let mine = |s: &Sku| s.as_str() == sku;
            let (lots, others): (Vec<Lot>, Vec<Lot>) = case.lots.iter().cloned().partition(|l| mine(&l.sku));
            let sales: Vec<Sale> = case.sales.iter().filter(|s| mine(&s.sku)).cloned().collect();
            let sold: Vec<&SaleId> = sales.iter().map(|s| &s.sale_id).collect();
            let returns: Vec<CustomerReturn> = case.returns.iter().filter(|r| sold.contains(&&r.sale_id)).cloned().collect();
            let lot_ids: Vec<&LotId> = lots.iter().map(|l| &l.lot_id).collect();
            let sent: Vec<SupplierReturn> =
                case.supplier_returns.iter().filter(|r| lot_ids.contains(&&r.lot_id)).cloned().collect();
            let adjustments: Vec<Adjustment> = case.adjustments.iter().filter(|a| mine(&a.sku)).cloned().collect();
            let counts: Vec<StockCount> = case.counts.iter().filter(|c| mine(&c.sku)).cloned().collect();
            let transfers: Vec<Transfer> = case.transfers.iter().filter(|t| mine(&t.sku)).cloned().collect();
            let landed: Vec<LandedCost> = case
                .landed_costs
                .iter()
                .filter(|c| match &c.target {
                    LandedTarget::Lot(lot) => lot_ids.contains(&lot),
                    LandedTarget::Receipt(receipt) => lots.iter().any(|l| l.receipt_id.as_ref() == Some(receipt)),
                })
                .cloned()
                .collect();
            let alone = cost_events(&Inputs {
                methods: &case.methods,
                lots: &lots,
                spread_lots: &others,
                sales: &sales,
                returns: &returns,
                supplier_returns: &sent,
                adjustments: &adjustments,
                counts: &counts,
                landed_costs: &landed,
                transfers: &transfers,
            })
            .expect("a SKU of a valid history costs alone");
            let of_sku = |costing: &Costing| {
                (
                    costing.allocations().into_iter().filter(|a| mine(&a.sku)).collect::<Vec<_>>(),
                    costing.movements.iter().filter(|m| mine(&m.sku)).cloned().collect::<Vec<_>>(),
                    costing.shortfalls.iter().filter(|s| mine(&s.sku)).cloned().collect::<Vec<_>>(),
                    costing.layers.iter().filter(|l| mine(&l.sku)).cloned().collect::<Vec<_>>(),
                )
            };
            prop_assert_eq!(of_sku(&alone), of_sku(&all), "{}", sku);
        }
    }

    #[test]
    fn a_count_that_finds_what_is_on_hand_changes_no_figure_not_even_its_places(case in any_method(false)) {
        // Lots and sales alone are costed by the plain path where they can; a count
        // after them all, of what they leave at each location, sends every sale of its
        // SKU down the path that costs every movement. Compared as text, so that a
        // figure with other places (1.5 for 1.50) shows.
        let plain = Case { methods: case.methods, lots: case.lots, sales: case.sales, ..Case::default() };
        let costing = cost_events(&plain.inputs()).expect("valid histories cost");
        let mut on_hand: BTreeMap<(Sku, Location), Decimal> = BTreeMap::new();
        for layer in &costing.layers {
            *on_hand.entry((layer.sku.clone(), layer.location.clone())).or_default() += layer.remaining_quantity;
        }
        let counts = on_hand.into_iter().enumerate().map(|(i, ((sku, location), counted_quantity))| StockCount {
            count_id: event_id(&format!("C{i}")),
            sku,
            count_date: day(30, false),
            counted_quantity,
            unit_cost: None,
            location,
        });
        let counted = Case { counts: counts.collect(), ..plain.clone() };
        let text = |costing: &Costing| format!("{:?}", (costing.allocations(), &costing.layers, &costing.shortfalls));
        let recounted = cost_events(&counted.inputs()).expect("a count of what is there costs");
        prop_assert!(recounted.movements.is_empty());
        prop_assert_eq!(text(&recounted), text(&costing));
    }

    #[test]
    fn lots_and_sales_alone_cost_as_the_fifo_allocator_does(case in history(false)) {
        let case = Case { lots: case.lots, sales: case.sales, ..Case::default() };
        let costing = cost_events(&case.inputs()).expect("valid histories cost");
        let mut sales = case.sales.clone();
        sales.sort_by(|a, b| (&a.sku, a.costing_key()).cmp(&(&b.sku, b.costing_key())));
        let mut book = LotBook::new(case.lots.clone()).unwrap();
        let (allocations, shortfalls) = allocate_or_park(&mut book, &sales).unwrap();
        prop_assert_eq!(costing.allocations(), allocations);
        prop_assert_eq!(costing.shortfalls, shortfalls);
    }
}

#[test]
fn a_sale_id_given_twice_is_refused_naming_the_least_such_id_in_any_order() {
    // S2 twice (of two SKUs) and S1 twice (at two dates of one SKU): S1 is named, read
    // in either order, and whether or not a return names a sale.
    let mut case = Case::read(
        "lot L1 A 2024-01-01 10 1.00
         lot L2 B 2024-01-01 10 1.00
         sale S2 A 2024-01-02 1
         sale S1 A 2024-01-03 1
         sale S2 B 2024-01-04 1
         sale S1 A 2024-01-05 1",
    );
    let refused =
        Err(CostingError::InvalidEvent { kind: EventKind::Sale, id: "S1".into(), reason: "it appears twice".into() });
    assert_eq!(cost_events(&case.inputs()), refused);
    case.sales.reverse();
    assert_eq!(cost_events(&case.inputs()), refused);
    case.returns = Case::read("return R1 S2 2024-01-06 1 restock").returns;
    assert_eq!(cost_events(&case.inputs()), refused);
    // Before any other fault of a sale, wherever that sale is; then the first such.
    case.returns.clear();
    case.sales.insert(0, Case::read("sale S0 A 2024-01-02 1").sales.remove(0));
    case.sales[0].quantity_sold = Decimal::ZERO;
    assert_eq!(cost_events(&case.inputs()), refused);
    case.sales.retain(|sale| sale.sale_id.as_str() == "S0" || !["S1", "S2"].contains(&sale.sale_id.as_str()));
    case.sales.push(Case::read("sale S3 A 2024-01-07 1").sales.remove(0));
    case.sales[1].quantity_sold = -Decimal::ONE;
    let first = CostingError::NonPositiveSale { sale_id: case.sales[0].sale_id.clone(), quantity_sold: Decimal::ZERO };
    assert_eq!(cost_events(&case.inputs()), Err(first));
}

#[test]
fn a_failure_names_the_event_it_refuses() {
    let case = Case::read("adjust ADJ1 A 2024-01-02 0");
    assert_eq!(
        cost_events(&case.inputs()),
        Err(CostingError::InvalidEvent {
            kind: EventKind::Adjustment,
            id: "ADJ1".into(),
            reason: "its quantity is zero".into()
        })
    );
}

#[test]
fn a_sku_costed_alone_takes_its_share_of_a_delivery_it_shares_with_others() {
    // The same delivery as in the receipt case: B's lot takes 33.34 of 100.00 whether the
    // three SKUs are costed together or B alone with the others' lots to spread over.
    let all = Case::read(
        "lot L1 A 2024-01-01 10 1 PO1
         lot L2 B 2024-01-01 10 2 PO1
         lot L3 C 2024-01-01 10 3 PO1
         sale S1 B 2024-01-03 4
         landed F1 receipt:PO1 2024-01-02 100.00 quantity",
    );
    let together = cost_events(&all.inputs()).unwrap();
    let b_lots: Vec<Lot> = all.lots.iter().filter(|l| l.sku.as_str() == "B").cloned().collect();
    let others: Vec<Lot> = all.lots.iter().filter(|l| l.sku.as_str() != "B").cloned().collect();
    let alone = cost_events(&Inputs { lots: &b_lots, spread_lots: &others, ..all.inputs() }).unwrap();
    let of_b = |costing: &Costing| -> Vec<String> {
        render(costing).into_iter().filter(|line| line.contains(" L2 ") || line.starts_with("sale ")).collect()
    };
    assert_eq!(of_b(&alone), of_b(&together));
    assert_eq!(
        of_b(&alone),
        ["sale S1 L2 4 8", "sale_landed S1 L2 4 13.34", "landed_on_hand F1 L2 10 33.34", "layer L2 6 32"]
    );
}
