//! Scheduled maintenance: stale runs resumed (or abandoned), staged uploads loaded,
//! staged uploads that never arrived expired, old validation errors deleted, statistics
//! refreshed, every tenant's book verified.
//! Every tenant's data is touched only through that tenant's own transaction; the
//! maintenance role only finds.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;

use super::verify::verify_on_fresh_statistics;
use super::{Caller, ChunkBudget, ServiceError, StagedLoad, abandon_run, advance_run, expire_upload, load_staged};
use crate::db::{self, RunStatus};
use crate::model::TenantId;
use crate::staging::Staging;

/// How maintenance judges what it finds.
#[derive(Debug, Clone)]
pub struct MaintenanceSettings {
    /// A run silent this long is stale: maintenance resumes it.
    pub stale_after: Duration,
    /// A run silent this long is abandoned: its chunks undone, it is marked failed.
    pub abandon_after: Duration,
    /// Validation errors older than this are deleted.
    pub validation_retention: Duration,
    /// A staged upload pending this long is loaded by maintenance if its file is there.
    pub pending_upload_after: Duration,
    /// A staged upload still not loaded this long after it was asked for expires.
    pub pending_upload_expiry: Duration,
    /// How long maintenance may spend resuming one run.
    pub resume_budget: Duration,
    pub chunk_size: usize,
}

impl Default for MaintenanceSettings {
    fn default() -> Self {
        Self {
            stale_after: Duration::from_secs(15 * 60),
            abandon_after: Duration::from_secs(2 * 60 * 60),
            validation_retention: Duration::from_secs(180 * 24 * 60 * 60),
            pending_upload_after: Duration::from_secs(5 * 60),
            pending_upload_expiry: Duration::from_secs(24 * 60 * 60),
            resume_budget: Duration::from_secs(60),
            chunk_size: ChunkBudget::DEFAULT_CHUNK_SIZE,
        }
    }
}

/// What one maintenance pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MaintenanceReport {
    pub stale_runs: usize,
    pub runs_completed: usize,
    pub runs_still_running: usize,
    pub runs_failed: usize,
    pub runs_abandoned: usize,
    pub uploads_loaded: usize,
    pub uploads_waiting: usize,
    pub uploads_expired: usize,
    pub validation_errors_deleted: u64,
    pub analyzed: bool,
    pub books_verified: usize,
    /// Tenants whose book breaks a rule (`cogs verify` names each finding): the pass
    /// fails loudly when there is any.
    pub books_inconsistent: Vec<TenantId>,
    /// Items the pass could not finish; it went on with every other tenant and item,
    /// and fails loudly at the end when there is any.
    pub failures: Vec<MaintenanceFailure>,
}

/// One tenant's item that a maintenance pass could not finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MaintenanceFailure {
    pub task: &'static str,
    pub tenant_id: TenantId,
    /// The run id, object key or check concerned.
    pub item: String,
    pub error: String,
}

impl MaintenanceReport {
    /// Notes (and logs) a failed item; the pass goes on.
    fn failed(&mut self, task: &'static str, tenant_id: &TenantId, item: impl ToString, error: &ServiceError) {
        let item = item.to_string();
        tracing::error!(task, %tenant_id, item, error = %error, cause = ?error, "maintenance: an item failed");
        self.failures.push(MaintenanceFailure { task, tenant_id: tenant_id.clone(), item, error: error.to_string() });
    }
}

fn ago(duration: Duration) -> chrono::DateTime<Utc> {
    Utc::now() - chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// One pass of every task, each logged with a summary line. `app` is the application
/// role's pool, `maintenance` the maintenance role's. One tenant's trouble never stops
/// the pass: each run, upload and book is its own item, and a failed item is counted
/// in [`MaintenanceReport::failures`] (logged with its tenant and item) while the pass
/// goes on. Only a failure to find the work at all (the maintenance role's own
/// queries) ends the pass early.
pub async fn run_maintenance(
    app: &deadpool_postgres::Pool,
    maintenance: &deadpool_postgres::Pool,
    staging: &impl Staging,
    settings: &MaintenanceSettings,
) -> Result<MaintenanceReport, ServiceError> {
    let mut report = MaintenanceReport::default();
    // Boxed: each task nests the whole upload or run path, too deep for one future's layout.
    Box::pin(resume_stale_runs(app, maintenance, settings, &mut report)).await?;
    Box::pin(load_pending_uploads(app, maintenance, staging, settings, &mut report)).await?;

    report.validation_errors_deleted =
        db::delete_validation_errors_before(maintenance, ago(settings.validation_retention)).await?;
    tracing::info!(
        task = "validation_errors",
        deleted = report.validation_errors_deleted,
        "maintenance: expired validation errors"
    );

    db::refresh_statistics(maintenance).await?;
    report.analyzed = true;
    tracing::info!(task = "analyze", "maintenance: statistics refreshed");

    for tenant_id in db::tenants(maintenance).await? {
        match verify_on_fresh_statistics(app, &tenant_id).await {
            Ok(_) => report.books_verified += 1,
            Err(ServiceError::BooksInconsistent(found)) => {
                let first = found.findings.first();
                tracing::error!(
                    task = "verify",
                    %tenant_id,
                    findings = found.findings.len(),
                    first_check = first.map(|f| f.check),
                    first_subject = first.map(|f| f.subject.as_str()),
                    first_detail = first.map(|f| f.detail.as_str()),
                    "maintenance: the book breaks a rule"
                );
                report.books_inconsistent.push(tenant_id);
            }
            Err(other) => report.failed("verify", &tenant_id, "book", &other),
        }
    }
    tracing::info!(
        task = "verify",
        verified = report.books_verified,
        inconsistent = report.books_inconsistent.len(),
        "maintenance: books verified"
    );
    Ok(report)
}

async fn resume_stale_runs(
    app: &deadpool_postgres::Pool,
    maintenance: &deadpool_postgres::Pool,
    settings: &MaintenanceSettings,
    report: &mut MaintenanceReport,
) -> Result<(), ServiceError> {
    let abandon_before = ago(settings.abandon_after);
    for stale in db::stale_runs(maintenance, ago(settings.stale_after)).await? {
        report.stale_runs += 1;
        let caller = Caller::new(stale.tenant_id.clone(), "maintenance");
        if stale.last_seen < abandon_before {
            let minutes = (Utc::now() - stale.last_seen).num_minutes();
            match abandon_run(app, &caller, stale.run_id, &format!("no sign of life for {minutes} minutes")).await {
                Ok(_) => report.runs_abandoned += 1,
                Err(error) => report.failed("stale_runs", &stale.tenant_id, stale.run_id, &error),
            }
            continue;
        }
        let budget = ChunkBudget {
            chunk_size: settings.chunk_size,
            deadline: Some(Instant::now() + settings.resume_budget),
            max_chunks: None,
        };
        match advance_run(app, &caller, stale.run_id, &budget).await {
            Ok(progress) if progress.status == RunStatus::Completed => report.runs_completed += 1,
            Ok(progress) if progress.status.is_active() => report.runs_still_running += 1,
            Ok(_) => {}
            Err(ServiceError::Costing(_)) => report.runs_failed += 1,
            Err(error) => report.failed("stale_runs", &stale.tenant_id, stale.run_id, &error),
        }
    }
    tracing::info!(
        task = "stale_runs",
        found = report.stale_runs,
        completed = report.runs_completed,
        still_running = report.runs_still_running,
        failed = report.runs_failed,
        abandoned = report.runs_abandoned,
        "maintenance: stale runs"
    );
    Ok(())
}

/// Loads staged files whose object-created event was missed; an upload that still
/// cannot be loaded once it is older than the expiry (its object never came, or
/// cannot be read) expires, so no object is looked for forever.
async fn load_pending_uploads(
    app: &deadpool_postgres::Pool,
    maintenance: &deadpool_postgres::Pool,
    staging: &impl Staging,
    settings: &MaintenanceSettings,
    report: &mut MaintenanceReport,
) -> Result<(), ServiceError> {
    let expire_before = ago(settings.pending_upload_expiry);
    for pending in db::pending_uploads(maintenance, ago(settings.pending_upload_after)).await? {
        let (tenant_id, key) = (&pending.tenant_id, &pending.object_key);
        let error = match load_staged(app, staging, key, "maintenance").await {
            Ok(StagedLoad::Loaded { .. }) | Err(ServiceError::UploadRejected { .. }) => {
                report.uploads_loaded += 1;
                continue;
            }
            Ok(StagedLoad::AlreadyDone { .. }) => continue,
            // A run blocks every upload of its tenant for a while; that is no reason to expire.
            Err(ServiceError::RunInProgress { .. }) => {
                report.uploads_waiting += 1;
                continue;
            }
            Err(error) => error,
        };
        if pending.created_at < expire_before {
            let caller = Caller::new(tenant_id.clone(), "maintenance");
            match expire_upload(app, &caller, pending.upload_id, &error.to_string()).await {
                Ok(expired) => report.uploads_expired += usize::from(expired),
                Err(failure) => report.failed("pending_uploads", tenant_id, key, &failure),
            }
        } else if matches!(error, ServiceError::NotFound { .. }) {
            report.uploads_waiting += 1;
        } else {
            report.failed("pending_uploads", tenant_id, key, &error);
        }
    }
    tracing::info!(
        task = "pending_uploads",
        loaded = report.uploads_loaded,
        waiting = report.uploads_waiting,
        expired = report.uploads_expired,
        "maintenance: staged uploads"
    );
    Ok(())
}
