//! Costing methods on a real PostgreSQL: a tenant's method is a setting with an
//! effective day; runs cost by it, a change re-costs from its day through the
//! machinery of late input (the next run's journal posts the difference) and respects
//! the lock date, and the live book always equals `cogs cost` by the same methods.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use chrono::NaiveDate;
use cogs_core::db::SkuRange;
use cogs_core::ingest::RecordKind;
use cogs_core::journal::Format;
use cogs_core::model::{LockPolicy, Method, Methods, ShortfallPolicy};
use cogs_core::service::{self, ChunkBudget, CostFiles, MethodSetting, ServiceError, SettingsChange};
use cogs_tests::{TestDb, assert_books_balance, caller, remaining, run_to_end, tenant};
use serde_json::Value;

const TENANT: &str = "acme-corp";

const LOTS: &str = "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit
L1,WIDGET,2024-07-01,10,10,10.00,0
L2,WIDGET,2024-07-02,10,10,12.00,0
";

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

async fn upload(db: &TestDb, kind: RecordKind, csv: &str) {
    service::upload(&db.pool, &caller(TENANT), kind, "file.csv", csv.as_bytes()).await.unwrap();
}

async fn set_method(db: &TestDb, method: Method, from: Option<&str>) -> Result<Methods, ServiceError> {
    let change = SettingsChange {
        costing_method: Some(MethodSetting { method, from: from.map(day) }),
        ..SettingsChange::default()
    };
    Ok(service::change_settings(&db.pool, &caller(TENANT), &change).await?.methods)
}

async fn book(db: &TestDb) -> Value {
    serde_json::to_value(service::book(&db.pool, &tenant(TENANT), SkuRange::default()).await.unwrap().book).unwrap()
}

/// `cogs cost` over `lots` and `sales` by `methods`, as JSON.
fn cost(sales: &str, methods: &Methods) -> Value {
    let files = CostFiles::lots_and_sales(LOTS.as_bytes(), sales.as_bytes());
    serde_json::to_value(service::cost_files(files, None, ShortfallPolicy::Park, methods, &Default::default()).unwrap())
        .unwrap()
}

/// Each live sale as `sale lot quantity cost` lines, in costing order.
fn sale_lines(book: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    for sale in book["sales"].as_array().unwrap() {
        for part in sale["allocations"].as_array().unwrap() {
            lines.push(format!("{} {} {} {}", sale["sale_id"], part["lot_id"], part["quantity"], part["cost"]));
        }
    }
    lines.iter().map(|line| line.replace('"', "")).collect()
}

#[tokio::test]
async fn a_tenant_on_specific_identification_costs_a_sale_from_the_lot_it_names_and_the_book_equals_cogs_cost() {
    let db = TestDb::new().await;
    let methods = set_method(&db, Method::SpecificIdentification, None).await.unwrap();
    assert_eq!(methods, Methods::only(Method::SpecificIdentification));
    upload(&db, RecordKind::Lots, LOTS).await;
    run_to_end(&db, TENANT, 10).await.unwrap();
    // The SKU's lots were costed by runs before a sale named one of them.
    let sales = "sale_id,sku,sale_date,quantity_sold,lot_id\nS1,WIDGET,2024-07-05,4,L2\nS2,WIDGET,2024-07-06,3,\n";
    upload(&db, RecordKind::Sales, sales).await;
    let run = run_to_end(&db, TENANT, 1).await.unwrap();
    assert_eq!(run.mode, Method::SpecificIdentification, "the run records the tenant's method");
    let book = book(&db).await;
    assert_eq!(sale_lines(&book), ["S1 L2 4 48", "S2 L1 3 30"]);
    assert_eq!(book, cost(sales, &methods));
    assert_books_balance(&db, TENANT).await;

    // A write-off that names its lot takes it from that lot too.
    let write_off =
        "adjustment_id,sku,adjustment_date,quantity,unit_cost,reason,lot_id\nW1,WIDGET,2024-07-07,-2,,broken,L2\n";
    upload(&db, RecordKind::Adjustments, write_off).await;
    run_to_end(&db, TENANT, 10).await.unwrap();
    let after = self::book(&db).await;
    let written_off: Vec<(&str, &str)> = after["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["lot_id"].as_str().unwrap(), m["cost"].as_str().unwrap()))
        .collect();
    assert_eq!(written_off, [("L2", "24")], "2 of L2 at 12");
    assert_books_balance(&db, TENANT).await;
}

#[tokio::test]
async fn a_change_of_method_from_a_day_recosts_from_that_day_the_next_run_posts_the_difference_and_a_rollback_undoes_it()
 {
    let db = TestDb::new().await;
    upload(&db, RecordKind::Lots, LOTS).await;
    let sales = "sale_id,sku,sale_date,quantity_sold,lot_id\nS1,WIDGET,2024-07-03,2,L2\nS2,WIDGET,2024-07-10,3,L2\n";
    upload(&db, RecordKind::Sales, sales).await;
    let fifo = run_to_end(&db, TENANT, 10).await.unwrap();
    assert_eq!(sale_lines(&book(&db).await), ["S1 L1 2 20", "S2 L1 3 30"], "FIFO ignores the named lot");

    let methods = set_method(&db, Method::SpecificIdentification, Some("2024-07-08")).await.unwrap();
    assert_eq!(methods.at("2024-07-07T23:59:59Z".parse().unwrap()), Method::Fifo);
    assert_eq!(methods.at("2024-07-08T00:00:00Z".parse().unwrap()), Method::SpecificIdentification);
    let unchanged = sale_lines(&book(&db).await);
    assert_eq!(unchanged, sale_lines(&cost(sales, &Methods::FIFO)), "a change alone moves nothing: the next run does");
    let recost = run_to_end(&db, TENANT, 10).await.unwrap();
    assert_eq!(recost.skus_recosted, 1);
    assert_eq!(recost.net_difference, rust_decimal::Decimal::from(6), "S2 now costs 3 × 12 instead of 3 × 10");
    assert_eq!(sale_lines(&book(&db).await), ["S1 L1 2 20", "S2 L2 3 36"]);
    assert_eq!(book(&db).await, cost(sales, &methods));
    assert_books_balance(&db, TENANT).await;

    // Rolled back, the book is FIFO's again, and the method still waits to re-cost it.
    service::rollback_run(&db.pool, &caller(TENANT), recost.run_id, false).await.unwrap();
    assert_eq!(sale_lines(&book(&db).await), unchanged);
    assert_books_balance(&db, TENANT).await;
    let again = run_to_end(&db, TENANT, 10).await.unwrap();
    assert_eq!(again.net_difference, rust_decimal::Decimal::from(6));
    assert_eq!(book(&db).await, cost(sales, &methods));

    // Back to FIFO throughout: both runs' costing of S2 gives way, the difference reversed.
    let methods = set_method(&db, Method::Fifo, None).await.unwrap();
    assert_eq!(methods, Methods::FIFO, "a method throughout replaces every change");
    let back = run_to_end(&db, TENANT, 10).await.unwrap();
    assert_eq!(back.net_difference, rust_decimal::Decimal::from(-6));
    assert_eq!(book(&db).await, cost(sales, &Methods::FIFO));
    assert_ne!(fifo.run_id, back.run_id);
    assert_books_balance(&db, TENANT).await;
}

#[tokio::test]
async fn a_method_change_is_refused_while_a_run_is_active_or_when_it_would_recost_a_closed_period_under_refuse() {
    let db = TestDb::new().await;
    upload(&db, RecordKind::Lots, LOTS).await;
    upload(&db, RecordKind::Sales, "sale_id,sku,sale_date,quantity_sold,lot_id\nS1,WIDGET,2024-07-03,2,L2\n").await;
    run_to_end(&db, TENANT, 10).await.unwrap();
    let lock = SettingsChange {
        lock_date: Some(Some(day("2024-07-05"))),
        lock_policy: Some(LockPolicy::Refuse),
        ..SettingsChange::default()
    };
    service::change_settings(&db.pool, &caller(TENANT), &lock).await.unwrap();
    let before = service::settings(&db.pool, &tenant(TENANT)).await.unwrap();

    let refused = set_method(&db, Method::SpecificIdentification, Some("2024-07-01")).await.unwrap_err();
    let ServiceError::LockedPeriod { id, lock_date, .. } = &refused else { panic!("{refused:?}") };
    assert_eq!((id.as_str(), *lock_date), ("S1", day("2024-07-05")), "{refused}");
    assert_eq!(service::settings(&db.pool, &tenant(TENANT)).await.unwrap(), before, "nothing changed");
    // From after the closed period on, nothing closed moves.
    let methods = set_method(&db, Method::SpecificIdentification, Some("2024-07-06")).await.unwrap();
    assert_eq!(methods.latest(), Method::SpecificIdentification);

    // A run asking for another method than the tenant's is refused.
    let mismatch = service::start_run(&db.pool, &caller(TENANT), Some(Method::Fifo), None).await.unwrap_err();
    assert!(matches!(mismatch, ServiceError::InvalidRequest(_)), "{mismatch:?}");
    // While a run is active, the method stays as it is.
    let active = service::start_run(&db.pool, &caller(TENANT), None, None).await.unwrap();
    let busy = set_method(&db, Method::Fifo, None).await.unwrap_err();
    assert!(matches!(busy, ServiceError::RunInProgress { run_id: Some(id) } if id == active.run_id), "{busy:?}");
    assert_eq!(service::settings(&db.pool, &tenant(TENANT)).await.unwrap().methods, methods);
}

#[tokio::test]
async fn at_the_moving_average_the_live_book_equals_cogs_cost_and_a_change_to_it_recosts_every_outflow_after_its_day() {
    let db = TestDb::new().await;
    upload(&db, RecordKind::Lots, LOTS).await;
    let sales = "sale_id,sku,sale_date,quantity_sold\nS1,WIDGET,2024-07-03,4\nS2,WIDGET,2024-07-10,12\n";
    upload(&db, RecordKind::Sales, sales).await;
    run_to_end(&db, TENANT, 10).await.unwrap();
    assert_eq!(sale_lines(&book(&db).await), ["S1 L1 4 40", "S2 L1 6 60", "S2 L2 6 72"], "FIFO first");

    // From the 5th on: S2 costs 12 of (6 at 10 + 10 at 12 = 180) ÷ 16 units = 135.
    let methods = set_method(&db, Method::MovingAverage, Some("2024-07-05")).await.unwrap();
    let recost = run_to_end(&db, TENANT, 10).await.unwrap();
    assert_eq!(recost.mode, Method::MovingAverage);
    assert_eq!(recost.net_difference, rust_decimal::Decimal::from(3), "S2: 135 instead of 132");
    let live = book(&db).await;
    assert_eq!(live, cost(sales, &methods));
    assert_eq!(live["totals"]["total_cogs"], "175");
    assert_eq!(live["totals"]["ending_inventory_value"], "45", "4 units left at the average, 11.25");
    assert_books_balance(&db, TENANT).await;
    let options = service::JournalOptions { period: None, detail: None, reversal_date: None };
    let config = cogs_core::journal::JournalConfig::default();
    let tenant = tenant(TENANT);
    let csv = service::journal_entry(&db.pool, &tenant, recost.run_id, options, Format::Csv, &config);
    let csv = String::from_utf8(csv.await.unwrap().rendered().body).unwrap();
    assert!(csv.contains("Moving average COGS"), "the journal names the method: {csv}");

    // A SKU first costed under the average goes through the engine too, never the FIFO allocator.
    let more = "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit
G1,GADGET,2024-07-06,1,1,1.00,0
G2,GADGET,2024-07-07,2,2,2.00,0
";
    upload(&db, RecordKind::Lots, more).await;
    upload(&db, RecordKind::Sales, "sale_id,sku,sale_date,quantity_sold\nT1,GADGET,2024-07-08,1\n").await;
    run_to_end(&db, TENANT, 10).await.unwrap();
    let live = book(&db).await;
    let t1 = live["sales"].as_array().unwrap().iter().find(|sale| sale["sale_id"] == "T1").unwrap();
    assert_eq!(t1["cogs"], "1.67", "5.00 ÷ 3, rounded once");
    assert_books_balance(&db, TENANT).await;
}

/// Each SKU's `movements` flag (costed whole by the engine), as `sku=flag`, read as the
/// application role.
async fn costed_whole(db: &TestDb) -> Vec<String> {
    let client = db.app().await;
    client.execute("select set_config('app.tenant_id', $1, false)", &[&TENANT]).await.unwrap();
    let rows = client.query("select sku, movements from sku_watermarks order by sku", &[]).await.unwrap();
    rows.iter().map(|row| format!("{}={}", row.get::<_, String>(0), row.get::<_, bool>(1))).collect()
}

#[tokio::test]
async fn back_on_fifo_throughout_a_sku_of_lots_and_sales_goes_back_to_the_fast_path_and_a_rollback_flags_it_again() {
    let db = TestDb::new().await;
    let lots = format!("{LOTS}G1,GADGET,2024-07-01,5,5,3.00,0\nG2,GADGET,2024-07-02,5,5,4.00,0\n");
    upload(&db, RecordKind::Lots, &lots).await;
    // GADGET's sale names its lot: the fast path never reads a sale's lot, so it stays
    // with the engine whatever the method.
    let sales = "sale_id,sku,sale_date,quantity_sold,lot_id
S1,WIDGET,2024-07-03,4,
S2,WIDGET,2024-07-10,12,
T1,GADGET,2024-07-04,2,G2
";
    upload(&db, RecordKind::Sales, sales).await;
    let cost_with = |sales: &str, methods: &Methods| {
        let files = CostFiles::lots_and_sales(lots.as_bytes(), sales.as_bytes());
        let report = service::cost_files(files, None, ShortfallPolicy::Park, methods, &Default::default());
        serde_json::to_value(report.unwrap()).unwrap()
    };
    let cost = |methods: &Methods| cost_with(sales, methods);
    run_to_end(&db, TENANT, 10).await.unwrap();
    assert_eq!(costed_whole(&db).await, ["GADGET=true", "WIDGET=false"]);

    let average = set_method(&db, Method::MovingAverage, None).await.unwrap();
    run_to_end(&db, TENANT, 10).await.unwrap();
    assert_eq!(costed_whole(&db).await, ["GADGET=true", "WIDGET=true"], "the average costs every SKU whole");
    let on_average = book(&db).await;
    assert_eq!(on_average, cost(&average));

    // FIFO throughout again: the run re-costs both from the start, and WIDGET, of lots
    // and sales only, is the fast path's again. S1 costs 40 instead of 4 at the pool's
    // 11.00, and T1 6.00 (G1's: FIFO ignores the lot it names) instead of 2 at 3.50.
    let fifo = set_method(&db, Method::Fifo, None).await.unwrap();
    let back = run_to_end(&db, TENANT, 10).await.unwrap();
    assert_eq!(costed_whole(&db).await, ["GADGET=true", "WIDGET=false"]);
    assert_eq!(back.net_difference, rust_decimal::Decimal::from(-5), "44 + 7 before, 40 + 6 now");
    assert_eq!(book(&db).await, cost(&fifo));
    assert_books_balance(&db, TENANT).await;

    // A later sale of WIDGET is costed by the fast path, on top of what the engine left.
    let later_sale = "S3,WIDGET,2024-07-11,3,\n";
    upload(&db, RecordKind::Sales, &format!("sale_id,sku,sale_date,quantity_sold,lot_id\n{later_sale}")).await;
    let next = run_to_end(&db, TENANT, 10).await.unwrap();
    let with_later = book(&db).await;
    assert_eq!(sale_lines(&with_later).last().unwrap(), "S3 L2 3 36");
    assert_eq!(with_later, cost_with(&format!("{sales}{later_sale}"), &fifo));

    // Rolled back, run by run, the book is the average's again and WIDGET its engine's.
    let caller = caller(TENANT);
    service::rollback_run(&db.pool, &caller, next.run_id, false).await.unwrap();
    service::rollback_run(&db.pool, &caller, back.run_id, false).await.unwrap();
    assert_eq!(costed_whole(&db).await, ["GADGET=true", "WIDGET=true"], "the rollback flags WIDGET again");
    // (The method stays FIFO: a rollback undoes runs, not settings.)
    let mut rolled_back = book(&db).await;
    rolled_back["methods"] = on_average["methods"].clone();
    assert_eq!(rolled_back, on_average);
    assert_books_balance(&db, TENANT).await;
}

#[tokio::test]
async fn a_sku_waiting_for_its_chunk_keeps_its_lots_as_the_run_found_them_and_the_book_keeps_every_rule_between_chunks()
{
    let db = TestDb::new().await;
    let lots = format!("{LOTS}G1,GADGET,2024-07-01,5,5,3.00,0\nG2,GADGET,2024-07-02,5,5,4.00,0\n");
    upload(&db, RecordKind::Lots, &lots).await;
    let sales = "sale_id,sku,sale_date,quantity_sold,lot_id\nS1,WIDGET,2024-07-03,4,L2\nT1,GADGET,2024-07-04,2,G2\n";
    upload(&db, RecordKind::Sales, sales).await;
    run_to_end(&db, TENANT, 10).await.unwrap();
    let on_fifo = remaining(&db, TENANT).await;
    assert_eq!(on_fifo, ["G1=3", "G2=5", "L1=6", "L2=10"], "FIFO ignores the lots the sales name");
    let fifo_book = book(&db).await;

    // Under specific identification both SKUs are costed whole again, one chunk each
    // (GADGET first): after the first, WIDGET's lots are as the run found them.
    let methods = set_method(&db, Method::SpecificIdentification, None).await.unwrap();
    let caller = caller(TENANT);
    let run = service::start_run(&db.pool, &caller, None, None).await.unwrap();
    assert_eq!(remaining(&db, TENANT).await, on_fifo, "the run's start writes no lot of a SKU costed whole");
    let one_chunk = ChunkBudget { max_chunks: Some(1), ..ChunkBudget::unlimited(1) };
    service::advance_run(&db.pool, &caller, run.run_id, &one_chunk).await.unwrap();
    assert_eq!(remaining(&db, TENANT).await, ["G1=5", "G2=3", "L1=6", "L2=10"]);
    assert_books_balance(&db, TENANT).await;

    // Abandoned there, the book is FIFO's again; run again, it is specific identification's.
    service::abandon_run(&db.pool, &caller, run.run_id, "stopped by the test").await.unwrap();
    assert_eq!(remaining(&db, TENANT).await, on_fifo);
    let mut abandoned = book(&db).await;
    abandoned["methods"] = fifo_book["methods"].clone();
    assert_eq!(abandoned, fifo_book);
    assert_books_balance(&db, TENANT).await;
    let done = run_to_end(&db, TENANT, 1).await.unwrap();
    assert_eq!(remaining(&db, TENANT).await, ["G1=5", "G2=3", "L1=10", "L2=6"]);
    let files = CostFiles::lots_and_sales(lots.as_bytes(), sales.as_bytes());
    let fresh = service::cost_files(files, None, ShortfallPolicy::Park, &methods, &Default::default()).unwrap();
    assert_eq!(book(&db).await, serde_json::to_value(fresh).unwrap());
    assert_books_balance(&db, TENANT).await;
    service::rollback_run(&db.pool, &caller, done.run_id, false).await.unwrap();
    assert_eq!(remaining(&db, TENANT).await, on_fifo, "the rollback puts back what the chunks moved");
    assert_books_balance(&db, TENANT).await;
}

#[tokio::test]
async fn a_chunk_of_skus_costed_whole_takes_skus_until_their_sales_fill_it() {
    let db = TestDb::new().await;
    set_method(&db, Method::MovingAverage, None).await.unwrap();
    let lots = "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit
LA,A,2024-07-01,10,10,1.00,0
LB,B,2024-07-01,10,10,1.00,0
LC,C,2024-07-01,10,10,1.00,0
LD,D,2024-07-01,10,10,1.00,0
";
    upload(&db, RecordKind::Lots, lots).await;
    let mut sales = String::from("sale_id,sku,sale_date,quantity_sold\n");
    for (sku, count) in [("A", 2), ("B", 1), ("C", 5), ("D", 1)] {
        for n in 0..count {
            sales.push_str(&format!("{sku}{n},{sku},2024-07-0{},1\n", n + 2));
        }
    }
    upload(&db, RecordKind::Sales, &sales).await;
    // Chunks of 3 sales: A and B (3), then C alone (5, more than a chunk holds, but
    // whole), then D. By a count of SKUs alone, A, B and C would have gone together.
    let run = run_to_end(&db, TENANT, 3).await.unwrap();
    assert_eq!((run.sales_processed, run.chunks_applied), (9, 3));
    assert_books_balance(&db, TENANT).await;
}
