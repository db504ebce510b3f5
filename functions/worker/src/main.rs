//! The run worker, invoked by the state machine until its run is done. See `handler.rs`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cogs_core::lambda::serve_events(cogs_core::lambda::Needs::Nothing, cogs_worker::handle).await
}
