//! Arguments several commands share: the database, the tenant, the actor, the output.

use clap::Args;
use cogs_core::model::TenantId;
use cogs_core::service::Caller;

use crate::output::{Failure, OutputFormat};

#[derive(Args)]
pub struct Database {
    /// The database, as the application role: postgres://USER:PASSWORD@HOST:PORT/DB.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
}

impl Database {
    /// A small pool: the CLI does one thing at a time.
    pub fn pool(&self) -> Result<deadpool_postgres::Pool, Failure> {
        Ok(cogs_core::db::connect(&self.database_url, 2).map_err(cogs_core::service::ServiceError::from)?)
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
