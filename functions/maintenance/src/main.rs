//! Scheduled maintenance, on an EventBridge schedule. See `handler.rs`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cogs_core::lambda::serve_events(cogs_core::lambda::Needs::MaintenanceRole, cogs_maintenance::handle).await
}
