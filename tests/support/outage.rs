//! The 100,000-sale workload of the fault tests and the check that a worker survives
//! the database going away, shared by `faults.rs` and `restart.rs`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cogs_core::db::RunStatus;
use cogs_core::engine::{LotBook, allocate};
use cogs_core::ingest;
use cogs_core::model::{Lot, Sale, ShortfallPolicy};
use cogs_core::service;
use serde_json::json;
use tokio::sync::Notify;

use crate::{TestDb, allocations, assert_books_balance, caller, remaining};

/// The tenant the workload is loaded for.
pub const TENANT: &str = "acme-corp";

/// 1,000 SKUs with 10 lots of 20 units each, received in January at prices that
/// differ per lot, and 100 sales per SKU in February and March of 1, 1.5 or 2 units,
/// so many sales span two lots and none oversells (at most 150 of 200 units).
pub fn hundred_thousand_sales() -> (String, String) {
    let mut lots = String::from(
        "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit\n",
    );
    let mut sales = String::from("sale_id,sku,sale_date,quantity_sold\n");
    for sku in 0..1000 {
        for lot in 0..10 {
            lots.push_str(&format!(
                "L{sku:04}-{lot:02},SKU{sku:04},2024-01-{:02},20,20,{}.{:02},0.{}\n",
                1 + lot,
                1 + (sku + lot) % 7,
                lot * 7 % 100,
                lot % 10
            ));
        }
        for sale in 0..100 {
            let minute = sale * 853 % 86_400;
            sales.push_str(&format!(
                "S{sku:04}-{sale:03},SKU{sku:04},2024-{:02}-{:02}T{:02}:{:02}:00Z,{}\n",
                2 + sale / 50,
                1 + sale % 28,
                minute / 60 % 24,
                minute % 60,
                ["1", "1.5", "2"][(sku + sale) % 3]
            ));
        }
    }
    (lots, sales)
}

/// The allocations and remaining quantities the engine computes in one pass, in the
/// text the database helpers use.
pub fn one_pass(lots: &str, sales: &str) -> (Vec<String>, Vec<String>) {
    let lots: Vec<Lot> = ingest::read_all(lots.as_bytes(), None).unwrap();
    let mut sales: Vec<Sale> = ingest::read_all(sales.as_bytes(), None).unwrap();
    sales.sort_by(|a, b| (a.sale_date, &a.sale_id).cmp(&(b.sale_date, &b.sale_id)));
    let mut book = LotBook::new(lots).unwrap();
    let lines = allocate(&mut book, &sales)
        .unwrap()
        .iter()
        .map(|a| {
            let n = |d: rust_decimal::Decimal| d.normalize().to_string();
            format!("{} {} {} {} {}", a.sale_id, a.lot_id, n(a.quantity), n(a.unit_cost), n(a.extended_cost))
        })
        .collect();
    let mut left: Vec<String> =
        book.lots().map(|lot| format!("{}={}", lot.lot_id, lot.remaining_quantity.normalize())).collect();
    left.sort();
    (lines, left)
}

/// Starts a run of the 100,000 sales and lets a worker advance it while `outage` takes
/// the database away: the worker fails with the error the state machine retries, the
/// books balance, and the next invocation finishes the run with exactly the
/// allocations of one pass. `outage` is told when the worker has returned, so that it
/// can keep the database away until then. Through a transaction-mode pooler the worker
/// may instead never see the outage (the pooler holds a statement that asks for a
/// server until one is back); it must then finish the run, exactly as well.
pub async fn a_worker_survives(db: &TestDb, outage: impl AsyncFnOnce(&Notify)) {
    let (lots, sales) = hundred_thousand_sales();
    let expected = one_pass(&lots, &sales);
    crate::load(db, TENANT, &lots, &sales).await;
    let ctx = crate::function_context(&db.app_url(), &[("COGS_CHUNK_SIZE", "2000")], crate::local_staging());
    let run = service::start_run(&db.pool, &caller(TENANT), None, Some(ShortfallPolicy::Fail)).await.unwrap();
    let input = json!({ "tenant_id": TENANT, "run_id": run.run_id });
    let event = || {
        let mut context = lambda_runtime::Context::default();
        let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(600);
        context.deadline = deadline.as_millis() as u64;
        lambda_runtime::LambdaEvent::new(serde_json::from_value(input.clone()).unwrap(), context)
    };

    let worker_returned = Notify::new();
    let worker = async {
        let outcome = cogs_worker::handle(&ctx, event()).await;
        worker_returned.notify_one();
        outcome
    };
    let (outcome, ()) = tokio::join!(worker, outage(&worker_returned));

    let finished = match outcome {
        Err(failed) => {
            assert_eq!(failed.error_type, "TransientError", "the state machine retries it: {failed:?}");
            assert_books_balance(db, TENANT).await;
            cogs_worker::handle(&ctx, event()).await.unwrap()
        }
        Ok(held) if crate::through_pooler() => held,
        Ok(done) => panic!("the worker never met the outage: {done:?}"),
    };
    assert_eq!((finished.status, finished.processed), (RunStatus::Completed, 100_000));
    assert_eq!((allocations(db, TENANT, run.run_id).await, remaining(db, TENANT).await), expected);
}
