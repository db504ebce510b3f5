//! Arguments several commands share: the database, the tenant, the actor, the output.

use std::path::PathBuf;

use clap::Args;
use cogs_core::model::TenantId;
use cogs_core::service::Caller;
use cogs_core::staging::{StagingConfig, Store};

use crate::output::{Failure, OutputFormat};

#[derive(Args)]
pub struct Database {
    /// The database, as the application role: postgres://USER:PASSWORD@HOST:PORT/DB.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// A PEM file of CA certificates to trust, beside the public roots, when the URL says
    /// sslmode=require (Amazon RDS's bundle, say).
    #[arg(long, env = "COGS_DB_CA_FILE")]
    pub db_ca_file: Option<PathBuf>,
}

impl Database {
    /// A small pool: the CLI does one thing at a time.
    pub fn pool(&self) -> Result<deadpool_postgres::Pool, Failure> {
        self.pool_of(&self.database_url, 2)
    }

    /// A pool of `size` connections to another role's `url`, trusting the same CAs.
    pub fn pool_of(&self, url: &str, size: usize) -> Result<deadpool_postgres::Pool, Failure> {
        Ok(cogs_core::db::connect(url, size, self.db_ca_file.as_deref())
            .map_err(cogs_core::service::ServiceError::from)?)
    }
}

/// Where staged files go: a bucket, or else a local folder.
#[derive(Args)]
pub struct StagingArgs {
    /// The staging bucket.
    #[arg(long, env = "COGS_BUCKET")]
    pub bucket: Option<String>,
    /// An S3-compatible server to use instead of AWS (moto, s3s-fs), as a URL.
    #[arg(long, env = "COGS_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// The local staging folder, when there is no bucket.
    #[arg(long, env = "COGS_STAGING_DIR", default_value = "staging")]
    pub staging_dir: PathBuf,
}

impl StagingArgs {
    pub async fn store(&self) -> Store {
        let config = match self.bucket.as_ref().filter(|bucket| !bucket.is_empty()) {
            Some(bucket) => StagingConfig::S3 { bucket: bucket.clone(), endpoint: self.s3_endpoint.clone() },
            None => StagingConfig::Local { dir: self.staging_dir.clone() },
        };
        Store::from_config(&config).await
    }
}

fn tenant(value: &str) -> Result<TenantId, String> {
    TenantId::parse(value).map_err(|e| format!("tenant id {e}"))
}

#[derive(Args)]
pub struct Tenant {
    /// The tenant (merchant) to act for, like acme-corp. Also read from COGS_TENANT_ID.
    #[arg(long, env = "COGS_TENANT_ID", value_parser = tenant)]
    pub tenant_id: TenantId,
    /// Who is acting, for the audit log.
    #[arg(long, env = "COGS_ACTOR", default_value_t = default_actor())]
    pub actor: String,
}

fn default_actor() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
}

impl Tenant {
    pub fn caller(&self) -> Caller {
        Caller::new(self.tenant_id.clone(), self.actor.clone())
    }
}

#[derive(Args)]
pub struct Output {
    /// `table` for people; `json` for scripts.
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
}

/// What most commands share: the tenant they act for, the database, how to print.
#[derive(Args)]
pub struct Scope {
    #[command(flatten)]
    pub tenant: Tenant,
    #[command(flatten)]
    pub database: Database,
    #[command(flatten)]
    pub output: Output,
}
