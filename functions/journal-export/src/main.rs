//! The journal export function: a run's journal entry as a file. See `handler.rs`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    cogs_core::lambda::serve(cogs_core::lambda::Needs::Nothing, cogs_journal_export::handle).await
}
