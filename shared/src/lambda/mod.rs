//! lambda: what every Lambda function shares, HTTP or not. The configuration read once
//! at start, the context built from it once per instance, serving requests and events,
//! an invocation's time left, logs and metrics, and the one rule for which failures of
//! an event are worth retrying. Depends on `service` (and the layers below it). Built
//! with the `lambda` feature.

mod config;
mod dispatch;
pub mod telemetry;

use std::time::Duration;

use lambda_http::lambda_runtime::Diagnostic;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

pub use config::{Config, ConfigError, DatabaseSource, DevTenantMode, Needs, StateMachineConfig, deployed};
pub use dispatch::RunDispatch;

use crate::service::{Category, ServiceError};
use crate::staging::Store;

/// Runs a Lambda HTTP function: JSON logs, the context built once (and kept for the
/// life of the instance), then `handler` for each request inside a span that carries
/// the method, path, tenant id and run id onto every log line.
pub async fn serve<F, Fut>(needs: Needs, handler: F) -> Result<(), lambda_http::Error>
where
    F: Fn(&'static Context, Request) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Body>> + Send,
{
    use tracing::Instrument;
    telemetry::init_tracing();
    // One context per instance, for as long as the instance lives.
    let context: &'static Context = Box::leak(Box::new(Context::init(needs).await?));
    lambda_http::run(lambda_http::service_fn(move |req: Request| {
        let span = tracing::info_span!(
            "request",
            method = %req.method(),
            path = %req.uri().path(),
            tenant_id = tracing::field::Empty,
            run_id = tracing::field::Empty,
        );
        async move { Ok::<_, std::convert::Infallible>(handler(context, req).await) }.instrument(span)
    }))
    .await
}

/// Runs a Lambda function for non-HTTP events (S3, Step Functions, EventBridge): JSON
/// logs, the context built once, then `handler` for each event.
pub async fn serve_events<E, R, F, Fut>(needs: Needs, handler: F) -> Result<(), lambda_http::Error>
where
    E: serde::de::DeserializeOwned + Send + 'static,
    R: Serialize + Send + 'static,
    F: Fn(&'static Context, lambda_http::lambda_runtime::LambdaEvent<E>) -> Fut + Copy + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<R, lambda_http::lambda_runtime::Diagnostic>> + Send,
{
    telemetry::init_tracing();
    let context: &'static Context = Box::leak(Box::new(Context::init(needs).await?));
    lambda_http::lambda_runtime::run(lambda_http::lambda_runtime::service_fn(move |event| handler(context, event)))
        .await
}

/// What a function builds once per instance: its configuration, a pool of one or two
/// connections (connections open on first use, so a cold start does not wait on the
/// database), the staging store, and how runs are carried on.
pub struct Context {
    pub config: Config,
    pub pool: deadpool_postgres::Pool,
    pub staging: Store,
    pub dispatch: RunDispatch,
    /// The maintenance role's pool, for the maintenance function only.
    pub maintenance_pool: Option<deadpool_postgres::Pool>,
}

impl Context {
    /// Reads the configuration from the environment, refuses to start a deployed
    /// function without what it `needs`, reads the database secret if there is one, and
    /// builds the clients. Only maintenance gets the maintenance role's pool.
    pub async fn init(needs: Needs) -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        config.require(needs)?;
        let urls = match &config.database {
            DatabaseSource::Urls { app, maintenance } => {
                DatabaseUrls { app_url: app.clone(), maintenance_url: maintenance.clone() }
            }
            DatabaseSource::Secret { arn, endpoint } => {
                let shared = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                let mut secrets = aws_sdk_secretsmanager::config::Builder::from(&shared);
                if let Some(endpoint) = endpoint {
                    secrets = secrets.endpoint_url(endpoint);
                }
                database_urls(&aws_sdk_secretsmanager::Client::from_conf(secrets.build()), arn).await?
            }
        };
        let ca_file = config.db_ca_file.as_deref();
        let connect = |url: &str, size| crate::db::connect(url, size, ca_file).map_err(|e| ConfigError(e.to_string()));
        let pool = connect(&urls.app_url, config.pool_size)?;
        let staging = Store::from_config(&config.staging).await;
        let dispatch = RunDispatch::from_config(config.state_machine.as_ref()).await;
        let maintenance_pool = match (needs, &urls.maintenance_url) {
            (Needs::MaintenanceRole, Some(url)) => Some(connect(url, 1)?),
            (Needs::MaintenanceRole, None) => {
                return Err(ConfigError("the database secret holds no maintenance_url".into()));
            }
            _ => None,
        };
        Ok(Self { config, pool, staging, dispatch, maintenance_pool })
    }
}

/// The time left before an invocation's deadline (zero once it has passed), or `None`
/// when there is no real deadline: local emulators send a duration (`cargo lambda`
/// sends 600000, ten minutes after 1970) where Lambda sends an instant.
pub fn time_left(context: &lambda_http::Context) -> Option<Duration> {
    // 2000-01-01T00:00:00Z: no real deadline is earlier.
    const FIRST_REAL_DEADLINE_MS: u64 = 946_684_800_000;
    (context.deadline >= FIRST_REAL_DEADLINE_MS)
        .then(|| context.deadline().duration_since(std::time::SystemTime::now()).unwrap_or_default())
}

/// The database URLs of a function, as its secret holds them.
#[derive(serde::Deserialize)]
pub struct DatabaseUrls {
    pub app_url: String,
    pub maintenance_url: Option<String>,
}

/// Reads the Secrets Manager secret `arn` (JSON with `app_url` and, for maintenance,
/// `maintenance_url`): once, at start. Errors name the secret, never its content.
pub async fn database_urls(client: &aws_sdk_secretsmanager::Client, arn: &str) -> Result<DatabaseUrls, ConfigError> {
    let secret = client.get_secret_value().secret_id(arn).send().await.map_err(|e| {
        ConfigError(format!(
            "reading the database secret {arn}: {}",
            aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
        ))
    })?;
    let text = secret.secret_string().ok_or_else(|| ConfigError(format!("the database secret {arn} holds no text")))?;
    serde_json::from_str(text)
        .map_err(|_| ConfigError(format!("the database secret {arn} is not JSON with an app_url string")))
}

/// An event's failure as the Lambda runtime reports it: `TransientError` when trying
/// again later may succeed (the database unreachable or busy, a lock or statement out
/// of time, storage failing, a conflict that passes, such as a run in progress), else
/// `PermanentError`. State machines and event sources retry on the first only.
pub fn diagnostic(error: &ServiceError) -> Diagnostic {
    let transient = match error {
        ServiceError::Db(db) => db.is_transient(),
        other => matches!(other.category(), Category::Infrastructure | Category::Conflict),
    };
    let error_type = if transient { "TransientError" } else { "PermanentError" };
    Diagnostic { error_type: error_type.to_owned(), error_message: error.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_retried_only_when_trying_again_later_may_succeed() {
        let kind = |error: ServiceError| diagnostic(&error).error_type;

        assert_eq!(kind(ServiceError::RunInProgress { run_id: None }), "TransientError", "a run in progress ends");
        assert_eq!(kind(ServiceError::InvalidRequest("bad".into())), "PermanentError");
        assert_eq!(kind(ServiceError::AmountOverflow), "PermanentError");
    }
}
