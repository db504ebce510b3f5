//! The list function: `GET /api/v1/runs` (newest first, by pages), `GET
//! /api/v1/runs/{run_id}`, `GET /api/v1/inventory`, `GET /api/v1/book` (by pages of
//! SKUs), `GET /api/v1/verify`, and the tenant's settings (`GET`/`PUT
//! /api/v1/settings`).

use cogs_core::db::{RunStatus, SkuRange};
use cogs_core::http::{self, ApiError, HEALTH, Reply, Route};
use cogs_core::lambda::Context;
use cogs_core::service::{self, Caller, SettingsChange};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const ROUTES: &[Route] = &[
    HEALTH,
    ("GET", "/api/v1/runs"),
    ("GET", "/api/v1/runs/{run_id}"),
    ("GET", "/api/v1/inventory"),
    ("GET", "/api/v1/book"),
    ("GET", "/api/v1/verify"),
    ("GET", "/api/v1/settings"),
    ("PUT", "/api/v1/settings"),
];

/// Runs per page unless `limit` says otherwise.
const DEFAULT_LIMIT: i64 = 20;
/// SKUs per page of the book unless `limit` says otherwise.
const BOOK_PAGE_SKUS: i64 = 200;

pub async fn handle(ctx: &Context, req: Request) -> Response<Body> {
    http::respond(dispatch(ctx, &req).await)
}

async fn dispatch(ctx: &Context, req: &Request) -> Result<Reply, ApiError> {
    let (route, params) = http::route(req, ROUTES)?;
    if route == HEALTH {
        return http::health(ctx).await;
    }
    let tenant_id = http::tenant_id(req, &ctx.config)?;
    match route {
        ("GET", "/api/v1/runs") => {
            let status: Option<RunStatus> = http::query_parsed(req, "status")?;
            let limit = http::query_parsed(req, "limit")?.unwrap_or(DEFAULT_LIMIT);
            let page = service::list_runs(&ctx.pool, &tenant_id, status, limit, http::query(req, "cursor")).await?;
            Ok(Reply::json(StatusCode::OK, &page))
        }
        ("GET", "/api/v1/runs/{run_id}") => {
            let run_id = http::run_id(&params)?;
            http::record_run(run_id);
            Ok(Reply::json(StatusCode::OK, &service::show_run(&ctx.pool, &tenant_id, run_id).await?))
        }
        ("GET", "/api/v1/inventory") => {
            let report = service::inventory(&ctx.pool, &tenant_id, http::query(req, "sku")).await?;
            Ok(Reply::json(StatusCode::OK, &report))
        }
        ("GET", "/api/v1/book") => {
            let limit = http::query_parsed(req, "limit")?.unwrap_or(BOOK_PAGE_SKUS);
            let range =
                SkuRange { after_sku: http::query(req, "after_sku").filter(|s| !s.is_empty()), limit: Some(limit) };
            Ok(Reply::json(StatusCode::OK, &service::book(&ctx.pool, &tenant_id, range).await?))
        }
        ("GET", "/api/v1/settings") => {
            Ok(Reply::json(StatusCode::OK, &service::settings(&ctx.pool, &tenant_id).await?))
        }
        ("PUT", "/api/v1/settings") => {
            let change: SettingsChange = http::json_body(req, ctx.config.max_body_bytes)?.unwrap_or_default();
            let caller = Caller::new(tenant_id, http::actor(req));
            Ok(Reply::json(StatusCode::OK, &service::change_settings(&ctx.pool, &caller, &change).await?))
        }
        ("GET", "/api/v1/verify") => Ok(Reply::json(StatusCode::OK, &service::verify(&ctx.pool, &tenant_id).await?)),
        _ => Err(ApiError::RouteNotFound),
    }
}
