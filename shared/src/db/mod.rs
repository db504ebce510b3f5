//! db: the connection pool, the tenant-scoped transaction, the queries (one file per
//! table group) and binary COPY. The only module with SQL. Depends on `model`.
//!
//! Tenant data is reached only through [`begin`]: it opens a transaction and sets
//! `app.tenant_id` for that transaction alone, so row-level security confines every
//! statement to one tenant and a pooled connection carries nothing to its next user.

mod allocations;
mod error;
mod lots;
mod runs;
mod sales;
mod uploads;

use deadpool_postgres::{ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;

pub use allocations::*;
pub use error::DbError;
pub use lots::*;
pub use runs::*;
pub use sales::*;
pub use uploads::*;

use crate::model::TenantId;

mod embedded {
    refinery::embed_migrations!("../migrations");
}

/// Opens a pool of at most `max_size` connections to `url` (a `postgres://` URL). A
/// connection is cleaned (`RecyclingMethod::Clean`) before it is reused.
pub fn connect(url: &str, max_size: usize) -> Result<Pool, DbError> {
    let config = deadpool_postgres::Config {
        url: Some(url.to_owned()),
        manager: Some(ManagerConfig { recycling_method: RecyclingMethod::Clean }),
        pool: Some(deadpool_postgres::PoolConfig::new(max_size)),
        ..Default::default()
    };
    config.create_pool(Some(Runtime::Tokio1), NoTls).map_err(|error| DbError::Config(error.to_string()))
}

/// Applies the migrations in `migrations/` that `url`'s database has not recorded yet,
/// in order, and returns the names of those applied. Run it as the owner role.
pub async fn migrate(url: &str) -> Result<Vec<String>, DbError> {
    let (mut client, connection) = tokio_postgres::connect(url, NoTls).await?;
    let driver = tokio::spawn(connection);
    let report =
        embedded::migrations::runner().run_async(&mut client).await.map_err(|e| DbError::Migration(e.to_string()));
    drop(client);
    driver.await.ok();
    Ok(report?.applied_migrations().iter().map(|m| format!("V{}__{}", m.version(), m.name())).collect())
}

/// One tenant's transaction on a pooled connection. Commit it with [`TenantTx::commit`];
/// dropped uncommitted, its connection leaves the pool and closes, which rolls the
/// transaction back on the server.
pub struct TenantTx {
    client: Option<Object>,
    tenant_id: TenantId,
}

/// Starts a transaction for `tenant_id` on a connection from `pool`.
pub async fn begin(pool: &Pool, tenant_id: &TenantId) -> Result<TenantTx, DbError> {
    let client = pool.get().await?;
    client.batch_execute("begin").await?;
    let tx = TenantTx { client: Some(client), tenant_id: tenant_id.clone() };
    tx.client().execute("select set_config('app.tenant_id', $1, true)", &[&tenant_id.as_str()]).await?;
    Ok(tx)
}

impl TenantTx {
    pub fn tenant_id(&self) -> &TenantId {
        &self.tenant_id
    }

    fn client(&self) -> &Object {
        self.client.as_ref().expect("the client is present until commit or rollback")
    }

    /// Commits; the connection goes back to the pool.
    pub async fn commit(mut self) -> Result<(), DbError> {
        self.client().batch_execute("commit").await?;
        self.client.take();
        Ok(())
    }

    /// Rolls back; the connection goes back to the pool.
    pub async fn rollback(mut self) -> Result<(), DbError> {
        self.client().batch_execute("rollback").await?;
        self.client.take();
        Ok(())
    }

    async fn statement(&self, sql: &str) -> Result<tokio_postgres::Statement, DbError> {
        Ok(self.client().prepare_cached(sql).await?)
    }

    pub(crate) async fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, DbError> {
        let statement = self.statement(sql).await?;
        Ok(self.client().query(&statement, params).await?)
    }

    pub(crate) async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<tokio_postgres::Row>, DbError> {
        let statement = self.statement(sql).await?;
        Ok(self.client().query_opt(&statement, params).await?)
    }

    pub(crate) async fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<tokio_postgres::Row, DbError> {
        let statement = self.statement(sql).await?;
        Ok(self.client().query_one(&statement, params).await?)
    }

    pub(crate) async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, DbError> {
        let statement = self.statement(sql).await?;
        Ok(self.client().execute(&statement, params).await?)
    }

    pub(crate) async fn batch(&self, sql: &str) -> Result<(), DbError> {
        Ok(self.client().batch_execute(sql).await?)
    }

    pub(crate) async fn copy_in(&self, sql: &str) -> Result<tokio_postgres::CopyInSink<bytes::Bytes>, DbError> {
        let statement = self.statement(sql).await?;
        Ok(self.client().copy_in(&statement).await?)
    }
}

impl Drop for TenantTx {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Never return a connection with an open transaction to the pool.
            drop(Object::take(client));
        }
    }
}
