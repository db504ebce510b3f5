//! Faults: a run of 100,000 sales interrupted at 20 points chosen by a seeded random
//! generator, three ways (the process dies: its work is dropped mid-await and its
//! connection closes uncommitted; the connection is terminated by the server; a
//! statement times out), checked after every interruption and resumed, ends with
//! exactly the allocations the engine computes in one pass. A rollback interrupted
//! the same ways is all or nothing. The database going away under a worker makes it
//! fail with a retryable error, and the next invocation finishes the run (for a real
//! server restart see `restart.rs`).
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::time::Duration;

use cogs_core::db::RunStatus;
use cogs_core::model::ShortfallPolicy;
use cogs_core::service::{self, ChunkBudget};
use cogs_tests::outage::{TENANT, a_worker_survives, hundred_thousand_sales, one_pass};
use cogs_tests::{TestDb, Xorshift, allocations, assert_books_balance, caller, remaining, run_row};

#[derive(Debug, Clone, Copy)]
enum Interruption {
    /// The process dies: the future is dropped wherever it is, its transaction's
    /// connection closes without a commit.
    ProcessKilled,
    /// The server terminates the application's connections mid-transaction.
    ConnectionDropped,
    /// A statement runs out of time (`statement_timeout`).
    StatementTimeout,
}

/// Terminates, from `app` (a connection of the application role: a role may signal
/// its own backends), every other connection of that role to this database.
async fn drop_connections(app: &tokio_postgres::Client) -> u64 {
    let rows = app
        .query(
            "select pg_terminate_backend(pid) from pg_stat_activity
             where datname = current_database() and usename = current_user and pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    rows.len() as u64
}

/// Waits until no other session of the application role in this database is inside a
/// transaction: an interrupted call's statement, or its commit, may still be running on
/// the server after the client gave up on it, and what it leaves is only known then.
async fn settled(app: &tokio_postgres::Client) {
    for _ in 0..300 {
        let busy: i64 = app
            .query_one(
                "select count(*) from pg_stat_activity
                 where datname = current_database() and usename = current_user and pid <> pg_backend_pid()
                   and state in ('active', 'idle in transaction', 'idle in transaction (aborted)')",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if busy == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("an interrupted transaction is still open after 30 s");
}

#[tokio::test]
async fn a_run_interrupted_at_twenty_points_ends_exactly_as_one_pass() {
    let (lots, sales) = hundred_thousand_sales();
    let expected = one_pass(&lots, &sales);
    let db = TestDb::new().await;
    cogs_tests::load(&db, TENANT, &lots, &sales).await;
    let run = service::start_run(&db.pool, &caller(TENANT), None, Some(ShortfallPolicy::Fail)).await.unwrap();
    // Small chunks: the run must still be going at the twentieth interruption.
    let budget = ChunkBudget::unlimited(50);
    let mut points = Xorshift(0x5eed_c065);
    let kinds = [Interruption::ProcessKilled, Interruption::ConnectionDropped, Interruption::StatementTimeout];

    for point in 0..20 {
        let kind = kinds[point % 3];
        let delay = Duration::from_millis(20 + points.below(300));
        let pool = match kind {
            Interruption::StatementTimeout => {
                let timeout = 5 + points.below(60);
                // Straight to the server: a pooler does not pass startup options on.
                let url = cogs_tests::url("cogs_api", &db.name);
                cogs_core::db::connect(&format!("{url}?options=-c%20statement_timeout%3D{timeout}"), 2, None).unwrap()
            }
            _ => db.pool.clone(),
        };
        let caller = caller(TENANT);
        let run_id = run.run_id;
        let work = tokio::spawn(async move { service::advance_run(&pool, &caller, run_id, &budget).await });
        tokio::time::sleep(delay).await;
        match kind {
            Interruption::ProcessKilled | Interruption::StatementTimeout => work.abort(),
            Interruption::ConnectionDropped => {
                // A cut that lands between two chunks only closes idle pooled
                // connections, which the pool replaces: cut until the call has ended.
                let cutter = db.app().await;
                while !work.is_finished() {
                    drop_connections(&cutter).await;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
        let outcome = work.await;
        let now = run_row(&db, TENANT, run.run_id).await.unwrap();
        assert!(now.status.is_active(), "point {point} ({kind:?}, {delay:?}): the run went on to {:?}", now.status);
        assert_books_balance(&db, TENANT).await;
        eprintln!(
            "point {point}: {kind:?} after {delay:?}: {} sales costed; the call ended {outcome:?}",
            now.sales_processed
        );
    }

    let done = service::advance_run(&db.pool, &caller(TENANT), run.run_id, &budget).await.unwrap();
    assert_eq!((done.status, done.sales_processed), (RunStatus::Completed, 100_000));
    assert_books_balance(&db, TENANT).await;
    assert_eq!((allocations(&db, TENANT, run.run_id).await, remaining(&db, TENANT).await), expected);
}

#[tokio::test]
async fn an_interrupted_rollback_is_all_or_nothing_and_the_retry_restores_everything() {
    let (lots, sales) = hundred_thousand_sales();
    let db = TestDb::new().await;
    cogs_tests::load(&db, TENANT, &lots, &sales).await;
    let loaded = db.data(&[TENANT]).await;
    let run = cogs_tests::run_to_end(&db, TENANT, 10_000).await.unwrap();
    let costed = db.data(&[TENANT]).await;
    let mut points = Xorshift(0xba5e_ba11);

    for point in 0..6 {
        let delay = Duration::from_millis(points.below(400));
        let (pool, caller, run_id) = (db.pool.clone(), caller(TENANT), run.run_id);
        let work = tokio::spawn(async move { service::rollback_run(&pool, &caller, run_id, false).await });
        tokio::time::sleep(delay).await;
        if point % 2 == 0 {
            work.abort();
        } else {
            drop_connections(&db.app().await).await;
        }
        let finished = matches!(work.await, Ok(Ok(_)));
        // An aborted rollback's commit may have reached the server all the same.
        settled(&db.app().await).await;
        let status = run_row(&db, TENANT, run.run_id).await.unwrap().status;
        assert_books_balance(&db, TENANT).await;
        if finished || status == RunStatus::RolledBack {
            break;
        }
        assert_eq!(status, RunStatus::Completed, "point {point}: interrupted, the rollback changed nothing");
        assert!(db.data(&[TENANT]).await == costed, "point {point}: the run's rows are all still there");
    }
    service::rollback_run(&db.pool, &caller(TENANT), run.run_id, false).await.unwrap();

    let after = db.data(&[TENANT]).await;
    let rows = |data: &std::collections::BTreeMap<String, Vec<String>>, table: &str| {
        data[&format!("{TENANT}.{table}")].clone()
    };
    assert_eq!(rows(&after, "lots"), rows(&loaded, "lots"), "every lot is back to what was loaded");
    assert_eq!(rows(&after, "sales"), rows(&loaded, "sales"), "no sale was rewritten");
    assert_eq!(rows(&after, "sku_watermarks"), rows(&loaded, "sku_watermarks"), "every sale is uncosted again");
    assert_books_balance(&db, TENANT).await;
}

#[tokio::test]
async fn the_database_going_away_under_a_worker_fails_it_retryably_and_the_run_resumes() {
    let db = TestDb::new().await;
    // Every connection to the database is cut and no new one is accepted until the
    // worker has returned (at most ten seconds): a worker busy costing a chunk in memory
    // meets the outage at its next statement, however long the chunk takes. (The owner
    // closes the doors; a connection of the application role, made before, cuts the
    // others: a role may signal its own backends.)
    let owner = cogs_tests::connect(&cogs_tests::url("cogs_owner", "postgres")).await;
    let cutter = db.app().await;
    let outage = async |worker_returned: &tokio::sync::Notify| {
        tokio::time::sleep(Duration::from_millis(300)).await;
        owner.batch_execute(&format!("alter database {} allow_connections false", db.name)).await.unwrap();
        drop_connections(&cutter).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), worker_returned.notified()).await;
        owner.batch_execute(&format!("alter database {} allow_connections true", db.name)).await.unwrap();
    };
    a_worker_survives(&db, outage).await;
}
