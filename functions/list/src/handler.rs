//! The list function: `GET /api/v1/runs` (newest first, by pages), `GET
//! /api/v1/runs/{run_id}`, `GET /api/v1/inventory`, `GET /api/v1/book` (by pages of
//! SKUs), `GET /api/v1/verify`, and the tenant's settings (`GET`/`PUT
//! /api/v1/settings`).

use cogs_core::db::{RunStatus, SkuRange};
use cogs_core::http::{self, ApiError, HEALTH, Reply, Route};
use cogs_core::lambda::Context;
use cogs_core::service::{self, Caller, CsvReport, SettingsChange};
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
    ("GET", "/api/v1/reports/rollforward"),
    ("GET", "/api/v1/reports/valuation"),
    ("GET", "/api/v1/reports/cogs"),
    ("GET", "/api/v1/reports/ageing"),
    ("GET", "/api/v1/sales/{sale_id}/allocations"),
    ("GET", "/api/v1/lots/{lot_id}/consumption"),
];

/// Runs per page unless `limit` says otherwise.
const DEFAULT_LIMIT: i64 = 20;
/// SKUs per page of the book unless `limit` says otherwise.
const BOOK_PAGE_SKUS: i64 = 200;

/// A query parameter a report needs, parsed, or 400 naming it.
fn required<T: std::str::FromStr>(req: &Request, name: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    http::query_parsed(req, name)?.ok_or_else(|| ApiError::BadRequest(format!("query parameter {name} is required")))
}

/// A report as JSON, or as CSV with `format=csv`.
fn report<T: serde::Serialize + CsvReport>(req: &Request, report: &T) -> Result<Reply, ApiError> {
    match http::query(req, "format").unwrap_or("json") {
        "json" => Ok(Reply::json(StatusCode::OK, report)),
        "csv" => Ok(Reply {
            status: StatusCode::OK,
            body: Body::Text(report.csv()),
            content_type: "text/csv; charset=utf-8",
            headers: Vec::new(),
        }),
        other => Err(ApiError::BadRequest(format!("format {other:?}: use json or csv"))),
    }
}

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
        ("GET", "/api/v1/reports/rollforward") => {
            let (from, to) = (required(req, "from")?, required(req, "to")?);
            report(req, &service::roll_forward(&ctx.pool, &tenant_id, from, to).await?)
        }
        ("GET", "/api/v1/reports/valuation") => {
            report(req, &service::valuation(&ctx.pool, &tenant_id, required(req, "as_of")?).await?)
        }
        ("GET", "/api/v1/reports/cogs") => {
            let (from, to) = (required(req, "from")?, required(req, "to")?);
            let by_month = match http::query(req, "period").unwrap_or("month") {
                "month" => true,
                "day" => false,
                other => return Err(ApiError::BadRequest(format!("period {other:?}: use day or month"))),
            };
            report(req, &service::cogs_by_sku(&ctx.pool, &tenant_id, from, to, by_month).await?)
        }
        ("GET", "/api/v1/reports/ageing") => {
            report(req, &service::ageing(&ctx.pool, &tenant_id, required(req, "as_of")?).await?)
        }
        ("GET", "/api/v1/sales/{sale_id}/allocations") => {
            let sale_id = params.get("sale_id").map(String::as_str).unwrap_or_default();
            Ok(Reply::json(StatusCode::OK, &service::sale_trace(&ctx.pool, &tenant_id, sale_id).await?))
        }
        ("GET", "/api/v1/lots/{lot_id}/consumption") => {
            let lot_id = params.get("lot_id").map(String::as_str).unwrap_or_default();
            Ok(Reply::json(StatusCode::OK, &service::lot_trace(&ctx.pool, &tenant_id, lot_id).await?))
        }
        _ => Err(ApiError::RouteNotFound),
    }
}
