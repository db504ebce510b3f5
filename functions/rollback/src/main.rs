//! The rollback function: rolls a run back exactly. See `handler.rs`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    cogs_core::lambda::serve(cogs_core::lambda::Needs::Nothing, cogs_rollback::handle).await
}
