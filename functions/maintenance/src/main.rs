//! Scheduled maintenance, on an EventBridge schedule. See `handler.rs`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cogs_core::http::serve_events(cogs_maintenance::handle).await
}
