//! Large files through a real S3-protocol server on loopback (moto, started by
//! scripts/s3-local.sh): presigned PUT, the object-created event, duplicates, forged
//! keys and bad files, against a real database.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::process::Command;

use cogs_core::db::UploadStatus;
use cogs_core::ingest::RecordKind;
use cogs_core::lambda::Context;
use cogs_core::service::{self, PendingUpload, StagedLoad};
use cogs_core::staging::{S3Store, Staging, Store};
use cogs_tests::api::s3_put_event;
use cogs_tests::{TestDb, caller, load, lots_csv, remaining, s3_store, tenant};

/// PUTs `body` to a presigned URL with curl, as a browser or a merchant's script would.
fn put(pending: &PendingUpload, body: &[u8]) {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), body).unwrap();
    let mut curl = Command::new("curl");
    curl.args(["-sS", "-f", "-X", "PUT", "--upload-file"]).arg(file.path());
    for (name, value) in &pending.upload_url.headers {
        curl.args(["-H", &format!("{name}: {value}")]);
    }
    let status = curl.arg(&pending.upload_url.url).status().unwrap();
    assert!(status.success(), "the presigned PUT failed");
}

/// A staged upload of `sales` for acme-corp, with the URL to PUT them to.
async fn sales_upload_url(db: &TestDb, ctx: &Context, sales: &str) -> PendingUpload {
    service::create_upload(&db.pool, &ctx.staging, &caller("acme-corp"), RecordKind::Sales, "s.csv", size(sales))
        .await
        .unwrap()
}

fn size(file: &str) -> u64 {
    file.len() as u64
}

async fn context(db: &TestDb, store: S3Store) -> Context {
    cogs_tests::function_context(&db.app_url(), &[], Store::S3(store))
}

fn bucket(ctx: &Context) -> String {
    match &ctx.staging {
        Store::S3(store) => store.bucket().to_owned(),
        Store::Local(_) => unreachable!("these tests use S3"),
    }
}

/// A sales file of about `megabytes` MB for one SKU, and a lot covering it.
fn big_sales(megabytes: usize) -> (String, String, usize) {
    let mut sales = String::from("sale_id,sku,sale_date,quantity_sold\n");
    let mut count = 0;
    while sales.len() < megabytes * 1024 * 1024 {
        sales.push_str(&format!(
            "SALE-{count:09},WIDGET-A,2024-07-{:02}T{:02}:{:02}:00Z,1\n",
            2 + count % 27,
            count % 24,
            count % 60
        ));
        count += 1;
    }
    (lots_csv(&[&format!("LOT-1,WIDGET-A,2024-07-01,{count},{count},2.50,0.25")]), sales, count)
}

#[tokio::test]
async fn a_file_of_several_megabytes_goes_from_presigned_url_to_loaded_rows() {
    let db = TestDb::new().await;
    let ctx = context(&db, s3_store().await).await;
    let (lots, sales, count) = big_sales(6);
    load(&db, "acme-corp", &lots, "").await;
    let pending = service::create_upload(
        &db.pool,
        &ctx.staging,
        &caller("acme-corp"),
        RecordKind::Sales,
        "big.csv",
        sales.len() as u64,
    )
    .await
    .unwrap();
    assert_eq!(pending.upload.status, UploadStatus::Pending);
    assert_eq!(
        pending.upload.object_key.as_deref(),
        Some(format!("tenants/acme-corp/uploads/{}/sales.csv", pending.upload.upload_id).as_str())
    );

    put(&pending, sales.as_bytes());
    let loaded = service::load_staged(&db.pool, &ctx.staging, pending.upload.object_key.as_deref().unwrap(), "test")
        .await
        .unwrap();

    let StagedLoad::Loaded { upload, pieces } = loaded else { panic!("{loaded:?}") };
    assert_eq!((upload.status, upload.rows_inserted as usize), (UploadStatus::Loaded, count));
    assert!(pieces > 1, "the object was read in {pieces} piece(s), not whole");
    assert!(upload.object_etag.is_some());
    let shown = service::show_upload(&db.pool, &tenant("acme-corp"), upload.upload_id).await.unwrap();
    assert_eq!(shown.upload.rows_received as usize, count);
}

#[tokio::test]
async fn the_object_created_event_loads_once_however_often_it_arrives() {
    let db = TestDb::new().await;
    let ctx = context(&db, s3_store().await).await;
    load(&db, "acme-corp", &lots_csv(&["L1,A,2024-01-01,10,10,1,0"]), "").await;
    let sales = "sale_id,sku,sale_date,quantity_sold\nS1,A,2024-01-02,3\nS2,A,2024-01-03,4\n";
    let pending = service::create_upload(
        &db.pool,
        &ctx.staging,
        &caller("acme-corp"),
        RecordKind::Sales,
        "s.csv",
        sales.len() as u64,
    )
    .await
    .unwrap();
    put(&pending, sales.as_bytes());
    let key = pending.upload.object_key.clone().unwrap();

    let first = cogs_upload::events::handle(&ctx, s3_put_event(&bucket(&ctx), &key).await).await.unwrap();
    let before = db.data(&["acme-corp"]).await;
    let (again, concurrently) = tokio::join!(
        cogs_upload::events::handle(&ctx, s3_put_event(&bucket(&ctx), &key).await),
        cogs_upload::events::handle(&ctx, s3_put_event(&bucket(&ctx), &key).await)
    );

    assert_eq!(first["objects"][0]["outcome"], "loaded");
    assert_eq!(again.unwrap()["objects"][0]["outcome"], "already_done");
    assert_eq!(concurrently.unwrap()["objects"][0]["outcome"], "already_done");
    assert_eq!(db.data(&["acme-corp"]).await, before, "the repeats changed nothing");
}

#[tokio::test]
async fn concurrent_first_deliveries_load_the_object_once() {
    let db = TestDb::new().await;
    let ctx = context(&db, s3_store().await).await;
    let sales = "sale_id,sku,sale_date,quantity_sold\nS1,A,2024-01-02,3\n";
    let pending = sales_upload_url(&db, &ctx, sales).await;
    put(&pending, sales.as_bytes());
    let key = pending.upload.object_key.clone().unwrap();
    let other_pool = cogs_core::db::connect(&db.app_url(), 2, None).unwrap();

    let (a, b) = tokio::join!(
        service::load_staged(&db.pool, &ctx.staging, &key, "a"),
        service::load_staged(&other_pool, &ctx.staging, &key, "b")
    );

    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(outcomes.iter().filter(|o| matches!(o, StagedLoad::Loaded { .. })).count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| matches!(o, StagedLoad::AlreadyDone { .. })).count(), 1);
}

#[tokio::test]
async fn a_key_with_another_tenants_prefix_is_refused() {
    let db = TestDb::new().await;
    let ctx = context(&db, s3_store().await).await;
    let sales = "sale_id,sku,sale_date,quantity_sold\nS1,A,2024-01-02,3\n";
    let pending =
        service::create_upload(&db.pool, &ctx.staging, &caller("tenant-a"), RecordKind::Sales, "s.csv", size(sales))
            .await
            .unwrap();
    // Tenant B's name in front of tenant A's upload id.
    let forged = format!("tenants/tenant-b/uploads/{}/sales.csv", pending.upload.upload_id);
    ctx.staging.put(&forged, sales.as_bytes().to_vec()).await.unwrap();

    let outcome = cogs_upload::events::handle(&ctx, s3_put_event(&bucket(&ctx), &forged).await).await.unwrap();

    assert_eq!(outcome["objects"][0]["outcome"], "refused");
    assert!(db.data(&["tenant-a", "tenant-b"]).await.values().all(Vec::is_empty), "nothing was loaded anywhere");
    let upload = service::show_upload(&db.pool, &tenant("tenant-a"), pending.upload.upload_id).await.unwrap();
    assert_eq!(upload.upload.status, UploadStatus::Pending, "tenant A's upload still waits for its own file");
}

#[tokio::test]
async fn a_bad_staged_file_is_rejected_with_its_rows_and_leaves_the_data_unchanged() {
    let db = TestDb::new().await;
    let ctx = context(&db, s3_store().await).await;
    load(&db, "acme-corp", &lots_csv(&["L1,A,2024-01-01,10,10,1,0"]), "").await;
    let before = db.data(&["acme-corp"]).await;
    let sales = "sale_id,sku,sale_date,quantity_sold\nS1,A,2024-01-02,3\nS2,A,someday,4\n";
    let pending = sales_upload_url(&db, &ctx, sales).await;
    put(&pending, sales.as_bytes());

    let outcome = cogs_upload::events::handle(
        &ctx,
        s3_put_event(&bucket(&ctx), pending.upload.object_key.as_deref().unwrap()).await,
    )
    .await
    .unwrap();

    assert_eq!(outcome["objects"][0]["outcome"], "rejected");
    assert_eq!(db.data(&["acme-corp"]).await, before);
    let shown = service::show_upload(&db.pool, &tenant("acme-corp"), pending.upload.upload_id).await.unwrap();
    assert_eq!(shown.upload.status, UploadStatus::Rejected);
    assert_eq!(
        (shown.validation_errors[0].row_number, shown.validation_errors[0].column_name.as_deref()),
        (Some(3), Some("sale_date"))
    );
    assert_eq!(remaining(&db, "acme-corp").await, ["L1=10"]);
}

#[tokio::test]
async fn the_presigned_url_signs_the_declared_length() {
    let db = TestDb::new().await;
    let ctx = context(&db, s3_store().await).await;

    let pending =
        service::create_upload(&db.pool, &ctx.staging, &caller("acme-corp"), RecordKind::Sales, "s.csv", 1234)
            .await
            .unwrap();

    let url = &pending.upload_url.url;
    let signed = url.split('&').find_map(|p| p.strip_prefix("X-Amz-SignedHeaders=")).unwrap_or_default();
    assert!(signed.split("%3B").any(|header| header == "content-length"), "signed headers: {signed}");
    assert!(pending.upload_url.headers.contains(&("content-length".to_owned(), "1234".to_owned())));
}

#[tokio::test]
async fn an_object_of_another_size_than_declared_is_rejected_without_being_loaded() {
    let db = TestDb::new().await;
    let ctx = context(&db, s3_store().await).await;
    load(&db, "acme-corp", &lots_csv(&["L1,A,2024-01-01,10,10,1,0"]), "").await;
    let before = db.data(&["acme-corp"]).await;
    let declared = "sale_id,sku,sale_date,quantity_sold\nS1,A,2024-01-02,3\n";
    let larger = format!("{declared}S2,A,2024-01-03,4\n");
    let pending = service::create_upload(
        &db.pool,
        &ctx.staging,
        &caller("acme-corp"),
        RecordKind::Sales,
        "s.csv",
        size(declared),
    )
    .await
    .unwrap();
    let key = pending.upload.object_key.clone().unwrap();
    // What a client that ignores the signed length, or another writer, leaves behind.
    ctx.staging.put(&key, larger.clone().into_bytes()).await.unwrap();

    let outcome = cogs_upload::events::handle(&ctx, s3_put_event(&bucket(&ctx), &key).await).await.unwrap();

    assert_eq!(outcome["objects"][0]["outcome"], "rejected");
    assert_eq!(db.data(&["acme-corp"]).await, before, "no row of the object was loaded");
    let shown = service::show_upload(&db.pool, &tenant("acme-corp"), pending.upload.upload_id).await.unwrap();
    assert_eq!(shown.upload.status, UploadStatus::Rejected);
    assert_eq!(shown.validation_errors[0].error_type, "size_mismatch");
    assert!(shown.validation_errors[0].message.contains(&format!("is {} bytes", larger.len())));
}

#[tokio::test]
async fn a_function_reads_its_database_urls_once_from_a_secret_and_never_tells_the_secret() {
    let db = TestDb::new().await;
    let secrets = cogs_tests::secrets_client();
    let name = format!("cogs-test-database-{}", db.name);
    let urls = serde_json::json!({ "app_url": db.app_url(), "maintenance_url": db.maintenance_url() }).to_string();
    let secret = secrets.create_secret().name(&name).secret_string(urls).send().await.unwrap();
    let not_json = secrets
        .create_secret()
        .name(format!("{name}-plain"))
        .secret_string("postgres://cogs_api:hunter2@db/cogs")
        .send()
        .await
        .unwrap();

    let read = cogs_core::lambda::database_urls(&secrets, secret.arn().unwrap()).await.unwrap();
    let refused = cogs_core::lambda::database_urls(&secrets, not_json.arn().unwrap()).await.err().unwrap();

    let pool = cogs_core::db::connect(&read.app_url, 1, None).unwrap();
    let runs = service::list_runs(&pool, &tenant("acme-corp"), None, 10, None).await.unwrap();
    assert!(runs.runs.is_empty(), "connected as the application role");
    assert_eq!(read.maintenance_url, Some(db.maintenance_url()));
    let refused = refused.to_string();
    assert!(refused.contains("is not JSON") && !refused.contains("hunter2"), "{refused}");
}

#[tokio::test]
async fn a_used_upload_url_put_again_after_the_load_is_noticed_and_changes_nothing() {
    let db = TestDb::new().await;
    let ctx = context(&db, s3_store().await).await;
    let sales = "sale_id,sku,sale_date,quantity_sold\nS1,A,2024-01-02,3\n";
    let pending = sales_upload_url(&db, &ctx, sales).await;
    let key = pending.upload.object_key.clone().unwrap();
    put(&pending, sales.as_bytes());
    let loaded = cogs_upload::events::handle(&ctx, s3_put_event(&bucket(&ctx), &key).await).await.unwrap();
    let before = db.data(&["acme-corp"]).await;
    let repeated = cogs_upload::events::handle(&ctx, s3_put_event(&bucket(&ctx), &key).await).await.unwrap();

    // The same URL, the same size (it is signed), other rows.
    put(&pending, sales.replace("S1,A,2024-01-02,3", "S9,A,2024-01-02,9").as_bytes());
    let replaced = cogs_upload::events::handle(&ctx, s3_put_event(&bucket(&ctx), &key).await).await.unwrap();

    assert_eq!(loaded["objects"][0]["outcome"], "loaded");
    assert_eq!(repeated["objects"][0]["outcome"], "already_done", "the same object delivered again");
    assert_eq!(replaced["objects"][0]["outcome"], "replaced_after_load");
    assert_eq!(db.data(&["acme-corp"]).await, before, "the loaded file stays as it was loaded");
}
