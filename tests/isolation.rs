//! Tenant isolation, tested as the application role (no BYPASSRLS): what tenant A
//! writes, tenant B can neither see nor change.

use cogs_core::db;
use cogs_core::ingest::RecordKind;
use cogs_core::journal::{Format, JournalConfig};
use cogs_core::service::{self, JournalOptions};
use cogs_tests::{TestDb, caller, load, load_examples, lots_csv, remaining, run_to_end, tenant};
use tokio_postgres::error::SqlState;

#[tokio::test]
async fn everything_tenant_a_writes_is_invisible_to_tenant_b() {
    let db = TestDb::new().await;
    load_examples(&db, "tenant-a").await;
    let run = run_to_end(&db, "tenant-a", 3).await.unwrap();
    let b = tenant("tenant-b");

    let runs = service::list_runs(&db.pool, &b, None, 100, None).await.unwrap();
    let show = service::show_run(&db.pool, &b, run.run_id).await.unwrap_err();
    let stock = service::inventory(&db.pool, &b, None).await.unwrap();
    let journal = service::journal_entry(
        &db.pool,
        &b,
        run.run_id,
        JournalOptions::default(),
        Format::Json,
        &JournalConfig::default(),
    )
    .await
    .unwrap_err();
    let rollback = service::rollback_run(&db.pool, &caller("tenant-b"), run.run_id, false).await.unwrap_err();

    assert!(runs.runs.is_empty());
    assert!(stock.lots.is_empty());
    for error in [show, journal, rollback] {
        assert_eq!(error.kind(), "not_found", "another tenant's run answers exactly as a missing one: {error}");
    }
    let contents = db.contents(&["tenant-b"]).await;
    assert!(contents.values().all(Vec::is_empty), "tenant-b sees no row of any table: {contents:?}");
    assert_eq!(run_to_end(&db, "tenant-a", 3).await.unwrap().sales_total, 0, "and tenant-a's data is intact");
}

#[tokio::test]
async fn the_same_ids_in_two_tenants_are_two_different_records() {
    let db = TestDb::new().await;
    load_examples(&db, "tenant-a").await;
    load(&db, "tenant-b", &lots_csv(&["LOT-001,WIDGET-A,2024-07-01,3,3,99,0"]), "").await;

    run_to_end(&db, "tenant-a", 100).await.unwrap();

    assert_eq!(remaining(&db, "tenant-b").await, ["LOT-001=3"]);
    assert_eq!(remaining(&db, "tenant-a").await[0], "LOT-001=0");
}

#[tokio::test]
async fn without_a_tenant_setting_the_application_sees_nothing_and_cannot_insert() {
    let db = TestDb::new().await;
    load_examples(&db, "tenant-a").await;
    let app = db.app().await;

    for table in ["tenants", "uploads", "lots", "sales", "cogs_runs", "audit_log"] {
        let count: i64 = app.query_one(&format!("select count(*) from {table}"), &[]).await.unwrap().get(0);
        assert_eq!(count, 0, "{table}");
    }
    let insert = app.execute("insert into tenants (tenant_id) values ('tenant-a-copy')", &[]).await.unwrap_err();
    assert_eq!(insert.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{insert}");
}

#[tokio::test]
async fn a_tenant_cannot_write_rows_for_another_tenant() {
    let db = TestDb::new().await;
    load_examples(&db, "tenant-a").await;
    let app = db.app().await;
    app.batch_execute("begin; select set_config('app.tenant_id', 'tenant-b', true)").await.unwrap();

    let insert = app.execute("insert into tenants (tenant_id) values ('tenant-a')", &[]).await.unwrap_err();
    app.batch_execute("rollback").await.unwrap();
    app.batch_execute("begin; select set_config('app.tenant_id', 'tenant-b', true)").await.unwrap();
    let updated = app.execute("update lots set remaining_quantity = 0", &[]).await.unwrap();
    let deleted = app.execute("delete from lots", &[]).await;

    assert_eq!(insert.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    assert_eq!(updated, 0, "tenant-a's lots are not even visible to update");
    assert_eq!(
        deleted.unwrap_err().code(),
        Some(&SqlState::INSUFFICIENT_PRIVILEGE),
        "and the application never deletes lots"
    );
}

#[tokio::test]
async fn a_setting_ends_with_its_transaction_so_a_pooled_connection_carries_nothing() {
    let db = TestDb::new().await;
    load_examples(&db, "tenant-a").await;
    let pool = cogs_core::db::connect(&db.app_url(), 1, None).unwrap();

    let tx = db::begin(&pool, &tenant("tenant-a")).await.unwrap();
    tx.commit().await.unwrap();
    // The same, only connection: no tenant is set any more, and it sees nothing.
    let client = pool.get().await.unwrap();
    let setting: Option<String> =
        client.query_one("select current_setting('app.tenant_id', true)", &[]).await.unwrap().get(0);
    let lots: i64 = client.query_one("select count(*) from lots", &[]).await.unwrap().get(0);
    drop(client);
    let b_sees = service::inventory(&pool, &tenant("tenant-b"), None).await.unwrap();

    assert_eq!(setting.as_deref().unwrap_or(""), "");
    assert_eq!(lots, 0);
    assert!(b_sees.lots.is_empty());
    assert_eq!(pool.status().size, 1, "one connection served both tenants");
}

#[tokio::test]
async fn a_transaction_dropped_uncommitted_takes_its_connection_out_of_the_pool() {
    let db = TestDb::new().await;
    let pool = cogs_core::db::connect(&db.app_url(), 1, None).unwrap();
    let tx = db::begin(&pool, &tenant("tenant-a")).await.unwrap();
    db::ensure_tenant(&tx).await.unwrap();

    drop(tx);

    assert_eq!(pool.status().size, 0, "the connection with an open transaction was closed, not pooled");
    let next = pool.get().await.unwrap();
    let setting: Option<String> =
        next.query_one("select current_setting('app.tenant_id', true)", &[]).await.unwrap().get(0);
    assert_eq!(setting, None, "a new connection has never seen a tenant");
    drop(next);
    assert!(db.contents(&["tenant-a"]).await["tenant-a.tenants"].is_empty(), "and the write was rolled back");
}

#[tokio::test]
async fn the_application_role_cannot_switch_off_or_change_row_level_security() {
    let db = TestDb::new().await;
    let app = db.app().await;

    for statement in [
        "alter table lots disable row level security",
        "alter table lots no force row level security",
        "drop policy lots_tenant_isolation on lots",
        "create policy sneak on lots to cogs_app using (true)",
        "set role cogs_owner",
        "set row_security = off; select count(*) from lots",
        "truncate lots",
    ] {
        let error = app.batch_execute(statement).await;
        assert!(error.is_err(), "{statement} must fail");
    }
    let roles =
        app.query_one("select rolsuper, rolbypassrls from pg_roles where rolname = current_user", &[]).await.unwrap();
    assert_eq!((roles.get::<_, bool>(0), roles.get::<_, bool>(1)), (false, false));
}

#[tokio::test]
async fn maintenance_crosses_tenants_only_where_it_was_granted() {
    let db = TestDb::new().await;
    load_examples(&db, "tenant-a").await;
    run_to_end(&db, "tenant-a", 100).await.unwrap();
    let maintenance = db.maintenance().await;

    let runs: i64 = maintenance.query_one("select count(*) from cogs_runs", &[]).await.unwrap().get(0);
    let lots = maintenance.query("select * from lots", &[]).await;
    let costs = maintenance.query("select total_cogs from cogs_runs", &[]).await;

    assert_eq!(runs, 1, "it sees every tenant's runs");
    assert!(lots.is_err(), "but no lots");
    assert!(costs.is_err(), "and no costs");
}

#[tokio::test]
async fn a_tenant_id_with_sql_in_it_never_reaches_the_database() {
    for bad in ["tenant-a' or '1'='1", "a; drop table lots; --", "TENANT-A", ""] {
        assert!(cogs_core::model::TenantId::parse(bad).is_err(), "{bad:?}");
    }
    // The type is the only way in: every use case takes a parsed TenantId.
    let db = TestDb::new().await;
    let upload = service::upload(
        &db.pool,
        &caller("tenant-a"),
        RecordKind::Sales,
        "x'); drop table sales; --.csv",
        "sale_id,sku,sale_date,quantity_sold\nS1,A,2024-01-01,1\n".as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(upload.file_name, "x'); drop table sales; --.csv", "text is a parameter, never SQL");
}

#[tokio::test]
async fn with_sslmode_require_an_untrusted_server_certificate_is_refused() {
    let db = TestDb::new().await;
    // The local server's certificate is self-signed: no trusted CA vouches for it (the
    // server itself, not the local pooler, which speaks no TLS).
    let url = cogs_tests::url("cogs_api", &db.name);
    let pool = cogs_core::db::connect(&format!("{url}?sslmode=require"), 1, None).unwrap();

    let error = pool.get().await.expect_err("the connection must not be made");
    let mut causes = vec![error.to_string()];
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let error = causes.join(": ");

    assert!(error.contains("certificate"), "refused for its certificate, not silently downgraded: {error}");
}

/// Each lot and sale names its upload, and each upload its tenant. Row-level security
/// makes every row the loading tenant's; that the upload named is one of the tenant's
/// is proved by `cogs verify`, not by a key checked per row: a lot or sale planted as the
/// owner naming another tenant's upload, or none, is named. The application can delete
/// no tenant and no upload, and a tenant with uploads cannot be deleted at all.
#[tokio::test]
async fn every_lot_and_sale_names_an_upload_of_its_tenant() {
    let db = TestDb::new().await;
    load_examples(&db, "tenant-a").await;
    load_examples(&db, "tenant-b").await;
    let owner = db.owner().await;
    owner
        .batch_execute(
            "begin;
             alter table lots no force row level security; alter table sales no force row level security;
             alter table uploads no force row level security;
             insert into sales (tenant_id, sale_id, sku, sale_date, quantity_sold, upload_id)
             select 'tenant-a', 'S-NEW', 'SKU-1', now(), 1, upload_id from uploads where tenant_id = 'tenant-b' limit 1;
             insert into lots (tenant_id, lot_id, sku, received_date, original_quantity, initial_remaining_quantity,
                               remaining_quantity, unit_price, freight_cost_per_unit, upload_id)
             values ('tenant-a', 'L-NEW', 'SKU-1', now(), 1, 1, 1, 1, 0, '00000000-0000-0000-0000-000000000000');
             alter table lots force row level security; alter table sales force row level security;
             alter table uploads force row level security;
             commit;",
        )
        .await
        .unwrap();

    let error = service::verify(&db.pool, &tenant("tenant-a")).await.unwrap_err();
    let service::ServiceError::BooksInconsistent(report) = error else { panic!("{error}") };
    let named: Vec<(&str, &str)> = report.findings.iter().map(|f| (f.check, f.subject.as_str())).collect();
    assert_eq!(
        named,
        [
            // A sale planted past the upload path is also unknown to its SKU's watermark row.
            ("watermark_knows_the_latest_sale", "SKU-1"),
            ("lot_or_sale_names_an_upload", "L-NEW"),
            ("lot_or_sale_names_an_upload", "S-NEW")
        ]
    );
    assert!(service::verify(&db.pool, &tenant("tenant-b")).await.is_ok(), "tenant-b's book is untouched");
    let app = db.app().await;
    for table in ["tenants", "uploads"] {
        let row = app.query_one("select has_table_privilege($1, 'delete')", &[&table]).await.unwrap();
        assert!(!row.get::<_, bool>(0), "the application may delete {table}");
    }
    owner.batch_execute("begin; alter table tenants no force row level security").await.unwrap();
    let refused = owner.execute("delete from tenants where tenant_id = 'tenant-a'", &[]).await.unwrap_err();
    owner.batch_execute("rollback").await.unwrap();
    assert_eq!(refused.code(), Some(&SqlState::FOREIGN_KEY_VIOLATION));
}
