//! The journal on arbitrary allocations: for every grouping and every format, the
//! journal builds or reports an overflow, never panics, every entry balances, the
//! entries add up to the exact total rounded once (to within half a cent per possible
//! entry: each entry is rounded on its own, and one that rounds to zero is left out),
//! and every renderer produces output.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use chrono::{DateTime, Datelike, Duration, FixedOffset};
use cogs_core::journal::{self, Format, JournalConfig, JournalRequest, LineDetail, Period, Side};
use cogs_core::model::{Allocation, LotId, Method, SaleId, Sku};
use cogs_core::money::{exact_mul, exact_sum, to_cents};
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;

#[derive(Debug, Arbitrary)]
struct Line {
    sku: u8,
    minutes: u32,
    quantity: (u32, u8),
    unit_cost: (i64, u8),
}

#[derive(Debug, Arbitrary)]
struct Input {
    lines: Vec<Line>,
    offset_minutes: i16,
    reversal: bool,
    sku_names: Vec<String>,
}

fn decimal((mantissa, scale): (i64, u8)) -> Decimal {
    Decimal::try_from_i128_with_scale(i128::from(mantissa.unsigned_abs()), u32::from(scale % 29)).unwrap_or_default()
}

fuzz_target!(|input: Input| {
    let start = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z").expect("a valid instant").to_utc();
    let names: Vec<Sku> = input.sku_names.iter().filter_map(|name| Sku::parse(name.as_str()).ok()).collect();
    let mut allocations = Vec::new();
    for (i, line) in input.lines.iter().enumerate() {
        let quantity = decimal((i64::from(line.quantity.0), line.quantity.1 % 7));
        let unit_cost = decimal(line.unit_cost);
        let Some(extended_cost) = exact_mul(quantity, unit_cost) else { return };
        if quantity.is_zero() {
            continue;
        }
        let sku = names
            .get(usize::from(line.sku) % names.len().max(1))
            .cloned()
            .unwrap_or_else(|| Sku::parse(format!("SKU{}", line.sku)).expect("a valid SKU"));
        allocations.push(Allocation {
            sale_id: SaleId::parse(format!("S{i}")).expect("a valid id"),
            lot_id: LotId::parse(format!("L{i}")).expect("a valid id"),
            sku,
            sale_date: start + Duration::minutes(i64::from(line.minutes % 1_000_000)),
            quantity,
            unit_cost,
            extended_cost,
            landed: Decimal::ZERO,
        });
    }
    let Some(offset) = FixedOffset::east_opt(i32::from(input.offset_minutes % 1440) * 60) else { return };
    let config = JournalConfig { utc_offset: offset, ..JournalConfig::default() };
    let exact_total = exact_sum(allocations.iter().map(|a| a.extended_cost));
    for period in [Period::Day, Period::Month, Period::Run] {
        for detail in [LineDetail::PerSku, LineDetail::Single] {
            let reversal_date = input.reversal.then(|| start.date_naive());
            let request = JournalRequest {
                reference: "fuzz".into(),
                period,
                detail,
                reversal_date,
                locked_through: None,
                method: Method::Fifo,
            };
            let Ok(journal) = journal::build(&allocations, &[], &[], &request, &config) else { continue };
            // Entries each fit; their sum may not, and then neither does the exact total.
            let mut total = Some(Decimal::ZERO);
            for entry in &journal.entries {
                assert_eq!(entry.total(Side::Debit), entry.total(Side::Credit), "an entry balances");
                total = total.and_then(|total| total.checked_add(entry.total(Side::Debit)));
            }
            if let (Some(exact), Some(total)) = (exact_total, total) {
                let dates: BTreeSet<(i32, u32, u32)> = allocations
                    .iter()
                    .map(|a| a.sale_date.with_timezone(&offset).date_naive())
                    .map(|day| match period {
                        Period::Day => (day.year(), day.month(), day.day()),
                        Period::Month => (day.year(), day.month(), 0),
                        Period::Run => (0, 0, 0),
                    })
                    .collect();
                let drift = (to_cents(exact) - total).abs();
                assert!(drift <= Decimal::new(dates.len() as i64 * 5, 3), "entries add up to the total");
            }
            for format in [Format::Csv, Format::Json, Format::Iif, Format::Xero, Format::Qbo] {
                let rendered = journal::render(&journal, format);
                assert!(!rendered.body.is_empty() || journal.entries.is_empty());
            }
        }
    }
});
