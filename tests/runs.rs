//! Runs against a real PostgreSQL: chunks, interruptions, failures, races, backdating
//! and the dry run.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use cogs_core::db::RunStatus;
use cogs_core::engine::CostingError;
use cogs_core::ingest::RecordKind;
use cogs_core::model::ShortfallPolicy;
use cogs_core::service::{self, ChunkBudget, CostFiles, DryRunInput, ServiceError};
use cogs_tests::{
    TestDb, allocations, caller, load, load_examples, lots_csv, remaining, run_row, run_to_end, sales_csv, tenant,
};
use rust_decimal::Decimal;

/// Enough sales to need many chunks: 3 SKUs, 40 lots, 150 sales, some spanning lots.
fn many() -> (String, String) {
    let lots: Vec<String> = (0..40)
        .map(|i| {
            format!(
                "L{i:03},SKU{},2024-01-{:02},{},{},{}.{:02},0.{}",
                i % 3,
                1 + i / 3,
                20 + i,
                20 + i,
                5 + i,
                i,
                i % 10
            )
        })
        .collect();
    let sales: Vec<String> = (0..150)
        .map(|i| format!("S{i:03},SKU{},2024-02-{:02}T{:02}:00:00Z,{}.5", i % 3, 1 + i % 28, i % 24, 1 + i % 4))
        .collect();
    let refs = |v: &[String]| v.iter().map(String::as_str).collect::<Vec<_>>().join("\n");
    (lots_csv(&[&refs(&lots)]), sales_csv(&[&refs(&sales)]))
}

/// What a run left behind: its allocations, every lot's remaining quantity, its total.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    allocations: Vec<String>,
    remaining: Vec<String>,
    total_cogs: Decimal,
}

async fn outcome(db: &TestDb, run_id: uuid::Uuid) -> Outcome {
    Outcome {
        allocations: allocations(db, "acme-corp", run_id).await,
        remaining: remaining(db, "acme-corp").await,
        total_cogs: run_row(db, "acme-corp", run_id).await.unwrap().total_cogs,
    }
}

/// A fresh database with [`many`] loaded for acme-corp.
async fn loaded_many() -> TestDb {
    let (lots, sales) = many();
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots, &sales).await;
    db
}

/// What costing [`many`] in one uninterrupted pass of ten-sale chunks leaves.
async fn uninterrupted() -> Outcome {
    let db = loaded_many().await;
    let run = run_to_end(&db, "acme-corp", 10).await.unwrap();
    outcome(&db, run.run_id).await
}

/// The allocation lines of the first `n` of [`many`]'s sales in costing order (sku,
/// sale_date, sale_id).
fn first_sales(lines: &[String], n: usize) -> Vec<String> {
    let (_, sales_csv) = many();
    let mut sales: Vec<Vec<&str>> = sales_csv.lines().skip(1).map(|line| line.split(',').collect()).collect();
    // Every date in `many` has one format, so its text sorts as its instant.
    sales.sort_by(|a, b| (a[1], a[2], a[0]).cmp(&(b[1], b[2], b[0])));
    let first: Vec<&str> = sales.iter().take(n).map(|sale| sale[0]).collect();
    lines.iter().filter(|line| first.contains(&line.split(' ').next().unwrap())).cloned().collect()
}

#[tokio::test]
async fn a_run_costs_the_examples_to_the_hand_worked_figures() {
    let db = TestDb::new().await;
    load_examples(&db, "acme-corp").await;

    let run = run_to_end(&db, "acme-corp", 10_000).await.unwrap();

    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!((run.sales_total, run.sales_processed, run.allocations_count), (7, 7, 8));
    assert_eq!(run.total_cogs, Decimal::from_str_exact("2310.9375").unwrap());
    assert_eq!(
        remaining(&db, "acme-corp").await,
        ["LOT-001=0", "LOT-002=5", "LOT-003=75", "LOT-004=12.75", "LOT-005=80"]
    );
    let lines = allocations(&db, "acme-corp", run.run_id).await;
    assert_eq!(lines[1..3], ["SALE-002 LOT-003 30 4.375 131.25", "SALE-003 LOT-001 40 10.5 420"]);
}

#[tokio::test]
async fn chunk_sizes_1_7_and_10000_give_identical_allocations() {
    let mut results = Vec::new();
    for chunk in [1, 7, 10_000] {
        let db = loaded_many().await;
        let run = run_to_end(&db, "acme-corp", chunk).await.unwrap();
        assert_eq!(run.status, RunStatus::Completed);
        assert_eq!(run.chunks_applied as usize, 150_usize.div_ceil(chunk));
        results.push(outcome(&db, run.run_id).await);
    }
    assert!(results[0].allocations.len() > 150, "some sales span lots");
    assert_eq!(results[0], results[1]);
    assert_eq!(results[0], results[2]);
}

#[tokio::test]
async fn a_run_interrupted_between_chunks_resumes_to_the_uninterrupted_result() {
    let db = loaded_many().await;
    let run = service::start_run(&db.pool, &caller("acme-corp"), None, Some(ShortfallPolicy::Fail)).await.unwrap();

    // Three invocations, each stopping after a few chunks, as a worker out of time would.
    for _ in 0..3 {
        let budget = ChunkBudget { chunk_size: 10, deadline: None, max_chunks: Some(4) };
        let progress = service::advance_run(&db.pool, &caller("acme-corp"), run.run_id, &budget).await.unwrap();
        assert!(!progress.done);
    }
    let budget = ChunkBudget::unlimited(10);
    let progress = service::advance_run(&db.pool, &caller("acme-corp"), run.run_id, &budget).await.unwrap();

    assert!(progress.done);
    assert_eq!(outcome(&db, run.run_id).await, uninterrupted().await);
}

#[tokio::test]
async fn a_chunk_aborted_midway_applies_nothing_and_the_run_resumes_exactly() {
    let expected = uninterrupted().await;
    let db = loaded_many().await;
    // A real fault inside the chunk transaction: after its allocations, lots and sales
    // are written, moving the cursor past the third chunk raises.
    let owner = db.owner().await;
    owner
        .batch_execute(
            r"create function fail_third_chunk() returns trigger language plpgsql as $$
              begin
                  if new.chunks_applied = 3 then raise exception 'injected fault'; end if;
                  return new;
              end $$;
              create trigger fail_third_chunk before update on cogs_runs for each row execute function fail_third_chunk();",
        )
        .await
        .unwrap();
    let run = service::start_run(&db.pool, &caller("acme-corp"), None, Some(ShortfallPolicy::Fail)).await.unwrap();

    let budget = ChunkBudget::unlimited(10);
    let error = service::advance_run(&db.pool, &caller("acme-corp"), run.run_id, &budget).await.unwrap_err();

    assert!(matches!(error, ServiceError::Db(_)), "{error:?}");
    let stopped = run_row(&db, "acme-corp", run.run_id).await.unwrap();
    assert_eq!((stopped.status, stopped.chunks_applied, stopped.sales_processed), (RunStatus::Running, 2, 20));
    assert!(stopped.heartbeat_at.is_some(), "every applied chunk beats the heart");
    let applied = allocations(&db, "acme-corp", run.run_id).await;
    assert_eq!(applied, first_sales(&expected.allocations, 20), "exactly two chunks are applied");

    owner.batch_execute("drop trigger fail_third_chunk on cogs_runs").await.unwrap();
    service::advance_run(&db.pool, &caller("acme-corp"), run.run_id, &budget).await.unwrap();

    assert_eq!(outcome(&db, run.run_id).await, expected);
}

#[tokio::test]
async fn an_uncovered_sale_fails_the_run_names_the_sale_and_leaves_lots_and_sales_as_before() {
    let db = TestDb::new().await;
    load(
        &db,
        "acme-corp",
        &lots_csv(&["L1,A,2024-01-01,10,10,2,0", "L2,B,2024-01-01,6,6,3,0"]),
        &sales_csv(&[
            "S1,A,2024-01-02,4",
            "S2,B,2024-01-03,5",
            "S3,A,2024-01-04,4",
            "S4,A,2024-01-05,3",
            "S5,B,2024-01-06,1",
        ]),
    )
    .await;
    let before = db.data(&["acme-corp"]).await;
    let run = service::start_run(&db.pool, &caller("acme-corp"), None, Some(ShortfallPolicy::Fail)).await.unwrap();

    // Chunks of one: three chunks apply before S4 fails, so undoing them is real work.
    let error =
        service::advance_run(&db.pool, &caller("acme-corp"), run.run_id, &ChunkBudget::unlimited(1)).await.unwrap_err();

    let ServiceError::Costing(CostingError::InsufficientInventory { sale_id, requested, available, .. }) = &error
    else {
        panic!("{error:?}")
    };
    assert_eq!((sale_id.as_str(), requested.to_string(), available.to_string()), ("S4", "3".into(), "2".into()));
    let after = db.data(&["acme-corp"]).await;
    let unchanged = |table: &str| before[&format!("acme-corp.{table}")] == after[&format!("acme-corp.{table}")];
    assert!(unchanged("lots") && unchanged("sales"), "lots and sales are as before the run");
    let detail = service::show_run(&db.pool, &tenant("acme-corp"), run.run_id).await.unwrap();
    assert_eq!(detail.run.status, RunStatus::Failed);
    assert_eq!(detail.run.validation_errors_count, 1);
    assert_eq!(detail.validation_errors[0].sale_id.as_deref(), Some("S4"));
    assert_eq!(detail.validation_errors[0].error_type, "insufficient_inventory");
    assert!(detail.run.error_message.unwrap().contains("sale S4 needs 3 of A but only 2 is available"));
    // Nothing is stuck: the tenant can load the missing lot and run again.
    load(&db, "acme-corp", &lots_csv(&["L3,A,2024-01-03,5,5,4,0"]), "").await;
    assert_eq!(run_to_end(&db, "acme-corp", 1).await.unwrap().status, RunStatus::Completed);
}

#[tokio::test]
async fn two_starts_at_the_same_moment_make_exactly_one_run() {
    let db = TestDb::new().await;
    load_examples(&db, "acme-corp").await;
    let other_pool = cogs_core::db::connect(&db.app_url(), 1, None).unwrap();
    let (first, second) = (caller("acme-corp"), caller("acme-corp"));

    let (a, b) = tokio::join!(
        service::start_run(&db.pool, &first, None, Some(ShortfallPolicy::Fail)),
        service::start_run(&other_pool, &second, None, Some(ShortfallPolicy::Fail))
    );

    let outcomes = [a, b];
    assert_eq!(outcomes.iter().filter(|r| r.is_ok()).count(), 1, "{outcomes:?}");
    let refused = outcomes.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(refused.kind(), "run_in_progress");
    let page = service::list_runs(&db.pool, &tenant("acme-corp"), None, 10, None).await.unwrap();
    assert_eq!(page.runs.len(), 1);
}

#[tokio::test]
async fn the_database_itself_refuses_a_second_active_run() {
    let db = TestDb::new().await;
    load_examples(&db, "acme-corp").await;
    service::start_run(&db.pool, &caller("acme-corp"), None, Some(ShortfallPolicy::Fail)).await.unwrap();
    let app = db.app().await;

    // Bypassing the service's own check: the unique index still says no.
    app.batch_execute("begin; select set_config('app.tenant_id', 'acme-corp', true)").await.unwrap();
    let error = app
        .batch_execute(
            "insert into cogs_runs (tenant_id, run_id, mode, status, sales_total, created_by)
             values ('acme-corp', gen_random_uuid(), 'fifo', 'pending', 0, 'test')",
        )
        .await
        .unwrap_err();

    assert_eq!(error.code(), Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION));
}

#[tokio::test]
async fn an_upload_during_an_active_run_is_refused() {
    let db = TestDb::new().await;
    load_examples(&db, "acme-corp").await;
    let run = service::start_run(&db.pool, &caller("acme-corp"), None, Some(ShortfallPolicy::Fail)).await.unwrap();

    let error = service::upload(
        &db.pool,
        &caller("acme-corp"),
        RecordKind::Sales,
        "late.csv",
        sales_csv(&["S9,A,2024-09-01,1"]).as_bytes(),
    )
    .await
    .unwrap_err();

    assert!(matches!(error, ServiceError::RunInProgress { run_id: Some(id) } if id == run.run_id), "{error:?}");
}

#[tokio::test]
async fn an_uncovered_sale_parks_its_sku_the_others_are_costed_and_a_later_lot_takes_it_up() {
    let db = TestDb::new().await;
    load(
        &db,
        "acme-corp",
        &lots_csv(&["L1,A,2024-01-01,10,10,2,0", "L2,B,2024-01-01,6,6,3,0"]),
        &sales_csv(&[
            "S1,A,2024-01-02,4",
            "S2,B,2024-01-03,5",
            "S3,A,2024-01-04,4",
            "S4,A,2024-01-05,3",
            "S5,B,2024-01-06,1",
            "S6,A,2024-01-07,1",
        ]),
    )
    .await;
    let run = service::start_run(&db.pool, &caller("acme-corp"), None, Some(ShortfallPolicy::Park)).await.unwrap();

    let done =
        service::advance_run(&db.pool, &caller("acme-corp"), run.run_id, &ChunkBudget::unlimited(1)).await.unwrap();

    assert_eq!((done.status, done.skus_parked), (RunStatus::Completed, 1));
    assert_eq!(
        allocations(&db, "acme-corp", run.run_id).await,
        ["S1 L1 4 2 8", "S2 L2 5 3 15", "S3 L1 4 2 8", "S5 L2 1 3 3"]
    );
    let detail = service::show_run(&db.pool, &tenant("acme-corp"), run.run_id).await.unwrap();
    let parked: Vec<String> = detail
        .shortfalls
        .iter()
        .map(|s| format!("{} {} short {} of {} on hand", s.sku, s.event_id, s.quantity_short, s.on_hand))
        .collect();
    assert_eq!(parked, ["A S4 short 1 of 2 on hand"], "S6 would fit, but A waits from S4 on");
    assert_eq!(detail.run.sales_processed, 4);
    cogs_tests::assert_books_balance(&db, "acme-corp").await;

    // The receipt that was never keyed arrives; the next run takes A up from S4.
    load(&db, "acme-corp", &lots_csv(&["L3,A,2024-01-05,5,5,4,0"]), "").await;
    let next = run_to_end(&db, "acme-corp", 100).await.unwrap();
    assert_eq!((next.skus_parked, next.skus_recosted), (0, 0), "L3 came after A's watermark: nothing to rewind");
    assert_eq!(allocations(&db, "acme-corp", next.run_id).await, ["S4 L1 2 2 4", "S4 L3 1 4 4", "S6 L3 1 4 4"]);
    cogs_tests::assert_books_balance(&db, "acme-corp").await;
}

#[tokio::test]
async fn a_parked_sku_is_taken_up_again_by_the_next_run_while_stock_is_still_short() {
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots_csv(&["L1,A,2024-01-01,1,1,2,0"]), &sales_csv(&["S1,A,2024-01-02,3"])).await;
    let first = run_to_end(&db, "acme-corp", 100).await;
    let ServiceError::Costing(_) = first.unwrap_err() else { panic!("the helper runs strict") };

    let park = service::start_run(&db.pool, &caller("acme-corp"), None, Some(ShortfallPolicy::Park)).await.unwrap();
    service::advance_run(&db.pool, &caller("acme-corp"), park.run_id, &ChunkBudget::unlimited(10)).await.unwrap();
    let again = service::start_run(&db.pool, &caller("acme-corp"), None, Some(ShortfallPolicy::Park)).await.unwrap();
    let again =
        service::advance_run(&db.pool, &caller("acme-corp"), again.run_id, &ChunkBudget::unlimited(10)).await.unwrap();

    assert_eq!((again.status, again.skus_parked, again.sales_total), (RunStatus::Completed, 1, 1));
    assert_eq!(remaining(&db, "acme-corp").await, ["L1=1"], "nothing is costed while the SKU is short");
}

#[tokio::test]
async fn the_book_equals_cogs_cost_over_every_file_with_a_parked_and_a_recosted_sku() {
    let db = TestDb::new().await;
    let lots = ["L1,A,2024-01-01,3,3,1,0", "L2,B,2024-01-01,5,5,2,0"];
    let sales = ["S1,A,2024-01-02,2", "S2,A,2024-01-03,2", "T2,B,2024-01-05,1"];
    load(&db, "acme-corp", &lots_csv(&lots), &sales_csv(&sales)).await;
    let park = |db| async move {
        let run = service::start_run(&db, &caller("acme-corp"), None, Some(ShortfallPolicy::Park)).await.unwrap();
        service::advance_run(&db, &caller("acme-corp"), run.run_id, &ChunkBudget::unlimited(2)).await.unwrap();
    };
    park(db.pool.clone()).await;
    // A late sale of B re-costs B; A stays parked at S2.
    load(&db, "acme-corp", "", &sales_csv(&["T1,B,2024-01-04,2"])).await;
    park(db.pool.clone()).await;

    let book = service::book(&db.pool, &tenant("acme-corp"), Default::default()).await.unwrap();
    let all_sales = [&sales[..], &["T1,B,2024-01-04,2"]].concat();
    let cost = service::cost_files(
        CostFiles::lots_and_sales(lots_csv(&lots).as_bytes(), sales_csv(&all_sales).as_bytes()),
        None,
        ShortfallPolicy::Park,
        &cogs_core::model::Methods::FIFO,
        &cogs_core::model::Location::default(),
    )
    .unwrap();

    assert_eq!(serde_json::to_value(&book.book).unwrap(), serde_json::to_value(&cost).unwrap());
    assert_eq!(book.book.shortfalls.len(), 1);
    let first_page =
        service::book(&db.pool, &tenant("acme-corp"), cogs_core::db::SkuRange { after_sku: None, limit: Some(1) })
            .await
            .unwrap();
    assert_eq!(
        (first_page.book.lots.len(), first_page.next_after_sku.as_deref()),
        (1, Some("A")),
        "a page is whole SKUs"
    );
}

#[tokio::test]
async fn under_lock_policy_refuse_a_run_that_would_change_a_closed_period_is_refused_naming_the_event() {
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots_csv(&["L1,A,2024-01-01,10,10,1,0"]), &sales_csv(&["S2,A,2024-02-10,1"])).await;
    run_to_end(&db, "acme-corp", 100).await.unwrap();
    let close_january: service::SettingsChange =
        serde_json::from_str(r#"{"lock_date": "2024-01-31", "lock_policy": "refuse"}"#).unwrap();
    service::change_settings(&db.pool, &caller("acme-corp"), &close_january).await.unwrap();
    load(&db, "acme-corp", "", &sales_csv(&["S1,A,2024-01-20,1", "S3,A,2024-02-20,1"])).await;
    let before = db.data(&["acme-corp"]).await;

    let refused = run_to_end(&db, "acme-corp", 100).await.unwrap_err();

    let ServiceError::LockedPeriod { kind, id, lock_date, .. } = &refused else { panic!("{refused:?}") };
    assert_eq!((kind.as_str(), id.as_str(), lock_date.to_string()), ("sale", "S1", "2024-01-31".to_owned()));
    assert_eq!(refused.kind(), "locked_period");
    assert_eq!(db.data(&["acme-corp"]).await, before, "nothing changed");
    let audit = db.contents(&["acme-corp"]).await["acme-corp.audit_log"].clone();
    assert!(audit.iter().any(|row| row.contains("lock_date.moved") && row.contains("2024-01-31")), "{audit:?}");

    // The accountant reopens January; the late sale is re-costed.
    let reopen: service::SettingsChange = serde_json::from_str(r#"{"lock_date": null}"#).unwrap();
    service::change_settings(&db.pool, &caller("acme-corp"), &reopen).await.unwrap();
    let run = run_to_end(&db, "acme-corp", 100).await.unwrap();
    assert_eq!(run.skus_recosted, 1);
}

/// A journal's lines as `date account side amount` (csv format, by day).
async fn journal_lines(db: &TestDb, run_id: uuid::Uuid) -> Vec<String> {
    use cogs_core::journal::{Format, JournalConfig, LineDetail, Period};
    let options =
        service::JournalOptions { period: Some(Period::Day), detail: Some(LineDetail::PerSku), reversal_date: None };
    let export = service::journal_entry(
        &db.pool,
        &tenant("acme-corp"),
        run_id,
        options,
        Format::Json,
        &JournalConfig::default(),
    )
    .await
    .unwrap();
    let cogs_core::journal::Rendered { body, .. } = export.rendered();
    let journal: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut lines = Vec::new();
    for entry in journal["entries"].as_array().unwrap() {
        for line in entry["lines"].as_array().unwrap() {
            lines.push(format!(
                "{} {} {} {}",
                entry["date"].as_str().unwrap(),
                line["account_code"].as_str().unwrap(),
                line["side"].as_str().unwrap(),
                line["amount"].as_str().unwrap()
            ));
        }
    }
    lines
}

#[tokio::test]
async fn a_backdated_sale_is_recosted_from_its_date_and_the_journal_is_the_difference() {
    let db = TestDb::new().await;
    load(
        &db,
        "acme-corp",
        &lots_csv(&["L1,A,2024-01-01,10,10,1,0", "L2,A,2024-01-10,10,10,2,0", "L3,B,2024-01-01,5,5,3,0"]),
        &sales_csv(&["S2,A,2024-02-01,12", "T1,B,2024-02-01,1"]),
    )
    .await;
    let first = run_to_end(&db, "acme-corp", 100).await.unwrap();
    load(&db, "acme-corp", "", &sales_csv(&["S1,A,2024-01-15,1"])).await;

    let correcting = run_to_end(&db, "acme-corp", 1).await.unwrap();

    assert_eq!(allocations(&db, "acme-corp", correcting.run_id).await, ["S1 L1 1 1 1", "S2 L1 9 1 9", "S2 L2 3 2 6"]);
    assert_eq!(remaining(&db, "acme-corp").await, ["L1=0", "L2=7", "L3=4"], "B was not touched");
    assert_eq!(
        (correcting.skus_recosted, correcting.sales_superseded, correcting.superseded_cogs.to_string()),
        (1, 1, "14".to_owned())
    );
    assert_eq!((correcting.sales_processed, correcting.total_cogs.to_string()), (2, "16".to_owned()));
    assert_eq!(
        journal_lines(&db, correcting.run_id).await,
        [
            "2024-01-15 5000 debit 1.00",
            "2024-01-15 1400 credit 1.00",
            "2024-02-01 5000 debit 1.00",
            "2024-02-01 1400 credit 1.00"
        ],
        "S1 is new; S2 went from 14 to 15"
    );
    cogs_tests::assert_books_balance(&db, "acme-corp").await;

    // Rolled back, the first run's outputs are live again, and the next run re-costs
    // the late sale exactly as this one did.
    service::rollback_run(&db.pool, &caller("acme-corp"), correcting.run_id, false).await.unwrap();
    assert_eq!(remaining(&db, "acme-corp").await, ["L1=0", "L2=8", "L3=4"]);
    cogs_tests::assert_books_balance(&db, "acme-corp").await;
    let again = run_to_end(&db, "acme-corp", 100).await.unwrap();
    assert_eq!(
        allocations(&db, "acme-corp", again.run_id).await,
        allocations(&db, "acme-corp", correcting.run_id).await
    );
    let refused = service::rollback_run(&db.pool, &caller("acme-corp"), first.run_id, false).await.unwrap_err();
    assert_eq!(refused.kind(), "dependent_run", "the correcting run rests on the first");
}

#[tokio::test]
async fn rolling_back_a_correcting_run_keeps_the_mark_of_input_loaded_after_it() {
    let db = TestDb::new().await;
    load(
        &db,
        "acme-corp",
        &lots_csv(&["L1,A,2024-01-01,10,10,1,0"]),
        &sales_csv(&["S0,A,2024-01-07,1", "S3,A,2024-01-20,1"]),
    )
    .await;
    run_to_end(&db, "acme-corp", 100).await.unwrap();
    load(&db, "acme-corp", "", &sales_csv(&["S2,A,2024-01-10,1"])).await;
    let correcting = run_to_end(&db, "acme-corp", 100).await.unwrap();
    load(&db, "acme-corp", "", &sales_csv(&["S1,A,2024-01-05,1"])).await;

    service::rollback_run(&db.pool, &caller("acme-corp"), correcting.run_id, false).await.unwrap();
    let next = run_to_end(&db, "acme-corp", 100).await.unwrap();

    // The rollback brought back S2's mark; S1's, loaded later and earlier still (before
    // S0, which a rewind from S2 would keep), wins.
    assert_eq!(
        allocations(&db, "acme-corp", next.run_id).await,
        ["S1 L1 1 1 1", "S0 L1 1 1 1", "S2 L1 1 1 1", "S3 L1 1 1 1"]
    );
    cogs_tests::assert_books_balance(&db, "acme-corp").await;
}

#[tokio::test]
async fn a_late_cheaper_lot_lowers_the_cost_and_its_journal_credits_cost_of_sales() {
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots_csv(&["L2,A,2024-01-10,10,10,2,0"]), &sales_csv(&["S1,A,2024-02-01,5"])).await;
    run_to_end(&db, "acme-corp", 100).await.unwrap();
    load(&db, "acme-corp", &lots_csv(&["L1,A,2024-01-01,10,10,1,0", "L9,A,2024-03-01,10,10,1,0"]), "").await;

    let correcting = run_to_end(&db, "acme-corp", 100).await.unwrap();

    assert_eq!(allocations(&db, "acme-corp", correcting.run_id).await, ["S1 L1 5 1 5"]);
    assert_eq!(remaining(&db, "acme-corp").await, ["L1=5", "L2=10", "L9=10"]);
    assert_eq!(
        journal_lines(&db, correcting.run_id).await,
        ["2024-02-01 1400 debit 5.00", "2024-02-01 5000 credit 5.00"],
        "the cost of S1 fell from 10 to 5"
    );
    cogs_tests::assert_books_balance(&db, "acme-corp").await;
}

#[tokio::test]
async fn a_dry_run_reports_the_real_result_and_writes_nothing() {
    let db = TestDb::new().await;
    let lots = std::fs::read_to_string(cogs_tests::example("lots.csv")).unwrap();
    let sales = std::fs::read_to_string(cogs_tests::example("sales.csv")).unwrap();
    let before = db.contents(&["acme-corp"]).await;

    let input = DryRunInput {
        files: vec![
            (RecordKind::Lots, "lots.csv".into(), lots.as_bytes()),
            (RecordKind::Sales, "sales.csv".into(), sales.as_bytes()),
        ],
    };
    let report = service::dry_run(&db.pool, &caller("acme-corp"), None, None, input, None).await.unwrap();

    assert_eq!(db.contents(&["acme-corp"]).await, before, "no table changed, not even the audit log");
    assert_eq!(report.costing.totals.total_cogs.to_string(), "2310.9375");
    assert_eq!(report.costing.totals.ending_inventory_value.to_string(), "1541.6875");
    assert_eq!(report.costing.sales.len(), 7);
    assert_eq!((report.skus_recosted, report.net_difference.to_string()), (0, "2310.9375".to_owned()));
}

#[tokio::test]
async fn a_strict_dry_run_reports_an_uncovered_sale_like_a_run_and_a_parking_one_lists_it() {
    let db = TestDb::new().await;
    let (lots, sales) = (lots_csv(&["L1,A,2024-01-01,1,1,1,0"]), sales_csv(&["S1,A,2024-01-02,2"]));
    let input = || DryRunInput {
        files: vec![
            (RecordKind::Lots, "lots.csv".into(), lots.as_bytes()),
            (RecordKind::Sales, "sales.csv".into(), sales.as_bytes()),
        ],
    };

    let strict = Some(ShortfallPolicy::Fail);
    let error = service::dry_run(&db.pool, &caller("acme-corp"), None, strict, input(), None).await.unwrap_err();
    let parked = service::dry_run(&db.pool, &caller("acme-corp"), None, None, input(), None).await.unwrap();

    assert_eq!(error.kind(), "insufficient_inventory");
    assert_eq!((parked.costing.sales.len(), parked.costing.shortfalls.len()), (0, 1));
    assert!(db.contents(&["acme-corp"]).await.values().all(Vec::is_empty));
}

#[tokio::test]
async fn a_dry_run_shows_what_a_correcting_run_would_change_and_writes_nothing() {
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots_csv(&["L2,A,2024-01-10,10,10,2,0"]), &sales_csv(&["S1,A,2024-02-01,5"])).await;
    run_to_end(&db, "acme-corp", 100).await.unwrap();
    let late = lots_csv(&["L1,A,2024-01-01,10,10,1,0"]);
    let before = db.contents(&["acme-corp"]).await;

    let input = DryRunInput { files: vec![(RecordKind::Lots, "late.csv".into(), late.as_bytes())] };
    let report = service::dry_run(&db.pool, &caller("acme-corp"), None, None, input, None).await.unwrap();

    assert_eq!(db.contents(&["acme-corp"]).await, before);
    assert_eq!(
        (
            report.skus_recosted,
            report.sales_superseded,
            report.superseded_cogs.to_string(),
            report.net_difference.to_string()
        ),
        (1, 1, "10".to_owned(), "-5".to_owned()),
        "S1 would go from 10 to 5"
    );
}

/// Holds `tenant`'s dry run mid-way, as a long one would be: another transaction of
/// the tenant locks its lots, so the dry run's first chunk waits to lower them. The
/// lock lasts until the returned client rolls back.
async fn hold_lots_of(db: &TestDb, tenant: &str) -> tokio_postgres::Client {
    let app = db.app().await;
    app.batch_execute(&format!(
        "begin; select set_config('app.tenant_id', '{tenant}', true); select 1 from lots for update"
    ))
    .await
    .unwrap();
    app
}

async fn wait_for_a_lock_wait(db: &TestDb) {
    let owner = db.owner().await;
    for _ in 0..200 {
        let waiting: i64 =
            owner.query_one("select count(*) from pg_locks where not granted", &[]).await.unwrap().get(0);
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the dry run never reached the held lots");
}

fn nothing_new() -> DryRunInput<&'static [u8]> {
    DryRunInput::nothing()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_starts_a_run_at_once_while_a_long_dry_run_is_in_progress() {
    let db = TestDb::new().await;
    for tenant in ["slow-co", "quick-co"] {
        load(&db, tenant, &lots_csv(&["L1,A,2024-01-01,5,5,1,0"]), &sales_csv(&["S1,A,2024-01-02,1"])).await;
    }
    let held = hold_lots_of(&db, "slow-co").await;
    let pool = db.pool.clone();
    let dry_run = tokio::spawn(async move {
        service::dry_run(&pool, &caller("slow-co"), None, Some(ShortfallPolicy::Fail), nothing_new(), None).await
    });
    wait_for_a_lock_wait(&db).await;

    let started = std::time::Instant::now();
    let start = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        service::start_run(&db.pool, &caller("quick-co"), None, Some(ShortfallPolicy::Fail)),
    )
    .await;
    let took = started.elapsed();
    let dry_run_was_still_going = !dry_run.is_finished();
    held.batch_execute("rollback").await.unwrap();

    assert!(start.expect("the start did not wait for the other tenant").is_ok());
    assert!(took < std::time::Duration::from_secs(1), "the start took {took:?}");
    assert!(dry_run_was_still_going);
    assert_eq!(dry_run.await.unwrap().unwrap().costing.sales.len(), 1, "the dry run then finishes as usual");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_ends_at_its_deadline_and_writes_nothing() {
    let db = TestDb::new().await;
    load(&db, "slow-co", &lots_csv(&["L1,A,2024-01-01,5,5,1,0"]), &sales_csv(&["S1,A,2024-01-02,1"])).await;
    let before = db.contents(&["slow-co"]).await;
    let held = hold_lots_of(&db, "slow-co").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(800);

    let waited_for_stock = service::dry_run(
        &db.pool,
        &caller("slow-co"),
        None,
        Some(ShortfallPolicy::Fail),
        nothing_new(),
        Some(deadline),
    )
    .await
    .unwrap_err();
    held.batch_execute("rollback").await.unwrap();
    let already_late = service::dry_run(
        &db.pool,
        &caller("slow-co"),
        None,
        Some(ShortfallPolicy::Fail),
        nothing_new(),
        Some(deadline),
    )
    .await;

    assert_eq!(waited_for_stock.kind(), "out_of_time", "{waited_for_stock}");
    assert!(deadline.elapsed() < std::time::Duration::from_secs(2), "the statement was cut at the deadline");
    assert_eq!(already_late.unwrap_err().kind(), "out_of_time");
    assert_eq!(db.contents(&["slow-co"]).await, before);
}

#[tokio::test]
async fn the_journal_summed_in_the_database_equals_the_journal_of_every_allocation() {
    use cogs_core::journal::{self, Format, JournalConfig, JournalRequest, LineDetail, Period};
    use cogs_core::service::{JournalOptions, journal_entry, journal_reference};

    let db = loaded_many().await;

    // Zones that move sales across day and month boundaries (sales run 00:00-23:00 UTC),
    // each with the fixed offset the in-memory journal uses for it.
    for (zone, offset) in [("UTC", "+00:00"), ("Etc/GMT+5", "-05:00"), ("Asia/Kolkata", "+05:30")] {
        let change: service::SettingsChange = serde_json::from_value(serde_json::json!({ "time_zone": zone })).unwrap();
        service::change_settings(&db.pool, &caller("acme-corp"), &change).await.unwrap();
        let run = run_to_end(&db, "acme-corp", 10).await.unwrap();
        assert_eq!(run.time_zone, zone, "the run keeps the zone it started in");
        let tx = cogs_core::db::begin(&db.pool, &tenant("acme-corp")).await.unwrap();
        let allocations = cogs_core::db::load_allocations(&tx, run.run_id).await.unwrap();
        tx.rollback().await.unwrap();
        let config = JournalConfig { utc_offset: offset.parse().unwrap(), ..JournalConfig::default() };
        for period in [Period::Day, Period::Month, Period::Run] {
            for detail in [LineDetail::PerSku, LineDetail::Single] {
                let options = JournalOptions { period: Some(period), detail: Some(detail), reversal_date: None };
                let exported = journal_entry(&db.pool, &tenant("acme-corp"), run.run_id, options, Format::Csv, &config)
                    .await
                    .unwrap();
                let request = JournalRequest {
                    reference: journal_reference(run.run_id),
                    period,
                    detail,
                    reversal_date: None,
                    locked_through: None,
                    method: run.mode,
                };
                let expected =
                    journal::render(&journal::build(&allocations, &[], &[], &request, &config).unwrap(), Format::Csv);
                assert_eq!(
                    String::from_utf8(exported.rendered().body).unwrap(),
                    String::from_utf8(expected.body).unwrap(),
                    "{zone} {period:?} {detail:?}"
                );
            }
        }
        service::rollback_run(&db.pool, &caller("acme-corp"), run.run_id, false).await.unwrap();
    }
}

#[tokio::test]
async fn a_difference_in_a_closed_period_is_posted_on_the_first_open_day_naming_the_period() {
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots_csv(&["L1,A,2024-01-01,10,10,1,0"]), &sales_csv(&["S2,A,2024-02-10,1"])).await;
    run_to_end(&db, "acme-corp", 100).await.unwrap();
    let close_january: service::SettingsChange = serde_json::from_str(r#"{"lock_date": "2024-01-31"}"#).unwrap();
    service::change_settings(&db.pool, &caller("acme-corp"), &close_january).await.unwrap();
    load(&db, "acme-corp", "", &sales_csv(&["S1,A,2024-01-20,1"])).await;

    let late = run_to_end(&db, "acme-corp", 100).await.unwrap();

    use cogs_core::journal::{Format, JournalConfig, LineDetail, Period};
    let options =
        service::JournalOptions { period: Some(Period::Month), detail: Some(LineDetail::PerSku), reversal_date: None };
    let export = service::journal_entry(
        &db.pool,
        &tenant("acme-corp"),
        late.run_id,
        options,
        Format::Csv,
        &JournalConfig::default(),
    )
    .await
    .unwrap();
    let csv = String::from_utf8(export.rendered().body).unwrap();
    let january: Vec<&str> = csv.lines().filter(|line| line.contains("corrects closed period 2024-01")).collect();
    assert_eq!(january.len(), 2, "{csv}");
    assert!(january.iter().all(|line| line.contains(",2024-02-01,")), "dated the first open day: {csv}");
    assert!(csv.lines().all(|line| !line.contains(",2024-01-31,")), "nothing lands in the closed month: {csv}");
}

/// Twenty jobs at once, each with its own pool as separate function instances have,
/// each uploading and running for its own tenant. Through a transaction-mode pooler
/// (the PgBouncer pass of scripts/test.sh) a statement that outlived its transaction
/// would meet another job's on a shared server connection; every job must succeed.
#[tokio::test]
async fn twenty_small_upload_and_run_jobs_at_once_all_succeed() {
    let db = TestDb::new().await;
    let jobs = (0..20).map(|job| {
        let pool = cogs_core::db::connect(&db.app_url(), 2, None).unwrap();
        async move {
            let caller = caller(&format!("tenant-{job}"));
            let lots = lots_csv(&["L1,A,2024-01-01,10,10,1.5,0", "L2,A,2024-01-02,10,10,2,0"]);
            let sales = sales_csv(&["S1,A,2024-01-03,4", "S2,A,2024-01-04,9"]);
            service::upload(&pool, &caller, RecordKind::Lots, "lots.csv", lots.as_bytes()).await?;
            service::upload(&pool, &caller, RecordKind::Sales, "sales.csv", sales.as_bytes()).await?;
            let run = service::start_run(&pool, &caller, None, Some(ShortfallPolicy::Fail)).await?;
            service::advance_run(&pool, &caller, run.run_id, &ChunkBudget::unlimited(1)).await
        }
    });

    let outcomes = futures_util::future::join_all(jobs).await;

    for outcome in outcomes {
        let progress = outcome.unwrap();
        assert_eq!((progress.status, progress.sales_processed), (RunStatus::Completed, 2));
    }
}

#[tokio::test]
async fn a_rewind_of_a_few_skus_and_of_many_supersedes_and_keeps_the_same_outputs() {
    // Up to 50 SKUs the rewind reads each SKU's allocations through the index by SKU;
    // more are joined in one scan. Both must supersede and keep exactly the same rows.
    let db = TestDb::new().await;
    for (tenant, skus) in [("few-corp", 3), ("many-corp", 60)] {
        let mut lots = Vec::new();
        let mut late = Vec::new();
        let mut sales = Vec::new();
        for i in 0..skus {
            lots.push(format!("L2-{i},K{i:02},2024-01-05,10,10,2,0"));
            lots.push(format!("L3-{i},K{i:02},2024-01-20,10,10,3,0"));
            late.push(format!("L1-{i},K{i:02},2024-01-10,10,10,1,0"));
            sales.push(format!("K-{i},K{i:02},2024-01-06,8"));
            sales.push(format!("S-{i},K{i:02},2024-02-01,5"));
        }
        load(&db, tenant, &lots_csv(&rows(&lots)), &sales_csv(&rows(&sales))).await;
        let first = run_to_end(&db, tenant, 7).await.unwrap();
        assert_eq!(first.total_cogs, Decimal::from(29 * skus), "{tenant}: 8 × 2 + 2 × 2 + 3 × 3 per SKU");
        load(&db, tenant, &lots_csv(&rows(&late)), "").await;

        let correcting = run_to_end(&db, tenant, 7).await.unwrap();

        assert_eq!(
            (correcting.skus_recosted, correcting.sales_superseded, correcting.superseded_cogs),
            (skus, i64::from(skus), Decimal::from(13 * skus)),
            "{tenant}: each SKU's February sale is superseded, its January one kept"
        );
        assert_eq!(correcting.total_cogs, Decimal::from(7 * skus), "{tenant}: 2 × 2 + 3 × 1 per SKU");
        let expected: Vec<String> = {
            let mut lots: Vec<String> =
                (0..skus).flat_map(|i| [format!("L1-{i}=7"), format!("L2-{i}=0"), format!("L3-{i}=10")]).collect();
            lots.sort();
            lots
        };
        assert_eq!(remaining(&db, tenant).await, expected, "{tenant}");
        cogs_tests::assert_books_balance(&db, tenant).await;
    }
}

fn rows(rows: &[String]) -> Vec<&str> {
    rows.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn a_rewind_before_every_live_output_reads_the_runs_summaries_and_agrees_with_one_reading_the_outputs() {
    // SKU A's late lots come before every sale it costed: its rewinds are taken from the
    // runs' per-SKU summaries, the second after the first run's outputs were wholly
    // superseded. SKU B's first late lot lands between its sales, so the run that costed
    // them stays partly live and B's second rewind reads its outputs. Both in one start.
    let db = TestDb::new().await;
    load(
        &db,
        "acme-corp",
        &lots_csv(&["LA2,A,2024-01-05,10,10,2,0", "LB2,B,2024-01-05,10,10,2,0"]),
        &sales_csv(&["SA1,A,2024-01-06,3", "SA2,A,2024-02-01,4", "SB1,B,2024-01-06,3", "SB2,B,2024-02-01,4"]),
    )
    .await;
    let first = run_to_end(&db, "acme-corp", 3).await.unwrap();
    assert_eq!(first.total_cogs, Decimal::from(28));
    load(&db, "acme-corp", &lots_csv(&["LA1,A,2024-01-01,10,10,1,0", "LB3,B,2024-01-20,10,10,1,0"]), "").await;
    let second = run_to_end(&db, "acme-corp", 3).await.unwrap();
    assert_eq!(
        (second.skus_recosted, second.sales_superseded, second.superseded_cogs, second.total_cogs),
        (2, 3, Decimal::from(22), Decimal::from(15)),
        "A whole (SA1, SA2: 14 become 7), B from SB2 (8 stays 8)"
    );
    load(&db, "acme-corp", &lots_csv(&["LA0,A,2023-12-31,2,2,0.5,0", "LB1,B,2024-01-01,10,10,1,0"]), "").await;

    let third = run_to_end(&db, "acme-corp", 3).await.unwrap();

    assert_eq!(
        (third.skus_recosted, third.sales_superseded, third.superseded_cogs, third.total_cogs),
        (2, 4, Decimal::from(21), Decimal::from(13)),
        "A: the second run's SA1 and SA2 (7) become 2 + 4; B: SB1 (6, the first run's) and SB2 (8) become 3 + 4"
    );
    assert_eq!(remaining(&db, "acme-corp").await, ["LA0=0", "LA1=5", "LA2=10", "LB1=3", "LB2=10", "LB3=10"]);
    assert_eq!(
        journal_lines(&db, third.run_id).await,
        [
            "2024-01-06 1400 debit 1.00",
            "2024-01-06 5000 credit 1.00",
            "2024-01-06 1400 debit 3.00",
            "2024-01-06 5000 credit 3.00",
            "2024-02-01 1400 debit 4.00",
            "2024-02-01 5000 credit 4.00"
        ],
        "Jan 6: A 2 - 3, B 3 - 6; Feb 1: A 4 - 4 (no line), B 4 - 8"
    );
    cogs_tests::assert_books_balance(&db, "acme-corp").await;

    service::rollback_run(&db.pool, &caller("acme-corp"), third.run_id, false).await.unwrap();
    assert_eq!(remaining(&db, "acme-corp").await, ["LA0=2", "LA1=3", "LA2=10", "LB1=10", "LB2=3", "LB3=10"]);
    cogs_tests::assert_books_balance(&db, "acme-corp").await;
    let again = run_to_end(&db, "acme-corp", 100).await.unwrap();
    assert_eq!(allocations(&db, "acme-corp", again.run_id).await, allocations(&db, "acme-corp", third.run_id).await);
}
