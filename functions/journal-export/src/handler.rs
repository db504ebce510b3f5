//! The journal export function: `GET /api/v1/runs/{run_id}/journal-entry` as csv, json,
//! iif, xero or qbo, grouped by `group_by=sku|day|none`.

use cogs_core::http::{self, ApiError, HEALTH, Reply, Route};
use cogs_core::journal::{Format, LineDetail, Period};
use cogs_core::lambda::Context;
use cogs_core::service::{self, JournalOptions};
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};

pub const ROUTES: &[Route] = &[HEALTH, ("GET", "/api/v1/runs/{run_id}/journal-entry")];

pub async fn handle(ctx: &Context, req: Request) -> Response<Body> {
    http::respond(dispatch(ctx, &req).await)
}

async fn dispatch(ctx: &Context, req: &Request) -> Result<Reply, ApiError> {
    let (route, params) = http::route(req, ROUTES)?;
    match route {
        HEALTH => http::health(ctx).await,
        ("GET", "/api/v1/runs/{run_id}/journal-entry") => {
            let tenant_id = http::tenant_id(req, &ctx.config)?;
            let run_id = http::run_id(&params)?;
            http::record_run(run_id);
            let format = http::query_parsed(req, "format")?.unwrap_or(Format::Csv);
            let options = JournalOptions { reversal_date: http::query_parsed(req, "reversal_date")?, ..grouping(req)? };
            let export =
                service::journal_entry(&ctx.pool, &tenant_id, run_id, options, format, &ctx.config.journal).await?;
            let rendered = export.rendered();
            Ok(Reply {
                status: StatusCode::OK,
                content_type: rendered.file_type.content_type,
                body: Body::Binary(rendered.body),
                headers: vec![(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{}\"", export.file_name))],
            })
        }
        _ => Err(ApiError::RouteNotFound),
    }
}

/// `group_by`: `sku` (a journal per day, a line pair per SKU), `day` (a journal per
/// day, one pair), `none` (one journal for the run, one pair); without it, the
/// tenant's default grouping. `period` (`day|month|run`) overrides the journals' period.
fn grouping(req: &Request) -> Result<JournalOptions, ApiError> {
    let (period, detail) = match http::query(req, "group_by") {
        None => (None, None),
        Some("sku") => (Some(Period::Day), Some(LineDetail::PerSku)),
        Some("day") => (Some(Period::Day), Some(LineDetail::Single)),
        Some("none") => (Some(Period::Run), Some(LineDetail::Single)),
        Some(other) => return Err(ApiError::BadRequest(format!("group_by {other:?}: use sku, day or none"))),
    };
    let period = http::query_parsed(req, "period")?.or(period);
    Ok(JournalOptions { period, detail, reversal_date: None })
}
