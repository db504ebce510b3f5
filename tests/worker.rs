//! The run worker as the state machine calls it: with tiny time budgets a run takes
//! many invocations and ends exactly as one pass; an invocation that dies mid-chunk is
//! resumed by the next; a permanent failure abandons the run cleanly.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cogs_core::db::RunStatus;
use cogs_core::lambda::Context;
use cogs_core::model::ShortfallPolicy;
use cogs_core::service;
use cogs_tests::{TestDb, allocations, caller, load, lots_csv, remaining, run_to_end, sales_csv};
use cogs_worker::{WorkerInput, WorkerOutput};
use serde_json::json;

fn context(db: &TestDb, chunk_size: &str) -> Context {
    let vars = [("COGS_CHUNK_SIZE", chunk_size), ("COGS_WORKER_MARGIN_MS", "0")];
    cogs_tests::function_context(&db.app_url(), &vars, cogs_tests::local_staging())
}

/// One invocation with `time_left` before its Lambda deadline.
async fn invoke(
    ctx: &Context,
    input: serde_json::Value,
    time_left: Duration,
) -> Result<WorkerOutput, lambda_runtime::Diagnostic> {
    let mut context = lambda_runtime::Context::default();
    context.deadline = (SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + time_left).as_millis() as u64;
    let payload: WorkerInput = serde_json::from_value(input).unwrap();
    cogs_worker::handle(ctx, lambda_runtime::LambdaEvent::new(payload, context)).await
}

/// 2,000 sales over 4 SKUs and 40 lots.
fn thousands() -> (String, String) {
    let lots: Vec<String> =
        (0..40).map(|i| format!("L{i:03},SKU{},2024-01-{:02},200,200,{}.25,0.5", i % 4, 1 + i / 4, 3 + i)).collect();
    let sales: Vec<String> = (0..2000)
        .map(|i| {
            format!("S{i:05},SKU{},2024-02-{:02}T{:02}:{:02}:00Z,{}", i % 4, 1 + i % 28, i % 24, i % 60, 1 + i % 5)
        })
        .collect();
    (lots_csv(&[&lots.join("\n")]), sales_csv(&[&sales.join("\n")]))
}

async fn one_pass() -> (Vec<String>, Vec<String>) {
    let (lots, sales) = thousands();
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots, &sales).await;
    let run = run_to_end(&db, "acme-corp", 10_000).await.unwrap();
    (allocations(&db, "acme-corp", run.run_id).await, remaining(&db, "acme-corp").await)
}

#[tokio::test]
async fn with_a_tiny_time_budget_a_run_takes_many_invocations_and_ends_as_one_pass() {
    let (lots, sales) = thousands();
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots, &sales).await;
    let ctx = context(&db, "50");
    let run = service::start_run(&db.pool, &caller("acme-corp"), None, Some(ShortfallPolicy::Fail)).await.unwrap();
    let input = json!({ "tenant_id": "acme-corp", "run_id": run.run_id });

    let mut invocations = 0;
    let last = loop {
        invocations += 1;
        let output = invoke(&ctx, input.clone(), Duration::from_millis(1)).await.unwrap();
        assert!(invocations < 1000, "the run must finish");
        if output.done {
            break output;
        }
    };

    assert_eq!((last.status, last.processed, last.total), (RunStatus::Completed, 2000, 2000));
    assert!(invocations >= 40, "each invocation had time for about one chunk of 50: {invocations} invocations");
    let expected = one_pass().await;
    assert_eq!((allocations(&db, "acme-corp", run.run_id).await, remaining(&db, "acme-corp").await), expected);
}

#[tokio::test]
async fn an_invocation_killed_mid_chunk_is_resumed_by_the_next_to_the_same_result() {
    let (lots, sales) = thousands();
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots, &sales).await;
    let ctx = context(&db, "100");
    let owner = db.owner().await;
    // The fifth chunk dies after writing its allocations and lots, before its cursor moves.
    owner
        .batch_execute(
            r"create function die_in_fifth_chunk() returns trigger language plpgsql as $$
              begin if new.chunks_applied = 5 then raise exception 'the worker died'; end if; return new; end $$;
              create trigger die_in_fifth_chunk before update on cogs_runs for each row execute function die_in_fifth_chunk();",
        )
        .await
        .unwrap();
    let run = service::start_run(&db.pool, &caller("acme-corp"), None, Some(ShortfallPolicy::Fail)).await.unwrap();
    let input = json!({ "tenant_id": "acme-corp", "run_id": run.run_id });

    let died = invoke(&ctx, input.clone(), Duration::from_secs(60)).await.unwrap_err();
    owner.batch_execute("drop trigger die_in_fifth_chunk on cogs_runs").await.unwrap();
    let resumed = invoke(&ctx, input, Duration::from_secs(60)).await.unwrap();

    assert!(died.error_message.contains("the worker died"), "{died:?}");
    assert_eq!(resumed.status, RunStatus::Completed);
    assert_eq!((allocations(&db, "acme-corp", run.run_id).await, remaining(&db, "acme-corp").await), one_pass().await);
}

#[tokio::test]
async fn an_uncovered_sale_ends_the_run_as_failed_not_as_an_error() {
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots_csv(&["L1,A,2024-01-01,1,1,1,0"]), &sales_csv(&["S1,A,2024-01-02,5"])).await;
    let ctx = context(&db, "10");
    let run = service::start_run(&db.pool, &caller("acme-corp"), None, Some(ShortfallPolicy::Fail)).await.unwrap();

    let output =
        invoke(&ctx, json!({ "tenant_id": "acme-corp", "run_id": run.run_id }), Duration::from_secs(60)).await.unwrap();

    assert!(output.done);
    assert_eq!(output.status, RunStatus::Failed);
    assert!(output.error.unwrap().contains("sale S1"));
}

#[tokio::test]
async fn the_fail_action_abandons_the_run_and_undoes_its_chunks() {
    let (lots, sales) = thousands();
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots, &sales).await;
    let before = remaining(&db, "acme-corp").await;
    let ctx = context(&db, "100");
    let run = service::start_run(&db.pool, &caller("acme-corp"), None, Some(ShortfallPolicy::Fail)).await.unwrap();
    invoke(&ctx, json!({ "tenant_id": "acme-corp", "run_id": run.run_id }), Duration::from_millis(1)).await.unwrap();

    let reason = json!({ "Error": "PermanentError", "Cause": "the database refused" });
    let output = invoke(
        &ctx,
        json!({ "tenant_id": "acme-corp", "run_id": run.run_id, "action": "fail", "reason": reason }),
        Duration::from_secs(60),
    )
    .await
    .unwrap();

    assert_eq!((output.status, output.done), (RunStatus::Failed, true));
    assert!(output.error.unwrap().contains("the database refused"));
    assert_eq!(remaining(&db, "acme-corp").await, before, "the applied chunk was undone");
}
