//! The HTTP functions as API Gateway calls them: HTTP API (payload v2) events built
//! from the fixtures, with JWT claims, through each function's handler.

use cogs_core::lambda::Context;
use cogs_core::staging::Store;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use crate::TestDb;

pub const JWT_EVENT: &str = include_str!("../fixtures/events/apigw-v2-jwt.json");
const MULTIPART_EVENT: &str = include_str!("../fixtures/events/apigw-v2-multipart.json");

pub struct Api {
    pub db: TestDb,
    pub ctx: Context,
}

impl Api {
    pub async fn new() -> Self {
        let db = TestDb::new().await;
        let mut ctx = context(&db.app_url(), &[]);
        ctx.staging = Store::S3(crate::s3_store().await);
        Self { db, ctx }
    }
}

/// A function's context as its `main` builds it, with `vars` over the defaults.
pub fn context(database_url: &str, vars: &[(&str, &str)]) -> Context {
    crate::function_context(database_url, vars, crate::local_staging())
}

/// An API Gateway v2 event for `method path?query` from the fixture: the token's tenant
/// claim is `tenant` (no authorizer at all when `None`), with an optional body.
pub fn request(method: &str, path_and_query: &str, tenant: Option<&str>, body: Option<(&str, &str)>) -> Request {
    let mut event: Value = serde_json::from_str(JWT_EVENT).unwrap();
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!(query);
    let parameters: serde_json::Map<String, Value> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    event["queryStringParameters"] = Value::Object(parameters);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    match tenant {
        Some(tenant) => event["requestContext"]["authorizer"]["jwt"]["claims"]["custom:tenant_id"] = json!(tenant),
        None => {
            event["requestContext"].as_object_mut().unwrap().remove("authorizer");
            event["headers"].as_object_mut().unwrap().remove("authorization");
        }
    }
    if let Some((content_type, body)) = body {
        event["headers"]["content-type"] = json!(content_type);
        event["body"] = json!(body);
    }
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

/// The multipart fixture (a lots file with a `tenant_id` form field of acme-corp), sent
/// with the token of `tenant`.
pub fn multipart(tenant: &str) -> Request {
    let mut event: Value = serde_json::from_str(MULTIPART_EVENT).unwrap();
    event["requestContext"]["authorizer"]["jwt"]["claims"]["custom:tenant_id"] = json!(tenant);
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

/// Calls the function that serves the route, as API Gateway would.
/// The dashboard as `cargo lambda watch` serves it locally.
static DASHBOARD: std::sync::LazyLock<cogs_web::Dashboard> = std::sync::LazyLock::new(|| {
    let config = [("COGS_DEV_TENANT_HEADER", "true"), ("COGS_WEB_BASE_PATH", "/lambda-url/cogs-web")];
    let config =
        cogs_web::WebConfig::from_lookup(|name| config.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).into()));
    cogs_web::Dashboard::new(&config.expect("a valid development configuration"))
});

pub async fn call(ctx: &Context, function: &str, req: Request) -> Response<Body> {
    match function {
        "upload" => cogs_upload::handle(ctx, req).await,
        "run" => cogs_run::handle(ctx, req).await,
        "list" => cogs_list::handle(ctx, req).await,
        "rollback" => cogs_rollback::handle(ctx, req).await,
        "journal-export" => cogs_journal_export::handle(ctx, req).await,
        "web" => cogs_web::handle(&DASHBOARD, &req),
        other => panic!("no function {other}"),
    }
}

pub fn body_json(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body())
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(response.body())))
}

pub fn header<'a>(response: &'a Response<Body>, name: &str) -> &'a str {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// An S3 object-created event (the fixture) for `key` in `bucket`, as the upload
/// function's `cogs-upload-events` receives it: with the object's own ETag and version,
/// as S3 sends them, when the local server has the object.
pub async fn s3_put_event(bucket: &str, key: &str) -> lambda_runtime::LambdaEvent<aws_lambda_events::s3::S3Event> {
    let mut event: Value = serde_json::from_str(include_str!("../fixtures/events/s3-put.json")).unwrap();
    event["Records"][0]["s3"]["bucket"]["name"] = json!(bucket);
    event["Records"][0]["s3"]["object"]["key"] = json!(key);
    if let Ok(head) = crate::s3_client().head_object().bucket(bucket).key(key).send().await {
        // S3 quotes an ETag in its headers, never in an event.
        event["Records"][0]["s3"]["object"]["eTag"] = json!(head.e_tag().map(|etag| etag.trim_matches('"')));
        event["Records"][0]["s3"]["object"]["versionId"] = json!(head.version_id());
    }
    lambda_runtime::LambdaEvent::new(serde_json::from_value(event).unwrap(), lambda_runtime::Context::default())
}
