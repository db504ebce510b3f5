//! The upload function: CSV files for lots and sales, and their templates. See `handler.rs`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    cogs_core::lambda::serve(cogs_core::lambda::Needs::Nothing, cogs_upload::handle).await
}
