//! The dashboard function: its pages and assets. See `handler.rs`.

use cogs_web::{Dashboard, WebConfig};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    cogs_core::lambda::telemetry::init_tracing();
    let config = WebConfig::from_lookup(|name| std::env::var(name).ok())?;
    // Rendered once: every request of this instance is served from it.
    let dashboard: &'static Dashboard = Box::leak(Box::new(Dashboard::new(&config)));
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        Ok::<_, std::convert::Infallible>(cogs_web::handle(dashboard, &req))
    }))
    .await
}
