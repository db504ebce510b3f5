//! The list function: runs, one run, and inventory valuation. See `handler.rs`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    cogs_core::lambda::serve(cogs_core::lambda::Needs::Nothing, cogs_list::handle).await
}
