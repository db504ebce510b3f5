//! Races: many callers at once on one tenant end in one consistent state, checked by
//! the books' invariants (every costed sale covered exactly by its allocations, every
//! lot's remaining quantity its initial one less what live runs took, run totals the
//! sums of their rows) and by every journal balancing.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::sync::Arc;

use cogs_core::db::RunStatus;
use cogs_core::ingest::RecordKind;
use cogs_core::journal::{Format, JournalConfig, Side};
use cogs_core::model::ShortfallPolicy;
use cogs_core::service::{self, ChunkBudget, JournalOptions, ServiceError};
use cogs_core::staging::Staging;
use cogs_tests::api::s3_put_event;
use cogs_tests::{TestDb, assert_books_balance, caller, load, lots_csv, sales_csv, tenant};

/// 600 sales over 6 SKUs, enough for a run of many small chunks.
fn six_hundred_sales() -> (String, String) {
    let lots: Vec<String> =
        (0..30).map(|i| format!("L{i:02},SKU{},2024-01-{:02},100,100,{}.5,0.25", i % 6, 1 + i / 6, 2 + i)).collect();
    let sales: Vec<String> = (0..600)
        .map(|i| format!("S{i:04},SKU{},2024-02-{:02}T{:02}:00:00Z,{}", i % 6, 1 + i % 28, i % 24, 1 + i % 4))
        .collect();
    (lots_csv(&[&lots.join("\n")]), sales_csv(&[&sales.join("\n")]))
}

/// Every completed run's journal balances, entry by entry.
async fn journals_balance(db: &TestDb) {
    let runs = service::list_runs(&db.pool, &tenant("acme-corp"), Some(RunStatus::Completed), 500, None).await.unwrap();
    for run in runs.runs {
        let export = service::journal_entry(
            &db.pool,
            &tenant("acme-corp"),
            run.run_id,
            JournalOptions::default(),
            Format::Json,
            &JournalConfig::default(),
        )
        .await
        .unwrap();
        let journal: serde_json::Value = serde_json::from_slice(&export.rendered().body).unwrap();
        for entry in journal["entries"].as_array().unwrap() {
            let total = |side: Side| -> rust_decimal::Decimal {
                let side = serde_json::to_value(side).unwrap();
                entry["lines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|line| line["side"] == side)
                    .map(|line| line["amount"].to_string().trim_matches('"').parse::<rust_decimal::Decimal>().unwrap())
                    .sum()
            };
            assert_eq!(total(Side::Debit), total(Side::Credit), "{entry}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_starts_make_exactly_one_run() {
    let db = TestDb::new().await;
    let (lots, sales) = six_hundred_sales();
    load(&db, "acme-corp", &lots, &sales).await;
    let pool = cogs_core::db::connect(&db.app_url(), 25, None).unwrap();

    let starts: Vec<_> = (0..50)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let caller = service::Caller::new(tenant("acme-corp"), format!("starter-{i}"));
                service::start_run(&pool, &caller, None, Some(ShortfallPolicy::Fail)).await
            })
        })
        .collect();
    let mut started = Vec::new();
    for start in starts {
        match start.await.unwrap() {
            Ok(run) => started.push(run.run_id),
            Err(ServiceError::RunInProgress { run_id }) => assert!(run_id.is_some()),
            Err(other) => panic!("a start failed other than by finding the run: {other:?}"),
        }
    }

    assert_eq!(started.len(), 1, "exactly one start made a run");
    let runs = service::list_runs(&db.pool, &tenant("acme-corp"), None, 500, None).await.unwrap();
    assert_eq!(runs.runs.len(), 1);
    service::advance_run(&db.pool, &caller("acme-corp"), started[0], &ChunkBudget::unlimited(50)).await.unwrap();
    assert_books_balance(&db, "acme-corp").await;
    journals_balance(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rollback_racing_its_run_leaves_one_consistent_state() {
    let db = TestDb::new().await;
    let (lots, sales) = six_hundred_sales();
    load(&db, "acme-corp", &lots, &sales).await;
    let loaded = db.data(&["acme-corp"]).await;
    let run = service::start_run(&db.pool, &caller("acme-corp"), None, Some(ShortfallPolicy::Fail)).await.unwrap();

    let (pool, run_id) = (db.pool.clone(), run.run_id);
    let costing = tokio::spawn(async move {
        service::advance_run(&pool, &caller("acme-corp"), run_id, &ChunkBudget::unlimited(10)).await
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let rolled_back = service::rollback_run(&db.pool, &caller("acme-corp"), run.run_id, false).await.unwrap();
    let progress = costing.await.unwrap().unwrap();

    assert_eq!(rolled_back[0].status, RunStatus::RolledBack);
    assert_eq!(progress.status, RunStatus::RolledBack, "the costing stopped at the rollback");
    assert_books_balance(&db, "acme-corp").await;
    let now = db.data(&["acme-corp"]).await;
    let rows = |data: &std::collections::BTreeMap<String, Vec<String>>, table: &str| {
        data[&format!("acme-corp.{table}")].clone()
    };
    assert_eq!(rows(&now, "lots"), rows(&loaded, "lots"), "every lot is as loaded");
    assert_eq!(rows(&now, "sales"), rows(&loaded, "sales"), "no sale was rewritten");
    assert_eq!(rows(&now, "sku_watermarks"), rows(&loaded, "sku_watermarks"), "every sale is uncosted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rollback_racing_the_next_run_either_goes_first_or_is_refused() {
    let db = TestDb::new().await;
    let (lots, sales) = six_hundred_sales();
    load(&db, "acme-corp", &lots, &sales).await;
    let first = cogs_tests::run_to_end(&db, "acme-corp", 100).await.unwrap();
    load(&db, "acme-corp", "", &sales_csv(&["T1,SKU0,2024-03-01,1", "T2,SKU1,2024-03-02,2"])).await;

    let (pool, first_id) = (db.pool.clone(), first.run_id);
    let rollback =
        tokio::spawn(async move { service::rollback_run(&pool, &caller("acme-corp"), first_id, false).await });
    let next = cogs_tests::run_to_end(&db, "acme-corp", 1).await;
    let rollback = rollback.await.unwrap();

    match (&rollback, &next) {
        (Ok(_), Ok(next)) => assert_eq!(next.sales_processed, 602, "the rollback went first: the next run costs all"),
        (Err(ServiceError::DependentRuns { .. }), Ok(next)) => assert_eq!(next.sales_processed, 2),
        (Err(ServiceError::RunInProgress { .. }), Ok(next)) => assert_eq!(next.sales_processed, 2),
        other => panic!("an outcome neither order explains: {other:?}"),
    }
    assert_books_balance(&db, "acme-corp").await;
    journals_balance(&db).await;
}

/// The interleaving the race above found: the next run had counted its sales when
/// the rollback uncosted 600 more under it.
#[tokio::test]
async fn a_rollback_while_another_run_is_active_is_refused() {
    let db = TestDb::new().await;
    let (lots, sales) = six_hundred_sales();
    load(&db, "acme-corp", &lots, &sales).await;
    let first = cogs_tests::run_to_end(&db, "acme-corp", 100).await.unwrap();
    load(&db, "acme-corp", "", &sales_csv(&["T1,SKU0,2024-03-01,1"])).await;
    let next = service::start_run(&db.pool, &caller("acme-corp"), None, Some(ShortfallPolicy::Fail)).await.unwrap();
    let before = db.data(&["acme-corp"]).await;

    let refused = service::rollback_run(&db.pool, &caller("acme-corp"), first.run_id, true).await.unwrap_err();

    assert!(matches!(refused, ServiceError::RunInProgress { run_id: Some(id) } if id == next.run_id), "{refused:?}");
    assert_eq!(db.data(&["acme-corp"]).await, before);
    let next =
        service::advance_run(&db.pool, &caller("acme-corp"), next.run_id, &ChunkBudget::unlimited(10)).await.unwrap();
    assert_eq!((next.status, next.sales_processed), (RunStatus::Completed, 1));
    assert_books_balance(&db, "acme-corp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_file_uploaded_eight_times_at_once_is_loaded_once() {
    let db = TestDb::new().await;
    let (lots, sales) = six_hundred_sales();
    load(&db, "acme-corp", &lots, "").await;
    let pool = cogs_core::db::connect(&db.app_url(), 8, None).unwrap();
    let sales = Arc::new(sales);

    let uploads: Vec<_> = (0..8)
        .map(|_| {
            let (pool, sales) = (pool.clone(), sales.clone());
            tokio::spawn(async move {
                service::upload(&pool, &caller("acme-corp"), RecordKind::Sales, "sales.csv", sales.as_bytes()).await
            })
        })
        .collect();
    let mut inserted = 0;
    for upload in uploads {
        let upload = upload.await.unwrap().unwrap();
        assert_eq!(upload.rows_inserted + upload.rows_unchanged, 600);
        inserted += upload.rows_inserted;
    }

    assert_eq!(inserted, 600, "each sale was inserted by exactly one upload");
    let run = cogs_tests::run_to_end(&db, "acme-corp", 100).await.unwrap();
    assert_eq!(run.sales_processed, 600);
    assert_books_balance(&db, "acme-corp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_deliveries_of_one_object_created_event_at_once_load_it_once() {
    let db = TestDb::new().await;
    let store = cogs_tests::s3_store().await;
    let bucket = store.bucket().to_owned();
    let ctx = Arc::new(cogs_tests::function_context(&db.app_url(), &[], cogs_core::staging::Store::S3(store)));
    let (lots, sales) = six_hundred_sales();
    load(&db, "acme-corp", &lots, "").await;
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
    let key = pending.upload.object_key.clone().unwrap();
    ctx.staging.put(&key, sales.into_bytes()).await.unwrap();

    let mut deliveries = Vec::new();
    for _ in 0..10 {
        let (ctx, event) = (ctx.clone(), s3_put_event(&bucket, &key).await);
        deliveries.push(tokio::spawn(async move { cogs_upload::events::handle(&ctx, event).await.unwrap() }));
    }
    let mut outcomes = Vec::new();
    for delivery in deliveries {
        outcomes.push(delivery.await.unwrap()["objects"][0]["outcome"].as_str().unwrap().to_owned());
    }

    assert_eq!(outcomes.iter().filter(|o| *o == "loaded").count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| *o == "already_done").count(), 9, "{outcomes:?}");
    let run = cogs_tests::run_to_end(&db, "acme-corp", 100).await.unwrap();
    assert_eq!(run.sales_processed, 600);
    assert_books_balance(&db, "acme-corp").await;
}
