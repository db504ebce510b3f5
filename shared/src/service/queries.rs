//! Reading: runs, one run, inventory, and a run's journal.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use super::ServiceError;
use crate::db::{self, ErrorSubject, LotStock, RunRow, RunStatus, ValidationErrorRow};
use crate::journal::{self, Format, Journal, JournalConfig, JournalRequest, LineDetail, Period, Rendered};
use crate::model::{Shortfall, TenantId};
use crate::money::exact_add;

/// The most runs one page lists.
pub const MAX_PAGE: i64 = 500;

/// One page of runs, newest first, and the cursor of the next page if there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunPage {
    pub runs: Vec<RunRow>,
    pub next_cursor: Option<String>,
}

/// Lists the tenant's runs newest first, `limit` (1 to 500) at a time. `cursor` is a
/// previous page's `next_cursor`; pages are stable while runs are added.
pub async fn list_runs(
    pool: &deadpool_postgres::Pool,
    tenant_id: &TenantId,
    status: Option<RunStatus>,
    limit: i64,
    cursor: Option<&str>,
) -> Result<RunPage, ServiceError> {
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ServiceError::InvalidRequest(format!("limit must be between 1 and {MAX_PAGE}")));
    }
    let before = cursor.map(decode_cursor).transpose()?;
    let tx = db::begin(pool, tenant_id).await?;
    let mut runs = db::list_runs(&tx, status, before, limit + 1).await?;
    tx.rollback().await?;
    let next_cursor = if runs.len() as i64 > limit {
        runs.truncate(limit as usize);
        runs.last().map(|run| format!("{}.{}", run.created_at.timestamp_micros(), run.run_id))
    } else {
        None
    };
    Ok(RunPage { runs, next_cursor })
}

fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, Uuid), ServiceError> {
    let invalid = || ServiceError::InvalidRequest(format!("cursor {cursor:?} is not one this service gave out"));
    let (micros, id) = cursor.split_once('.').ok_or_else(invalid)?;
    let at = micros.parse().ok().and_then(DateTime::from_timestamp_micros).ok_or_else(invalid)?;
    Ok((at, id.parse().map_err(|_| invalid())?))
}

/// One run with its validation errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: RunRow,
    pub validation_errors: Vec<ValidationErrorRow>,
    /// The SKUs the run parked, by SKU: each one's first uncovered sale, how much of it
    /// nothing could cover, and what was on hand then.
    pub shortfalls: Vec<Shortfall>,
    /// The later runs resting on this one, which a rollback with cascade would roll back
    /// with it, newest first (none once it is rolled back or failed).
    pub cascade_takes: Vec<Uuid>,
}

/// The most validation errors shown with a run.
const SHOWN_ERRORS: i64 = 1000;

/// One run of the tenant. Another tenant's run is `NotFound`, like a missing one.
pub async fn show_run(
    pool: &deadpool_postgres::Pool,
    tenant_id: &TenantId,
    run_id: Uuid,
) -> Result<RunDetail, ServiceError> {
    let tx = db::begin(pool, tenant_id).await?;
    let run = db::load_run(&tx, run_id).await?.ok_or(ServiceError::NotFound { what: "run", id: run_id.to_string() })?;
    let validation_errors = db::load_validation_errors(&tx, ErrorSubject::Run(run_id), SHOWN_ERRORS).await?;
    let shortfalls = db::load_shortfalls(&tx, run_id).await?.into_iter().map(Shortfall::normalized).collect();
    let cascade_takes = match run.status {
        RunStatus::RolledBack | RunStatus::Failed => Vec::new(),
        RunStatus::Pending | RunStatus::Running | RunStatus::Completed => {
            super::rollback::dependents(&tx, run_id).await?.into_iter().map(|later| later.run_id).collect()
        }
    };
    tx.rollback().await?;
    Ok(RunDetail { run, validation_errors, shortfalls, cascade_takes })
}

/// Stock per SKU: the sums of its lots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkuStock {
    pub sku: String,
    pub lots: i64,
    pub remaining_quantity: Decimal,
    pub remaining_value: Decimal,
}

/// Inventory valuation: every lot, every SKU, and the totals. Exact amounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventoryReport {
    pub lots: Vec<LotStock>,
    pub skus: Vec<SkuStock>,
    pub remaining_quantity: Decimal,
    pub remaining_value: Decimal,
}

/// Remaining quantity and value per lot and per SKU (of one SKU, if given).
pub async fn inventory(
    pool: &deadpool_postgres::Pool,
    tenant_id: &TenantId,
    sku: Option<&str>,
) -> Result<InventoryReport, ServiceError> {
    let tx = db::begin(pool, tenant_id).await?;
    let lots = db::load_stock(&tx, sku).await?;
    tx.rollback().await?;
    let add = |a: Decimal, b: Decimal| exact_add(a, b).ok_or(ServiceError::AmountOverflow);
    let mut skus: BTreeMap<&str, SkuStock> = BTreeMap::new();
    let (mut quantity, mut value) = (Decimal::ZERO, Decimal::ZERO);
    for lot in &lots {
        let stock = skus.entry(lot.sku.as_str()).or_insert_with(|| SkuStock {
            sku: lot.sku.to_string(),
            lots: 0,
            remaining_quantity: Decimal::ZERO,
            remaining_value: Decimal::ZERO,
        });
        stock.lots += 1;
        stock.remaining_quantity = add(stock.remaining_quantity, lot.remaining_quantity)?;
        stock.remaining_value = add(stock.remaining_value, lot.remaining_value)?;
        quantity = add(quantity, lot.remaining_quantity)?;
        value = add(value, lot.remaining_value)?;
    }
    let skus = skus.into_values().collect();
    Ok(InventoryReport { lots, skus, remaining_quantity: quantity, remaining_value: value })
}

/// How a journal is grouped (unset: as the tenant's settings say, else by day with a
/// line per SKU), and for a reversal the date to post it on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalOptions {
    pub period: Option<Period>,
    pub detail: Option<LineDetail>,
    pub reversal_date: Option<NaiveDate>,
}

/// A journal built for export, the format it is exported in and the file name to
/// download it as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalExport {
    pub file_name: String,
    pub journal: Journal,
    pub format: Format,
}

impl JournalExport {
    /// The file in memory, for a response body.
    pub fn rendered(&self) -> Rendered {
        journal::render(&self.journal, self.format)
    }

    /// Writes the file to `out` (best buffered) as it is laid out, for a file or a
    /// pipe: the text is never held whole.
    pub fn write_to(&self, out: impl std::io::Write) -> std::io::Result<()> {
        journal::write(&self.journal, self.format, out)
    }
}

/// The short reference journals carry for a run: the last 8 hex digits of its id (the
/// random part of a UUIDv7), short enough for QuickBooks Online's 21-character
/// DocNumber with a date and `REV-`.
pub fn journal_reference(run_id: Uuid) -> String {
    let simple = run_id.simple().to_string();
    simple[simple.len() - 8..].to_owned()
}

/// The journal of a completed run, or the reversing journal of a rolled-back one
/// (dated when it was rolled back, unless a date is given), with the tenant's accounts
/// and options over the deployment's `config`. Other runs have none yet.
pub async fn journal_entry(
    pool: &deadpool_postgres::Pool,
    tenant_id: &TenantId,
    run_id: Uuid,
    options: JournalOptions,
    format: Format,
    config: &JournalConfig,
) -> Result<JournalExport, ServiceError> {
    let tx = db::begin(pool, tenant_id).await?;
    let run = db::load_run(&tx, run_id).await?.ok_or(ServiceError::NotFound { what: "run", id: run_id.to_string() })?;
    let reversal_date = match (run.status, run.rolled_back_at, options.reversal_date) {
        (RunStatus::Completed, _, _) => None,
        (RunStatus::RolledBack, Some(_), Some(date)) => Some(date),
        (RunStatus::RolledBack, Some(at), None) => Some(db::local_date(&tx, at, &run.time_zone).await?),
        (status, _, _) => return Err(ServiceError::WrongRunStatus { run_id, status, action: "exported as a journal" }),
    };
    let settings = db::load_settings(&tx).await?.journal;
    let period = options.period.or(settings.journal_period).unwrap_or_default();
    let detail = options.detail.or(settings.journal_lines).unwrap_or_default();
    let by_location = !settings.location_accounts.is_empty();
    let costs = db::journal_costs(&tx, run_id, period, &run.time_zone, by_location).await?;
    tx.rollback().await?;
    let request = JournalRequest {
        reference: journal_reference(run_id),
        period,
        detail,
        reversal_date,
        locked_through: run.lock_date,
        method: run.mode,
    };
    let journal = journal::build_from_costs(costs, &request, &settings.over(config))?;
    let prefix = if reversal_date.is_some() { "cogs-reversal" } else { "cogs-journal" };
    let extension = journal::file_type(&journal, format).file_extension;
    let file_name = format!("{prefix}-{run_id}-{}.{extension}", format_name(format));
    Ok(JournalExport { file_name, journal, format })
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Csv => "csv",
        Format::Json => "json",
        Format::Iif => "iif",
        Format::Xero => "xero",
        Format::Qbo => "qbo",
    }
}
