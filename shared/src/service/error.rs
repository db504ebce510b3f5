use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::VerifyReport;
use crate::db::{DbError, RunStatus};
use crate::engine::CostingError;
use crate::ingest::{IngestError, Rejected};
use crate::journal::JournalError;
use crate::model::EventKind;

/// What kind of failure an error is, for choosing an HTTP status or an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// The input is wrong: fix it and retry (HTTP 400).
    Validation,
    /// The request clashes with the state of things (HTTP 409).
    Conflict,
    /// No such run or upload for this tenant (HTTP 404).
    NotFound,
    /// The input is readable but cannot be costed (HTTP 422).
    Unprocessable,
    /// The database or storage failed (HTTP 500/503); the cause is logged.
    Infrastructure,
    /// The stored book breaks a rule it must keep: an operator must look (HTTP 500,
    /// with the findings).
    Inconsistent,
}

/// Why a use case failed. [`ServiceError::kind`] is the stable wire name, and
/// [`ServiceError::details`] what a caller needs to act on it; the HTTP layer and the
/// CLI both put them in one envelope: `{"error": {"type", "message", …details}}`.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error("{rejected}")]
    UploadRejected { upload_id: Uuid, rejected: Rejected },
    #[error(transparent)]
    Costing(#[from] CostingError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("a total is too large to represent exactly")]
    AmountOverflow,
    #[error("{} is in progress for this tenant; wait for it to finish (or roll it back) and try again", match .run_id { Some(id) => format!("run {id}"), None => "another run".to_owned() })]
    RunInProgress { run_id: Option<Uuid> },
    #[error("no {what} {id} for this tenant")]
    NotFound { what: &'static str, id: String },
    #[error("run {run_id} cannot be rolled back alone: later run(s) {} costed the same SKUs; roll back with cascade to undo them too, newest first", join(.later_runs))]
    DependentRuns { run_id: Uuid, later_runs: Vec<Uuid> },
    #[error("run {run_id} is {status} and cannot be {action}")]
    WrongRunStatus { run_id: Uuid, status: RunStatus, action: &'static str },
    #[error(
        "the {what} did not finish in the time this request has; run it from the command line, or start a real run, which goes on in the background"
    )]
    OutOfTime { what: &'static str },
    #[error(
        "{kind} {id} of {sku}, dated {date}, falls on or before the lock date {lock_date}; with lock_policy refuse nothing in a closed period is costed: move the lock date, or set lock_policy to post_in_open_period"
    )]
    LockedPeriod {
        kind: String,
        id: String,
        sku: String,
        date: chrono::DateTime<chrono::Utc>,
        lock_date: chrono::NaiveDate,
    },
    #[error("{0}")]
    InvalidRequest(String),
    #[error(transparent)]
    Db(DbError),
    #[error(transparent)]
    Staging(crate::staging::StagingError),
    #[error("{}", inconsistent_message(.0))]
    BooksInconsistent(Box<VerifyReport>),
}

fn inconsistent_message(report: &VerifyReport) -> String {
    let broken: Vec<String> =
        report.checks.iter().filter(|c| c.findings > 0).map(|c| format!("{} ({})", c.check, c.findings)).collect();
    let first = report.findings.first().map(|f| format!("; first: {} {}: {}", f.check, f.subject, f.detail));
    format!("the book of {} breaks {}{}", report.tenant_id, broken.join(", "), first.unwrap_or_default())
}

fn join(ids: &[Uuid]) -> String {
    ids.iter().map(Uuid::to_string).collect::<Vec<_>>().join(", ")
}

impl From<DbError> for ServiceError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::RunInProgress => ServiceError::RunInProgress { run_id: None },
            other => ServiceError::Db(other),
        }
    }
}

impl ServiceError {
    /// The stable, snake_case name of the failure.
    pub fn kind(&self) -> &'static str {
        match self {
            ServiceError::Ingest(IngestError::Rejected(_)) | ServiceError::UploadRejected { .. } => "validation_failed",
            ServiceError::Ingest(IngestError::Io { .. }) => "unreadable_input",
            ServiceError::Costing(CostingError::InsufficientInventory { .. } | CostingError::Uncovered { .. }) => {
                "insufficient_inventory"
            }
            ServiceError::Costing(_) => "invalid_costing_input",
            ServiceError::Journal(JournalError::Overflow) | ServiceError::AmountOverflow => "amount_overflow",
            ServiceError::RunInProgress { .. } => "run_in_progress",
            ServiceError::NotFound { .. } => "not_found",
            ServiceError::DependentRuns { .. } => "dependent_run",
            ServiceError::WrongRunStatus { .. } => "wrong_run_status",
            ServiceError::OutOfTime { .. } => "out_of_time",
            ServiceError::LockedPeriod { .. } => "locked_period",
            ServiceError::InvalidRequest(_) => "invalid_request",
            ServiceError::Db(_) => "database_error",
            ServiceError::Staging(_) => "staging_error",
            ServiceError::BooksInconsistent(_) => "books_inconsistent",
        }
    }

    pub fn category(&self) -> Category {
        match self {
            ServiceError::Ingest(IngestError::Rejected(_))
            | ServiceError::UploadRejected { .. }
            | ServiceError::InvalidRequest(_) => Category::Validation,
            ServiceError::Costing(_)
            | ServiceError::Journal(_)
            | ServiceError::AmountOverflow
            | ServiceError::OutOfTime { .. } => Category::Unprocessable,
            ServiceError::RunInProgress { .. }
            | ServiceError::LockedPeriod { .. }
            | ServiceError::DependentRuns { .. }
            | ServiceError::WrongRunStatus { .. } => Category::Conflict,
            ServiceError::NotFound { .. } => Category::NotFound,
            ServiceError::Ingest(IngestError::Io { .. }) | ServiceError::Db(_) | ServiceError::Staging(_) => {
                Category::Infrastructure
            }
            ServiceError::BooksInconsistent(_) => Category::Inconsistent,
        }
    }

    /// The fields beside `type` and `message` in the error envelope, as an object.
    pub fn details(&self) -> Value {
        match self {
            ServiceError::Ingest(IngestError::Rejected(rejected)) => rejected_details(None, rejected),
            ServiceError::UploadRejected { upload_id, rejected } => rejected_details(Some(*upload_id), rejected),
            ServiceError::Costing(CostingError::InsufficientInventory { sale_id, sku, requested, available }) => {
                json!({
                    "sale_id": sale_id,
                    "sku": sku,
                    "requested": requested.normalize(),
                    "available": available.normalize(),
                })
            }
            ServiceError::Costing(
                CostingError::SalesOutOfOrder { sale_id, .. } | CostingError::NonPositiveSale { sale_id, .. },
            ) => {
                json!({ "sale_id": sale_id })
            }
            ServiceError::Costing(
                CostingError::DuplicateLot { lot_id }
                | CostingError::InvalidLot { lot_id, .. }
                | CostingError::UnitCostOverflow { lot_id },
            ) => json!({ "lot_id": lot_id }),
            ServiceError::Costing(CostingError::CostOverflow { sale_id, lot_id }) => {
                json!({ "sale_id": sale_id, "lot_id": lot_id })
            }
            ServiceError::Costing(
                CostingError::InvalidEvent { kind, id, .. } | CostingError::Overflow { kind, id },
            ) => {
                json!({ "event": { "kind": kind, "id": id } })
            }
            ServiceError::Costing(CostingError::UnknownSale { return_id, sale_id }) => {
                json!({ "event": { "kind": EventKind::Return, "id": return_id }, "sale_id": sale_id })
            }
            ServiceError::Costing(CostingError::ReturnExceedsSale { return_id, sale_id, requested, returnable }) => {
                json!({
                    "event": { "kind": EventKind::Return, "id": return_id },
                    "sale_id": sale_id,
                    "requested": requested.normalize(),
                    "returnable": returnable.normalize(),
                })
            }
            ServiceError::Costing(CostingError::Uncovered { kind, id, sku, short, on_hand }) => {
                json!({
                    "event": { "kind": kind, "id": id },
                    "sku": sku,
                    "quantity_short": short.normalize(),
                    "on_hand": on_hand.normalize(),
                })
            }
            ServiceError::Costing(CostingError::UnknownLot { kind, id, lot_id }) => {
                json!({ "event": { "kind": kind, "id": id }, "lot_id": lot_id })
            }
            ServiceError::Costing(CostingError::UnknownReceipt { landed_cost_id, receipt_id }) => {
                json!({ "event": { "kind": EventKind::LandedCost, "id": landed_cost_id }, "receipt_id": receipt_id })
            }
            ServiceError::Costing(CostingError::AdjustmentWithoutCost { adjustment_id }) => {
                json!({ "event": { "kind": EventKind::Adjustment, "id": adjustment_id } })
            }
            ServiceError::RunInProgress { run_id } => json!({ "run_id": run_id }),
            ServiceError::NotFound { what, id } => json!({ "resource": what, "id": id }),
            ServiceError::DependentRuns { run_id, later_runs } => json!({ "run_id": run_id, "later_runs": later_runs }),
            ServiceError::LockedPeriod { kind, id, sku, date, lock_date } => {
                json!({ "event": { "kind": kind, "id": id, "sku": sku, "date": date }, "lock_date": lock_date })
            }
            ServiceError::WrongRunStatus { run_id, status, .. } => json!({ "run_id": run_id, "status": status }),
            ServiceError::BooksInconsistent(report) => json!({ "checks": report.checks, "findings": report.findings }),
            ServiceError::Ingest(IngestError::Io { .. })
            | ServiceError::Journal(_)
            | ServiceError::AmountOverflow
            | ServiceError::OutOfTime { .. }
            | ServiceError::InvalidRequest(_)
            | ServiceError::Db(_)
            | ServiceError::Staging(_) => json!({}),
        }
    }

    /// The whole envelope: `{"error": {"type", "message", …details}}`. Infrastructure
    /// failures get a generic message; their cause belongs in the logs.
    pub fn envelope(&self) -> Value {
        let mut error = Map::new();
        error.insert("type".into(), self.kind().into());
        let message = match self.category() {
            Category::Infrastructure => "the service could not complete the request; it is safe to retry".to_owned(),
            _ => self.to_string(),
        };
        error.insert("message".into(), message.into());
        if let Value::Object(details) = self.details() {
            error.extend(details);
        }
        json!({ "error": error })
    }
}

fn rejected_details(upload_id: Option<Uuid>, rejected: &Rejected) -> Value {
    let mut details = json!({
        "file": rejected.kind,
        "error_count": rejected.error_count,
        "errors": rejected.errors,
    });
    if let Some(upload_id) = upload_id {
        details["upload_id"] = json!(upload_id);
    }
    details
}
