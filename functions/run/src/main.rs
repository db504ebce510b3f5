//! The run function: starts FIFO runs (and dry runs) for the token's tenant. See `handler.rs`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    cogs_core::lambda::serve(cogs_core::lambda::Needs::StateMachine, cogs_run::handle).await
}
