//! journal: pure renderers of balanced journal entries from what costing moved (a
//! sale: Dr Cost of Goods Sold / Cr Inventory; a return, a write-off, a landed cost:
//! the accounts LEDGER.md's table of events gives), in csv, json, QuickBooks IIF, Xero
//! manual journal and QuickBooks Online JournalEntry JSON, with each tenant's accounts.
//! Depends on `model` and `money`.
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
mod accounts;
mod render;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::{Datelike, FixedOffset, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub use accounts::{Account, ChartOfAccounts, SkuRule, XeroTracking};
pub use render::{FileType, Format, Rendered, file_type, render, write};

use crate::model::{AccountKind, Allocation, EventId, Location, Method, Movement, MovementKind, Sale, SaleId, Sku};
use crate::money::{exact_add, exact_sum, to_cents};

/// Where the journal posts and how the ledger wants it: the deployment's defaults with
/// each tenant's own accounts and options put over them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalConfig {
    pub chart: ChartOfAccounts,
    /// Xero's TaxRate column wants a tax rate *name*; inventory journals carry no tax.
    pub xero_tax_rate: String,
    pub xero_tracking: Option<XeroTracking>,
    /// The QuickBooks class (`ClassRef`; IIF `CLASS`) every line carries: id and name.
    pub qbo_class: Option<Account>,
    /// For a journal built in memory ([`build`]): the offset event instants are
    /// converted with to find their accounting date. Journals from the database group
    /// days in the run's time zone instead (`db::journal_costs`).
    pub utc_offset: FixedOffset,
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            chart: ChartOfAccounts::default(),
            xero_tax_rate: "Tax Exempt".into(),
            xero_tracking: None,
            qbo_class: None,
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
    #[serde(rename = "sku")]
    PerSku,
    Single,
}

parse_choice!(Period, "journal period", "day" => Period::Day, "month" => Period::Month, "run" => Period::Run);
parse_choice!(LineDetail, "line detail", "sku" => LineDetail::PerSku, "single" => LineDetail::Single);

impl Period {
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Month => "month",
            Period::Run => "run",
        }
    }
}

impl LineDetail {
    /// As `lines` is written in a request: `sku` or `single`.
    pub fn as_str(self) -> &'static str {
        match self {
            LineDetail::PerSku => "sku",
            LineDetail::Single => "single",
        }
    }
}

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
    /// The method the run costed new events by, which the narration names.
    pub method: Method,
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
    pub xero_tracking: Option<XeroTracking>,
    pub qbo_class: Option<Account>,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    #[error("the journal total is too large to represent exactly")]
    Overflow,
}

/// The accounts a value moves between: (debit, credit) when it is positive.
pub type AccountPair = (AccountKind, AccountKind);

/// The accounts a sale's allocations post to.
pub const SALE: AccountPair = (AccountKind::Cogs, AccountKind::Inventory);

/// The exact value one SKU's events of one kind moved on `date` (a day, or the date of
/// the period the day falls in), between the accounts of `pair` at the locations of
/// `at` (debit side's, credit side's): what a journal is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatedCost {
    pub date: NaiveDate,
    pub sku: Sku,
    pub pair: AccountPair,
    pub at: (Location, Location),
    pub cost: Decimal,
}

/// The accounting day of each allocation and movement (at `offset`), with its
/// accounts, locations and value. A sale posts at its location (`sales` says where; a
/// sale not among them is at the default location), a movement at its layer's, and a
/// transfer's arrival from where the units left: the transfer posts once, from the
/// source's inventory to the destination's.
pub fn dated_costs<'a>(
    allocations: &'a [Allocation],
    movements: &'a [Movement],
    sales: &'a [Sale],
    offset: FixedOffset,
) -> impl Iterator<Item = DatedCost> + 'a {
    let sold_at: HashMap<&SaleId, &Location> = sales.iter().map(|sale| (&sale.sale_id, &sale.location)).collect();
    let sent_from: HashMap<&EventId, &Location> = movements
        .iter()
        .filter(|movement| movement.kind == MovementKind::TransferOut)
        .map(|movement| (&movement.event_id, &movement.location))
        .collect();
    let sales = allocations.iter().map(move |allocation| {
        let location = sold_at.get(&allocation.sale_id).map_or_else(Location::default, |at| (*at).clone());
        DatedCost {
            date: allocation.sale_date.with_timezone(&offset).date_naive(),
            sku: allocation.sku.clone(),
            pair: SALE,
            at: (location.clone(), location),
            cost: allocation.extended_cost,
        }
    });
    let moved = movements.iter().map(move |movement| {
        let from = match movement.kind {
            MovementKind::TransferIn => sent_from.get(&movement.event_id).copied().unwrap_or(&movement.location),
            _ => &movement.location,
        };
        DatedCost {
            date: movement.event_date.with_timezone(&offset).date_naive(),
            sku: movement.sku.clone(),
            pair: movement.kind.accounts(),
            at: (movement.location.clone(), from.clone()),
            cost: movement.cost,
        }
    });
    sales.chain(moved)
}

/// Builds the journal of allocations and movements (any order) of `sales`. See
/// [`dated_costs`] and [`build_from_costs`].
pub fn build(
    allocations: &[Allocation],
    movements: &[Movement],
    sales: &[Sale],
    request: &JournalRequest,
    config: &JournalConfig,
) -> Result<Journal, JournalError> {
    build_from_costs(dated_costs(allocations, movements, sales, config.utc_offset), request, config)
}

/// The account pair of a movement kind named as stored.
pub fn pair_of(kind: &str) -> Option<AccountPair> {
    match kind {
        "sale" => Some(SALE),
        other => other.parse::<MovementKind>().ok().map(MovementKind::accounts),
    }
}

/// What a journal sums costs by within a period: SKU, accounts, and their locations.
type CostKey = (Sku, AccountPair, (Location, Location));

/// Builds the journal of costs by day (or already by period, as the database sums
/// them), in any order. Entries come in date order; lines by SKU, then by accounts;
/// entries and lines that round to zero are left out. Every line is a debit and a
/// credit of one amount, so every entry balances.
pub fn build_from_costs(
    costs: impl IntoIterator<Item = DatedCost>,
    request: &JournalRequest,
    config: &JournalConfig,
) -> Result<Journal, JournalError> {
    // Exact value per (period date, SKU, account pair, locations).
    let mut exact: BTreeMap<NaiveDate, BTreeMap<CostKey, Decimal>> = BTreeMap::new();
    for cost in costs {
        let date = match request.period {
            Period::Day | Period::Run => cost.date,
            Period::Month => month_end(cost.date),
        };
        let total = exact.entry(date).or_default().entry((cost.sku, cost.pair, cost.at)).or_insert(Decimal::ZERO);
        *total = exact_add(*total, cost.cost).ok_or(JournalError::Overflow)?;
    }
    if request.period == Period::Run
        && let Some(last_day) = exact.keys().next_back().copied()
    {
        // One entry, dated at the last event.
        let mut whole: BTreeMap<CostKey, Decimal> = BTreeMap::new();
        for (key, cost) in exact.into_values().flatten() {
            let total = whole.entry(key).or_insert(Decimal::ZERO);
            *total = exact_add(*total, cost).ok_or(JournalError::Overflow)?;
        }
        exact = BTreeMap::from([(last_day, whole)]);
    }
    let mut entries = Vec::with_capacity(exact.len());
    for (date, by_line) in exact {
        // Each line's accounts, the SKU's own where a rule gives it one.
        let mut amounts: BTreeMap<(Option<&Sku>, &Account, &Account), Decimal> = BTreeMap::new();
        for ((sku, (debit, credit), (debit_at, credit_at)), amount) in &by_line {
            let about = match request.detail {
                LineDetail::PerSku => Some(sku),
                LineDetail::Single => None,
            };
            let accounts = (
                config.chart.account(*debit, Some(sku), debit_at),
                config.chart.account(*credit, Some(sku), credit_at),
            );
            // Between an account and itself (a transfer between locations that share
            // an inventory account), there is nothing to post.
            if accounts.0 == accounts.1 {
                continue;
            }
            let total = amounts.entry((about, accounts.0, accounts.1)).or_insert(Decimal::ZERO);
            *total = exact_add(*total, *amount).ok_or(JournalError::Overflow)?;
        }
        let amounts: Vec<LineAmount<'_>> = amounts
            .into_iter()
            .map(|((sku, debit, credit), amount)| LineAmount { sku, debit, credit, amount })
            .collect();
        if let Some(entry) = entry(date, amounts, request)? {
            entries.push(entry);
        }
    }
    // Renderers total the whole journal; that total must fit too.
    exact_sum(entries.iter().map(|entry| entry.total(Side::Debit))).ok_or(JournalError::Overflow)?;
    Ok(Journal {
        reference: request.reference.clone(),
        reversal: request.reversal_date.is_some(),
        xero_tax_rate: config.xero_tax_rate.clone(),
        xero_tracking: config.xero_tracking.clone(),
        qbo_class: config.qbo_class.clone(),
        entries,
    })
}

/// One debit and credit of an entry before rounding: about a SKU (or all), between two
/// accounts, of an exact amount (negative: the other way round).
struct LineAmount<'a> {
    sku: Option<&'a Sku>,
    debit: &'a Account,
    credit: &'a Account,
    amount: Decimal,
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
fn rounded_lines(amounts: &[LineAmount<'_>]) -> Result<Vec<Decimal>, JournalError> {
    let total = exact_sum(amounts.iter().map(|line| line.amount)).ok_or(JournalError::Overflow)?;
    let mut cents: Vec<Decimal> = amounts.iter().map(|line| to_cents(line.amount)).collect();
    let residual = to_cents(total) - cents.iter().sum::<Decimal>();
    if !residual.is_zero() {
        let largest = (0..amounts.len())
            .max_by(|&a, &b| amounts[a].amount.abs().cmp(&amounts[b].amount.abs()).then(b.cmp(&a)))
            .expect("an entry has lines");
        cents[largest] += residual;
    }
    Ok(cents)
}

fn entry(
    date: NaiveDate,
    amounts: Vec<LineAmount<'_>>,
    request: &JournalRequest,
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
    let method = match request.method {
        Method::Fifo => "FIFO",
        Method::SpecificIdentification => "Specific identification",
        Method::MovingAverage => "Moving average",
    };
    let mut narration = format!("{method} COGS {} {}", request.reference, date.format("%Y-%m-%d"));
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
    let reversal = request.reversal_date.is_some();
    if let Some(reversal_date) = request.reversal_date {
        journal_number = format!("REV-{journal_number}");
        narration = format!("Reversal of {narration}");
        entry_date = reversal_date;
    }
    let mut lines = Vec::with_capacity(amounts.len() * 2);
    for (line, amount) in amounts.into_iter().zip(cents).filter(|(_, cents)| !cents.is_zero()) {
        // A negative difference (a correction that lowered the cost of sales, say) swaps
        // the sides, and so does a reversal.
        let swapped = amount.is_sign_negative() != reversal;
        let (debit, credit) = if swapped { (line.credit, line.debit) } else { (line.debit, line.credit) };
        let amount = amount.abs();
        let about = line.sku.map_or_else(|| request.reference.clone(), ToString::to_string);
        lines.push(Line {
            account: debit.clone(),
            description: format!("{} {about}", debit.name),
            sku: line.sku.cloned(),
            side: Side::Debit,
            amount,
        });
        lines.push(Line {
            account: credit.clone(),
            description: format!("{} {about}", credit.name),
            sku: line.sku.cloned(),
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
