//! Rolling a run back exactly.

use serde_json::json;
use uuid::Uuid;

use super::{Caller, ServiceError};
use crate::db::{self, RunRow, RunStatus, TenantTx};

/// Rolls back a run, atomically: every lot it touched and every SKU's watermark it
/// moved go back to their snapshots (so its sales are uncosted again), it is marked
/// `rolled_back`. Its allocations stay, tied to
/// the rolled-back run, for the audit trail and the reversing journal.
///
/// A later run that costed one of the same SKUs rests on this one: without `cascade`
/// the rollback is refused with `DependentRuns` naming them; with it they are rolled
/// back too (and theirs, transitively), newest first. Returns the runs rolled back,
/// newest first. Rolling back a rolled-back run changes nothing and returns it; a
/// failed run has nothing to roll back (`WrongRunStatus`).
pub async fn rollback_run(
    pool: &deadpool_postgres::Pool,
    caller: &Caller,
    run_id: Uuid,
    cascade: bool,
) -> Result<Vec<RunRow>, ServiceError> {
    let tx = db::begin(pool, &caller.tenant_id).await?;
    db::lock_tenant(&tx).await?;
    let run = db::lock_run(&tx, run_id).await?.ok_or(ServiceError::NotFound { what: "run", id: run_id.to_string() })?;
    match run.status {
        RunStatus::RolledBack => return Ok(vec![run]),
        RunStatus::Failed => {
            return Err(ServiceError::WrongRunStatus { run_id, status: run.status, action: "rolled back" });
        }
        RunStatus::Pending | RunStatus::Running | RunStatus::Completed => {}
    }
    // Another active run counted the uncosted sales when it started; sales this
    // rollback uncosted would reach it uncounted. Roll back once it has finished.
    if let Some(active) = db::load_active_run(&tx).await?
        && active.run_id != run_id
    {
        return Err(ServiceError::RunInProgress { run_id: Some(active.run_id) });
    }
    let dependents = dependents(&tx, run_id).await?;
    if !dependents.is_empty() && !cascade {
        return Err(ServiceError::DependentRuns { run_id, later_runs: dependents.iter().map(|r| r.run_id).collect() });
    }
    let mut rolled_back = Vec::with_capacity(dependents.len() + 1);
    for dependent in dependents {
        rolled_back.push(undo(&tx, caller, dependent.run_id, Some(run_id)).await?);
    }
    rolled_back.push(undo(&tx, caller, run_id, None).await?);
    tx.commit().await?;
    Ok(rolled_back)
}

/// Every run resting on `run_id`, directly or through another, newest first.
pub(super) async fn dependents(tx: &TenantTx, run_id: Uuid) -> Result<Vec<RunRow>, ServiceError> {
    let mut found: Vec<RunRow> = Vec::new();
    let mut frontier = vec![run_id];
    while let Some(next) = frontier.pop() {
        for later in db::later_runs_sharing_skus(tx, next).await? {
            if !found.iter().any(|run| run.run_id == later.run_id) {
                frontier.push(later.run_id);
                found.push(later);
            }
        }
    }
    found.sort_by_key(|run| std::cmp::Reverse((run.created_at, run.run_id)));
    Ok(found)
}

async fn undo(
    tx: &TenantTx,
    caller: &Caller,
    run_id: Uuid,
    cascaded_from: Option<Uuid>,
) -> Result<RunRow, ServiceError> {
    db::lock_run(tx, run_id).await?;
    let lots = db::restore_snapshots(tx, run_id).await?;
    let skus = db::restore_watermarks(tx, run_id).await?;
    db::mark_rolled_back(tx, run_id).await?;
    let details = json!({ "lots_restored": lots, "skus_restored": skus, "cascaded_from": cascaded_from });
    db::insert_audit(tx, &caller.actor, "run.rolled_back", Some(run_id), None, &details).await?;
    db::load_run(tx, run_id).await?.ok_or(ServiceError::NotFound { what: "run", id: run_id.to_string() })
}
