//! Loading lots and sales files, all or nothing: straight from a request or the CLI,
//! or staged in object storage behind a presigned URL.

use std::io::Read;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{Caller, ServiceError};
use crate::db::{self, BatchProblem, ErrorSubject, TenantTx, UploadRow, UploadStatus, ValidationErrorRow};
use crate::ingest::{
    self, IngestError, MAX_REPORTED_ERRORS, Reader, Record, RecordKind, Rejected, RowError, RowErrorKind,
};
use crate::model::{
    Adjustment, CustomerReturn, LandedCost, Location, Lot, Sale, StockCount, SupplierReturn, TenantId, Transfer,
};
use crate::staging::{ObjectInfo, PresignedPut, Staging, StagingError};

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
    let mut upload = new_upload(kind, file_name);
    let tx = db::begin(pool, &caller.tenant_id).await?;
    match load_in(&tx, caller, &mut upload, true, input).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(upload)
        }
        Err(error) => Err(settle_failure(pool, caller, upload, true, tx, error).await),
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
    let mut upload = new_upload(kind, file_name);
    load_in(tx, caller, &mut upload, true, input).await?;
    Ok(upload)
}

fn new_upload(kind: RecordKind, file_name: &str) -> UploadRow {
    let now = Utc::now();
    UploadRow {
        upload_id: Uuid::now_v7(),
        kind,
        file_name: file_name.to_owned(),
        object_key: None,
        status: UploadStatus::Loaded,
        expected_size: None,
        rows_received: 0,
        rows_inserted: 0,
        rows_unchanged: 0,
        error_count: 0,
        object_etag: None,
        object_version: None,
        created_at: now,
        updated_at: now,
    }
}

/// A reader of `input` for `tenant`, putting rows that name no location at `at`.
fn reader<R: Read, T: Record>(input: R, tenant: Option<&TenantId>, at: &Location) -> Result<Reader<R, T>, IngestError> {
    Ok(Reader::new(input, tenant)?.at_default_location(at.clone()))
}

/// Validates `input` and loads it under `upload` (inserted first when `is_new`, since
/// loaded rows refer to it; else updated), filling in its counts.
///
/// Rows go to the database in batches of [`BATCH_ROWS`], one statement each, as they
/// are read: memory does not grow with the file. Reading goes on after a problem, so
/// every problem of the file is found; the caller rolls the transaction back.
async fn load_in(
    tx: &TenantTx,
    caller: &Caller,
    upload: &mut UploadRow,
    is_new: bool,
    input: impl Read + Send,
) -> Result<(), ServiceError> {
    let upload_id = upload.upload_id;
    let rejected = |rejected: Rejected| ServiceError::UploadRejected { upload_id, rejected };
    db::lock_tenant(tx).await?;
    if let Some(active) = db::load_active_run(tx).await? {
        return Err(ServiceError::RunInProgress { run_id: Some(active.run_id) });
    }
    db::ensure_tenant(tx).await?;
    if is_new {
        db::insert_upload(tx, upload).await?;
    }
    let tenant = Some(&caller.tenant_id);
    let at = db::load_settings(tx).await?.default_location;
    let reading = |error| ingest_failure(error, &rejected);
    let loaded = match upload.kind {
        RecordKind::Lots => load_records::<_, Lot>(tx, upload_id, reader(input, tenant, &at).map_err(reading)?).await?,
        RecordKind::Sales => {
            load_records::<_, Sale>(tx, upload_id, reader(input, tenant, &at).map_err(reading)?).await?
        }
        RecordKind::Returns => {
            load_records::<_, CustomerReturn>(tx, upload_id, reader(input, tenant, &at).map_err(reading)?).await?
        }
        RecordKind::SupplierReturns => {
            load_records::<_, SupplierReturn>(tx, upload_id, reader(input, tenant, &at).map_err(reading)?).await?
        }
        RecordKind::Adjustments => {
            load_records::<_, Adjustment>(tx, upload_id, reader(input, tenant, &at).map_err(reading)?).await?
        }
        RecordKind::Counts => {
            load_records::<_, StockCount>(tx, upload_id, reader(input, tenant, &at).map_err(reading)?).await?
        }
        RecordKind::LandedCosts => {
            load_records::<_, LandedCost>(tx, upload_id, reader(input, tenant, &at).map_err(reading)?).await?
        }
        RecordKind::Transfers => {
            load_records::<_, Transfer>(tx, upload_id, reader(input, tenant, &at).map_err(reading)?).await?
        }
    };
    let received = loaded.read.map_err(|e| ingest_failure(e, &rejected))?;
    upload.status = UploadStatus::Loaded;
    upload.rows_received = received as i64;
    upload.rows_inserted = loaded.inserted as i64;
    upload.rows_unchanged = upload.rows_received - upload.rows_inserted;
    db::update_upload(tx, upload).await?;
    let details = json!({ "kind": upload.kind, "file_name": upload.file_name, "object_key": upload.object_key,
                          "rows_received": upload.rows_received, "rows_inserted": upload.rows_inserted,
                          "rows_unchanged": upload.rows_unchanged });
    db::insert_audit(tx, &caller.actor, "upload.loaded", None, Some(upload_id), &details).await?;
    Ok(())
}

/// Rows sent to the database in one statement.
const BATCH_ROWS: usize = 50_000;

/// What loading a file's records did: the reader's verdict with every problem found
/// in the database merged in, and how many records were new.
struct Loaded {
    read: Result<u64, IngestError>,
    inserted: u64,
}

/// A kind of record a file loads, and the statements that load a batch of it: the
/// insert, the check of ids used twice or loaded with other values, and the check of
/// what its rows name (a return's sale, a landed cost's lot).
trait Loadable: ingest::Record + Send + Sync {
    async fn insert(tx: &TenantTx, upload_id: Uuid, batch: &[(u64, Self)]) -> Result<u64, db::DbError>;
    async fn problems(tx: &TenantTx, upload_id: Uuid, batch: &[(u64, Self)]) -> Result<Vec<BatchProblem>, db::DbError>;
    async fn references(_tx: &TenantTx, _batch: &[(u64, Self)]) -> Result<Vec<RowError>, db::DbError> {
        Ok(Vec::new())
    }
}

/// Implements [`Loadable`] for a record type with its db statements.
macro_rules! loadable {
    ($record:ty, $insert:path, $problems:path $(, $references:path)?) => {
        impl Loadable for $record {
            async fn insert(tx: &TenantTx, upload_id: Uuid, batch: &[(u64, Self)]) -> Result<u64, db::DbError> {
                $insert(tx, upload_id, batch).await
            }
            async fn problems(
                tx: &TenantTx,
                upload_id: Uuid,
                batch: &[(u64, Self)],
            ) -> Result<Vec<BatchProblem>, db::DbError> {
                $problems(tx, upload_id, batch).await
            }
            $(async fn references(tx: &TenantTx, batch: &[(u64, Self)]) -> Result<Vec<RowError>, db::DbError> {
                $references(tx, batch).await
            })?
        }
    };
}

loadable!(Lot, db::insert_lots_batch, db::lots_batch_problems, db::lot_reference_problems);
loadable!(Sale, db::insert_sales_batch, db::sales_batch_problems, db::sale_reference_problems);
loadable!(CustomerReturn, db::insert_returns_batch, db::returns_batch_problems, db::return_reference_problems);
loadable!(
    SupplierReturn,
    db::insert_supplier_returns_batch,
    db::supplier_returns_batch_problems,
    db::supplier_return_reference_problems
);
loadable!(Adjustment, db::insert_adjustments_batch, db::adjustments_batch_problems, db::adjustment_reference_problems);
loadable!(StockCount, db::insert_counts_batch, db::counts_batch_problems);
loadable!(Transfer, db::insert_transfers_batch, db::transfers_batch_problems);
loadable!(
    LandedCost,
    db::insert_landed_costs_batch,
    db::landed_costs_batch_problems,
    db::landed_cost_reference_problems
);

/// Inserts the reader's records batch by batch. A batch of which fewer records were
/// new than sent is checked for ids used twice in the file and ids loaded with other
/// values; identical records already loaded are left as they are.
async fn load_records<R: Read + Send, T: Loadable>(
    tx: &TenantTx,
    upload_id: Uuid,
    reader: Reader<R, T>,
) -> Result<Loaded, ServiceError> {
    let mut reader = reader.skip_duplicate_ids();
    let mut batch: Vec<(u64, T)> = Vec::with_capacity(BATCH_ROWS);
    let (mut inserted, mut problem_count) = (0, 0);
    let mut problems: Vec<RowError> = Vec::new();
    loop {
        batch.clear();
        batch.extend(reader.by_ref().take(BATCH_ROWS));
        if batch.is_empty() {
            break;
        }
        let new = T::insert(tx, upload_id, &batch).await?;
        inserted += new;
        for problem in T::references(tx, &batch).await? {
            problem_count += 1;
            if problems.len() < MAX_REPORTED_ERRORS {
                problems.push(problem);
            }
        }
        if new < batch.len() as u64 {
            for problem in T::problems(tx, upload_id, &batch).await? {
                problem_count += 1;
                if problems.len() < MAX_REPORTED_ERRORS {
                    problems.push(match problem.first_row {
                        Some(first) => RowError::duplicate_id(T::KIND, problem.row, &problem.id, first),
                        None => RowError::conflict(T::KIND, problem.row, &problem.id),
                    });
                }
            }
        }
    }
    let read = Rejected::add_found_elsewhere(reader.finish(), T::KIND, problems, problem_count);
    Ok(Loaded { read, inserted })
}

/// Rolls back a failed load; a rejected file is then recorded in its own transaction.
async fn settle_failure(
    pool: &deadpool_postgres::Pool,
    caller: &Caller,
    upload: UploadRow,
    is_new: bool,
    tx: TenantTx,
    error: ServiceError,
) -> ServiceError {
    if let Err(rollback) = tx.rollback().await {
        return rollback.into();
    }
    match error {
        ServiceError::UploadRejected { upload_id, rejected } => {
            match record_rejection(pool, caller, upload, is_new, &rejected).await {
                Ok(()) => ServiceError::UploadRejected { upload_id, rejected },
                Err(failure) => failure,
            }
        }
        other => other,
    }
}

fn ingest_failure(error: IngestError, rejected: &impl Fn(Rejected) -> ServiceError) -> ServiceError {
    match error {
        IngestError::Rejected(rejection) => rejected(rejection),
        io => ServiceError::Ingest(io),
    }
}

/// Records a rejected file in its own transaction: the upload, its problems, and who
/// sent it. No lot or sale is touched.
async fn record_rejection(
    pool: &deadpool_postgres::Pool,
    caller: &Caller,
    mut upload: UploadRow,
    is_new: bool,
    rejected: &Rejected,
) -> Result<(), ServiceError> {
    let tx = db::begin(pool, &caller.tenant_id).await?;
    db::ensure_tenant(&tx).await?;
    upload.status = UploadStatus::Rejected;
    upload.error_count = rejected.error_count as i64;
    if is_new {
        db::insert_upload(&tx, &upload).await?;
    }
    db::update_upload(&tx, &upload).await?;
    db::insert_row_errors(&tx, ErrorSubject::Upload(upload.upload_id), &rejected.errors).await?;
    let details = json!({ "kind": rejected.kind, "file_name": upload.file_name, "error_count": rejected.error_count });
    db::insert_audit(&tx, &caller.actor, "upload.rejected", None, Some(upload.upload_id), &details).await?;
    tx.commit().await?;
    Ok(())
}

/// How long a presigned upload URL works.
pub const PRESIGNED_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// The largest file accepted through a presigned URL.
pub const MAX_STAGED_BYTES: u64 = 5 * 1024 * 1024 * 1024;

/// Where a staged file lives: `tenants/{tenant_id}/uploads/{upload_id}/{kind}.csv`.
pub fn staged_key(tenant_id: &TenantId, upload_id: Uuid, kind: RecordKind) -> String {
    format!("tenants/{tenant_id}/uploads/{upload_id}/{kind}.csv")
}

/// Reads a staged key back into its tenant, upload and kind; `None` for any other key.
pub fn parse_staged_key(key: &str) -> Option<(TenantId, Uuid, RecordKind)> {
    let parts: Vec<&str> = key.split('/').collect();
    let ["tenants", tenant, "uploads", upload_id, file] = parts.as_slice() else { return None };
    let kind = RecordKind::ALL.into_iter().find(|kind| file.strip_suffix(".csv") == Some(kind.as_str()))?;
    Some((TenantId::parse(*tenant).ok()?, upload_id.parse().ok()?, kind))
}

/// A staged upload waiting for its file, and where to PUT it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingUpload {
    #[serde(flatten)]
    pub upload: UploadRow,
    pub upload_url: PresignedPut,
}

/// Starts a large upload: records it as `pending` under its staged key and returns a
/// presigned PUT URL for that key (valid [`PRESIGNED_URL_LIFETIME`]). The object's
/// arrival triggers [`load_staged`].
pub async fn create_upload(
    pool: &deadpool_postgres::Pool,
    staging: &impl Staging,
    caller: &Caller,
    kind: RecordKind,
    file_name: &str,
    size: u64,
) -> Result<PendingUpload, ServiceError> {
    if !(1..=MAX_STAGED_BYTES).contains(&size) {
        return Err(ServiceError::InvalidRequest(format!("size must be between 1 and {MAX_STAGED_BYTES} bytes")));
    }
    let mut upload = new_upload(kind, file_name);
    let key = staged_key(&caller.tenant_id, upload.upload_id, kind);
    upload.status = UploadStatus::Pending;
    upload.object_key = Some(key.clone());
    upload.expected_size = Some(size as i64);
    let upload_url =
        staging.presign_put(&key, "text/csv", size, PRESIGNED_URL_LIFETIME).await.map_err(staging_error)?;
    let tx = db::begin(pool, &caller.tenant_id).await?;
    db::ensure_tenant(&tx).await?;
    db::insert_upload(&tx, &upload).await?;
    let details = json!({ "kind": kind, "file_name": file_name, "object_key": key, "size": size });
    db::insert_audit(&tx, &caller.actor, "upload.requested", None, Some(upload.upload_id), &details).await?;
    tx.commit().await?;
    Ok(PendingUpload { upload, upload_url })
}

pub(super) fn staging_error(error: StagingError) -> ServiceError {
    match error {
        StagingError::NotFound { key } => ServiceError::NotFound { what: "staged object", id: key },
        StagingError::Unsupported(message) => ServiceError::InvalidRequest(message.to_owned()),
        other => ServiceError::Staging(other),
    }
}

/// What loading a staged object did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum StagedLoad {
    Loaded {
        upload: UploadRow,
        pieces: u64,
    },
    /// The upload was already loaded or rejected: a repeated event changes nothing.
    AlreadyDone {
        upload: UploadRow,
    },
}

/// Loads the staged object `key` into its pending upload, exactly as [`upload`] loads a
/// file. The tenant comes from the key; the upload must belong to that tenant and name
/// that key, or the object is refused (`NotFound`, as a forged key must learn nothing).
/// Repeated or concurrent events for one object load it once: the upload row is locked
/// and only a `pending` upload is loaded.
pub async fn load_staged(
    pool: &deadpool_postgres::Pool,
    staging: &impl Staging,
    key: &str,
    actor: &str,
) -> Result<StagedLoad, ServiceError> {
    let refused = || ServiceError::NotFound { what: "upload for object", id: key.to_owned() };
    let (tenant_id, upload_id, kind) = parse_staged_key(key).ok_or_else(refused)?;
    let caller = Caller::new(tenant_id, actor);
    let tx = db::begin(pool, &caller.tenant_id).await?;
    let mut upload = db::lock_upload(&tx, upload_id).await?.ok_or_else(refused)?;
    if upload.object_key.as_deref() != Some(key) || upload.kind != kind {
        return Err(refused());
    }
    if upload.status != UploadStatus::Pending {
        tx.rollback().await?;
        return Ok(StagedLoad::AlreadyDone { upload });
    }
    let declared = upload.expected_size.and_then(|size| u64::try_from(size).ok());
    let staged = match staging.fetch(key, declared).await {
        Ok(staged) => staged,
        Err(StagingError::SizeMismatch { declared, actual, .. }) => {
            let message = format!(
                "the file is {actual} bytes but its upload declared {declared}; nothing was loaded: \
                 ask for a new upload URL with the file's exact size"
            );
            let rejected = Rejected {
                kind,
                error_count: 1,
                errors: vec![RowError::new(1, None, RowErrorKind::SizeMismatch, message)],
            };
            let error = ServiceError::UploadRejected { upload_id, rejected };
            return Err(settle_failure(pool, &caller, upload, false, tx, error).await);
        }
        Err(other) => return Err(staging_error(other)),
    };
    let ObjectInfo { etag, version_id, .. } = staged.info.clone();
    upload.object_etag = etag;
    upload.object_version = version_id;
    let pieces = staged.pieces;
    match load_in(&tx, &caller, &mut upload, false, std::io::BufReader::new(staged.file)).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(StagedLoad::Loaded { upload, pieces })
        }
        Err(error) => Err(settle_failure(pool, &caller, upload, false, tx, error).await),
    }
}

/// Gives up on a staged upload that is still pending (its object never arrived, or
/// could not be loaded, in time): it becomes `expired`, with `reason` in the audit log,
/// and a late object is not loaded. Returns false when the upload was no longer pending.
pub async fn expire_upload(
    pool: &deadpool_postgres::Pool,
    caller: &Caller,
    upload_id: Uuid,
    reason: &str,
) -> Result<bool, ServiceError> {
    let tx = db::begin(pool, &caller.tenant_id).await?;
    let Some(mut upload) = db::lock_upload(&tx, upload_id).await?.filter(|u| u.status == UploadStatus::Pending) else {
        tx.rollback().await?;
        return Ok(false);
    };
    upload.status = UploadStatus::Expired;
    db::update_upload(&tx, &upload).await?;
    let details = json!({ "object_key": upload.object_key, "reason": reason });
    db::insert_audit(&tx, &caller.actor, "upload.expired", None, Some(upload_id), &details).await?;
    tx.commit().await?;
    Ok(true)
}

/// One upload with its row errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadDetail {
    #[serde(flatten)]
    pub upload: UploadRow,
    pub validation_errors: Vec<ValidationErrorRow>,
}

/// An upload of the tenant: status, counts and row errors.
pub async fn show_upload(
    pool: &deadpool_postgres::Pool,
    tenant_id: &TenantId,
    upload_id: Uuid,
) -> Result<UploadDetail, ServiceError> {
    let tx = db::begin(pool, tenant_id).await?;
    let upload = db::load_upload(&tx, upload_id)
        .await?
        .ok_or(ServiceError::NotFound { what: "upload", id: upload_id.to_string() })?;
    let validation_errors =
        db::load_validation_errors(&tx, ErrorSubject::Upload(upload_id), MAX_REPORTED_ERRORS as i64).await?;
    tx.rollback().await?;
    Ok(UploadDetail { upload, validation_errors })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_file_has_a_staged_key_that_reads_back() {
        let tenant = TenantId::parse("acme-corp").unwrap();
        let upload_id = Uuid::now_v7();
        for kind in RecordKind::ALL {
            let key = staged_key(&tenant, upload_id, kind);
            assert_eq!(parse_staged_key(&key), Some((tenant.clone(), upload_id, kind)), "{key}");
        }
        assert_eq!(parse_staged_key(&format!("tenants/acme-corp/uploads/{upload_id}/refunds.csv")), None);
        assert_eq!(parse_staged_key(&format!("tenants/acme-corp/uploads/{upload_id}/lots")), None);
    }
}
