//! Engine behaviour, one rule per test, written as compact cases:
//!
//! ```text
//! lot  LOT_ID SKU RECEIVED REMAINING UNIT_PRICE FREIGHT
//! sale SALE_ID SKU SOLD_AT QUANTITY
//! =>
//! SALE_ID LOT_ID QUANTITY UNIT_COST EXTENDED_COST      (one line per allocation)
//! error insufficient SALE_ID REQUESTED AVAILABLE       (or the expected failure)
//! ```
//! Dates are `YYYY-MM-DD` (midnight UTC) or RFC 3339. Sales are given in costing order.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::model::{Lot, LotId, Sale, SaleId, Sku};

pub(super) fn d(s: &str) -> Decimal {
    Decimal::from_str_exact(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

pub(super) fn date(s: &str) -> Timestamp {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_else(|_| {
        let day = NaiveDate::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap())
    })
}

fn lot(id: &str, sku: &str, received: &str, remaining: &str, price: &str, freight: &str) -> Lot {
    Lot {
        lot_id: LotId::parse(id).unwrap(),
        sku: Sku::parse(sku).unwrap(),
        received_date: date(received),
        original_quantity: d(remaining).max(Decimal::ONE),
        remaining_quantity: d(remaining),
        unit_price: d(price),
        freight_cost_per_unit: d(freight),
        receipt_id: None,
        location: Default::default(),
    }
}

fn sale(id: &str, sku: &str, sold_at: &str, quantity: &str) -> Sale {
    Sale {
        sale_id: SaleId::parse(id).unwrap(),
        sku: Sku::parse(sku).unwrap(),
        sale_date: date(sold_at),
        quantity_sold: d(quantity),
        lot_id: None,
        location: Default::default(),
    }
}

fn render(allocations: &[Allocation]) -> Vec<String> {
    allocations
        .iter()
        .map(|a| {
            format!(
                "{} {} {} {} {}",
                a.sale_id,
                a.lot_id,
                a.quantity.normalize(),
                a.unit_cost.normalize(),
                a.extended_cost.normalize()
            )
        })
        .collect()
}

fn render_error(error: &CostingError) -> String {
    match error {
        CostingError::InsufficientInventory { sale_id, requested, available, .. } => {
            format!("error insufficient {sale_id} {} {}", requested.normalize(), available.normalize())
        }
        CostingError::SalesOutOfOrder { sale_id, previous_sale_id } => {
            format!("error out-of-order {sale_id} after {previous_sale_id}")
        }
        other => format!("error {other}"),
    }
}

/// Runs one compact case and compares the outcome line by line.
fn check(case: &str) {
    let (input, expected) = case.split_once("=>").expect("a case has `=>`");
    let mut lots = Vec::new();
    let mut sales = Vec::new();
    for line in input.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["lot", id, sku, received, remaining, price, freight] => {
                lots.push(lot(id, sku, received, remaining, price, freight))
            }
            ["sale", id, sku, sold_at, quantity] => sales.push(sale(id, sku, sold_at, quantity)),
            _ => panic!("cannot read case line {line:?}"),
        }
    }
    let expected: Vec<String> = expected
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    let actual = match LotBook::new(lots).and_then(|mut book| allocate(&mut book, &sales)) {
        Ok(allocations) => render(&allocations),
        Err(error) => vec![render_error(&error)],
    };
    assert_eq!(actual, expected);
}

#[test]
fn a_sale_draws_on_the_oldest_lot_first() {
    check(
        "lot L2 A 2024-01-05 10 2.00 0
         lot L1 A 2024-01-01 10 1.00 0
         sale S1 A 2024-01-10 4
         =>
         S1 L1 4 1 4",
    );
}

#[test]
fn a_sale_spans_lots_when_the_oldest_runs_out() {
    check(
        "lot L1 A 2024-01-01 10 1.00 0.10
         lot L2 A 2024-01-05 5 2 0
         sale S1 A 2024-01-06 12
         =>
         S1 L1 10 1.1 11
         S1 L2 2 2 4",
    );
}

#[test]
fn unit_cost_is_price_plus_freight_and_cost_is_exact() {
    check(
        "lot L1 A 2024-01-01 10 3.333 0.0015
         sale S1 A 2024-01-02 3
         =>
         S1 L1 3 3.3345 10.0035",
    );
}

#[test]
fn fractional_quantities_are_costed_exactly() {
    check(
        "lot L1 A 2024-01-01 2.5 4.00 0
         lot L2 A 2024-01-02 10 5.00 0
         sale S1 A 2024-01-03 3.75
         =>
         S1 L1 2.5 4 10
         S1 L2 1.25 5 6.25",
    );
}

#[test]
fn sales_are_costed_in_date_order_then_by_id() {
    check(
        "lot L1 A 2024-01-01 1 1 0
         lot L2 A 2024-01-01 1 2 0
         sale S1 A 2024-02-01 1
         sale S2 A 2024-02-01 1
         =>
         S1 L1 1 1 1
         S2 L2 1 2 2",
    );
}

#[test]
fn lots_received_at_the_same_instant_are_taken_in_lot_id_order() {
    check(
        "lot B A 2024-01-01 1 2 0
         lot A A 2024-01-01 1 1 0
         sale S1 A 2024-01-02 2
         =>
         S1 A 1 1 1
         S1 B 1 2 2",
    );
}

#[test]
fn a_lot_received_at_the_sale_instant_is_available() {
    check(
        "lot L1 A 2024-01-01T10:00:00Z 5 1 0
         sale S1 A 2024-01-01T10:00:00Z 5
         =>
         S1 L1 5 1 5",
    );
}

#[test]
fn a_lot_received_after_the_sale_is_not_available() {
    check(
        "lot L1 A 2024-01-01T10:00:00.001Z 5 1 0
         sale S1 A 2024-01-01T10:00:00Z 5
         =>
         error insufficient S1 5 0",
    );
}

#[test]
fn a_later_lot_is_not_used_even_when_an_earlier_sale_drained_the_older_ones() {
    check(
        "lot L1 A 2024-01-01 5 1 0
         lot L2 A 2024-03-01 5 2 0
         sale S1 A 2024-02-01 5
         sale S2 A 2024-02-02 1
         =>
         error insufficient S2 1 0",
    );
}

#[test]
fn offsets_are_compared_as_instants() {
    // 09:00 at +02:00 is 07:00 UTC, before the 08:00 UTC sale.
    check(
        "lot L1 A 2024-01-01T09:00:00+02:00 5 1 0
         sale S1 A 2024-01-01T08:00:00Z 5
         =>
         S1 L1 5 1 5",
    );
}

#[test]
fn lots_of_another_sku_are_never_used() {
    check(
        "lot L1 B 2024-01-01 10 1 0
         sale S1 A 2024-01-02 1
         =>
         error insufficient S1 1 0",
    );
}

#[test]
fn a_lot_starts_from_its_remaining_quantity() {
    check(
        "lot L1 A 2024-01-01 2 1 0
         lot L2 A 2024-01-02 10 2 0
         sale S1 A 2024-01-03 3
         =>
         S1 L1 2 1 2
         S1 L2 1 2 2",
    );
}

#[test]
fn an_empty_lot_is_skipped() {
    check(
        "lot L1 A 2024-01-01 0 1 0
         lot L2 A 2024-01-02 10 2 0
         sale S1 A 2024-01-03 1
         =>
         S1 L2 1 2 2",
    );
}

#[test]
fn insufficient_inventory_names_the_first_uncovered_sale_with_what_was_available() {
    check(
        "lot L1 A 2024-01-01 5 1 0
         sale S1 A 2024-01-02 3
         sale S2 A 2024-01-03 4
         sale S3 A 2024-01-04 9
         =>
         error insufficient S2 4 2",
    );
}

#[test]
fn a_zero_cost_lot_is_costed_at_zero() {
    check(
        "lot FREE A 2024-01-01 5 0 0
         sale S1 A 2024-01-02 2
         =>
         S1 FREE 2 0 0",
    );
}

#[test]
fn sales_out_of_order_are_refused() {
    check(
        "lot L1 A 2024-01-01 5 1 0
         sale S2 A 2024-01-03 1
         sale S1 A 2024-01-02 1
         =>
         error out-of-order S1 after S2",
    );
}

#[test]
fn a_sale_given_twice_is_refused_as_out_of_order() {
    check(
        "lot L1 A 2024-01-01 5 1 0
         sale S1 A 2024-01-02 1
         sale S1 A 2024-01-02 1
         =>
         error out-of-order S1 after S1",
    );
}

#[test]
fn a_lot_given_twice_is_refused() {
    check(
        "lot L1 A 2024-01-01 5 1 0
         lot L1 B 2024-01-01 5 1 0
         =>
         error lot L1 appears twice",
    );
}

#[test]
fn a_non_positive_sale_is_refused() {
    check(
        "lot L1 A 2024-01-01 5 1 0
         sale S1 A 2024-01-02 0
         =>
         error sale S1 has quantity_sold 0; it must be greater than zero",
    );
}

#[test]
fn a_negative_price_is_refused() {
    check(
        "lot L1 A 2024-01-01 5 -1 0
         =>
         error lot L1 is invalid: unit_price and freight_cost_per_unit must not be negative",
    );
}

#[test]
fn a_cost_too_large_to_be_exact_is_an_error_not_a_panic() {
    check(
        "lot L1 A 2024-01-01 1.0000000000000000000000000001 99999999999999999999.000001 0
         sale S1 A 2024-01-02 1.0000000000000000000000000001
         =>
         error the cost of sale S1 from lot L1 is too large to represent exactly",
    );
}

#[test]
fn a_failed_call_leaves_the_book_exactly_as_it_was() {
    let mut book =
        LotBook::new([lot("L1", "A", "2024-01-01", "5", "1", "0"), lot("L2", "A", "2024-01-02", "5", "2", "0")])
            .unwrap();
    let before: Vec<BookLot> = book.lots().cloned().collect();
    let sales = [sale("S1", "A", "2024-01-03", "7"), sale("S2", "A", "2024-01-04", "4")];

    let error = allocate(&mut book, &sales).unwrap_err();

    assert!(matches!(error, CostingError::InsufficientInventory { .. }));
    assert_eq!(book.lots().cloned().collect::<Vec<_>>(), before);
    // And the book still works from where it was: the first sale alone succeeds.
    assert_eq!(render(&allocate(&mut book, &sales[..1]).unwrap()), ["S1 L1 5 1 5", "S1 L2 2 2 4"]);
}

#[test]
fn the_order_of_sales_is_checked_across_chunks() {
    let mut book = LotBook::new([lot("L1", "A", "2024-01-01", "5", "1", "0")]).unwrap();
    allocate(&mut book, &[sale("S2", "A", "2024-01-03", "1")]).unwrap();

    let error = allocate(&mut book, &[sale("S1", "A", "2024-01-02", "1")]).unwrap_err();

    assert!(matches!(error, CostingError::SalesOutOfOrder { .. }));
}

// ---- properties ----

/// Small random inventories: a few SKUs, lots over ten days, integer or half quantities
/// so the unit-by-unit reference below can follow along.
#[derive(Debug, Clone)]
struct Scenario {
    lots: Vec<Lot>,
    sales: Vec<Sale>,
}

fn day(n: u32) -> Timestamp {
    Utc.with_ymd_and_hms(2024, 1, 1 + n, 0, 0, 0).unwrap()
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let lots = prop::collection::vec((0..3u8, 0..10u32, 0..8u32, 0..2000u32, 0..300u32), 0..12);
    let sales = prop::collection::vec((0..3u8, 0..10u32, 1..6u32), 0..20);
    (lots, sales).prop_map(|(lots, sales)| {
        let lots = lots
            .into_iter()
            .enumerate()
            .map(|(i, (sku, received, quantity, price_cents, freight_cents))| Lot {
                lot_id: LotId::parse(format!("L{i:02}")).unwrap(),
                sku: Sku::parse(format!("SKU{sku}")).unwrap(),
                received_date: day(received),
                original_quantity: Decimal::from(quantity + 1),
                remaining_quantity: Decimal::from(quantity),
                unit_price: Decimal::new(i64::from(price_cents), 2),
                freight_cost_per_unit: Decimal::new(i64::from(freight_cents), 3),
                receipt_id: None,
                location: Default::default(),
            })
            .collect();
        let mut sales: Vec<Sale> = sales
            .into_iter()
            .enumerate()
            .map(|(i, (sku, sold, quantity))| Sale {
                sale_id: SaleId::parse(format!("S{i:02}")).unwrap(),
                sku: Sku::parse(format!("SKU{sku}")).unwrap(),
                sale_date: day(sold),
                quantity_sold: Decimal::from(quantity),
                lot_id: None,
                location: Default::default(),
            })
            .collect();
        sales.sort_by(|a, b| a.costing_key().cmp(&b.costing_key()));
        Scenario { lots, sales }
    })
}

/// The deliberately naive reference: one unit at a time, scanning every lot each time.
fn reference(lots: &[Lot], sales: &[Sale]) -> Result<Vec<(SaleId, LotId, Decimal)>, SaleId> {
    let mut remaining: BTreeMap<(Timestamp, LotId), (Sku, Decimal)> =
        lots.iter().map(|l| ((l.received_date, l.lot_id.clone()), (l.sku.clone(), l.remaining_quantity))).collect();
    let mut taken: Vec<(SaleId, LotId, Decimal)> = Vec::new();
    for sale in sales {
        let mut units = sale.quantity_sold;
        while units > Decimal::ZERO {
            let oldest = remaining.iter_mut().find(|((received, _), (sku, left))| {
                *sku == sale.sku && *received <= sale.sale_date && *left > Decimal::ZERO
            });
            let Some(((_, lot_id), (_, left))) = oldest else { return Err(sale.sale_id.clone()) };
            *left -= Decimal::ONE;
            units -= Decimal::ONE;
            match taken.last_mut() {
                Some((s, l, q)) if *s == sale.sale_id && l == lot_id => *q += Decimal::ONE,
                _ => taken.push((sale.sale_id.clone(), lot_id.clone(), Decimal::ONE)),
            }
        }
    }
    Ok(taken)
}

fn unit_costs(lots: &[Lot]) -> BTreeMap<LotId, Decimal> {
    lots.iter().map(|l| (l.lot_id.clone(), l.unit_cost().unwrap())).collect()
}

proptest! {
    #[test]
    fn the_engine_agrees_with_the_unit_by_unit_reference(s in scenario()) {
        let engine = LotBook::new(s.lots.clone()).and_then(|mut book| allocate(&mut book, &s.sales));
        match (engine, reference(&s.lots, &s.sales)) {
            (Ok(allocations), Ok(expected)) => {
                let actual: Vec<_> = allocations.iter().map(|a| (a.sale_id.clone(), a.lot_id.clone(), a.quantity)).collect();
                prop_assert_eq!(actual, expected);
            }
            (Err(CostingError::InsufficientInventory { sale_id, .. }), Err(expected)) => prop_assert_eq!(sale_id, expected),
            (engine, expected) => prop_assert!(false, "engine {:?} but reference {:?}", engine, expected),
        }
    }

    #[test]
    fn quantity_is_conserved_and_no_lot_goes_negative(s in scenario()) {
        let mut book = LotBook::new(s.lots.clone()).unwrap();
        if let Ok(allocations) = allocate(&mut book, &s.sales) {
            for sale in &s.sales {
                let allocated: Decimal = allocations.iter().filter(|a| a.sale_id == sale.sale_id).map(|a| a.quantity).sum();
                prop_assert_eq!(allocated, sale.quantity_sold);
            }
            for lot in &s.lots {
                let after = book.lots().find(|b| b.lot_id == lot.lot_id).unwrap().remaining_quantity;
                let used: Decimal = allocations.iter().filter(|a| a.lot_id == lot.lot_id).map(|a| a.quantity).sum();
                prop_assert!(after >= Decimal::ZERO);
                prop_assert_eq!(after + used, lot.remaining_quantity);
            }
        }
    }

    #[test]
    fn cost_is_quantity_times_the_lot_unit_cost(s in scenario()) {
        let costs = unit_costs(&s.lots);
        let mut book = LotBook::new(s.lots.clone()).unwrap();
        if let Ok(allocations) = allocate(&mut book, &s.sales) {
            for a in &allocations {
                prop_assert_eq!(a.unit_cost, costs[&a.lot_id]);
                prop_assert_eq!(a.extended_cost, a.quantity * costs[&a.lot_id]);
            }
        }
    }

    #[test]
    fn any_chunking_gives_the_allocations_of_one_pass(s in scenario(), chunk in 1..8usize) {
        let mut whole = LotBook::new(s.lots.clone()).unwrap();
        let one_pass = allocate(&mut whole, &s.sales);
        let mut chunked_book = LotBook::new(s.lots.clone()).unwrap();
        let mut chunked = Vec::new();
        let mut failure = None;
        for sales in s.sales.chunks(chunk) {
            match allocate(&mut chunked_book, sales) {
                Ok(allocations) => chunked.extend(allocations),
                Err(error) => { failure = Some(error); break; }
            }
        }
        match (one_pass, failure) {
            (Ok(expected), None) => {
                prop_assert_eq!(chunked, expected);
                prop_assert_eq!(chunked_book.lots().collect::<Vec<_>>(), whole.lots().collect::<Vec<_>>());
            }
            (Err(expected), Some(error)) => prop_assert_eq!(error, expected),
            (one_pass, failure) => prop_assert!(false, "one pass {:?}, chunked failure {:?}", one_pass, failure),
        }
    }

    #[test]
    fn sales_sorted_by_sku_in_chunks_give_the_allocations_of_date_order(s in scenario(), chunk in 1..8usize) {
        let mut by_date = LotBook::new(s.lots.clone()).unwrap();
        let Ok(mut expected) = allocate(&mut by_date, &s.sales) else { return Ok(()) };
        let mut by_sku = s.sales.clone();
        by_sku.sort_by(|a, b| (&a.sku, a.sale_date, &a.sale_id).cmp(&(&b.sku, b.sale_date, &b.sale_id)));
        let mut book = LotBook::new(s.lots.clone()).unwrap();
        let mut actual = Vec::new();
        for sales in by_sku.chunks(chunk) {
            actual.extend(allocate(&mut book, sales).unwrap());
        }
        let key = |a: &Allocation| (a.sale_id.clone(), a.lot_id.clone());
        expected.sort_by_key(key);
        actual.sort_by_key(key);
        prop_assert_eq!(actual, expected);
        let mut left: Vec<_> = book.lots().cloned().collect();
        let mut expected_left: Vec<_> = by_date.lots().cloned().collect();
        left.sort_by(|a, b| a.lot_id.cmp(&b.lot_id));
        expected_left.sort_by(|a, b| a.lot_id.cmp(&b.lot_id));
        prop_assert_eq!(left, expected_left);
    }
}

#[test]
fn an_uncovered_sale_parks_its_sku_and_the_others_are_costed() {
    let mut book =
        LotBook::new(vec![lot("LA", "A", "2024-01-01", "5", "1", "0"), lot("LB", "B", "2024-01-01", "5", "2", "0")])
            .unwrap();
    let sales = [
        sale("A1", "A", "2024-01-02", "3"),
        sale("A2", "A", "2024-01-03", "4"),
        sale("A3", "A", "2024-01-04", "1"),
        sale("B1", "B", "2024-01-02", "5"),
    ];

    let (allocations, shortfalls) = allocate_or_park(&mut book, &sales).unwrap();

    assert_eq!(render(&allocations), ["A1 LA 3 1 3", "B1 LB 5 2 10"], "A3 would fit, but A is parked at A2");
    let parked: Vec<(&str, &str, String, String)> = shortfalls
        .iter()
        .map(|s| (s.sku.as_str(), s.event_id.as_str(), s.quantity_short.to_string(), s.on_hand.to_string()))
        .collect();
    assert_eq!(parked, [("A", "A2", "2".to_owned(), "2".to_owned())]);
    let left: Vec<String> = book.lots().map(|lot| format!("{}={}", lot.lot_id, lot.remaining_quantity)).collect();
    assert_eq!(left, ["LA=2", "LB=0"]);
}

#[test]
fn a_sku_without_any_lot_parks_at_its_first_sale() {
    let mut book = LotBook::new(vec![lot("LB", "B", "2024-01-01", "5", "2", "0")]).unwrap();
    let sales = [sale("A1", "A", "2024-01-02", "3"), sale("B1", "B", "2024-01-02", "1")];

    let (allocations, shortfalls) = allocate_or_park(&mut book, &sales).unwrap();

    assert_eq!(render(&allocations), ["B1 LB 1 2 2"]);
    assert_eq!((shortfalls[0].event_id.as_str(), shortfalls[0].on_hand), ("A1", Decimal::ZERO));
}
