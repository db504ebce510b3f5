//! db: the connection pool, the tenant-scoped transaction, the queries (one file per
//! table group) and binary COPY. The only module with SQL. Depends on `model`.
//!
//! Tenant data is reached only through [`begin`]: it opens a transaction and sets
//! `app.tenant_id` for that transaction alone, so row-level security confines every
//! statement to one tenant and a pooled connection carries nothing to its next user.

/// The tenant's default location, in a statement: where its rows that name none are
/// (`main`, [`crate::model::Location::DEFAULT`], until it chose another). A macro so
/// that `concat!` can put it in the constant statements of `verify` too.
macro_rules! default_location_sql {
    () => {
        "coalesce((select s.default_location from tenant_settings s), 'main')"
    };
}

mod allocations;
mod book;
mod error;
mod lots;
mod maintenance;
mod movements;
mod params;
mod reports;
mod runs;
mod sales;
mod settings;
mod uploads;
mod verify;
mod watermarks;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

pub use allocations::*;
pub use book::*;
pub use error::DbError;
pub use lots::*;
pub use maintenance::*;
pub use movements::*;
pub use params::Param;
use params::typed;
pub use reports::*;
pub use runs::*;
pub use sales::*;
pub use settings::*;
pub use uploads::*;
pub use verify::*;
pub use watermarks::*;

use crate::model::TenantId;

mod embedded {
    refinery::embed_migrations!("../migrations");
}

/// Opens a pool of at most `max_size` connections to `url` (a `postgres://` URL).
/// Nothing connects until a connection is first asked for, so a cold start does not
/// wait on the database. Before a connection is reused it answers an empty query
/// (`RecyclingMethod::Verified`), so one the server has closed (a restart, a
/// failover) is replaced instead of failing its next transaction. Nothing more is
/// cleaned: the application leaves no session state behind (no session `SET`, no
/// named statement, no temporary table), a transaction left open never returns to the
/// pool ([`TenantTx`]), and `DISCARD ALL` or `RESET ALL` would itself pin a session
/// behind RDS Proxy.
///
/// With `sslmode=require` the connection is TLS (rustls) and the server's certificate
/// is verified against the public web roots plus the PEM file `ca_file`, if given;
/// otherwise it is plain TCP, for a local server.
pub fn connect(url: &str, max_size: usize, ca_file: Option<&Path>) -> Result<Pool, DbError> {
    let config: tokio_postgres::Config =
        url.parse().map_err(|e: tokio_postgres::Error| DbError::Config(e.to_string()))?;
    let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Verified };
    let manager = match config.get_ssl_mode() {
        SslMode::Require => Manager::from_config(config, tls(ca_file)?, manager_config),
        _ => Manager::from_config(config, NoTls, manager_config),
    };
    Pool::builder(manager)
        .max_size(max_size)
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|error| DbError::Config(error.to_string()))
}

/// A rustls connector that verifies the server against the web roots and `ca_file`.
fn tls(ca_file: Option<&Path>) -> Result<MakeRustlsConnect, DbError> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(path) = ca_file {
        use rustls_pki_types::pem::PemObject;
        let invalid = |e: &dyn std::fmt::Display| DbError::Config(format!("the CA file {}: {e}", path.display()));
        for certificate in rustls_pki_types::CertificateDer::pem_file_iter(path).map_err(|e| invalid(&e))? {
            roots.add(certificate.map_err(|e| invalid(&e))?).map_err(|e| invalid(&e))?;
        }
    }
    // The provider is named, not left to a process default, so it cannot be ambiguous.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
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
    begin_with(pool, tenant_id, "begin").await
}

/// Starts a read-only transaction for `tenant_id` whose statements all see one
/// snapshot of the database, for reads that must agree with each other.
pub async fn begin_snapshot(pool: &Pool, tenant_id: &TenantId) -> Result<TenantTx, DbError> {
    begin_with(pool, tenant_id, "begin isolation level repeatable read, read only").await
}

/// How long a tenant's transaction may wait for a lock, run one statement, and sit idle
/// between statements. Set per transaction (`set_config(…, true)`), so they hold through
/// any pooler and leave nothing on the connection; a role's own defaults would not reach
/// the login roles that are only members of `cogs_app`. No statement on a hot path takes
/// a second; the whole-book reads that may take longer ask for it
/// ([`TenantTx::allow_statements_for`]).
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(10);
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(120);
pub const IDLE_IN_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

async fn begin_with(pool: &Pool, tenant_id: &TenantId, begin: &str) -> Result<TenantTx, DbError> {
    let client = pool.get().await?;
    client.batch_execute(begin).await?;
    let tx = TenantTx { client: Some(client), tenant_id: tenant_id.clone() };
    // No JIT compilation: a run's set-wise statements (a rewind, above all) are planned
    // at costs far above PostgreSQL's JIT thresholds while touching few rows, and
    // compiling them took longer than running them (measured on the bench book: an
    // every-SKU rewind 4.3 s with JIT, 2.0 s without).
    tx.execute(
        r"select set_config('app.tenant_id', $1, true), set_config('lock_timeout', $2, true),
                 set_config('statement_timeout', $3, true), set_config('idle_in_transaction_session_timeout', $4, true),
                 set_config('jit', 'off', true)",
        &[&tenant_id.as_str(), &millis(LOCK_TIMEOUT), &millis(STATEMENT_TIMEOUT), &millis(IDLE_IN_TRANSACTION_TIMEOUT)],
    )
    .await?;
    Ok(tx)
}

/// A duration as PostgreSQL reads a time setting: whole milliseconds, at least one (zero
/// would mean no limit).
fn millis(duration: Duration) -> String {
    format!("{}ms", duration.as_millis().max(1))
}

/// Refreshes the planner's statistics of the hot tables where they are stale, through
/// `cogs_analyze()` (run as the tables' owner; migration V8), in a statement of its own
/// on a pooled connection: never inside a tenant's transaction, where its locks would
/// be held until that transaction ends and every other tenant's refresh would wait.
/// Returns at once when another session is refreshing.
pub async fn refresh_statistics(pool: &Pool) -> Result<(), DbError> {
    let client = pool.get().await?;
    client.execute_typed(r"select cogs_analyze()", &[]).await?;
    Ok(())
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

    /// Lets each later statement of this transaction run for up to `duration` (instead
    /// of [`STATEMENT_TIMEOUT`]): for whole-book reads, or to end a request's work at its
    /// deadline.
    pub async fn allow_statements_for(&self, duration: Duration) -> Result<(), DbError> {
        self.execute(r"select set_config('statement_timeout', $1, true)", &[&millis(duration)]).await?;
        Ok(())
    }

    pub(crate) async fn query(&self, sql: &str, params: &[&dyn Param]) -> Result<Vec<tokio_postgres::Row>, DbError> {
        Ok(self.client().query_typed(sql, &typed(params)).await?)
    }

    pub(crate) async fn query_opt(
        &self,
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<Option<tokio_postgres::Row>, DbError> {
        Ok(self.client().query_typed_opt(sql, &typed(params)).await?)
    }

    pub(crate) async fn query_one(&self, sql: &str, params: &[&dyn Param]) -> Result<tokio_postgres::Row, DbError> {
        Ok(self.client().query_typed_one(sql, &typed(params)).await?)
    }

    /// Rows one by one as they arrive, for results too large to hold as rows.
    pub(crate) async fn query_stream(
        &self,
        sql: &str,
        params: &[&dyn Param],
    ) -> Result<tokio_postgres::RowStream, DbError> {
        Ok(self.client().query_typed_raw(sql, typed(params)).await?)
    }

    pub(crate) async fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<u64, DbError> {
        Ok(self.client().execute_typed(sql, &typed(params)).await?)
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

/// A location as stored; the default location's rows share one text (no allocation
/// per row, and the engine tells them apart by pointer).
fn location_of(row: &tokio_postgres::Row, column: &'static str) -> Result<crate::model::Location, DbError> {
    use crate::model::Location;
    match row.try_get::<_, &str>(column)? {
        Location::DEFAULT => Ok(Location::default()),
        text => Location::parse(text).map_err(DbError::corrupt(column)),
    }
}
