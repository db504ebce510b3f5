//! Loading a lots or sales file: all or nothing.

use std::io::Read;

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use super::{Caller, ServiceError};
use crate::db::{self, ErrorSubject, TenantTx, UploadRow, UploadStatus};
use crate::ingest::{self, IngestError, MAX_REPORTED_ERRORS, RecordKind, Rejected, RowError, RowErrorKind};

/// Loads a file of `kind` for the caller's tenant, in one transaction.
///
/// Every row is validated; rows whose id already exists with the same values are
/// left as they are (a file can be uploaded twice), rows whose id exists with other
/// values are errors. Any error rejects the whole file: no lot or sale is written,
/// and the rejection (an `uploads` row with status `rejected`, each problem in
/// `validation_errors`, an `audit_log` entry) is recorded and returned as
/// [`ServiceError::UploadRejected`]. Refused with `RunInProgress` while the tenant
/// has an active run.
pub async fn upload(
    pool: &deadpool_postgres::Pool,
    caller: &Caller,
    kind: RecordKind,
    file_name: &str,
    input: impl Read + Send,
) -> Result<UploadRow, ServiceError> {
    let tx = db::begin(pool, &caller.tenant_id).await?;
    match upload_in(&tx, caller, kind, file_name, input).await {
        Ok(upload) => {
            tx.commit().await?;
            Ok(upload)
        }
        Err(ServiceError::UploadRejected { upload_id, rejected }) => {
            tx.rollback().await?;
            record_rejection(pool, caller, upload_id, file_name, &rejected).await?;
            Err(ServiceError::UploadRejected { upload_id, rejected })
        }
        Err(other) => Err(other),
    }
}

/// [`upload`] inside the caller's transaction. On rejection nothing is recorded: the
/// caller rolls back (and may record the rejection itself).
pub async fn upload_in(
    tx: &TenantTx,
    caller: &Caller,
    kind: RecordKind,
    file_name: &str,
    input: impl Read + Send,
) -> Result<UploadRow, ServiceError> {
    let upload_id = Uuid::now_v7();
    let rejected = |rejected: Rejected| ServiceError::UploadRejected { upload_id, rejected };
    db::lock_tenant(tx).await?;
    if let Some(active) = db::load_active_run(tx).await? {
        return Err(ServiceError::RunInProgress { run_id: Some(active.run_id) });
    }
    let copied = match kind {
        RecordKind::Lots => {
            let mut reader =
                ingest::read_lots(input, Some(&caller.tenant_id)).map_err(|e| ingest_failure(e, &rejected))?;
            let copied = db::copy_incoming_lots(tx, &mut reader.by_ref()).await?;
            reader.finish().map_err(|e| ingest_failure(e, &rejected))?;
            copied
        }
        RecordKind::Sales => {
            let mut reader =
                ingest::read_sales(input, Some(&caller.tenant_id)).map_err(|e| ingest_failure(e, &rejected))?;
            let copied = db::copy_incoming_sales(tx, &mut reader.by_ref()).await?;
            reader.finish().map_err(|e| ingest_failure(e, &rejected))?;
            copied
        }
    };
    let conflicts = match kind {
        RecordKind::Lots => db::conflicting_lots(tx).await?,
        RecordKind::Sales => db::conflicting_sales(tx).await?,
    };
    if !conflicts.is_empty() {
        return Err(rejected(conflict_rejection(kind, &conflicts)));
    }
    db::ensure_tenant(tx).await?;
    let mut upload = UploadRow {
        upload_id,
        kind,
        file_name: file_name.to_owned(),
        object_key: None,
        status: UploadStatus::Loaded,
        rows_received: copied as i64,
        rows_inserted: 0,
        rows_unchanged: 0,
        error_count: 0,
        created_at: Utc::now(),
    };
    // The upload row comes first: loaded rows refer to it.
    db::insert_upload(tx, &upload).await?;
    let inserted = match kind {
        RecordKind::Lots => db::insert_incoming_lots(tx, upload_id).await?,
        RecordKind::Sales => db::insert_incoming_sales(tx, upload_id).await?,
    };
    upload.rows_inserted = inserted as i64;
    upload.rows_unchanged = upload.rows_received - upload.rows_inserted;
    db::set_upload_counts(tx, upload_id, upload.rows_inserted, upload.rows_unchanged).await?;
    let details = json!({ "kind": kind, "file_name": file_name, "rows_received": upload.rows_received,
                          "rows_inserted": upload.rows_inserted, "rows_unchanged": upload.rows_unchanged });
    db::insert_audit(tx, &caller.actor, "upload.loaded", None, Some(upload_id), &details).await?;
    Ok(upload)
}

fn ingest_failure(error: IngestError, rejected: &impl Fn(Rejected) -> ServiceError) -> ServiceError {
    match error {
        IngestError::Rejected(rejection) => rejected(rejection),
        io => ServiceError::Ingest(io),
    }
}

fn conflict_rejection(kind: RecordKind, conflicts: &[(i64, String)]) -> Rejected {
    let column = match kind {
        RecordKind::Lots => "lot_id",
        RecordKind::Sales => "sale_id",
    };
    let errors = conflicts
        .iter()
        .take(MAX_REPORTED_ERRORS)
        .map(|(row, id)| {
            let message = format!(
                "{column} {id:?} is already loaded with different values; loaded records are not changed by a new file"
            );
            RowError::new(u64::try_from(*row).unwrap_or(0), Some(column), RowErrorKind::ConflictsWithExisting, message)
        })
        .collect();
    Rejected { kind, error_count: conflicts.len() as u64, errors }
}

/// Records a rejected file in its own transaction: the upload, its problems, and who
/// sent it. No lot or sale is touched.
async fn record_rejection(
    pool: &deadpool_postgres::Pool,
    caller: &Caller,
    upload_id: Uuid,
    file_name: &str,
    rejected: &Rejected,
) -> Result<(), ServiceError> {
    let tx = db::begin(pool, &caller.tenant_id).await?;
    db::ensure_tenant(&tx).await?;
    let upload = UploadRow {
        upload_id,
        kind: rejected.kind,
        file_name: file_name.to_owned(),
        object_key: None,
        status: UploadStatus::Rejected,
        rows_received: 0,
        rows_inserted: 0,
        rows_unchanged: 0,
        error_count: rejected.error_count as i64,
        created_at: Utc::now(),
    };
    db::insert_upload(&tx, &upload).await?;
    db::insert_row_errors(&tx, ErrorSubject::Upload(upload_id), &rejected.errors).await?;
    let details = json!({ "kind": rejected.kind, "file_name": file_name, "error_count": rejected.error_count });
    db::insert_audit(&tx, &caller.actor, "upload.rejected", None, Some(upload_id), &details).await?;
    tx.commit().await?;
    Ok(())
}
