//! Runs: start, advance chunk by chunk, fail cleanly, and the dry run.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::time::{Duration, Instant};

use rust_decimal::Decimal;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{Caller, CostReport, ServiceError, report, upload_in};
use crate::db::{self, ChunkTotals, RunRow, RunStatus, TenantTx};
use crate::engine::{self, CostingError, Layer, LotBook};
use crate::ingest::RecordKind;
use crate::model::{Allocation, Method, Methods, Sale, ShortfallPolicy};
use crate::money::{exact_add, exact_sum};

/// How much work one `advance_run` call may do. Chunks are whole transactions; the
/// call stops before a chunk that would likely end after `deadline` (judged by the
/// slowest chunk so far), or after `max_chunks`.
#[derive(Debug, Clone, Copy)]
pub struct ChunkBudget {
    pub chunk_size: usize,
    pub deadline: Option<Instant>,
    pub max_chunks: Option<u64>,
}

impl ChunkBudget {
    pub const DEFAULT_CHUNK_SIZE: usize = 10_000;

    /// Chunks of `chunk_size` sales until the run is done.
    pub fn unlimited(chunk_size: usize) -> Self {
        Self { chunk_size, deadline: None, max_chunks: None }
    }
}

/// Where a run stands after an `advance_run` call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunProgress {
    pub run_id: Uuid,
    pub status: RunStatus,
    pub done: bool,
    pub sales_total: i64,
    pub sales_processed: i64,
    pub chunks_applied: i64,
    /// SKUs parked for want of stock so far (`GET /api/v1/runs/{id}` lists them).
    pub skus_parked: i32,
}

impl From<&RunRow> for RunProgress {
    fn from(run: &RunRow) -> Self {
        Self {
            run_id: run.run_id,
            status: run.status,
            done: !run.status.is_active(),
            sales_total: run.sales_total,
            sales_processed: run.sales_processed,
            chunks_applied: run.chunks_applied,
            skus_parked: run.skus_parked,
        }
    }
}

/// Starts a run that will cost every uncosted sale of the tenant, in one transaction.
///
/// Refused with `RunInProgress` when the tenant has a pending or running run (the
/// database's one-active-run index decides, so concurrent starts yield one run).
/// Backdated input (a lot or sale at or before what its SKU already costed) is
/// re-costed: each such SKU is rewound to just before its earliest new event (its
/// later outputs superseded, its lots and watermark put back), so the run costs it
/// again from there. A sale the lots cannot cover parks its SKU or fails the run, as
/// `on_shortfall` says (`None`: the tenant's setting). Under `lock_policy = refuse`, a
/// run that would cost anything dated on or before the lock date is refused
/// (`LockedPeriod`, naming the first such event). The run starts `pending`;
/// [`advance_run`] does the work.
pub async fn start_run(
    pool: &deadpool_postgres::Pool,
    caller: &Caller,
    mode: Option<Method>,
    on_shortfall: Option<ShortfallPolicy>,
) -> Result<RunRow, ServiceError> {
    // Statistics describing the tables before a bulk load make the chunks' set-wise
    // statements pick nested loops over every row; refresh them before costing, outside
    // the tenant's transaction (see `db::refresh_statistics`).
    db::refresh_statistics(pool).await?;
    let tx = db::begin(pool, &caller.tenant_id).await?;
    let run = start_run_in(&tx, caller, mode, on_shortfall).await?;
    tx.commit().await?;
    Ok(run)
}

/// Starts the run in `tx`.
async fn start_run_in(
    tx: &TenantTx,
    caller: &Caller,
    mode: Option<Method>,
    on_shortfall: Option<ShortfallPolicy>,
) -> Result<RunRow, ServiceError> {
    db::lock_tenant(tx).await?;
    if let Some(active) = db::load_active_run(tx).await? {
        return Err(ServiceError::RunInProgress { run_id: Some(active.run_id) });
    }
    let settings = db::load_settings(tx).await?;
    let tenant_method = settings.methods.latest();
    if let Some(mode) = mode
        && mode != tenant_method
    {
        return Err(ServiceError::InvalidRequest(format!(
            "mode {mode} is not the tenant's costing method ({tenant_method}): leave mode out to run by the \
             tenant's method, or change the method first (PUT /api/v1/settings, cogs settings --method)"
        )));
    }
    super::settings::refuse_locked(tx, &settings).await?;
    let on_shortfall = on_shortfall.unwrap_or(settings.on_shortfall);
    db::ensure_tenant(tx).await?;
    let run = db::insert_run(tx, Uuid::now_v7(), tenant_method, on_shortfall, &settings, &caller.actor).await?;
    if settings.methods.uses(Method::MovingAverage) {
        db::cost_every_sku_whole(tx).await?;
    }
    db::mark_movement_skus(tx, run.run_id).await?;
    let rewound = db::rewind_backdated(tx, run.run_id).await?;
    db::record_superseded_movements(tx, run.run_id).await?;
    let run = db::set_run_scope(tx, run.run_id, db::count_uncosted(tx).await?, &rewound).await?;
    let details = json!({
        "mode": tenant_method,
        "on_shortfall": on_shortfall,
        "sales_total": run.sales_total,
        "skus_recosted": run.skus_recosted,
        "sales_superseded": run.sales_superseded,
        "superseded_cogs": run.superseded_cogs,
    });
    db::insert_audit(tx, &caller.actor, "run.started", Some(run.run_id), None, &details).await?;
    Ok(run)
}

/// What one chunk did.
enum Chunk {
    /// Costed this many sales; more may follow.
    Applied,
    /// Nothing was left to cost: the run is now completed.
    Completed,
    /// Another call applied this chunk first; try again from where it left the run.
    Lost,
}

/// Advances an active run chunk by chunk within `budget` (at least one chunk per call,
/// so repeated calls always finish). Each chunk is one transaction: it costs the next
/// `chunk_size` uncosted sales in costing order, writes their allocations, snapshots
/// each lot and each SKU's watermark before the run first moves it, lowers the lots,
/// moves the watermarks to the last sale costed, and moves the run's cursor with a
/// compare-and-set, so a chunk retried after a crash applies once. No sale is
/// rewritten: a sale is costed when its SKU's watermark has passed it.
///
/// A sale that cannot be covered fails the run: every chunk already applied is undone
/// (lots and watermarks back to their snapshots), the run is marked `failed` with a
/// validation error naming the sale, and the costing error is returned.
/// Calling it for a run that is no longer active just reports where it stands.
pub async fn advance_run(
    pool: &deadpool_postgres::Pool,
    caller: &Caller,
    run_id: Uuid,
    budget: &ChunkBudget,
) -> Result<RunProgress, ServiceError> {
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut chunks = 0;
    loop {
        let chunk_started = Instant::now();
        // The first chunk always runs, so every call makes progress.
        let out_of_time = chunks > 0 && budget.deadline.is_some_and(|deadline| chunk_started + slowest >= deadline);
        if out_of_time || budget.max_chunks.is_some_and(|max| chunks >= max) {
            break;
        }
        let tx = db::begin(pool, &caller.tenant_id).await?;
        let run = lock_run(&tx, run_id).await?;
        if !run.status.is_active() {
            tx.rollback().await?;
            return Ok(RunProgress::from(&run));
        }
        match apply_chunk_in(&tx, caller, &run, budget.chunk_size).await {
            Ok(Chunk::Lost) => tx.rollback().await?,
            Ok(Chunk::Applied) => tx.commit().await?,
            Ok(Chunk::Completed) => {
                tx.commit().await?;
                // The run's outputs changed the tables most: their statistics and index
                // summaries are brought up to date now, not at the next run's start. The
                // run is complete either way, so a failure here is only logged.
                if let Err(error) = db::refresh_statistics(pool).await {
                    tracing::warn!(%run_id, %error, "statistics not refreshed after the run");
                }
            }
            Err(ServiceError::Costing(error)) => {
                tx.rollback().await?;
                fail_run(pool, caller, run_id, &error).await?;
                return Err(ServiceError::Costing(error));
            }
            Err(other) => return Err(other),
        }
        chunks += 1;
        slowest = slowest.max(chunk_started.elapsed());
    }
    tracing::debug!(%run_id, chunks, elapsed = ?started.elapsed(), "advanced run");
    let tx = db::begin(pool, &caller.tenant_id).await?;
    let run = db::load_run(&tx, run_id).await?.ok_or_else(|| not_found(run_id))?;
    tx.rollback().await?;
    Ok(RunProgress::from(&run))
}

fn not_found(run_id: Uuid) -> ServiceError {
    ServiceError::NotFound { what: "run", id: run_id.to_string() }
}

async fn lock_run(tx: &TenantTx, run_id: Uuid) -> Result<RunRow, ServiceError> {
    db::lock_run(tx, run_id).await?.ok_or_else(|| not_found(run_id))
}

async fn apply_chunk_in(
    tx: &TenantTx,
    caller: &Caller,
    run: &RunRow,
    chunk_size: usize,
) -> Result<Chunk, ServiceError> {
    let limit = i64::try_from(chunk_size.max(1)).unwrap_or(i64::MAX);
    let skus = db::skus_to_recost(tx, limit, limit.min(MOVEMENT_SKUS_PER_CHUNK)).await?;
    if !skus.is_empty() {
        return recost_whole(tx, run, &skus).await;
    }
    let sales = db::load_uncosted(tx, run.run_id, run.cursor_sku.as_deref(), limit).await?;
    let Some(last) = sales.last() else {
        db::complete_run(tx, run.run_id).await?;
        let details = json!({ "sales_processed": run.sales_processed, "total_cogs": run.total_cogs });
        db::insert_audit(tx, &caller.actor, "run.completed", Some(run.run_id), None, &details).await?;
        return Ok(Chunk::Completed);
    };
    // A chunk's commit need not wait for its WAL to reach disk: should the server lose
    // it, the run's cursor goes back with it and the chunk is simply costed again. The
    // completing transaction above commits durably.
    db::defer_commit_flush(tx).await?;
    let chunk_skus: Vec<&str> = sales.chunk_by(|a, b| a.sku == b.sku).map(|run| run[0].sku.as_str()).collect();
    let lots = db::load_lots_with_stock(tx, &chunk_skus).await?;
    let mut book = LotBook::new(lots)?;
    let (allocations, shortfalls) = match run.on_shortfall {
        ShortfallPolicy::Park => engine::allocate_or_park(&mut book, &sales)?,
        ShortfallPolicy::Fail => (engine::allocate(&mut book, &sales)?, Vec::new()),
    };
    if !shortfalls.is_empty() {
        db::insert_shortfalls(tx, run.run_id, &shortfalls).await?;
        for parked in &shortfalls {
            tracing::warn!(
                run_id = %run.run_id, sku = %parked.sku, event_id = %parked.event_id,
                quantity_short = %parked.quantity_short, on_hand = %parked.on_hand,
                "shortfall: the SKU is parked until stock arrives"
            );
        }
    }
    // Sales come by SKU; the last costed of each SKU's is where its watermark moves to
    // (a parked SKU's stays before its first uncovered sale).
    let costed: Vec<&Sale> = sales
        .iter()
        .filter(|sale| {
            shortfalls
                .iter()
                .find(|parked| parked.sku == sale.sku)
                .is_none_or(|parked| parked.sale_key().is_none_or(|key| (sale.sale_date, sale.sale_id.as_str()) < key))
        })
        .collect();
    let last_of_sku: Vec<&Sale> =
        costed.chunk_by(|a, b| a.sku == b.sku).filter_map(|run| run.last().copied()).collect();
    let skus: Vec<&str> = last_of_sku.iter().map(|sale| sale.sku.as_str()).collect();

    let after: HashMap<&str, Decimal> = book.lots().map(|lot| (lot.lot_id.as_str(), lot.remaining_quantity)).collect();
    let mut touched: Vec<&str> = allocations.iter().map(|a| a.lot_id.as_str()).collect();
    touched.sort_unstable();
    touched.dedup();
    let remaining: Vec<Decimal> = touched.iter().map(|id| after[id]).collect();
    db::move_lots(tx, run.run_id, &touched, &remaining).await?;
    db::insert_allocations(tx, run.run_id, &allocations).await?;
    db::add_run_sku_outputs(tx, run.run_id, &sku_outputs(&allocations)?).await?;
    let last_sales: Vec<_> = last_of_sku.iter().map(|sale| Some((sale.sale_date, sale.sale_id.as_str()))).collect();
    let moved = db::advance_watermarks(tx, run.run_id, &skus, &last_sales, &[]).await?;
    assert_eq!(moved as usize, skus.len(), "every SKU with a sale has a watermark row, locked by the run row");

    let totals = ChunkTotals {
        sales: costed.len() as i64,
        allocations: allocations.len() as i64,
        quantity: exact_sum(allocations.iter().map(|a| a.quantity)).ok_or(ServiceError::AmountOverflow)?,
        cogs: cost_of(&allocations)?,
        parked: shortfalls.len() as i32,
        last_sku: last.sku.as_str(),
    };
    if db::advance_cursor(tx, run, &totals).await? { Ok(Chunk::Applied) } else { Ok(Chunk::Lost) }
}

/// SKUs with movements besides lots and sales costed whole in one chunk, at most (and no
/// more than the chunk's size); fewer when their sales fill the chunk's size first
/// (`db::skus_to_recost`).
const MOVEMENT_SKUS_PER_CHUNK: i64 = 1_000;

/// Costs SKUs with movements besides lots and sales whole, from every event loaded (the
/// run's start took their earlier outputs over and left their lots as it found them):
/// allocations, movements and the layers left are written, each lot whose remaining
/// quantity costing changes is set (snapshotted first), and each watermark moved to the
/// SKU's last sale costed. A SKU back on FIFO that fits the allocator returns to the
/// fast path here ([`db::SkuToRecost`]). The run's cursor stays where it is: these
/// SKUs come before the chunks of the others.
async fn recost_whole(tx: &TenantTx, run: &RunRow, skus: &[db::SkuToRecost]) -> Result<Chunk, ServiceError> {
    db::defer_commit_flush(tx).await?;
    let names: Vec<&str> = skus.iter().map(|sku| sku.sku.as_str()).collect();
    let events = db::load_sku_events(tx, &names).await?;
    let methods = db::load_settings(tx).await?.methods;
    let mut costing = engine::cost_events(&events.inputs(&methods))?;
    if run.on_shortfall == ShortfallPolicy::Fail
        && let Some(first) = costing.shortfalls.iter().min_by_key(|s| (s.event_date, s.event_id.clone()))
    {
        return Err(ServiceError::Costing(super::cost::uncovered(first, &events.sales)));
    }
    // Back on FIFO throughout, a SKU the allocator costs as the engine does goes back to
    // the fast path: its lots are its book, so it keeps no layers.
    let to_fast_path: Vec<bool> = skus.iter().map(|sku| methods == Methods::FIFO && sku.allocator_fits).collect();
    let returned: HashSet<&str> =
        skus.iter().zip(&to_fast_path).filter(|(_, back)| **back).map(|(sku, _)| sku.sku.as_str()).collect();
    let (fast_path_layers, layers): (Vec<Layer>, Vec<Layer>) =
        std::mem::take(&mut costing.layers).into_iter().partition(|layer| returned.contains(layer.sku.as_str()));
    let allocations = costing.allocations();
    let outputs = sku_outputs(&allocations)?;
    let lots: HashSet<&str> = events.lots.iter().map(|lot| lot.lot_id.as_str()).collect();
    let (lot_ids, remaining): (Vec<&str>, Vec<Decimal>) = layers
        .iter()
        .chain(&fast_path_layers)
        .filter(|layer| lots.contains(layer.layer.as_str()))
        .map(|layer| (layer.layer.as_str(), layer.remaining_quantity))
        .unzip();
    // Each SKU's last sale costed, from its summary rather than a search of every
    // allocation per SKU (`None`: the SKU costed no sale).
    let last_of_sku: HashMap<&str, _> = outputs.iter().map(|sku| (sku.sku, sku.last)).collect();
    let last_sales: Vec<Option<(chrono::DateTime<chrono::Utc>, &str)>> =
        names.iter().map(|sku| last_of_sku.get(sku).copied()).collect();
    // The writes do not depend on each other: sent together (pipelined on the one
    // connection), the next is encoded and on its way while the server runs the last.
    tokio::try_join!(
        db::insert_shortfalls(tx, run.run_id, &costing.shortfalls),
        db::insert_allocations(tx, run.run_id, &allocations),
        db::add_run_sku_outputs(tx, run.run_id, &outputs),
        db::insert_movements(tx, run.run_id, &costing.movements),
        db::insert_layers(tx, run.run_id, &layers),
        db::move_lots(tx, run.run_id, &lot_ids, &remaining),
        db::advance_watermarks(tx, run.run_id, &names, &last_sales, &to_fast_path),
    )?;
    let sales = allocations.windows(2).filter(|pair| pair[0].sale_id != pair[1].sale_id).count()
        + usize::from(!allocations.is_empty());
    let totals = ChunkTotals {
        sales: sales as i64,
        allocations: allocations.len() as i64,
        quantity: exact_sum(allocations.iter().map(|a| a.quantity)).ok_or(ServiceError::AmountOverflow)?,
        cogs: cost_of(&allocations)?,
        parked: costing.shortfalls.len() as i32,
        last_sku: run.cursor_sku.as_deref().unwrap_or(""),
    };
    if db::advance_cursor(tx, run, &totals).await? { Ok(Chunk::Applied) } else { Ok(Chunk::Lost) }
}

/// What `allocations` cost their sales, with the landed cost they carried: exact.
fn cost_of(allocations: &[Allocation]) -> Result<Decimal, ServiceError> {
    allocations
        .iter()
        .try_fold(Decimal::ZERO, |total, a| exact_add(total, a.cost()?))
        .ok_or(ServiceError::AmountOverflow)
}

/// A chunk's allocations (in costing order, so grouped by SKU) summed per SKU.
fn sku_outputs(allocations: &[Allocation]) -> Result<Vec<db::SkuOutputs<'_>>, ServiceError> {
    allocations
        .chunk_by(|a, b| a.sku == b.sku)
        .map(|outputs| {
            let (first, last) = (&outputs[0], &outputs[outputs.len() - 1]);
            // A sale's allocations are adjacent.
            let sales = 1 + outputs.windows(2).filter(|pair| pair[0].sale_id != pair[1].sale_id).count();
            Ok(db::SkuOutputs {
                sku: first.sku.as_str(),
                first: (first.sale_date, first.sale_id.as_str()),
                last: (last.sale_date, last.sale_id.as_str()),
                sales: i64::try_from(sales).expect("a chunk's sales fit in i64"),
                quantity: exact_sum(outputs.iter().map(|a| a.quantity)).ok_or(ServiceError::AmountOverflow)?,
                cost: cost_of(outputs)?,
            })
        })
        .collect()
}

/// Fails a run whose sale could not be costed, undoing whatever its chunks applied,
/// in one transaction.
async fn fail_run(
    pool: &deadpool_postgres::Pool,
    caller: &Caller,
    run_id: Uuid,
    error: &CostingError,
) -> Result<(), ServiceError> {
    let sale_id = match error {
        CostingError::InsufficientInventory { sale_id, .. }
        | CostingError::SalesOutOfOrder { sale_id, .. }
        | CostingError::NonPositiveSale { sale_id, .. }
        | CostingError::CostOverflow { sale_id, .. } => Some(sale_id.as_str()),
        _ => None,
    };
    let failure = ServiceError::Costing(error.clone());
    let failed = Failure {
        kind: failure.kind(),
        message: error.to_string(),
        sale_id,
        details: failure.envelope()["error"].clone(),
    };
    undo_and_fail(pool, caller, run_id, &failed).await?;
    Ok(())
}

/// Why a run is being failed.
struct Failure<'a> {
    kind: &'static str,
    message: String,
    sale_id: Option<&'a str>,
    details: serde_json::Value,
}

/// Undoes an active run's chunks and marks it failed with a validation error, in one
/// transaction; a run no longer active is left as it is. Returns the run as it ends.
async fn undo_and_fail(
    pool: &deadpool_postgres::Pool,
    caller: &Caller,
    run_id: Uuid,
    failure: &Failure<'_>,
) -> Result<RunRow, ServiceError> {
    let tx = db::begin(pool, &caller.tenant_id).await?;
    let run = lock_run(&tx, run_id).await?;
    if run.status.is_active() {
        db::restore_snapshots(&tx, run_id).await?;
        db::restore_watermarks(&tx, run_id).await?;
        db::insert_sale_error(&tx, run_id, failure.sale_id, failure.kind, &failure.message).await?;
        db::fail_run(&tx, run_id, &failure.message, 1).await?;
        db::insert_audit(&tx, &caller.actor, "run.failed", Some(run_id), None, &failure.details).await?;
    }
    let run = lock_run(&tx, run_id).await?;
    tx.commit().await?;
    Ok(run)
}

/// Gives up on an active run that cannot go on (its worker failed for good, or it has
/// been silent too long): its chunks are undone and it is marked `failed` with
/// `reason`, atomically, so the tenant can fix what is needed and run again.
pub async fn abandon_run(
    pool: &deadpool_postgres::Pool,
    caller: &Caller,
    run_id: Uuid,
    reason: &str,
) -> Result<RunRow, ServiceError> {
    let failure = Failure {
        kind: "run_abandoned",
        message: format!("the run was abandoned and undone: {reason}"),
        sale_id: None,
        details: json!({ "reason": reason }),
    };
    undo_and_fail(pool, caller, run_id, &failure).await
}

/// Files a dry run costs together with what is already loaded: (kind, file name,
/// contents), loaded lots first, then sales, then the other movements (what a file
/// names must be loaded before it), whatever order they are given in.
pub struct DryRunInput<R: Read + Send> {
    pub files: Vec<(RecordKind, String, R)>,
}

impl<R: Read + Send> DryRunInput<R> {
    /// Nothing new: the dry run costs what is already loaded.
    pub fn nothing() -> Self {
        Self { files: Vec::new() }
    }
}

/// What a dry run found: the costing it would make, in the shape of `cogs cost`, and
/// what it would re-cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DryRunReport {
    #[serde(flatten)]
    pub costing: CostReport,
    /// SKUs whose backdated input the run would re-cost, the sales whose costing it
    /// would supersede and their cost, and the difference its journal would post.
    pub skus_recosted: i32,
    pub sales_superseded: i64,
    pub superseded_cogs: Decimal,
    pub net_difference: Decimal,
}

/// Validates and costs exactly as uploading `input` and running would, and reports the
/// result, without writing anything: the same code runs inside one transaction that
/// is rolled back. With a `deadline` (a request's), the dry run ends there with
/// `OutOfTime`: no statement of it runs past the deadline, and no chunk starts after it.
pub async fn dry_run<R: Read + Send>(
    pool: &deadpool_postgres::Pool,
    caller: &Caller,
    mode: Option<Method>,
    on_shortfall: Option<ShortfallPolicy>,
    mut input: DryRunInput<R>,
    deadline: Option<Instant>,
) -> Result<DryRunReport, ServiceError> {
    let out_of_time = || ServiceError::OutOfTime { what: "dry run" };
    let past_deadline = || deadline.is_some_and(|deadline| Instant::now() >= deadline);
    db::refresh_statistics(pool).await?;
    let costed = async {
        let tx = db::begin(pool, &caller.tenant_id).await?;
        if let Some(deadline) = deadline {
            let left = deadline.checked_duration_since(Instant::now()).ok_or_else(out_of_time)?;
            tx.allow_statements_for(left.min(db::STATEMENT_TIMEOUT)).await?;
        }
        input.files.sort_by_key(|(kind, _, _)| RecordKind::ALL.iter().position(|known| known == kind));
        for (kind, name, file) in input.files {
            upload_in(&tx, caller, kind, &name, file).await?;
        }
        let mut run = start_run_in(&tx, caller, mode, on_shortfall).await?;
        while let Chunk::Applied | Chunk::Lost =
            apply_chunk_in(&tx, caller, &run, ChunkBudget::DEFAULT_CHUNK_SIZE).await?
        {
            if past_deadline() {
                return Err(out_of_time());
            }
            run = lock_run(&tx, run.run_id).await?;
        }
        let sales: Vec<Sale> = db::load_sales_of_run(&tx, run.run_id).await?;
        let allocations = db::load_allocations(&tx, run.run_id).await?;
        let movements = db::load_movements_of_run(&tx, run.run_id).await?;
        let lots = match db::last_sku_of(&tx, db::SkuRange::default()).await? {
            Some(last) => super::book::stock(&tx, None, &last).await?,
            None => Vec::new(),
        };
        let shortfalls = db::load_shortfalls(&tx, run.run_id).await?;
        let run = lock_run(&tx, run.run_id).await?;
        let methods = db::load_settings(&tx).await?.methods;
        tx.rollback().await?;
        Ok(DryRunReport {
            costing: report(methods, &sales, &allocations, &movements, lots, shortfalls)?,
            skus_recosted: run.skus_recosted,
            sales_superseded: run.sales_superseded,
            superseded_cogs: run.superseded_cogs.normalize(),
            net_difference: run.net_difference.normalize(),
        })
    };
    costed.await.map_err(|error| match error {
        // The statement timeout set to the deadline cancelled a statement.
        ServiceError::Db(db) if db.is_cancelled() && past_deadline() => out_of_time(),
        other => other,
    })
}
