//! The run worker, invoked by the state machine until its run is done. See `handler.rs`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cogs_core::http::serve_events(cogs_worker::handle).await
}
