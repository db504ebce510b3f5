//! The bucket's object-created events: each object under a staged key is loaded into
//! its pending upload, once, however often or concurrently the event arrives.

use aws_lambda_events::s3::{S3Event, S3Object};
use cogs_core::db::{UploadRow, UploadStatus};
use cogs_core::lambda::telemetry::{self, Metric};
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
            Ok(StagedLoad::AlreadyDone { upload }) if replaced(&upload, &record.s3.object) => {
                // A used upload URL put another object under the key: the file as loaded
                // stays (the bucket keeps its version), and an operator hears of it.
                tracing::warn!(
                    key, upload_id = %upload.upload_id, loaded_etag = ?upload.object_etag,
                    new_etag = ?record.s3.object.e_tag, new_version = ?record.s3.object.version_id,
                    "a loaded upload's object was replaced; it was not loaded again"
                );
                telemetry::emit(Metric::StagedObjectsReplaced, 1, "upload-events");
                json!({ "key": key, "outcome": "replaced_after_load" })
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

/// Whether the event is for another object than the one a loaded upload loaded: by
/// version where both are known (a versioned bucket), else by ETag (S3 quotes it in
/// headers, not in events).
fn replaced(upload: &UploadRow, object: &S3Object) -> bool {
    if upload.status != UploadStatus::Loaded {
        return false;
    }
    match (&upload.object_version, &object.version_id, &upload.object_etag, &object.e_tag) {
        (Some(loaded), Some(event), _, _) => loaded != event,
        (_, _, Some(loaded), Some(event)) => loaded.trim_matches('"') != event.trim_matches('"'),
        _ => false,
    }
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
