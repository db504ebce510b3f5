//! Scheduled maintenance across tenants: stale runs resumed or abandoned, staged
//! uploads loaded or expired, expired validation errors deleted, statistics refreshed,
//! one tenant's failure kept from the others; the maintenance role only finds.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::time::Duration;

use cogs_core::db::{RunStatus, UploadStatus};
use cogs_core::ingest::RecordKind;
use cogs_core::model::ShortfallPolicy;
use cogs_core::service::{self, ChunkBudget, MaintenanceSettings, StagedLoad};
use cogs_core::staging::{LocalFolder, Staging, Store};
use cogs_tests::{TestDb, caller, load, lots_csv, remaining, run_row, sales_csv};

/// Makes a run look silent for `minutes`, as a worker that died would leave it.
async fn age_heartbeat(db: &TestDb, tenant: &str, run_id: uuid::Uuid, minutes: i32) {
    let app = db.app().await;
    app.batch_execute("begin").await.unwrap();
    app.execute("select set_config('app.tenant_id', $1, true)", &[&tenant]).await.unwrap();
    app.execute(
        "update cogs_runs set heartbeat_at = now() - make_interval(mins => $2), created_at = created_at - make_interval(mins => $2)
         where run_id = $1",
        &[&run_id, &minutes],
    )
    .await
    .unwrap();
    app.batch_execute("commit").await.unwrap();
}

/// A run that applied one chunk of three, then went silent.
async fn stalled_run(db: &TestDb, tenant: &str) -> uuid::Uuid {
    load(
        db,
        tenant,
        &lots_csv(&["L1,A,2024-01-01,10,10,1,0"]),
        &sales_csv(&["S1,A,2024-01-02,1", "S2,A,2024-01-03,2", "S3,A,2024-01-04,3"]),
    )
    .await;
    let run = service::start_run(&db.pool, &caller(tenant), None, Some(ShortfallPolicy::Fail)).await.unwrap();
    let one_chunk = ChunkBudget { chunk_size: 1, deadline: None, max_chunks: Some(1) };
    service::advance_run(&db.pool, &caller(tenant), run.run_id, &one_chunk).await.unwrap();
    run.run_id
}

#[tokio::test]
async fn a_stale_run_is_resumed_and_a_long_silent_one_abandoned_across_tenants() {
    let db = TestDb::new().await;
    let resumable = stalled_run(&db, "tenant-a").await;
    let hopeless = stalled_run(&db, "tenant-b").await;
    let fresh = stalled_run(&db, "tenant-c").await;
    age_heartbeat(&db, "tenant-a", resumable, 30).await;
    age_heartbeat(&db, "tenant-b", hopeless, 300).await;
    let maintenance = cogs_core::db::connect(&db.maintenance_url(), 1, None).unwrap();
    let staging = LocalFolder::new(std::env::temp_dir());
    let settings = MaintenanceSettings {
        stale_after: Duration::from_secs(15 * 60),
        abandon_after: Duration::from_secs(2 * 60 * 60),
        ..MaintenanceSettings::default()
    };

    let report = service::run_maintenance(&db.pool, &maintenance, &staging, &settings).await.unwrap();

    assert_eq!((report.stale_runs, report.runs_completed, report.runs_abandoned), (2, 1, 1), "{report:?}");
    assert!(report.analyzed);
    assert_eq!(run_row(&db, "tenant-a", resumable).await.unwrap().status, RunStatus::Completed);
    let abandoned = run_row(&db, "tenant-b", hopeless).await.unwrap();
    assert_eq!(abandoned.status, RunStatus::Failed);
    assert!(abandoned.error_message.unwrap().contains("no sign of life"), "the operator can read why");
    assert_eq!(remaining(&db, "tenant-b").await, ["L1=10"], "the abandoned run's chunk was undone");
    assert_eq!(run_row(&db, "tenant-c", fresh).await.unwrap().status, RunStatus::Running, "a live run is left alone");
}

#[tokio::test]
async fn validation_errors_past_their_retention_are_deleted() {
    let db = TestDb::new().await;
    reject_a_file_of(&db, "tenant-a").await;
    let maintenance = cogs_core::db::connect(&db.maintenance_url(), 1, None).unwrap();
    let staging = LocalFolder::new(std::env::temp_dir());
    let keep = MaintenanceSettings::default();
    let after_a_day = MaintenanceSettings { validation_retention: Duration::from_secs(86_400), ..keep.clone() };
    let fresh = service::run_maintenance(&db.pool, &maintenance, &staging, &after_a_day).await.unwrap();
    age_validation_errors(&db, "2 days").await;

    let kept = service::run_maintenance(&db.pool, &maintenance, &staging, &keep).await.unwrap();
    let expired = service::run_maintenance(&db.pool, &maintenance, &staging, &after_a_day).await.unwrap();

    assert_eq!(
        (fresh.validation_errors_deleted, kept.validation_errors_deleted, expired.validation_errors_deleted),
        (0, 0, 1)
    );
    assert!(db.contents(&["tenant-a"]).await["tenant-a.validation_errors"].is_empty());
}

/// Uploads a file with a bad date for `tenant`: rejected, it leaves one validation error.
async fn reject_a_file_of(db: &TestDb, tenant: &str) {
    let bad = "sale_id,sku,sale_date,quantity_sold\nS1,A,someday,1\n";
    service::upload(&db.pool, &caller(tenant), RecordKind::Sales, "bad.csv", bad.as_bytes()).await.unwrap_err();
}

/// Moves every validation error `age` into the past, as the owner.
async fn age_validation_errors(db: &TestDb, age: &str) {
    let owner = db.owner().await;
    owner
        .batch_execute(&format!(
            "begin; alter table validation_errors no force row level security;
             update validation_errors set created_at = created_at - interval '{age}';
             alter table validation_errors force row level security; commit;"
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_maintenance_role_can_neither_write_a_tenants_audit_or_runs_nor_delete_a_fresh_error() {
    let db = TestDb::new().await;
    reject_a_file_of(&db, "tenant-a").await;
    let before = db.contents(&["tenant-a"]).await;
    let maintenance = db.maintenance().await;

    let audit = maintenance
        .execute("insert into audit_log (tenant_id, actor, action, details) values ('tenant-a', 'x', 'x', '{}')", &[])
        .await;
    let runs = maintenance.execute("update cogs_runs set status = 'failed'", &[]).await;
    let deleted = maintenance.execute("delete from validation_errors", &[]).await.unwrap();

    for refused in [audit, runs] {
        let error = refused.unwrap_err();
        assert_eq!(error.code(), Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE), "{error}");
    }
    assert_eq!(deleted, 0, "an error less than a day old is the tenant's to read");
    assert_eq!(db.contents(&["tenant-a"]).await, before);
}

#[tokio::test]
async fn every_tenants_book_is_verified_and_a_broken_one_is_named() {
    let db = TestDb::new().await;
    for tenant in ["tenant-a", "tenant-b", "tenant-c"] {
        cogs_tests::load_examples(&db, tenant).await;
        cogs_tests::run_to_end(&db, tenant, 3).await.unwrap();
    }
    let maintenance = cogs_core::db::connect(&db.maintenance_url(), 1, None).unwrap();
    let staging = LocalFolder::new(std::env::temp_dir());
    let settings = MaintenanceSettings::default();
    let clean = service::run_maintenance(&db.pool, &maintenance, &staging, &settings).await.unwrap();
    db.owner()
        .await
        .batch_execute(
            "begin; alter table cogs_runs no force row level security;
             update cogs_runs set total_cogs = total_cogs + 0.01 where tenant_id = 'tenant-b';
             alter table cogs_runs force row level security; commit;",
        )
        .await
        .unwrap();

    let broken = service::run_maintenance(&db.pool, &maintenance, &staging, &settings).await.unwrap();

    assert_eq!((clean.books_verified, clean.books_inconsistent.len()), (3, 0));
    assert_eq!(broken.books_verified, 2, "the pass goes on past the broken book");
    assert_eq!(broken.books_inconsistent, [cogs_tests::tenant("tenant-b")]);
}

/// A staged upload of `tenant` waiting for `file`, as `POST /api/v1/uploads` leaves it.
async fn pending_upload(db: &TestDb, staging: &Store, tenant: &str, file: &str) -> (uuid::Uuid, String) {
    let pending =
        service::create_upload(&db.pool, staging, &caller(tenant), RecordKind::Sales, "s.csv", file.len() as u64)
            .await
            .unwrap();
    (pending.upload.upload_id, pending.upload.object_key.unwrap())
}

const SALES: &str = "sale_id,sku,sale_date,quantity_sold\nS1,A,2024-01-02,3\n";

fn look_at_every_pending_upload() -> MaintenanceSettings {
    MaintenanceSettings { pending_upload_after: Duration::ZERO, ..MaintenanceSettings::default() }
}

#[tokio::test]
async fn one_tenants_unreadable_object_does_not_stop_the_pass_for_the_others() {
    let db = TestDb::new().await;
    let store = cogs_tests::s3_store().await;
    let bucket = store.bucket().to_owned();
    let staging = Store::S3(store);
    let (_, archived) = pending_upload(&db, &staging, "tenant-a", SALES).await;
    // Moved to an archive class, the object answers InvalidObjectState: neither the file
    // nor NoSuchKey, like AccessDenied for a missing object without s3:ListBucket.
    cogs_tests::s3_client()
        .put_object()
        .bucket(&bucket)
        .key(&archived)
        .storage_class(aws_sdk_s3::types::StorageClass::Glacier)
        .body(SALES.as_bytes().to_vec().into())
        .send()
        .await
        .unwrap();
    let (_, arrived) = pending_upload(&db, &staging, "tenant-b", SALES).await;
    staging.put(&arrived, SALES.as_bytes().to_vec()).await.unwrap();
    let stalled = stalled_run(&db, "tenant-c").await;
    age_heartbeat(&db, "tenant-c", stalled, 30).await;
    let maintenance = cogs_core::db::connect(&db.maintenance_url(), 1, None).unwrap();

    let report =
        service::run_maintenance(&db.pool, &maintenance, &staging, &look_at_every_pending_upload()).await.unwrap();

    let failed: Vec<(&str, &str, &str)> =
        report.failures.iter().map(|f| (f.task, f.tenant_id.as_str(), f.item.as_str())).collect();
    assert_eq!(failed, [("pending_uploads", "tenant-a", archived.as_str())]);
    assert!(report.failures[0].error.contains("InvalidObjectState"), "{:?}", report.failures[0]);
    assert_eq!((report.uploads_loaded, report.runs_completed, report.books_verified), (1, 1, 3), "{report:?}");
    assert!(report.analyzed);
}

#[tokio::test]
async fn a_staged_upload_whose_file_never_arrives_expires_and_a_late_file_is_not_loaded() {
    let db = TestDb::new().await;
    let staging = Store::S3(cogs_tests::s3_store().await);
    let (upload_id, key) = pending_upload(&db, &staging, "tenant-a", SALES).await;
    let maintenance = cogs_core::db::connect(&db.maintenance_url(), 1, None).unwrap();
    let expire_now = MaintenanceSettings { pending_upload_expiry: Duration::ZERO, ..look_at_every_pending_upload() };

    let waiting =
        service::run_maintenance(&db.pool, &maintenance, &staging, &look_at_every_pending_upload()).await.unwrap();
    let expired = service::run_maintenance(&db.pool, &maintenance, &staging, &expire_now).await.unwrap();
    staging.put(&key, SALES.as_bytes().to_vec()).await.unwrap();
    let late = service::load_staged(&db.pool, &staging, &key, "test").await.unwrap();
    let after = service::run_maintenance(&db.pool, &maintenance, &staging, &expire_now).await.unwrap();

    assert_eq!((waiting.uploads_waiting, waiting.uploads_expired, waiting.failures.len()), (1, 0, 0));
    assert_eq!((expired.uploads_expired, expired.failures.len()), (1, 0));
    assert!(matches!(late, StagedLoad::AlreadyDone { .. }), "{late:?}");
    assert_eq!((after.uploads_waiting, after.uploads_expired, after.uploads_loaded), (0, 0, 0));
    let shown = service::show_upload(&db.pool, &cogs_tests::tenant("tenant-a"), upload_id).await.unwrap();
    assert_eq!(shown.upload.status, UploadStatus::Expired);
    let contents = db.contents(&["tenant-a"]).await;
    assert!(contents["tenant-a.sales"].is_empty());
    assert!(contents["tenant-a.audit_log"].iter().any(|row| row.contains("upload.expired")), "{contents:?}");
}
