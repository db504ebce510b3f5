//! Rollback against a real PostgreSQL: exact restoration, dependencies, cascade.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use cogs_core::db::RunStatus;
use cogs_core::journal::{Format, JournalConfig};
use cogs_core::service::{self, JournalOptions, ServiceError};
use cogs_tests::{
    TestDb, allocations, caller, load, load_examples, lots_csv, remaining, run_to_end, sales_csv, tenant,
};

#[tokio::test]
async fn rollback_restores_each_lot_to_its_snapshot_and_uncosts_the_sales() {
    let db = TestDb::new().await;
    load_examples(&db, "acme-corp").await;
    let before = db.data(&["acme-corp"]).await;
    let run = run_to_end(&db, "acme-corp", 2).await.unwrap();
    assert_ne!(
        remaining(&db, "acme-corp").await,
        ["LOT-001=100", "LOT-002=50", "LOT-003=180", "LOT-004=25.5", "LOT-005=80"]
    );

    let rolled_back = service::rollback_run(&db.pool, &caller("acme-corp"), run.run_id, false).await.unwrap();

    assert_eq!(rolled_back.len(), 1);
    assert_eq!(rolled_back[0].status, RunStatus::RolledBack);
    assert_eq!(
        remaining(&db, "acme-corp").await,
        ["LOT-001=100", "LOT-002=50", "LOT-003=180", "LOT-004=25.5", "LOT-005=80"]
    );
    let after = db.data(&["acme-corp"]).await;
    assert_eq!(before["acme-corp.lots"], after["acme-corp.lots"], "every lot column is as before the run");
    assert_eq!(before["acme-corp.sales"], after["acme-corp.sales"], "no sale was rewritten");
    assert_eq!(
        before["acme-corp.sku_watermarks"], after["acme-corp.sku_watermarks"],
        "every sale is uncosted again: each SKU's watermark is back before it"
    );
}

#[tokio::test]
async fn a_rerun_after_rollback_reproduces_the_original_allocations() {
    let db = TestDb::new().await;
    load_examples(&db, "acme-corp").await;
    let first = run_to_end(&db, "acme-corp", 3).await.unwrap();
    let original = allocations(&db, "acme-corp", first.run_id).await;
    service::rollback_run(&db.pool, &caller("acme-corp"), first.run_id, false).await.unwrap();

    let second = run_to_end(&db, "acme-corp", 5).await.unwrap();

    assert_eq!(allocations(&db, "acme-corp", second.run_id).await, original);
    assert_eq!(second.total_cogs, first.total_cogs);
    // The rolled-back run keeps its allocations for the record and the reversal.
    assert_eq!(allocations(&db, "acme-corp", first.run_id).await, original);
}

/// Two runs over SKU A: the second rests on the first.
async fn two_dependent_runs(db: &TestDb) -> (uuid::Uuid, uuid::Uuid) {
    load(
        db,
        "acme-corp",
        &lots_csv(&["L1,A,2024-01-01,10,10,1,0", "L2,B,2024-01-01,10,10,5,0"]),
        &sales_csv(&["S1,A,2024-02-01,4"]),
    )
    .await;
    let first = run_to_end(db, "acme-corp", 100).await.unwrap();
    load(db, "acme-corp", "", &sales_csv(&["S2,A,2024-03-01,5", "S3,B,2024-03-01,1"])).await;
    let second = run_to_end(db, "acme-corp", 100).await.unwrap();
    (first.run_id, second.run_id)
}

#[tokio::test]
async fn rollback_is_refused_while_a_later_run_rests_on_it_and_names_that_run() {
    let db = TestDb::new().await;
    let (first, second) = two_dependent_runs(&db).await;
    let before = db.contents(&["acme-corp"]).await;

    let error = service::rollback_run(&db.pool, &caller("acme-corp"), first, false).await.unwrap_err();

    let ServiceError::DependentRuns { later_runs, .. } = &error else { panic!("{error:?}") };
    assert_eq!(later_runs, &[second]);
    assert!(error.to_string().contains(&second.to_string()));
    assert_eq!(db.contents(&["acme-corp"]).await, before, "a refused rollback changes nothing");
}

#[tokio::test]
async fn cascade_rolls_back_the_later_runs_newest_first() {
    let db = TestDb::new().await;
    let (first, second) = two_dependent_runs(&db).await;

    let rolled_back = service::rollback_run(&db.pool, &caller("acme-corp"), first, true).await.unwrap();

    let order: Vec<uuid::Uuid> = rolled_back.iter().map(|run| run.run_id).collect();
    assert_eq!(order, [second, first]);
    assert_eq!(remaining(&db, "acme-corp").await, ["L1=10", "L2=10"]);
    let audit = db.contents(&["acme-corp"]).await["acme-corp.audit_log"].clone();
    assert_eq!(audit.iter().filter(|row| row.contains("run.rolled_back")).count(), 2);
}

#[tokio::test]
async fn a_later_run_on_other_skus_does_not_block_a_rollback() {
    let db = TestDb::new().await;
    load(
        &db,
        "acme-corp",
        &lots_csv(&["L1,A,2024-01-01,10,10,1,0", "L2,B,2024-01-01,10,10,5,0"]),
        &sales_csv(&["S1,A,2024-02-01,4"]),
    )
    .await;
    let first = run_to_end(&db, "acme-corp", 100).await.unwrap();
    load(&db, "acme-corp", "", &sales_csv(&["S3,B,2024-03-01,1"])).await;
    run_to_end(&db, "acme-corp", 100).await.unwrap();

    let rolled_back = service::rollback_run(&db.pool, &caller("acme-corp"), first.run_id, false).await.unwrap();

    assert_eq!(rolled_back.len(), 1);
    assert_eq!(remaining(&db, "acme-corp").await, ["L1=10", "L2=9"]);
}

#[tokio::test]
async fn rolling_back_twice_changes_nothing_the_second_time() {
    let db = TestDb::new().await;
    load_examples(&db, "acme-corp").await;
    let run = run_to_end(&db, "acme-corp", 100).await.unwrap();
    service::rollback_run(&db.pool, &caller("acme-corp"), run.run_id, false).await.unwrap();
    let before = db.contents(&["acme-corp"]).await;

    let again = service::rollback_run(&db.pool, &caller("acme-corp"), run.run_id, false).await.unwrap();

    assert_eq!(again[0].status, RunStatus::RolledBack);
    assert_eq!(db.contents(&["acme-corp"]).await, before);
}

#[tokio::test]
async fn a_failed_run_has_nothing_to_roll_back() {
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots_csv(&["L1,A,2024-01-01,1,1,1,0"]), &sales_csv(&["S1,A,2024-02-01,4"])).await;
    let error = run_to_end(&db, "acme-corp", 100).await.unwrap_err();
    assert_eq!(error.kind(), "insufficient_inventory");
    let page = service::list_runs(&db.pool, &tenant("acme-corp"), None, 10, None).await.unwrap();

    let refused = service::rollback_run(&db.pool, &caller("acme-corp"), page.runs[0].run_id, false).await.unwrap_err();

    assert_eq!(refused.kind(), "wrong_run_status");
}

#[tokio::test]
async fn the_journal_of_a_rolled_back_run_is_its_reversal() {
    let db = TestDb::new().await;
    load_examples(&db, "acme-corp").await;
    let run = run_to_end(&db, "acme-corp", 100).await.unwrap();
    let options = JournalOptions { period: Some(cogs_core::journal::Period::Run), ..JournalOptions::default() };
    let (acme, config) = (tenant("acme-corp"), JournalConfig::default());
    let journal = |format| service::journal_entry(&db.pool, &acme, run.run_id, options, format, &config);
    let posted = String::from_utf8(journal(Format::Csv).await.unwrap().rendered().body).unwrap();
    service::rollback_run(&db.pool, &caller("acme-corp"), run.run_id, false).await.unwrap();

    let reversal = journal(Format::Csv).await.unwrap();

    let text = String::from_utf8(reversal.rendered().body).unwrap();
    assert!(reversal.file_name.starts_with("cogs-reversal-"));
    assert!(text.contains("REV-"), "{text}");
    assert_eq!(posted.lines().count(), text.lines().count());
    // Same amounts, sides swapped: the COGS line is now a credit.
    assert!(posted.contains("5000,Cost of Goods Sold,Cost of Goods Sold COFFEE-KG,COFFEE-KG,239.06,"));
    assert!(text.contains("5000,Cost of Goods Sold,Cost of Goods Sold COFFEE-KG,COFFEE-KG,,239.06"));
}
