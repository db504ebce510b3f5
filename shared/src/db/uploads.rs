//! Tenants, uploads, validation errors and the audit log.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;
use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::ingest::{RecordKind, RowError};

/// Records the tenant on its first write (tenants are created by use, not by sign-up).
pub async fn ensure_tenant(tx: &TenantTx) -> Result<(), DbError> {
    tx.execute(
        r"insert into tenants (tenant_id) values ($1) on conflict (tenant_id) do nothing",
        &[&tx.tenant_id().as_str()],
    )
    .await?;
    Ok(())
}

/// Serialises the tenant's uploads and run starts until the transaction ends, so an
/// upload never slips in while a run is starting.
pub async fn lock_tenant(tx: &TenantTx) -> Result<(), DbError> {
    tx.execute(r"select pg_advisory_xact_lock(hashtextextended('cogs.tenant:' || $1, 0))", &[&tx.tenant_id().as_str()])
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadStatus {
    /// Waiting for its staged object.
    Pending,
    Loaded,
    Rejected,
    /// Its staged object never arrived (or never could be loaded) in time.
    Expired,
}

impl UploadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadStatus::Pending => "pending",
            UploadStatus::Loaded => "loaded",
            UploadStatus::Rejected => "rejected",
            UploadStatus::Expired => "expired",
        }
    }
}

/// One row of `uploads`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadRow {
    pub upload_id: Uuid,
    pub kind: RecordKind,
    pub file_name: String,
    pub object_key: Option<String>,
    pub status: UploadStatus,
    /// For a staged upload: the size announced when its URL was asked for.
    pub expected_size: Option<i64>,
    pub rows_received: i64,
    pub rows_inserted: i64,
    pub rows_unchanged: i64,
    pub error_count: i64,
    /// The staged object's identity when it was loaded: for noticing a replacement, not
    /// part of the upload's wire form.
    #[serde(skip_serializing)]
    pub object_etag: Option<String>,
    #[serde(skip_serializing)]
    pub object_version: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<&Row> for UploadRow {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        let kind: &str = row.try_get("kind")?;
        let status: &str = row.try_get("status")?;
        Ok(Self {
            upload_id: row.try_get("upload_id")?,
            kind: kind.parse().map_err(|reason| DbError::Corrupt { column: "kind", reason })?,
            file_name: row.try_get("file_name")?,
            object_key: row.try_get("object_key")?,
            status: match status {
                "pending" => UploadStatus::Pending,
                "loaded" => UploadStatus::Loaded,
                "expired" => UploadStatus::Expired,
                _ => UploadStatus::Rejected,
            },
            expected_size: row.try_get("expected_size")?,
            rows_received: row.try_get("rows_received")?,
            rows_inserted: row.try_get("rows_inserted")?,
            rows_unchanged: row.try_get("rows_unchanged")?,
            error_count: row.try_get("error_count")?,
            object_etag: row.try_get("object_etag")?,
            object_version: row.try_get("object_version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

pub async fn insert_upload(tx: &TenantTx, upload: &UploadRow) -> Result<(), DbError> {
    tx.execute(
        r"insert into uploads (tenant_id, upload_id, kind, file_name, object_key, status, expected_size, created_at)
          values ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &tx.tenant_id().as_str(),
            &upload.upload_id,
            &upload.kind.as_str(),
            &upload.file_name,
            &upload.object_key,
            &upload.status.as_str(),
            &upload.expected_size,
            &upload.created_at,
        ],
    )
    .await?;
    Ok(())
}

/// Writes an upload's outcome: status, counts and the object it came from.
pub async fn update_upload(tx: &TenantTx, upload: &UploadRow) -> Result<(), DbError> {
    tx.execute(
        r"update uploads
          set status = $2, rows_received = $3, rows_inserted = $4, rows_unchanged = $5, error_count = $6,
              object_etag = $7, object_version = $8, updated_at = now()
          where upload_id = $1",
        &[
            &upload.upload_id,
            &upload.status.as_str(),
            &upload.rows_received,
            &upload.rows_inserted,
            &upload.rows_unchanged,
            &upload.error_count,
            &upload.object_etag,
            &upload.object_version,
        ],
    )
    .await?;
    Ok(())
}

/// Loads an upload and locks it until the transaction ends: events for one object take turns.
pub async fn lock_upload(tx: &TenantTx, upload_id: Uuid) -> Result<Option<UploadRow>, DbError> {
    tx.query_opt(r"select * from uploads where upload_id = $1 for update", &[&upload_id])
        .await?
        .as_ref()
        .map(UploadRow::try_from)
        .transpose()
}

pub async fn load_upload(tx: &TenantTx, upload_id: Uuid) -> Result<Option<UploadRow>, DbError> {
    tx.query_opt(r"select * from uploads where upload_id = $1", &[&upload_id])
        .await?
        .as_ref()
        .map(UploadRow::try_from)
        .transpose()
}

/// What a stored validation error is about.
#[derive(Debug, Clone, Copy)]
pub enum ErrorSubject {
    Upload(Uuid),
    Run(Uuid),
}

/// One row of `validation_errors`, as callers show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValidationErrorRow {
    pub row_number: Option<i64>,
    pub column_name: Option<String>,
    pub error_type: String,
    pub message: String,
    pub sale_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<&Row> for ValidationErrorRow {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        Ok(Self {
            row_number: row.try_get("row_number")?,
            column_name: row.try_get("column_name")?,
            error_type: row.try_get("error_type")?,
            message: row.try_get("message")?,
            sale_id: row.try_get("sale_id")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// Stores file problems, in one statement.
pub async fn insert_row_errors(tx: &TenantTx, subject: ErrorSubject, errors: &[RowError]) -> Result<(), DbError> {
    let rows: Vec<i64> = errors.iter().map(|e| i64::try_from(e.row).unwrap_or(i64::MAX)).collect();
    let columns: Vec<Option<&str>> = errors.iter().map(|e| e.column.as_deref()).collect();
    let kinds: Vec<&str> = errors.iter().map(|e| e.kind.as_str()).collect();
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    let (upload_id, run_id) = subject_ids(subject);
    tx.execute(
        r"insert into validation_errors (tenant_id, upload_id, run_id, row_number, column_name, error_type, message)
          select $1, $2, $3, e.row_number, e.column_name, e.error_type, e.message
          from unnest($4::bigint[], $5::text[], $6::text[], $7::text[]) as e(row_number, column_name, error_type, message)",
        &[&tx.tenant_id().as_str(), &upload_id, &run_id, &rows, &columns, &kinds, &messages],
    )
    .await?;
    Ok(())
}

/// Stores a run's failure about one sale.
pub async fn insert_sale_error(
    tx: &TenantTx,
    run_id: Uuid,
    sale_id: Option<&str>,
    error_type: &str,
    message: &str,
) -> Result<(), DbError> {
    tx.execute(
        r"insert into validation_errors (tenant_id, run_id, sale_id, error_type, message) values ($1, $2, $3, $4, $5)",
        &[&tx.tenant_id().as_str(), &run_id, &sale_id, &error_type, &message],
    )
    .await?;
    Ok(())
}

pub async fn load_validation_errors(
    tx: &TenantTx,
    subject: ErrorSubject,
    limit: i64,
) -> Result<Vec<ValidationErrorRow>, DbError> {
    let (upload_id, run_id) = subject_ids(subject);
    let rows = tx
        .query(
            r"select row_number, column_name, error_type, message, sale_id, created_at from validation_errors
              where (upload_id = $1 or run_id = $2)
              order by validation_error_id
              limit $3",
            &[&upload_id, &run_id, &limit],
        )
        .await?;
    rows.iter().map(ValidationErrorRow::try_from).collect()
}

fn subject_ids(subject: ErrorSubject) -> (Option<Uuid>, Option<Uuid>) {
    match subject {
        ErrorSubject::Upload(id) => (Some(id), None),
        ErrorSubject::Run(id) => (None, Some(id)),
    }
}

/// Appends to `audit_log`: who did what to which run or upload.
pub async fn insert_audit(
    tx: &TenantTx,
    actor: &str,
    action: &str,
    run_id: Option<Uuid>,
    upload_id: Option<Uuid>,
    details: &serde_json::Value,
) -> Result<(), DbError> {
    tx.execute(
        r"insert into audit_log (tenant_id, actor, action, run_id, upload_id, details) values ($1, $2, $3, $4, $5, $6)",
        &[&tx.tenant_id().as_str(), &actor, &action, &run_id, &upload_id, details],
    )
    .await?;
    Ok(())
}
