//! Scheduled maintenance: one pass of every task per scheduled event (the event's own
//! content does not matter). Needs the maintenance role's connection beside the
//! application's: `maintenance_url` in the database secret, or locally
//! `COGS_MAINTENANCE_DATABASE_URL`.

use cogs_core::lambda::Context;
use cogs_core::lambda::telemetry::{self, Metric};
use cogs_core::service::{self, MaintenanceReport};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

pub async fn handle(ctx: &Context, _event: LambdaEvent<Value>) -> Result<MaintenanceReport, Diagnostic> {
    let diagnostic =
        |error_type: &str, message: String| Diagnostic { error_type: error_type.to_owned(), error_message: message };
    let maintenance = ctx
        .maintenance_pool
        .as_ref()
        .ok_or_else(|| diagnostic("ConfigurationError", "the maintenance role's database is not configured".into()))?;
    let settings = ctx.config.maintenance_settings();
    let report = service::run_maintenance(&ctx.pool, maintenance, &ctx.staging, &settings)
        .await
        .map_err(|error| diagnostic("MaintenanceError", error.to_string()))?;
    telemetry::emit(Metric::BooksInconsistent, report.books_inconsistent.len() as u64, "maintenance");
    telemetry::emit(Metric::MaintenanceFailures, report.failures.len() as u64, "maintenance");
    // A book that breaks a rule, or an item the pass could not finish, fails the
    // invocation once the whole pass is done, so the function's errors alarm.
    if !report.books_inconsistent.is_empty() {
        let tenants: Vec<String> = report.books_inconsistent.iter().map(ToString::to_string).collect();
        let message = format!("the books of {} break a rule; cogs verify names each finding", tenants.join(", "));
        return Err(diagnostic("BooksInconsistent", message));
    }
    if let Some(first) = report.failures.first() {
        let message = format!(
            "{} item(s) failed and the pass went on; the first: {} of tenant {} ({}): {}",
            report.failures.len(),
            first.task,
            first.tenant_id,
            first.item,
            first.error
        );
        return Err(diagnostic("MaintenanceItemsFailed", message));
    }
    Ok(report)
}
