//! The upload function's S3 entry: object-created events of the staging bucket. See
//! `events.rs`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    cogs_core::lambda::serve_events(cogs_core::lambda::Needs::Nothing, cogs_upload::events::handle).await
}
