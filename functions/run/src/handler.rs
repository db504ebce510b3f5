//! The run function: `POST /api/v1/runs` starts a FIFO run for the token's tenant (after
//! loading any inline `lots_data` and `sales_data` exactly as files), costs as much as
//! the request's time allows, and answers 202 with where to poll. A dry run answers
//! 200 with the computed result and writes nothing.

use std::io::Cursor;
use std::time::{Duration, Instant};

use cogs_core::http::{self, ApiError, HEALTH, Reply, Route};
use cogs_core::ingest::{self, IngestError, RecordKind};
use cogs_core::lambda::Context;
use cogs_core::lambda::telemetry::{self, Metric};
use cogs_core::model::{Lot, Method, Sale, ShortfallPolicy, TenantId};
use cogs_core::service::{self, Caller, ChunkBudget, DryRunInput, RunProgress, ServiceError};
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub const ROUTES: &[Route] = &[HEALTH, ("POST", "/api/v1/runs")];

/// Time kept back from the Lambda deadline to answer.
const MARGIN: Duration = Duration::from_secs(2);

/// The body of `POST /api/v1/runs`, as the runbook sends it. All fields are optional:
/// an empty body costs what is already loaded.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartRun {
    tenant_id: Option<String>,
    /// Absent: the tenant's costing method; given, it must be that method.
    mode: Option<Method>,
    #[serde(default)]
    dry_run: bool,
    /// `park`: an uncovered sale parks its SKU; `fail`: it fails the run. Absent, the
    /// tenant's setting decides.
    on_shortfall: Option<ShortfallPolicy>,
    sales_data: Option<Vec<Map<String, Value>>>,
    lots_data: Option<Vec<Map<String, Value>>>,
}

pub async fn handle(ctx: &Context, req: Request) -> Response<Body> {
    http::respond(dispatch(ctx, &req).await)
}

async fn dispatch(ctx: &Context, req: &Request) -> Result<Reply, ApiError> {
    let (route, _) = http::route(req, ROUTES)?;
    match route {
        HEALTH => http::health(ctx).await,
        ("POST", "/api/v1/runs") => start(ctx, req).await,
        _ => Err(ApiError::RouteNotFound),
    }
}

async fn start(ctx: &Context, req: &Request) -> Result<Reply, ApiError> {
    let tenant_id = http::tenant_id(req, &ctx.config)?;
    let body: StartRun = http::json_body(req, ctx.config.max_body_bytes)?.unwrap_or_default();
    check_tenants(&tenant_id, &body)?;
    let lots = body.lots_data.as_deref().map(ingest::csv_from_json::<Lot>).transpose().map_err(rejected)?;
    let sales = body.sales_data.as_deref().map(ingest::csv_from_json::<Sale>).transpose().map_err(rejected)?;
    let caller = Caller::new(tenant_id, http::actor(req));
    if body.dry_run {
        let inline = [(RecordKind::Lots, lots), (RecordKind::Sales, sales)];
        let files = inline
            .into_iter()
            .filter_map(|(kind, csv)| csv.map(|csv| (kind, format!("{kind}_data"), Cursor::new(csv))))
            .collect();
        let input = DryRunInput { files };
        let deadline = http::deadline(req, ctx.config.dry_run_budget, MARGIN);
        let report = service::dry_run(&ctx.pool, &caller, body.mode, body.on_shortfall, input, Some(deadline)).await?;
        return Ok(Reply::json(StatusCode::OK, &report));
    }
    for (kind, csv) in [(RecordKind::Lots, lots), (RecordKind::Sales, sales)] {
        if let Some(csv) = csv {
            service::upload(&ctx.pool, &caller, kind, &format!("{kind}_data"), csv.as_slice()).await?;
        }
    }
    let started = Instant::now();
    let run = service::start_run(&ctx.pool, &caller, body.mode, body.on_shortfall).await?;
    http::record_run(run.run_id);
    telemetry::emit(Metric::RunsStarted, 1, "run");
    let location = format!("/api/v1/runs/{}", run.run_id);
    match ctx.dispatch.start(&caller.tenant_id, run.run_id).await {
        Ok(Some(execution)) => {
            let progress = RunProgress::from(&run);
            return Ok(Reply::json(
                StatusCode::ACCEPTED,
                &json!({ "run": progress, "location": location, "execution": execution }),
            )
            .with_header(header::LOCATION, location));
        }
        Ok(None) => {}
        // The run is recorded; costing it here now beats leaving it to maintenance.
        Err(problem) => tracing::error!(problem, "the state machine did not start; costing in the request"),
    }
    let budget = ChunkBudget {
        chunk_size: ctx.config.chunk_size,
        deadline: Some(http::deadline(req, ctx.config.inline_run_budget, MARGIN)),
        max_chunks: None,
    };
    let progress = match service::advance_run(&ctx.pool, &caller, run.run_id, &budget).await {
        Ok(progress) => progress,
        Err(error @ ServiceError::Costing(_)) => {
            telemetry::emit(Metric::RunsFailed, 1, "run");
            return Err(error.into());
        }
        Err(error) => return Err(error.into()),
    };
    if progress.done {
        telemetry::emit(Metric::RunsCompleted, 1, "run");
        telemetry::emit(Metric::RunDuration, started.elapsed().as_millis() as u64, "run");
        telemetry::emit(Metric::SkusParked, progress.skus_parked.unsigned_abs().into(), "run");
    }
    Ok(Reply::json(StatusCode::ACCEPTED, &json!({ "run": progress, "location": location }))
        .with_header(header::LOCATION, location))
}

/// A `tenant_id` at the top of the body or in any inline row must be the token's.
fn check_tenants(tenant_id: &TenantId, body: &StartRun) -> Result<(), ApiError> {
    http::check_tenant(tenant_id, body.tenant_id.as_deref())?;
    let rows = body.lots_data.iter().chain(body.sales_data.iter()).flatten();
    for given in rows.filter_map(|row| row.get("tenant_id")).filter_map(Value::as_str) {
        http::check_tenant(tenant_id, Some(given))?;
    }
    Ok(())
}

fn rejected(rejected: ingest::Rejected) -> ApiError {
    ApiError::Service(ServiceError::Ingest(IngestError::Rejected(rejected)))
}
