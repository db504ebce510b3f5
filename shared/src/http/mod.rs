//! http: what every HTTP function shares. The tenant from the verified token's claims,
//! routing by path template, request bodies, the one mapping from errors to statuses,
//! health, and a request's deadline. Depends on `lambda` (the context, configuration
//! and serving), `service` and the layers below. Built with the `lambda` feature.

mod body;
mod error;

use std::collections::HashMap;
use std::time::Duration;

use http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::json;

pub use body::{CsvUpload, csv_upload, json_body};
pub use error::ApiError;

use crate::lambda::{Config, Context, DevTenantMode, time_left};
use crate::model::TenantId;

/// Notes the run a request is about on the current span, so its log lines carry it.
pub fn record_run(run_id: uuid::Uuid) {
    tracing::Span::current().record("run_id", tracing::field::display(run_id));
}

/// Who is acting, for the audit log: the token's subject (or email), else `api`.
pub fn actor(req: &Request) -> String {
    let claims = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|jwt| &jwt.claims)
        }
        _ => None,
    };
    claims
        .and_then(|c| c.get("sub").or_else(|| c.get("email")))
        .map_or_else(|| "api".to_owned(), |who| format!("api:{who}"))
}

/// A successful answer: status, body, and the headers that go with it.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Body,
    pub content_type: &'static str,
    pub headers: Vec<(header::HeaderName, String)>,
}

impl Reply {
    /// `value` as JSON.
    pub fn json(status: StatusCode, value: &impl Serialize) -> Self {
        let body = serde_json::to_string(value).expect("reply types serialise");
        Self { status, body: Body::Text(body), content_type: "application/json", headers: Vec::new() }
    }

    pub fn with_header(mut self, name: header::HeaderName, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// Turns an outcome into the response: the single place a status is chosen. Failures
/// become the `{"error": {"type", "message", …}}` envelope; a 5xx body stays generic
/// while its cause is logged.
pub fn respond(outcome: Result<Reply, ApiError>) -> Response<Body> {
    let reply = outcome.unwrap_or_else(|error| {
        let status = error.status();
        if status.is_server_error() {
            tracing::error!(error = %error, cause = ?error, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), kind = error.kind(), "request refused");
        }
        let reply = Reply::json(status, &error.envelope());
        match error {
            ApiError::MethodNotAllowed { allow } => reply.with_header(header::ALLOW, allow),
            _ => reply,
        }
    });
    let mut response = Response::builder().status(reply.status).header(header::CONTENT_TYPE, reply.content_type);
    for (name, value) in reply.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response = response.header(name, value);
        }
    }
    response.body(reply.body).expect("status and headers are valid")
}

/// A route a function serves: method and path template, `{name}` marking a parameter.
pub type Route = (&'static str, &'static str);

/// The route `req` asks for among `routes`, with its path parameters. A path served
/// with another method is 405 naming the methods it accepts (RFC 9110's `Allow`); an
/// unknown path is 404.
pub fn route(req: &Request, routes: &[Route]) -> Result<(Route, HashMap<&'static str, String>), ApiError> {
    if let Some(parameters) = req.query_string_parameters_ref() {
        for (name, value) in parameters.iter() {
            refuse_nul(&format!("query parameter {name}"), value)?;
        }
    }
    let path: Vec<&str> = req.uri().path().trim_matches('/').split('/').collect();
    let mut allowed = Vec::new();
    for &(method, template) in routes {
        let Some(params) = match_template(template, &path) else { continue };
        if req.method().as_str() == method {
            return Ok(((method, template), params));
        }
        allowed.push(method);
    }
    Err(if allowed.is_empty() {
        ApiError::RouteNotFound
    } else {
        ApiError::MethodNotAllowed { allow: allowed.join(", ") }
    })
}

/// Refuses (400) text holding a NUL character, which no PostgreSQL text value can hold.
pub(crate) fn refuse_nul(what: &str, text: &str) -> Result<(), ApiError> {
    if text.contains('\0') {
        return Err(ApiError::BadRequest(format!("{what} contains a NUL character, which no field can hold")));
    }
    Ok(())
}

fn match_template(template: &'static str, path: &[&str]) -> Option<HashMap<&'static str, String>> {
    let parts: Vec<&'static str> = template.trim_matches('/').split('/').collect();
    if parts.len() != path.len() {
        return None;
    }
    let mut params = HashMap::new();
    for (part, segment) in parts.iter().zip(path) {
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => {
                params.insert(name, (*segment).to_owned());
            }
            None if part == segment => {}
            None => return None,
        }
    }
    Some(params)
}

/// Every function's own health route.
pub const HEALTH: Route = ("GET", "/health");

/// The tenant the request acts for: from the verified JWT's claims (the claim named by
/// the configuration). In development mode, and only on a request that carries no
/// authorizer context at all (`cargo lambda watch`), the `X-Tenant-Id` header names it
/// instead: a verified token always wins. A `tenant_id` query parameter must agree (403).
pub fn tenant_id(req: &Request, config: &Config) -> Result<TenantId, ApiError> {
    let tenant = claimed_tenant(req, config)?;
    tracing::Span::current().record("tenant_id", tenant.as_str());
    check_tenant(&tenant, req.query_string_parameters_ref().and_then(|q| q.first("tenant_id")))?;
    Ok(tenant)
}

fn claimed_tenant(req: &Request, config: &Config) -> Result<TenantId, ApiError> {
    let authorizer = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.authorizer.as_ref(),
        _ => None,
    };
    let Some(authorizer) = authorizer else {
        return match (config.dev_tenant, req.headers().get("x-tenant-id")) {
            (DevTenantMode::Header, Some(value)) => {
                let value = value.to_str().map_err(|_| ApiError::Unauthorized("the X-Tenant-Id header is not text"))?;
                TenantId::parse(value).map_err(|_| ApiError::Unauthorized("the X-Tenant-Id header is not a tenant id"))
            }
            _ => Err(ApiError::Unauthorized("the request carries no verified token")),
        };
    };
    let claims = authorizer
        .jwt
        .as_ref()
        .map(|jwt| &jwt.claims)
        .ok_or(ApiError::Unauthorized("the request carries no verified token"))?;
    let value = claims.get(&config.tenant_claim).ok_or(ApiError::Unauthorized("the token has no tenant claim"))?;
    TenantId::parse(value.as_str())
        .map_err(|_| ApiError::Forbidden("the token's tenant claim is not a valid tenant id".into()))
}

/// Refuses (403) a tenant id given in a request that is not the caller's.
pub fn check_tenant(tenant: &TenantId, given: Option<&str>) -> Result<(), ApiError> {
    match given {
        Some(given) if given != tenant.as_str() => {
            Err(ApiError::Forbidden(format!("tenant_id {given:?} is not the tenant of the token")))
        }
        _ => Ok(()),
    }
}

/// One query parameter, if given.
pub fn query<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref().and_then(|q| q.first(name))
}

/// A query parameter parsed, or 400 naming it.
pub fn query_parsed<T: std::str::FromStr>(req: &Request, name: &str) -> Result<Option<T>, ApiError>
where
    T::Err: std::fmt::Display,
{
    query(req, name)
        .map(|value| value.parse().map_err(|e| ApiError::BadRequest(format!("query parameter {name}: {e}"))))
        .transpose()
}

/// A run id from the path; a malformed one is "not found", like a missing one.
pub fn run_id(params: &HashMap<&'static str, String>) -> Result<uuid::Uuid, ApiError> {
    let value = params.get("run_id").map(String::as_str).unwrap_or_default();
    value
        .parse()
        .map_err(|_| ApiError::Service(crate::service::ServiceError::NotFound { what: "run", id: value.to_owned() }))
}

/// `GET /health`: 200 when the database answers `select 1` within the configured
/// timeout, 503 otherwise; the body says which check failed.
pub async fn health(ctx: &Context) -> Result<Reply, ApiError> {
    let check = async {
        let client = ctx.pool.get().await.map_err(|e| e.to_string())?;
        client.simple_query("select 1").await.map_err(|e| e.to_string())?;
        Ok::<_, String>(())
    };
    // The answer says what failed, never the database's own words (hosts, roles,
    // server messages): those go to the log, which only operators read.
    let database = match tokio::time::timeout(ctx.config.health_timeout, check).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => {
            tracing::warn!(error, "health check failed: the database could not be reached");
            Err("unreachable")
        }
        Err(_) => {
            tracing::warn!(
                timeout_ms = ctx.config.health_timeout.as_millis(),
                "health check failed: no answer in time"
            );
            Err("timeout")
        }
    };
    Ok(match database {
        Ok(()) => Reply::json(StatusCode::OK, &json!({ "status": "ok", "checks": { "database": "ok" } })),
        Err(problem) => Reply::json(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "status": "unavailable", "checks": { "database": problem } }),
        ),
    })
}

/// How long a request may keep working: `budget`, cut short to end `margin` before the
/// Lambda deadline when there is one.
pub fn deadline(req: &Request, budget: Duration, margin: Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    let left_in_invocation = req.lambda_context_ref().and_then(time_left).map(|left| left.saturating_sub(margin));
    let granted = left_in_invocation.map_or(budget, |left| left.min(budget));
    tracing::debug!(?granted, ?left_in_invocation, "time granted to the request");
    now + granted
}

#[cfg(test)]
mod tests {
    use std::time::{Instant, SystemTime, UNIX_EPOCH};

    use lambda_http::Context as LambdaContext;

    use super::*;

    fn with_deadline(deadline_ms: u64) -> Request {
        let mut context = LambdaContext::default();
        context.deadline = deadline_ms;
        Request::default().with_lambda_context(context)
    }

    #[test]
    fn the_lambda_deadline_cuts_the_budget_short_by_the_margin() {
        let in_ten_seconds = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(10);
        let req = with_deadline(in_ten_seconds.as_millis() as u64);

        let granted = deadline(&req, Duration::from_secs(60), Duration::from_secs(2)) - Instant::now();

        assert!(granted <= Duration::from_secs(8) && granted > Duration::from_secs(7), "{granted:?}");
    }

    #[test]
    fn a_deadline_that_has_passed_leaves_no_time() {
        let a_second_ago = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() - Duration::from_secs(1);
        let granted =
            deadline(&with_deadline(a_second_ago.as_millis() as u64), Duration::from_secs(20), Duration::ZERO);
        assert!(granted <= Instant::now());
    }

    #[test]
    fn an_emulators_duration_is_not_taken_for_a_deadline() {
        // cargo lambda sends 600000: ten minutes after 1970, not an instant.
        let granted =
            deadline(&with_deadline(600_000), Duration::from_secs(20), Duration::from_secs(2)) - Instant::now();
        assert!(granted > Duration::from_secs(19), "{granted:?}");
    }

    #[test]
    fn routes_match_templates_and_name_their_parameters() {
        let routes: &[Route] = &[HEALTH, ("POST", "/api/v1/runs/{run_id}/rollback")];
        let req = |method: &str, path: &str| {
            lambda_http::http::Request::builder().method(method).uri(path).body(Body::Empty).unwrap()
        };

        let (route, params) = route(&req("POST", "/api/v1/runs/abc/rollback"), routes).unwrap();

        assert_eq!((route, params["run_id"].as_str()), (routes[1], "abc"));
        assert!(matches!(
            super::route(&req("GET", "/api/v1/runs/abc/rollback"), routes),
            Err(ApiError::MethodNotAllowed { allow }) if allow == "POST"
        ));
        assert!(matches!(super::route(&req("GET", "/api/v1/nothing"), routes), Err(ApiError::RouteNotFound)));
    }
}
