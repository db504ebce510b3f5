//! The narrow cross-tenant path of scheduled maintenance, as the `cogs_maintenance`
//! role: it finds stale runs, pending uploads and the tenants themselves, expires old
//! validation errors. It reads no lots, sales or costs; what
//! it finds is acted on through each tenant's own transaction.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::params::typed;
use super::{DbError, RunStatus};
use crate::model::TenantId;

/// A pending or running run that has shown no sign of life since `last_seen`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleRun {
    pub tenant_id: TenantId,
    pub run_id: Uuid,
    pub status: RunStatus,
    pub last_seen: DateTime<Utc>,
}

/// Active runs whose heartbeat (or start, before the first chunk) is older than `cutoff`.
pub async fn stale_runs(pool: &deadpool_postgres::Pool, cutoff: DateTime<Utc>) -> Result<Vec<StaleRun>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query_typed(
            r"select tenant_id, run_id, status, coalesce(heartbeat_at, created_at) as last_seen
              from cogs_runs
              where status in ('pending', 'running') and coalesce(heartbeat_at, created_at) < $1
              order by last_seen",
            &typed(&[&cutoff]),
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(StaleRun {
                tenant_id: TenantId::parse(row.try_get::<_, String>(0)?).map_err(DbError::corrupt("tenant_id"))?,
                run_id: row.try_get(1)?,
                status: row.try_get::<_, &str>(2)?.parse().map_err(DbError::corrupt("status"))?,
                last_seen: row.try_get(3)?,
            })
        })
        .collect()
}

/// A staged upload still waiting for its object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingStaged {
    pub tenant_id: TenantId,
    pub upload_id: Uuid,
    pub object_key: String,
    pub created_at: DateTime<Utc>,
}

/// Staged uploads still pending since before `cutoff`, oldest first.
pub async fn pending_uploads(
    pool: &deadpool_postgres::Pool,
    cutoff: DateTime<Utc>,
) -> Result<Vec<PendingStaged>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query_typed(
            r"select tenant_id, upload_id, object_key, created_at from uploads
              where status = 'pending' and object_key is not null and created_at < $1
              order by created_at",
            &typed(&[&cutoff]),
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(PendingStaged {
                tenant_id: TenantId::parse(row.try_get::<_, String>(0)?).map_err(DbError::corrupt("tenant_id"))?,
                upload_id: row.try_get(1)?,
                object_key: row.try_get(2)?,
                created_at: row.try_get(3)?,
            })
        })
        .collect()
}

/// Deletes validation errors recorded before `cutoff`; returns how many.
pub async fn delete_validation_errors_before(
    pool: &deadpool_postgres::Pool,
    cutoff: DateTime<Utc>,
) -> Result<u64, DbError> {
    let client = pool.get().await?;
    Ok(client.execute_typed(r"delete from validation_errors where created_at < $1", &typed(&[&cutoff])).await?)
}

/// Every tenant, for per-tenant checks.
pub async fn tenants(pool: &deadpool_postgres::Pool) -> Result<Vec<TenantId>, DbError> {
    let client = pool.get().await?;
    let rows = client.query_typed(r"select tenant_id from tenants order by tenant_id", &[]).await?;
    rows.iter()
        .map(|row| TenantId::parse(row.try_get::<_, String>(0)?).map_err(DbError::corrupt("tenant_id")))
        .collect()
}
