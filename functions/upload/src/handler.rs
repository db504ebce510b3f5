//! The upload function: `POST /api/v1/files/{lots,sales}` loads a CSV file (all rows or
//! none), `GET /api/v1/files/templates/{lots,sales}` gives its template; `POST
//! /api/v1/uploads` hands out a presigned URL for a large file, `GET
//! /api/v1/uploads/{upload_id}` shows how its load went. The staged object's arrival is
//! handled by [`events`] (the `cogs-upload-events` binary).

pub mod events;

use std::collections::HashMap;

use cogs_core::http::{self, ApiError, HEALTH, Reply, Route};
use cogs_core::ingest::RecordKind;
use cogs_core::lambda::Context;
use cogs_core::service::{self, Caller};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

pub const ROUTES: &[Route] = &[
    HEALTH,
    ("POST", "/api/v1/files/{kind}"),
    ("GET", "/api/v1/files/templates/{kind}"),
    ("POST", "/api/v1/uploads"),
    ("GET", "/api/v1/uploads/{upload_id}"),
];

/// The body of `POST /api/v1/uploads`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUpload {
    kind: RecordKind,
    file_name: String,
    size: u64,
    tenant_id: Option<String>,
}

pub async fn handle(ctx: &Context, req: Request) -> Response<Body> {
    http::respond(dispatch(ctx, &req).await)
}

async fn dispatch(ctx: &Context, req: &Request) -> Result<Reply, ApiError> {
    let (route, params) = http::route(req, ROUTES)?;
    match route {
        HEALTH => http::health(ctx).await,
        ("POST", "/api/v1/files/{kind}") => upload(ctx, req, kind(&params)?).await,
        ("GET", "/api/v1/files/templates/{kind}") => Ok(template(kind(&params)?)),
        ("POST", "/api/v1/uploads") => {
            let tenant_id = http::tenant_id(req, &ctx.config)?;
            let body: NewUpload = http::json_body(req, ctx.config.max_body_bytes)?
                .ok_or_else(|| ApiError::BadRequest("the body must be {kind, file_name, size}".into()))?;
            http::check_tenant(&tenant_id, body.tenant_id.as_deref())?;
            let caller = Caller::new(tenant_id, http::actor(req));
            let pending =
                service::create_upload(&ctx.pool, &ctx.staging, &caller, body.kind, &body.file_name, body.size).await?;
            Ok(Reply::json(StatusCode::CREATED, &pending))
        }
        ("GET", "/api/v1/uploads/{upload_id}") => {
            let tenant_id = http::tenant_id(req, &ctx.config)?;
            let id = params.get("upload_id").map(String::as_str).unwrap_or_default();
            let not_found = || ApiError::Service(service::ServiceError::NotFound { what: "upload", id: id.to_owned() });
            let upload_id = id.parse().map_err(|_| not_found())?;
            Ok(Reply::json(StatusCode::OK, &service::show_upload(&ctx.pool, &tenant_id, upload_id).await?))
        }
        _ => Err(ApiError::RouteNotFound),
    }
}

fn kind(params: &HashMap<&'static str, String>) -> Result<RecordKind, ApiError> {
    // Only the documented names: `supplier-returns` is not a route.
    let name = params.get("kind").map(String::as_str).unwrap_or_default();
    RecordKind::ALL.into_iter().find(|kind| kind.as_str() == name).ok_or(ApiError::RouteNotFound)
}

/// 201 with the upload's counts, or 400 with every row error.
async fn upload(ctx: &Context, req: &Request, kind: RecordKind) -> Result<Reply, ApiError> {
    let tenant_id = http::tenant_id(req, &ctx.config)?;
    let file = http::csv_upload(req, ctx.config.max_body_bytes).await?;
    http::check_tenant(&tenant_id, file.tenant_id.as_deref())?;
    let caller = Caller::new(tenant_id, http::actor(req));
    let upload = service::upload(&ctx.pool, &caller, kind, &file.file_name, file.bytes.as_ref()).await?;
    Ok(Reply::json(StatusCode::CREATED, &upload))
}

fn template(kind: RecordKind) -> Reply {
    Reply {
        status: StatusCode::OK,
        body: Body::Text(kind.template().to_owned()),
        content_type: "text/csv; charset=utf-8",
        headers: vec![(
            lambda_http::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{kind}-template.csv\""),
        )],
    }
}
