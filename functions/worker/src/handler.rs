//! The run worker. The state machine invokes it with `{tenant_id, run_id}` until it
//! answers `done`; it costs chunk after chunk while the invocation has time (the Lambda
//! deadline less `COGS_WORKER_MARGIN_MS`), at least one chunk per call. With
//! `"action": "fail"` it abandons the run instead (the state machine's answer to a
//! permanent error): the run's chunks are undone and it is marked failed.

use std::time::Duration;

use cogs_core::db::RunStatus;
use cogs_core::lambda::telemetry::{self, Metric};
use cogs_core::lambda::{self, Context};
use cogs_core::model::TenantId;
use cogs_core::service::{self, Caller, ChunkBudget, ServiceError};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize)]
pub struct WorkerInput {
    pub tenant_id: TenantId,
    pub run_id: Uuid,
    #[serde(default)]
    pub action: Action,
    /// With `fail`: what went wrong, for the operator.
    pub reason: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    #[default]
    Advance,
    Fail,
}

/// What the state machine reads: `done` ends the loop; `status` says how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerOutput {
    pub tenant_id: TenantId,
    pub run_id: Uuid,
    pub done: bool,
    pub status: RunStatus,
    pub processed: i64,
    pub total: i64,
    /// The SKU the run has reached (SKUs before it are costed).
    pub cursor: Option<String>,
    pub error: Option<String>,
}

pub async fn handle(ctx: &Context, event: LambdaEvent<WorkerInput>) -> Result<WorkerOutput, Diagnostic> {
    let input = event.payload;
    let caller = Caller::new(input.tenant_id.clone(), "worker");
    let span = tracing::info_span!("worker", tenant_id = %input.tenant_id, run_id = %input.run_id);
    let _entered = span.enter();
    if input.action == Action::Fail {
        let reason =
            input.reason.as_ref().map_or_else(|| "the run's state machine failed".to_owned(), ToString::to_string);
        let run = service::abandon_run(&ctx.pool, &caller, input.run_id, &reason).await.map_err(|e| diagnostic(&e))?;
        telemetry::emit(Metric::RunsFailed, 1, "worker");
        return Ok(output(&input, &run, Some(reason)));
    }
    let margin = Duration::from_millis(ctx.config.worker_margin_ms);
    let deadline =
        lambda::time_left(&event.context).map(|left| std::time::Instant::now() + left.saturating_sub(margin));
    let budget = ChunkBudget { chunk_size: ctx.config.chunk_size, deadline, max_chunks: None };
    let (run, error) = match service::advance_run(&ctx.pool, &caller, input.run_id, &budget).await {
        Ok(_) => {
            (service::show_run(&ctx.pool, &input.tenant_id, input.run_id).await.map_err(|e| diagnostic(&e))?.run, None)
        }
        // A sale that cannot be costed fails the run cleanly: an answer, not an error.
        Err(error @ ServiceError::Costing(_)) => {
            telemetry::emit(Metric::RunsFailed, 1, "worker");
            let run =
                service::show_run(&ctx.pool, &input.tenant_id, input.run_id).await.map_err(|e| diagnostic(&e))?.run;
            (run, Some(error.to_string()))
        }
        Err(error) => return Err(diagnostic(&error)),
    };
    if run.status == RunStatus::Completed {
        telemetry::emit(Metric::RunsCompleted, 1, "worker");
        let duration = run.completed_at.unwrap_or(run.updated_at) - run.created_at;
        telemetry::emit(Metric::RunDuration, duration.num_milliseconds().max(0) as u64, "worker");
        telemetry::emit(Metric::SkusParked, run.skus_parked.unsigned_abs().into(), "worker");
    }
    Ok(output(&input, &run, error))
}

fn output(input: &WorkerInput, run: &cogs_core::db::RunRow, error: Option<String>) -> WorkerOutput {
    WorkerOutput {
        tenant_id: input.tenant_id.clone(),
        run_id: input.run_id,
        done: !run.status.is_active(),
        status: run.status,
        processed: run.sales_processed,
        total: run.sales_total,
        cursor: run.cursor_sku.clone(),
        error: error.or_else(|| run.error_message.clone()),
    }
}

/// Logged, then `TransientError` (the state machine retries with backoff) or
/// `PermanentError` (it abandons the run), by the functions' one rule.
fn diagnostic(error: &ServiceError) -> Diagnostic {
    tracing::error!(%error, cause = ?error, "worker invocation failed");
    lambda::diagnostic(error)
}
