//! The bucket's object-created events: each object under a staged key is loaded into
//! its pending upload, once, however often or concurrently the event arrives.

use aws_lambda_events::s3::S3Event;
use cogs_core::lambda::{self, Context};
use cogs_core::service::{self, ServiceError, StagedLoad};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};

/// Loads every object the event names. A key that is not a staged upload of its
/// tenant is refused and logged, and the event is not retried for it; a rejected file
/// is recorded on its upload. A failure worth retrying (the database, the store, a
/// run in progress) fails the invocation so Lambda delivers the event again.
pub async fn handle(ctx: &Context, event: LambdaEvent<S3Event>) -> Result<Value, Diagnostic> {
    let mut outcomes = Vec::new();
    for record in event.payload.records {
        let Some(raw_key) = record.s3.object.key.as_deref() else { continue };
        let key = decode_key(raw_key);
        let outcome = match service::load_staged(&ctx.pool, &ctx.staging, &key, "s3-event").await {
            Ok(StagedLoad::Loaded { upload, pieces }) => {
                tracing::info!(key, upload_id = %upload.upload_id, rows = upload.rows_received, pieces, "staged file loaded");
                json!({ "key": key, "outcome": "loaded", "rows": upload.rows_received })
            }
            Ok(StagedLoad::AlreadyDone { upload }) => {
                tracing::info!(key, status = upload.status.as_str(), etag = ?record.s3.object.e_tag, "repeated event ignored");
                json!({ "key": key, "outcome": "already_done" })
            }
            Err(ServiceError::UploadRejected { upload_id, rejected }) => {
                tracing::info!(key, %upload_id, errors = rejected.error_count, "staged file rejected");
                json!({ "key": key, "outcome": "rejected", "errors": rejected.error_count })
            }
            Err(error @ ServiceError::NotFound { .. }) => {
                tracing::warn!(key, %error, "refused: the key is not a pending upload of the tenant it names");
                json!({ "key": key, "outcome": "refused" })
            }
            Err(error) => return Err(failure(&error)),
        };
        outcomes.push(outcome);
    }
    Ok(json!({ "objects": outcomes }))
}

/// S3 event keys are URL-encoded, with `+` for a space.
fn decode_key(key: &str) -> String {
    percent_encoding::percent_decode_str(&key.replace('+', " ")).decode_utf8_lossy().into_owned()
}

/// Logged, then reported by the functions' one rule: a `TransientError` has Lambda
/// deliver the event again.
fn failure(error: &ServiceError) -> Diagnostic {
    tracing::error!(%error, cause = ?error, "staged file not loaded");
    lambda::diagnostic(error)
}
