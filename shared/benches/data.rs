//! Reference benchmark data in memory: 10,000 SKUs, 10 lots each over 2024, 100 sales
//! each that never oversell, in costing order. Deterministic.

use chrono::{DateTime, TimeZone, Utc};
use cogs_core::model::{Lot, LotId, Sale, SaleId, Sku};
use rust_decimal::Decimal;

pub const SKUS: u64 = 10_000;
pub const LOTS_PER_SKU: u64 = 10;
pub const SALES_PER_SKU: u64 = 100;

fn at(second: u64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_704_067_200 + second as i64, 0).single().expect("2024 is representable")
}

/// Lots and sales; sales sorted by (sale_date, sale_id).
pub fn reference() -> (Vec<Lot>, Vec<Sale>) {
    let mut state = 42_u64;
    let mut next = move |low: u64, high: u64| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        low + (state >> 33) % (high - low + 1)
    };
    let year = 365 * 86_400;
    let (mut lots, mut sales) = (Vec::new(), Vec::new());
    for sku in 0..SKUS {
        let name = Sku::parse(format!("SKU-{sku:05}")).expect("valid sku");
        let mut arrivals: Vec<(u64, u64)> =
            (0..LOTS_PER_SKU).map(|i| (if i == 0 { 0 } else { next(0, year) }, next(50, 400))).collect();
        arrivals.sort_unstable();
        for (i, (second, quantity)) in arrivals.iter().enumerate() {
            lots.push(Lot {
                lot_id: LotId::parse(format!("L{sku:05}-{i:02}")).expect("valid id"),
                sku: name.clone(),
                received_date: at(*second),
                original_quantity: Decimal::from(*quantity),
                remaining_quantity: Decimal::from(*quantity),
                unit_price: Decimal::new(next(100, 99_999) as i64, 2),
                freight_cost_per_unit: Decimal::new(next(0, 999) as i64, 3),
                receipt_id: None,
                location: Default::default(),
            });
        }
        let mut times: Vec<u64> = (0..SALES_PER_SKU).map(|_| next(3600, year)).collect();
        times.sort_unstable();
        let (mut received, mut sold, mut arrived) = (0, 0, 0);
        for (i, second) in times.into_iter().enumerate() {
            while arrived < arrivals.len() && arrivals[arrived].0 <= second {
                received += arrivals[arrived].1;
                arrived += 1;
            }
            let quantity = next(1, 12).min(received - sold);
            if quantity == 0 {
                continue;
            }
            sold += quantity;
            sales.push(Sale {
                sale_id: SaleId::parse(format!("S{sku:05}-{i:03}")).expect("valid id"),
                sku: name.clone(),
                sale_date: at(second),
                quantity_sold: Decimal::from(quantity),
                lot_id: None,
                location: Default::default(),
            });
        }
    }
    sales.sort_by(|a, b| a.costing_key().cmp(&b.costing_key()));
    (lots, sales)
}
