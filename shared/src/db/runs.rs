//! Runs: their rows, status changes, progress cursor and the dependencies between them.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;
use uuid::Uuid;

use super::{DbError, TenantTx};
use crate::model::{EventId, EventKind, Method, Shortfall, ShortfallPolicy, Sku};

/// Where a run is in its life. `pending` and `running` are active (at most one per
/// tenant); `completed` runs can be rolled back; `failed` runs changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Pending,
    Running,
    Completed,
    Failed,
    RolledBack,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::RolledBack => "rolled_back",
        }
    }

    pub fn is_active(self) -> bool {
        matches!(self, RunStatus::Pending | RunStatus::Running)
    }
}

impl std::str::FromStr for RunStatus {
    type Err = String;
    fn from_str(value: &str) -> Result<Self, String> {
        [RunStatus::Pending, RunStatus::Running, RunStatus::Completed, RunStatus::Failed, RunStatus::RolledBack]
            .into_iter()
            .find(|status| status.as_str() == value)
            .ok_or_else(|| {
                format!("unknown run status {value:?}; one of pending, running, completed, failed, rolled_back")
            })
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of `cogs_runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRow {
    pub tenant_id: String,
    pub run_id: Uuid,
    pub mode: Method,
    pub on_shortfall: ShortfallPolicy,
    pub status: RunStatus,
    pub sales_total: i64,
    pub sales_processed: i64,
    pub allocations_count: i64,
    pub total_quantity: Decimal,
    pub total_cogs: Decimal,
    /// SKUs whose backdated input this run re-costed (rewound and costed again).
    pub skus_recosted: i32,
    /// Sales whose live outputs this run superseded, and their cost: the run's total
    /// less this is the difference it made.
    pub sales_superseded: i64,
    pub superseded_cogs: Decimal,
    /// `total_cogs - superseded_cogs`: what the run's journal posts.
    pub net_difference: Decimal,
    /// SKUs parked at a sale their lots could not cover (`cogs_run_shortfalls`).
    pub skus_parked: i32,
    /// The tenant's time zone and lock date when the run started: its journal's.
    pub time_zone: String,
    pub lock_date: Option<chrono::NaiveDate>,
    /// The SKU the last chunk ended in: SKUs before it are done, and each SKU's
    /// watermark is where its costing goes on. This and the two below are how the run
    /// is carried on, not what it did: they are not part of its wire form.
    #[serde(skip_serializing)]
    pub cursor_sku: Option<String>,
    #[serde(skip_serializing)]
    pub chunks_applied: i64,
    #[serde(skip_serializing)]
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub error_message: Option<String>,
    pub validation_errors_count: i32,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub rolled_back_at: Option<DateTime<Utc>>,
}

impl TryFrom<&Row> for RunRow {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        Ok(Self {
            tenant_id: row.try_get("tenant_id")?,
            run_id: row.try_get("run_id")?,
            mode: row.try_get::<_, &str>("mode")?.parse().map_err(DbError::corrupt("mode"))?,
            on_shortfall: row.try_get::<_, &str>("on_shortfall")?.parse().map_err(DbError::corrupt("on_shortfall"))?,
            status: row.try_get::<_, &str>("status")?.parse().map_err(DbError::corrupt("status"))?,
            sales_total: row.try_get("sales_total")?,
            sales_processed: row.try_get("sales_processed")?,
            allocations_count: row.try_get("allocations_count")?,
            total_quantity: row.try_get("total_quantity")?,
            total_cogs: row.try_get("total_cogs")?,
            skus_recosted: row.try_get("skus_recosted")?,
            sales_superseded: row.try_get("sales_superseded")?,
            superseded_cogs: row.try_get("superseded_cogs")?,
            net_difference: row.try_get::<_, Decimal>("total_cogs")? - row.try_get::<_, Decimal>("superseded_cogs")?,
            skus_parked: row.try_get("skus_parked")?,
            time_zone: row.try_get("time_zone")?,
            lock_date: row.try_get("lock_date")?,
            cursor_sku: row.try_get("cursor_sku")?,
            chunks_applied: row.try_get("chunks_applied")?,
            heartbeat_at: row.try_get("heartbeat_at")?,
            error_message: row.try_get("error_message")?,
            validation_errors_count: row.try_get("validation_errors_count")?,
            created_by: row.try_get("created_by")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            completed_at: row.try_get("completed_at")?,
            rolled_back_at: row.try_get("rolled_back_at")?,
        })
    }
}

/// Creates a pending run (its scope is set by [`set_run_scope`]) with the tenant's
/// time zone and, under `post_in_open_period`, its lock date. A second active run for the tenant is refused by the
/// `cogs_runs_one_active` index: [`DbError::RunInProgress`].
pub async fn insert_run(
    tx: &TenantTx,
    run_id: Uuid,
    mode: Method,
    on_shortfall: ShortfallPolicy,
    settings: &super::TenantSettings,
    created_by: &str,
) -> Result<RunRow, DbError> {
    // Under `refuse` nothing in a closed period is costed, so there is nothing to redate.
    let lock_date = match settings.lock_policy {
        crate::model::LockPolicy::PostInOpenPeriod => settings.lock_date,
        crate::model::LockPolicy::Refuse => None,
    };
    let row = tx
        .query_one(
            r"insert into cogs_runs (tenant_id, run_id, mode, on_shortfall, status, sales_total, created_by, time_zone,
                                     lock_date)
              values ($1, $2, $3, $4, 'pending', 0, $5, $6, $7)
              returning *",
            &[
                &tx.tenant_id().as_str(),
                &run_id,
                &mode.as_str(),
                &on_shortfall.as_str(),
                &created_by,
                &settings.time_zone,
                &lock_date,
            ],
        )
        .await?;
    RunRow::try_from(&row)
}

/// Records what the run's rewind took over and how many sales it will cost.
pub async fn set_run_scope(
    tx: &TenantTx,
    run_id: Uuid,
    sales_total: i64,
    rewound: &super::Rewound,
) -> Result<RunRow, DbError> {
    let row = tx
        .query_one(
            r"update cogs_runs
              set sales_total = $2, skus_recosted = $3, sales_superseded = $4, superseded_cogs = $5
              where run_id = $1
              returning *",
            &[&run_id, &sales_total, &rewound.skus, &rewound.sales_superseded, &rewound.superseded_cogs],
        )
        .await?;
    RunRow::try_from(&row)
}

pub async fn load_run(tx: &TenantTx, run_id: Uuid) -> Result<Option<RunRow>, DbError> {
    tx.query_opt(r"select * from cogs_runs where run_id = $1", &[&run_id])
        .await?
        .as_ref()
        .map(RunRow::try_from)
        .transpose()
}

/// The tenant's pending or running run, if any.
pub async fn load_active_run(tx: &TenantTx) -> Result<Option<RunRow>, DbError> {
    tx.query_opt(r"select * from cogs_runs where status in ('pending', 'running')", &[])
        .await?
        .as_ref()
        .map(RunRow::try_from)
        .transpose()
}

/// Loads the run and locks its row until the transaction ends: chunks and rollbacks of
/// one run take turns.
pub async fn lock_run(tx: &TenantTx, run_id: Uuid) -> Result<Option<RunRow>, DbError> {
    tx.query_opt(r"select * from cogs_runs where run_id = $1 for update", &[&run_id])
        .await?
        .as_ref()
        .map(RunRow::try_from)
        .transpose()
}

/// Runs newest first, optionally of one status, after the keyset `before`
/// (created_at, run_id) of the previous page.
pub async fn list_runs(
    tx: &TenantTx,
    status: Option<RunStatus>,
    before: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<RunRow>, DbError> {
    let status = status.map(RunStatus::as_str);
    let (before_at, before_id) = before.unzip();
    let rows = tx
        .query(
            r"select * from cogs_runs
              where ($1::text is null or status = $1)
                and ($2::timestamptz is null or (created_at, run_id) < ($2, $3))
              order by created_at desc, run_id desc
              limit $4",
            &[&status, &before_at, &before_id, &limit],
        )
        .await?;
    rows.iter().map(RunRow::try_from).collect()
}

/// What one chunk adds to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkTotals<'a> {
    pub sales: i64,
    pub allocations: i64,
    pub quantity: Decimal,
    pub cogs: Decimal,
    /// SKUs the chunk parked.
    pub parked: i32,
    /// The SKU of the chunk's last sale.
    pub last_sku: &'a str,
}

/// Applies a chunk's totals and moves the cursor, but only if the run is still where
/// the chunk found it (`chunks_applied` unchanged): a compare-and-set, so a retried
/// chunk applies once. Returns false when another chunk got there first.
pub async fn advance_cursor(tx: &TenantTx, run: &RunRow, chunk: &ChunkTotals<'_>) -> Result<bool, DbError> {
    let updated = tx
        .execute(
            r"update cogs_runs
              set status = 'running', sales_processed = sales_processed + $3, allocations_count = allocations_count + $4,
                  total_quantity = total_quantity + $5, total_cogs = total_cogs + $6,
                  cursor_sku = $7, skus_parked = skus_parked + $8, chunks_applied = chunks_applied + 1,
                  heartbeat_at = now(), updated_at = now()
              where run_id = $1 and chunks_applied = $2 and status in ('pending', 'running')",
            &[
                &run.run_id,
                &run.chunks_applied,
                &chunk.sales,
                &chunk.allocations,
                &chunk.quantity,
                &chunk.cogs,
                &chunk.last_sku,
                &chunk.parked,
            ],
        )
        .await?;
    Ok(updated == 1)
}

/// Marks an active run completed.
pub async fn complete_run(tx: &TenantTx, run_id: Uuid) -> Result<(), DbError> {
    tx.execute(
        r"update cogs_runs set status = 'completed', completed_at = now(), heartbeat_at = now(), updated_at = now()
          where run_id = $1 and status in ('pending', 'running')",
        &[&run_id],
    )
    .await?;
    Ok(())
}

/// Marks a run failed with a reason; its progress is reset, since a failed run's
/// chunks are undone.
pub async fn fail_run(tx: &TenantTx, run_id: Uuid, message: &str, validation_errors: i32) -> Result<(), DbError> {
    tx.execute(
        r"update cogs_runs
          set status = 'failed', error_message = $2, validation_errors_count = $3, sales_processed = 0,
              allocations_count = 0, total_quantity = 0, total_cogs = 0, updated_at = now()
          where run_id = $1",
        &[&run_id, &message, &validation_errors],
    )
    .await?;
    Ok(())
}

pub async fn mark_rolled_back(tx: &TenantTx, run_id: Uuid) -> Result<(), DbError> {
    tx.execute(
        r"update cogs_runs set status = 'rolled_back', rolled_back_at = now(), updated_at = now() where run_id = $1",
        &[&run_id],
    )
    .await?;
    Ok(())
}

/// Runs created after `run_id`, not yet rolled back or failed, that costed a SKU the
/// run costed: rolling `run_id` back alone would leave their costs resting on it.
/// Newest first.
pub async fn later_runs_sharing_skus(tx: &TenantTx, run_id: Uuid) -> Result<Vec<RunRow>, DbError> {
    let rows = tx
        .query(
            r"select r.* from cogs_runs r
              where r.status in ('completed', 'running', 'pending')
                and (r.created_at, r.run_id) > (select created_at, run_id from cogs_runs where run_id = $1)
                and exists (
                    select 1 from watermark_snapshots later
                    join watermark_snapshots this on this.sku = later.sku
                    where later.run_id = r.run_id and this.run_id = $1
                )
              order by r.created_at desc, r.run_id desc",
            &[&run_id],
        )
        .await?;
    rows.iter().map(RunRow::try_from).collect()
}

/// Lets this transaction's commit return before its WAL is flushed to disk
/// (`synchronous_commit = off`, for this transaction only). Atomicity is unchanged; a
/// server crash may lose it, with everything it wrote, so use it only for work that is
/// redone when lost.
pub async fn defer_commit_flush(tx: &TenantTx) -> Result<(), DbError> {
    tx.execute(r"select set_config('synchronous_commit', 'off', true)", &[]).await?;
    Ok(())
}

/// Records the SKUs a chunk parked; the run's later chunks skip them.
pub async fn insert_shortfalls(tx: &TenantTx, run_id: Uuid, shortfalls: &[Shortfall]) -> Result<u64, DbError> {
    if shortfalls.is_empty() {
        return Ok(0);
    }
    let skus: Vec<&str> = shortfalls.iter().map(|s| s.sku.as_str()).collect();
    let kinds: Vec<&str> = shortfalls.iter().map(|s| s.event_kind.as_str()).collect();
    let ids: Vec<&str> = shortfalls.iter().map(|s| s.event_id.as_str()).collect();
    let dates: Vec<DateTime<Utc>> = shortfalls.iter().map(|s| s.event_date).collect();
    let short: Vec<Decimal> = shortfalls.iter().map(|s| s.quantity_short).collect();
    let on_hand: Vec<Decimal> = shortfalls.iter().map(|s| s.on_hand).collect();
    let locations: Vec<&str> = shortfalls.iter().map(|s| s.location.as_str()).collect();
    tx.execute(
        r"insert into cogs_run_shortfalls (tenant_id, run_id, sku, event_kind, event_id, event_date, quantity_short,
                                          on_hand, location)
          select $1, $2, v.sku, v.event_kind, v.event_id, v.event_date, v.quantity_short, v.on_hand, v.location
          from unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::numeric[], $8::numeric[], $9::text[])
               as v(sku, event_kind, event_id, event_date, quantity_short, on_hand, location)",
        &[&tx.tenant_id().as_str(), &run_id, &skus, &kinds, &ids, &dates, &short, &on_hand, &locations],
    )
    .await
}

/// The SKUs a run parked, by SKU.
pub async fn load_shortfalls(tx: &TenantTx, run_id: Uuid) -> Result<Vec<Shortfall>, DbError> {
    let rows = tx
        .query(
            r"select sku, event_kind, event_id, event_date, quantity_short, on_hand, location from cogs_run_shortfalls
              where run_id = $1 order by sku",
            &[&run_id],
        )
        .await?;
    rows.iter().map(Shortfall::try_from).collect()
}

/// From (sku, event_kind, event_id, event_date, quantity_short, on_hand, location).
impl TryFrom<&Row> for Shortfall {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        let kind: String = row.try_get(1)?;
        let outflows =
            [EventKind::Sale, EventKind::Adjustment, EventKind::SupplierReturn, EventKind::Count, EventKind::Transfer];
        let event_kind = outflows
            .into_iter()
            .find(|known| known.as_str() == kind)
            .ok_or(DbError::Corrupt { column: "event_kind", reason: kind })?;
        Ok(Shortfall {
            sku: Sku::parse(row.try_get::<_, String>(0)?).map_err(DbError::corrupt("sku"))?,
            event_kind,
            event_id: EventId::parse(row.try_get::<_, String>(2)?).map_err(DbError::corrupt("event_id"))?,
            event_date: row.try_get(3)?,
            quantity_short: row.try_get(4)?,
            on_hand: row.try_get(5)?,
            location: super::location_of(row, "location")?,
        })
    }
}
