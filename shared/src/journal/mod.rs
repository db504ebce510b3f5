//! journal: pure renderers of balanced journal entries (Dr Cost of Goods Sold /
//! Cr Inventory) from allocations, in csv, json, QuickBooks IIF, Xero manual journal
//! and QuickBooks Online JournalEntry JSON. Depends on `model` and `money`.
//!
//! COGS is recognised when the sale happens (IAS 2 ¶34), so entries are dated by sale
//! date, in the configured UTC offset. Amounts stay exact until an entry is built;
//! then each line is rounded once to cents, half away from zero, and the rounding
//! residual of the entry goes to its largest line (largest-remainder), so every entry
//! totals its exact amount rounded, and debits equal credits to the cent.

/// Implements `FromStr` for a choice given on a command line or in a query string.
macro_rules! parse_choice {
    ($type:ty, $what:literal, $($text:literal => $value:expr),+) => {
        impl FromStr for $type {
            type Err = String;
            fn from_str(value: &str) -> Result<Self, String> {
                match value {
                    $($text => Ok($value),)+
                    other => Err(format!(concat!("unknown ", $what, " {:?}; choose one of {}"), other, [$($text),+].join(", "))),
                }
            }
        }
    };
}
mod render;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{Datelike, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use render::{Format, Rendered, render};

use crate::model::{Allocation, Sku};
use crate::money::{exact_add, exact_sum, to_cents};

/// A ledger account as the target system knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub code: String,
    pub name: String,
}

impl FromStr for Account {
    type Err = String;
    /// `CODE:NAME`, like `5000:Cost of Goods Sold`.
    fn from_str(value: &str) -> Result<Self, String> {
        let (code, name) =
            value.split_once(':').ok_or_else(|| format!("{value:?} is not CODE:NAME, like 5000:Cost of Goods Sold"))?;
        Ok(Account { code: code.trim().to_owned(), name: name.trim().to_owned() })
    }
}

/// Where the journal posts and how the ledger wants it: from configuration, so each
/// tenant can map its own chart of accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalConfig {
    pub cogs_account: Account,
    pub inventory_account: Account,
    /// Xero's TaxRate column wants a tax rate *name*; COGS journals carry no tax.
    pub xero_tax_rate: String,
    /// For a journal built in memory from allocations ([`build`]): the offset sale
    /// instants are converted with to find their accounting date. Journals from the
    /// database group days in the run's time zone instead (`db::journal_costs`).
    pub utc_offset: FixedOffset,
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            cogs_account: Account { code: "5000".into(), name: "Cost of Goods Sold".into() },
            inventory_account: Account { code: "1400".into(), name: "Inventory".into() },
            xero_tax_rate: "Tax Exempt".into(),
            utc_offset: FixedOffset::east_opt(0).expect("zero is a valid offset"),
        }
    }
}

/// How many entries a run's journal has: one per day of sales, one per month (dated
/// month end), or one for the whole run (dated at its last sale).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    #[default]
    Day,
    Month,
    Run,
}

/// Lines within an entry: a debit/credit pair per SKU, or one pair for everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineDetail {
    #[default]
    PerSku,
    Single,
}

parse_choice!(Period, "journal period", "day" => Period::Day, "month" => Period::Month, "run" => Period::Run);
parse_choice!(LineDetail, "line detail", "sku" => LineDetail::PerSku, "single" => LineDetail::Single);

/// What to build: the run's reference (used in journal numbers and narrations), the
/// grouping, and for a reversing journal the date to post it on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalRequest {
    pub reference: String,
    pub period: Period,
    pub detail: LineDetail,
    pub reversal_date: Option<NaiveDate>,
    /// The last day of the closed periods (the lock date): an entry dated on or before
    /// it is dated the day after instead, and its narration names the period it
    /// corrects.
    pub locked_through: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Debit,
    Credit,
}

/// One line: an account, a side and an amount in cents (never negative).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub account: Account,
    pub description: String,
    pub sku: Option<Sku>,
    pub side: Side,
    pub amount: Decimal,
}

/// One balanced journal entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub journal_number: String,
    pub date: NaiveDate,
    pub narration: String,
    pub lines: Vec<Line>,
}

impl Entry {
    pub fn total(&self, side: Side) -> Decimal {
        self.lines.iter().filter(|line| line.side == side).map(|line| line.amount).sum()
    }
}

/// A whole journal, ready to render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Journal {
    pub reference: String,
    pub reversal: bool,
    /// The tax rate name Xero's import wants on every line.
    pub xero_tax_rate: String,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("the journal total is too large to represent exactly")]
    Overflow,
}

/// The exact cost of one SKU's sales dated `date` (a day, or the date of the period
/// the day falls in): what a journal is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatedCost {
    pub date: NaiveDate,
    pub sku: Sku,
    pub cost: Decimal,
}

/// The accounting day of each allocation, with its cost.
pub fn daily_costs<'a>(
    allocations: &'a [Allocation],
    config: &'a JournalConfig,
) -> impl Iterator<Item = DatedCost> + 'a {
    allocations.iter().map(|allocation| DatedCost {
        date: allocation.sale_date.with_timezone(&config.utc_offset).date_naive(),
        sku: allocation.sku.clone(),
        cost: allocation.extended_cost,
    })
}

/// Builds the journal of a set of allocations (any order). See [`build_from_costs`].
pub fn build(
    allocations: &[Allocation],
    request: &JournalRequest,
    config: &JournalConfig,
) -> Result<Journal, JournalError> {
    build_from_costs(daily_costs(allocations, config), request, config)
}

/// Builds the journal of costs by day (or already by period, as the database sums
/// them), in any order. Entries come in date order, lines in SKU order; entries and
/// lines that round to zero are left out. Every entry balances: each SKU's debit and
/// credit carry the same amount.
pub fn build_from_costs(
    costs: impl IntoIterator<Item = DatedCost>,
    request: &JournalRequest,
    config: &JournalConfig,
) -> Result<Journal, JournalError> {
    // Exact cost per (period date, SKU).
    let mut exact: BTreeMap<NaiveDate, BTreeMap<Sku, Decimal>> = BTreeMap::new();
    for cost in costs {
        let date = match request.period {
            Period::Day | Period::Run => cost.date,
            Period::Month => month_end(cost.date),
        };
        let sku_total = exact.entry(date).or_default().entry(cost.sku).or_insert(Decimal::ZERO);
        *sku_total = exact_add(*sku_total, cost.cost).ok_or(JournalError::Overflow)?;
    }
    if request.period == Period::Run
        && let Some(last_day) = exact.keys().next_back().copied()
    {
        // One entry, dated at the last sale.
        let mut by_sku: BTreeMap<Sku, Decimal> = BTreeMap::new();
        for (sku, cost) in exact.into_values().flatten() {
            let sku_total = by_sku.entry(sku).or_insert(Decimal::ZERO);
            *sku_total = exact_add(*sku_total, cost).ok_or(JournalError::Overflow)?;
        }
        exact = BTreeMap::from([(last_day, by_sku)]);
    }
    let mut entries = Vec::with_capacity(exact.len());
    for (date, by_sku) in exact {
        let amounts: Vec<(Option<&Sku>, Decimal)> = match request.detail {
            LineDetail::PerSku => by_sku.iter().map(|(sku, amount)| (Some(sku), *amount)).collect(),
            LineDetail::Single => {
                vec![(None, exact_sum(by_sku.values().copied()).ok_or(JournalError::Overflow)?)]
            }
        };
        if let Some(entry) = entry(date, amounts, request, config)? {
            entries.push(entry);
        }
    }
    // Renderers total the whole journal; that total must fit too.
    exact_sum(entries.iter().map(|entry| entry.total(Side::Debit))).ok_or(JournalError::Overflow)?;
    Ok(Journal {
        reference: request.reference.clone(),
        reversal: request.reversal_date.is_some(),
        xero_tax_rate: config.xero_tax_rate.clone(),
        entries,
    })
}

fn month_end(day: NaiveDate) -> NaiveDate {
    let (year, month) = if day.month() == 12 { (day.year() + 1, 1) } else { (day.year(), day.month() + 1) };
    NaiveDate::from_ymd_opt(year, month, 1)
        .and_then(|first| first.pred_opt())
        .expect("the day before a month's first exists")
}

/// Rounds each amount to cents and gives the entry's rounding residual to its largest
/// line (by size, whatever its sign), so the lines add up to the exact total rounded
/// once.
fn rounded_lines(amounts: &[(Option<&Sku>, Decimal)]) -> Result<Vec<Decimal>, JournalError> {
    let total = exact_sum(amounts.iter().map(|(_, amount)| *amount)).ok_or(JournalError::Overflow)?;
    let mut cents: Vec<Decimal> = amounts.iter().map(|(_, amount)| to_cents(*amount)).collect();
    let residual = to_cents(total) - cents.iter().sum::<Decimal>();
    if !residual.is_zero() {
        let largest = (0..amounts.len())
            .max_by(|&a, &b| amounts[a].1.abs().cmp(&amounts[b].1.abs()).then(b.cmp(&a)))
            .expect("an entry has lines");
        cents[largest] += residual;
    }
    Ok(cents)
}

fn entry(
    date: NaiveDate,
    amounts: Vec<(Option<&Sku>, Decimal)>,
    request: &JournalRequest,
    config: &JournalConfig,
) -> Result<Option<Entry>, JournalError> {
    let cents = rounded_lines(&amounts)?;
    let period = match request.period {
        Period::Day => date.format("%Y%m%d").to_string(),
        Period::Month => date.format("%Y%m").to_string(),
        Period::Run => String::new(),
    };
    let mut journal_number = [request.reference.as_str(), period.as_str()]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("-");
    let mut narration = format!("FIFO COGS {} {}", request.reference, date.format("%Y-%m-%d"));
    let (mut debit, mut credit) = (&config.cogs_account, &config.inventory_account);
    let mut entry_date = date;
    if let Some(lock_date) = request.locked_through
        && date <= lock_date
    {
        entry_date = lock_date.succ_opt().unwrap_or(lock_date);
        let corrected = match request.period {
            Period::Month => date.format("%Y-%m").to_string(),
            Period::Day | Period::Run => date.format("%Y-%m-%d").to_string(),
        };
        narration = format!("{narration} (corrects closed period {corrected})");
    }
    if let Some(reversal_date) = request.reversal_date {
        journal_number = format!("REV-{journal_number}");
        narration = format!("Reversal of {narration}");
        (debit, credit) = (credit, debit);
        entry_date = reversal_date;
    }
    let mut lines = Vec::with_capacity(amounts.len() * 2);
    for ((sku, _), amount) in amounts.into_iter().zip(cents).filter(|(_, cents)| !cents.is_zero()) {
        // A negative difference (a correction that lowered the cost of sales) swaps
        // the sides: Dr Inventory / Cr Cost of Goods Sold.
        let (debit, credit, amount) =
            if amount.is_sign_negative() { (credit, debit, -amount) } else { (debit, credit, amount) };
        let about = sku.map_or_else(|| request.reference.clone(), ToString::to_string);
        lines.push(Line {
            account: debit.clone(),
            description: format!("{} {about}", debit.name),
            sku: sku.cloned(),
            side: Side::Debit,
            amount,
        });
        lines.push(Line {
            account: credit.clone(),
            description: format!("{} {about}", credit.name),
            sku: sku.cloned(),
            side: Side::Credit,
            amount,
        });
    }
    if lines.is_empty() {
        return Ok(None);
    }
    let entry = Entry { journal_number, date: entry_date, narration, lines };
    assert_eq!(entry.total(Side::Debit), entry.total(Side::Credit), "each line pair carries one amount");
    Ok(Some(entry))
}
