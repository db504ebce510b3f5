//! The rollback function: `POST /api/v1/runs/{run_id}/rollback[?cascade=true]`.

use cogs_core::http::{self, ApiError, HEALTH, Reply, Route};
use cogs_core::lambda::Context;
use cogs_core::lambda::telemetry::{self, Metric};
use cogs_core::service::{self, Caller};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

pub const ROUTES: &[Route] = &[HEALTH, ("POST", "/api/v1/runs/{run_id}/rollback")];

pub async fn handle(ctx: &Context, req: Request) -> Response<Body> {
    http::respond(dispatch(ctx, &req).await)
}

async fn dispatch(ctx: &Context, req: &Request) -> Result<Reply, ApiError> {
    let (route, params) = http::route(req, ROUTES)?;
    match route {
        HEALTH => http::health(ctx).await,
        ("POST", "/api/v1/runs/{run_id}/rollback") => {
            let tenant_id = http::tenant_id(req, &ctx.config)?;
            let run_id = http::run_id(&params)?;
            http::record_run(run_id);
            let cascade = http::query_parsed(req, "cascade")?.unwrap_or(false);
            let caller = Caller::new(tenant_id, http::actor(req));
            let rolled_back = service::rollback_run(&ctx.pool, &caller, run_id, cascade).await?;
            telemetry::emit(Metric::RunsRolledBack, rolled_back.len() as u64, "rollback");
            Ok(Reply::json(StatusCode::OK, &json!({ "rolled_back": rolled_back })))
        }
        _ => Err(ApiError::RouteNotFound),
    }
}
