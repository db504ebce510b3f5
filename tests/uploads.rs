//! Uploads against a real PostgreSQL: all or nothing, idempotent, every error kept.

use cogs_core::db::{self, ErrorSubject, UploadStatus};
use cogs_core::ingest::{RecordKind, RowErrorKind};
use cogs_core::model::LotId;
use cogs_core::service::{self, ServiceError};
use cogs_tests::{TestDb, caller, load, lots_csv, sales_csv, tenant};

#[tokio::test]
async fn a_file_with_one_bad_row_loads_nothing_and_every_error_is_stored_with_its_row() {
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots_csv(&["L0,A,2024-01-01,1,1,1,0"]), "").await;
    let before = db.data(&["acme-corp"]).await;
    let csv = lots_csv(&["L1,A,2024-01-01,10,10,1,0", "L2,A,2024-01-02,10,11,1,0", "L3,A,someday,5,5,1,0"]);

    let error = service::upload(&db.pool, &caller("acme-corp"), RecordKind::Lots, "lots.csv", csv.as_bytes())
        .await
        .unwrap_err();

    let ServiceError::UploadRejected { upload_id, rejected } = &error else { panic!("{error:?}") };
    let found: Vec<(u64, Option<&str>, RowErrorKind)> =
        rejected.errors.iter().map(|e| (e.row, e.column.as_deref(), e.kind)).collect();
    assert_eq!(
        found,
        [
            (3, Some("remaining_quantity"), RowErrorKind::RemainingExceedsOriginal),
            (4, Some("received_date"), RowErrorKind::BadDate)
        ]
    );
    assert_eq!(db.data(&["acme-corp"]).await, before, "no lot, sale or allocation changed");
    let tx = db::begin(&db.pool, &tenant("acme-corp")).await.unwrap();
    let upload = db::load_upload(&tx, *upload_id).await.unwrap().unwrap();
    let stored = db::load_validation_errors(&tx, ErrorSubject::Upload(*upload_id), 100).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!((upload.status, upload.error_count), (UploadStatus::Rejected, 2));
    let rows: Vec<(Option<i64>, Option<&str>, &str)> =
        stored.iter().map(|e| (e.row_number, e.column_name.as_deref(), e.error_type.as_str())).collect();
    assert_eq!(
        rows,
        [
            (Some(3), Some("remaining_quantity"), "remaining_exceeds_original"),
            (Some(4), Some("received_date"), "bad_date")
        ]
    );
}

#[tokio::test]
async fn uploading_the_same_file_twice_loads_it_once() {
    let db = TestDb::new().await;
    let csv = sales_csv(&["S1,A,2024-01-01,1", "S2,A,2024-01-02,2"]);
    service::upload(&db.pool, &caller("acme-corp"), RecordKind::Sales, "sales.csv", csv.as_bytes()).await.unwrap();
    let before = db.data(&["acme-corp"]).await;

    let again =
        service::upload(&db.pool, &caller("acme-corp"), RecordKind::Sales, "sales.csv", csv.as_bytes()).await.unwrap();

    assert_eq!((again.rows_received, again.rows_inserted, again.rows_unchanged), (2, 0, 2));
    assert_eq!(db.data(&["acme-corp"]).await, before);
}

#[tokio::test]
async fn a_lot_is_compared_as_loaded_even_after_runs_used_it() {
    let db = TestDb::new().await;
    let lots = lots_csv(&["L1,A,2024-01-01,10,10,1,0"]);
    load(&db, "acme-corp", &lots, &sales_csv(&["S1,A,2024-02-01,4"])).await;
    cogs_tests::run_to_end(&db, "acme-corp", 10).await.unwrap();

    let again =
        service::upload(&db.pool, &caller("acme-corp"), RecordKind::Lots, "lots.csv", lots.as_bytes()).await.unwrap();

    assert_eq!(again.rows_unchanged, 1);
    assert_eq!(cogs_tests::remaining(&db, "acme-corp").await, ["L1=6"], "re-uploading does not refill a lot");
}

#[tokio::test]
async fn a_row_that_conflicts_with_a_loaded_record_rejects_the_file_naming_the_row() {
    let db = TestDb::new().await;
    load(&db, "acme-corp", "", &sales_csv(&["S1,A,2024-01-01,1"])).await;
    let before = db.data(&["acme-corp"]).await;

    let csv = sales_csv(&["S2,A,2024-01-02,1", "S1,A,2024-01-01,5"]);
    let error = service::upload(&db.pool, &caller("acme-corp"), RecordKind::Sales, "sales.csv", csv.as_bytes())
        .await
        .unwrap_err();

    let ServiceError::UploadRejected { rejected, .. } = &error else { panic!("{error:?}") };
    let found: Vec<(u64, Option<&str>, RowErrorKind)> =
        rejected.errors.iter().map(|e| (e.row, e.column.as_deref(), e.kind)).collect();
    assert_eq!(found, [(3, Some("sale_id"), RowErrorKind::ConflictsWithExisting)]);
    assert_eq!(db.data(&["acme-corp"]).await, before, "S2 was not loaded either");
}

#[tokio::test]
async fn a_file_naming_another_tenant_is_rejected() {
    let db = TestDb::new().await;
    let csv = "sale_id,sku,sale_date,quantity_sold,tenant_id\nS1,A,2024-01-01,1,tenant-b\n";

    let error = service::upload(&db.pool, &caller("tenant-a"), RecordKind::Sales, "sales.csv", csv.as_bytes())
        .await
        .unwrap_err();

    assert_eq!(error.kind(), "validation_failed");
    assert!(db.data(&["tenant-a", "tenant-b"]).await.values().all(Vec::is_empty));
}

#[tokio::test]
async fn runs_page_newest_first_with_a_stable_cursor() {
    let db = TestDb::new().await;
    let mut started = Vec::new();
    for i in 0..5 {
        let day = i + 1;
        let lots = lots_csv(&[&format!("L{i},A,2024-01-0{day},1,1,1,0")]);
        load(&db, "acme-corp", &lots, &sales_csv(&[&format!("S{i},A,2024-01-0{day}T12:00:00Z,1")])).await;
        started.push(cogs_tests::run_to_end(&db, "acme-corp", 10).await.unwrap().run_id);
    }
    started.reverse();

    let first = service::list_runs(&db.pool, &tenant("acme-corp"), None, 2, None).await.unwrap();
    let second =
        service::list_runs(&db.pool, &tenant("acme-corp"), None, 2, first.next_cursor.as_deref()).await.unwrap();
    let third =
        service::list_runs(&db.pool, &tenant("acme-corp"), None, 2, second.next_cursor.as_deref()).await.unwrap();

    let ids: Vec<uuid::Uuid> =
        [first.runs, second.runs, third.runs.clone()].concat().iter().map(|r| r.run_id).collect();
    assert_eq!(ids, started);
    assert_eq!(third.next_cursor, None);
    let bad = service::list_runs(&db.pool, &tenant("acme-corp"), None, 2, Some("nonsense")).await.unwrap_err();
    assert_eq!(bad.kind(), "invalid_request");
    let filtered = service::list_runs(&db.pool, &tenant("acme-corp"), Some(cogs_core::db::RunStatus::Failed), 10, None)
        .await
        .unwrap();
    assert!(filtered.runs.is_empty());
}

/// One file per way a file can be refused, each with the problem it must report.
fn rejected_files() -> Vec<(RecordKind, Vec<u8>, RowErrorKind)> {
    let sales = |rows: &str| format!("sale_id,sku,sale_date,quantity_sold\n{rows}\n").into_bytes();
    let lots = |row: &str| lots_csv(&[row]).into_bytes();
    vec![
        (RecordKind::Sales, b"sale_id,sku,sale_date\nS1,A,2024-01-01\n".to_vec(), RowErrorKind::MissingColumn),
        (RecordKind::Sales, b"sale_id,sku,sku,sale_date,quantity_sold\n".to_vec(), RowErrorKind::DuplicateColumn),
        (RecordKind::Sales, Vec::new(), RowErrorKind::EmptyFile),
        (RecordKind::Sales, sales("").trim_ascii_end().to_vec(), RowErrorKind::NoRows),
        (RecordKind::Sales, sales("S1,A,2024-01-01"), RowErrorKind::WrongFieldCount),
        (
            RecordKind::Sales,
            [b"sale_id,sku,sale_date,quantity_sold\nS1,\xff,2024-01-01,1\n".as_slice()].concat(),
            RowErrorKind::InvalidUtf8,
        ),
        (RecordKind::Sales, sales(&format!("{},A,2024-01-01,1", "S".repeat(10_000))), RowErrorKind::FieldTooLong),
        (RecordKind::Sales, sales(",A,2024-01-01,1"), RowErrorKind::EmptyValue),
        (RecordKind::Sales, sales("\"S\u{7}1\",A,2024-01-01,1"), RowErrorKind::BadId),
        (RecordKind::Sales, sales("S1,A,2024-01-01,1e3"), RowErrorKind::BadNumber),
        (RecordKind::Sales, sales("S1,A,2024-01-01,0.0000001"), RowErrorKind::TooManyDecimals),
        (RecordKind::Sales, sales("S1,A,0999-01-01,1"), RowErrorKind::OutOfRange),
        (RecordKind::Sales, sales("S1,A,01/02/2024,1"), RowErrorKind::BadDate),
        (RecordKind::Sales, sales("S1,A,2024-01-01,0"), RowErrorKind::NonPositiveQuantity),
        (RecordKind::Lots, lots("L1,A,2024-01-01,5,-1,1,0"), RowErrorKind::NegativeQuantity),
        (RecordKind::Lots, lots("L1,A,2024-01-01,5,5,-1,0"), RowErrorKind::NegativeAmount),
        (RecordKind::Lots, lots("L1,A,2024-01-01,5,6,1,0"), RowErrorKind::RemainingExceedsOriginal),
        (RecordKind::Sales, sales("S1,A,2024-01-01,1\nS1,A,2024-01-02,1"), RowErrorKind::DuplicateId),
        (
            RecordKind::Sales,
            b"sale_id,sku,sale_date,quantity_sold,tenant_id\nS1,A,2024-01-01,1,other\n".to_vec(),
            RowErrorKind::TenantMismatch,
        ),
        (RecordKind::Lots, lots("L0,A,2024-01-01,9,9,9,0"), RowErrorKind::ConflictsWithExisting),
    ]
}

#[tokio::test]
async fn every_kind_of_rejected_file_leaves_the_data_exactly_as_it_was() {
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots_csv(&["L0,A,2024-01-01,1,1,1,0"]), &sales_csv(&["S0,A,2024-01-02,1"])).await;
    let before = db.data(&["acme-corp"]).await;

    for (kind, file, expected) in rejected_files() {
        let error =
            service::upload(&db.pool, &caller("acme-corp"), kind, "bad.csv", file.as_slice()).await.unwrap_err();

        let ServiceError::UploadRejected { rejected, .. } = &error else { panic!("{expected:?}: {error:?}") };
        assert_eq!(rejected.errors[0].kind, expected, "{:?}", rejected.errors);
        assert_eq!(db.data(&["acme-corp"]).await, before, "{expected:?} changed the data");
    }
}

#[tokio::test]
async fn ids_used_twice_in_a_file_are_named_with_their_first_row_among_the_other_problems() {
    let db = TestDb::new().await;
    let before = db.data(&["acme-corp"]).await;
    let csv = sales_csv(&[
        "S1,A,2024-01-01,1",
        "S2,A,2024-01-02,1",
        "S3,A,yesterday,1",
        "S1,A,2024-01-03,1",
        "S2,A,2024-01-02,1",
        "S1,A,2024-01-04,1",
    ]);

    let error = service::upload(&db.pool, &caller("acme-corp"), RecordKind::Sales, "sales.csv", csv.as_bytes())
        .await
        .unwrap_err();

    let ServiceError::UploadRejected { rejected, .. } = &error else { panic!("{error:?}") };
    let found: Vec<(u64, Option<&str>, RowErrorKind, &str)> =
        rejected.errors.iter().map(|e| (e.row, e.column.as_deref(), e.kind, e.message.as_str())).collect();
    let bad_date = rejected.errors[0].message.as_str();
    assert_eq!(
        found,
        [
            (4, Some("sale_date"), RowErrorKind::BadDate, bad_date),
            (5, Some("sale_id"), RowErrorKind::DuplicateId, "sale_id \"S1\" was already used on row 2"),
            (6, Some("sale_id"), RowErrorKind::DuplicateId, "sale_id \"S2\" was already used on row 3"),
            (7, Some("sale_id"), RowErrorKind::DuplicateId, "sale_id \"S1\" was already used on row 2"),
        ]
    );
    assert_eq!(rejected.error_count, 4);
    assert_eq!(db.data(&["acme-corp"]).await, before, "nothing loaded");
}

/// With lots L1 (SKU A) and B1 (SKU B) loaded: uploads `bad`, a `kind` file that must
/// be rejected, checks that nothing of it loaded, then uploads `good`. Returns the
/// rejected rows as (row, column, message) and SKU A's events as stored.
async fn rows_naming_lots(
    kind: RecordKind,
    bad: &str,
    good: &str,
) -> (Vec<(u64, Option<String>, String)>, db::SkuEvents) {
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots_csv(&["L1,A,2024-01-01,5,5,1,0", "B1,B,2024-01-01,5,5,1,0"]), "").await;
    let before = db.data(&["acme-corp"]).await;
    let error = service::upload(&db.pool, &caller("acme-corp"), kind, "file.csv", bad.as_bytes())
        .await
        .expect_err("the bad file is rejected");
    let ServiceError::UploadRejected { rejected, .. } = &error else { panic!("{error:?}") };
    let found = rejected.errors.iter().map(|e| (e.row, e.column.clone(), e.message.clone())).collect();
    assert_eq!(db.data(&["acme-corp"]).await, before, "nothing of the file was loaded");
    service::upload(&db.pool, &caller("acme-corp"), kind, "file.csv", good.as_bytes())
        .await
        .expect("the good file loads");
    let tx = db::begin(&db.pool, &tenant("acme-corp")).await.expect("a transaction");
    let events = db::load_sku_events(&tx, &["A"]).await.expect("SKU A's events");
    tx.rollback().await.expect("rolled back");
    (found, events)
}

fn rejection(row: u64, message: &str) -> (u64, Option<String>, String) {
    (row, Some("lot_id".to_owned()), message.to_owned())
}

#[tokio::test]
async fn a_sale_may_name_a_loaded_lot_of_its_sku_and_one_naming_any_other_rejects_the_file() {
    let bad = "sale_id,sku,sale_date,quantity_sold,lot_id\n\
               S1,A,2024-01-02,1,L1\n\
               S2,A,2024-01-02,1,NOPE\n\
               S3,A,2024-01-02,1,B1\n\
               S4,A,2024-01-02,1,\n";
    let good = "sale_id,sku,sale_date,quantity_sold,lot_id\nS1,A,2024-01-02,1,L1\nS4,A,2024-01-02,1,\n";

    let (found, events) = rows_naming_lots(RecordKind::Sales, bad, good).await;

    assert_eq!(
        found,
        [
            rejection(3, "lot_id NOPE is not loaded; load the lots file with the lot first"),
            rejection(4, "lot_id B1 is a lot of SKU B, not of A"),
        ]
    );
    let named: Vec<(&str, Option<&str>)> =
        events.sales.iter().map(|s| (s.sale_id.as_str(), s.lot_id.as_ref().map(LotId::as_str))).collect();
    assert_eq!(named, [("S1", Some("L1")), ("S4", None)], "the named lot is kept");
}

#[tokio::test]
async fn a_write_off_may_name_a_loaded_lot_of_its_sku_and_stock_found_names_none() {
    let bad = "adjustment_id,sku,adjustment_date,quantity,unit_cost,reason,lot_id\n\
               W1,A,2024-01-02,-1,,broken,L1\n\
               W2,A,2024-01-02,-1,,broken,NOPE\n\
               W3,A,2024-01-02,-1,,broken,B1\n\
               F1,A,2024-01-02,2,1.50,found,L1\n";
    let good = "adjustment_id,sku,adjustment_date,quantity,unit_cost,reason,lot_id\nW1,A,2024-01-02,-1,,broken,L1\n";

    let (found, events) = rows_naming_lots(RecordKind::Adjustments, bad, good).await;

    assert_eq!(
        found,
        [
            rejection(3, "lot_id NOPE is not loaded; load the lots file with the lot first"),
            rejection(4, "lot_id B1 is a lot of SKU B, not of A"),
            rejection(5, "quantity 2 adds stock, which comes from no lot; leave lot_id (L1) empty"),
        ]
    );
    assert_eq!(events.adjustments[0].lot_id.as_ref().map(LotId::as_str), Some("L1"), "the named lot is kept");
}
