//! The list function: runs, one run, and inventory valuation. See `handler.rs`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    cogs_core::http::serve(cogs_list::handle).await
}
