use std::path::PathBuf;
use std::time::Duration;

use crate::journal::{Account, ChartOfAccounts, JournalConfig};
use crate::model::AccountKind;
use crate::service::MaintenanceSettings;
use crate::staging::StagingConfig;

/// The variable that sets the deployment's account of each kind, as CODE:NAME.
pub const ACCOUNT_VARIABLES: [(AccountKind, &str); 6] = [
    (AccountKind::Cogs, "COGS_COGS_ACCOUNT"),
    (AccountKind::Inventory, "COGS_INVENTORY_ACCOUNT"),
    (AccountKind::WriteOff, "COGS_WRITE_OFF_ACCOUNT"),
    (AccountKind::AdjustmentGain, "COGS_ADJUSTMENT_GAIN_ACCOUNT"),
    (AccountKind::SupplierReturnsClearing, "COGS_SUPPLIER_RETURNS_ACCOUNT"),
    (AccountKind::LandedCostClearing, "COGS_LANDED_COST_ACCOUNT"),
];

/// How an HTTP function finds the tenant and its database, from the environment:
///
/// | variable | meaning | default |
/// | --- | --- | --- |
/// | `COGS_DATABASE_SECRET_ARN`, `COGS_SECRETS_ENDPOINT` | a Secrets Manager secret holding `app_url` and `maintenance_url`, read once at start (how a deployed function finds its database: no password in its configuration), and a local Secrets Manager URL | unset |
/// | `DATABASE_URL` | without a secret: the application role's URL (local development; refused when deployed) | required without a secret |
/// | `COGS_TENANT_CLAIM` | the JWT claim holding the tenant id | `custom:tenant_id` |
/// | `COGS_DEV_TENANT_HEADER` | `true`: trust an `X-Tenant-Id` header on requests without an authorizer (local only; refused when deployed) | `false` |
/// | `COGS_MAX_BODY_BYTES` | the largest request body accepted | 5 MiB |
/// | `COGS_HEALTH_TIMEOUT_MS` | how long `/health` waits for the database | 2000 |
/// | `COGS_POOL_SIZE` | connections per instance | 2 |
/// | `COGS_INLINE_RUN_MS` | how long `POST /api/v1/runs` costs before answering (API Gateway gives up at 30 s) | 20000 |
/// | `COGS_DRY_RUN_MS` | how long a dry run may cost before answering `out_of_time` (it has no one to hand over to) | 20000 |
/// | `COGS_CHUNK_SIZE` | sales per chunk transaction | 10000 |
/// | `COGS_WORKER_MARGIN_MS` | time the run worker keeps back from its Lambda deadline | 10000 |
/// | `COGS_MAINTENANCE_DATABASE_URL` | without a secret: the maintenance role's URL (maintenance only) | unset |
/// | `COGS_STALE_RUN_MINUTES`, `COGS_ABANDON_RUN_MINUTES` | when maintenance resumes, and gives up on, a silent run | 15, 120 |
/// | `COGS_VALIDATION_RETENTION_DAYS` | how long validation errors are kept (at least 1) | 180 |
/// | `COGS_PENDING_UPLOAD_EXPIRY_HOURS` | when maintenance gives up on a staged upload whose file has not been loaded (at least 1: its URL works 15 minutes) | 24 |
/// | `COGS_COGS_ACCOUNT`, `COGS_INVENTORY_ACCOUNT`, `COGS_WRITE_OFF_ACCOUNT`, `COGS_ADJUSTMENT_GAIN_ACCOUNT`, `COGS_SUPPLIER_RETURNS_ACCOUNT`, `COGS_LANDED_COST_ACCOUNT` | the deployment's journal accounts as `CODE:NAME`, for a tenant that set none of its own | 5000, 1400, 5100, 4900, 2150, 2160 |
/// | `COGS_XERO_TAX_RATE` | the tax rate name on Xero lines | `Tax Exempt` |
/// | `COGS_BUCKET`, `COGS_S3_ENDPOINT` | the staging bucket, and an S3-compatible server's URL | required when deployed; unset |
/// | `COGS_STAGING_DIR` | the local staging folder when there is no bucket (never when deployed) | `staging` |
/// | `COGS_STATE_MACHINE_ARN`, `COGS_SFN_ENDPOINT` | the run worker's state machine (required by the run function when deployed), and a local Step Functions URL | unset |
/// | `COGS_DB_CA_FILE` | a PEM file of CAs trusted for `sslmode=require`, beside the public roots | unset |
///
/// Nothing below `main` reads the environment: this is read once, at start
/// (`scripts/check-layers.sh` holds the rest of `cogs-core` to it). A deployed function
/// (one that shows a sign of AWS Lambda) with a setting missing that only local
/// development may do without refuses to start, rather than falling back to a local
/// folder or to costing within the request.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseSource,
    pub pool_size: usize,
    pub tenant_claim: String,
    pub dev_tenant: DevTenantMode,
    pub max_body_bytes: usize,
    pub health_timeout: Duration,
    pub inline_run_budget: Duration,
    pub dry_run_budget: Duration,
    pub chunk_size: usize,
    pub worker_margin_ms: u64,
    pub stale_run_minutes: u64,
    pub abandon_run_minutes: u64,
    pub validation_retention_days: u64,
    pub pending_upload_expiry_hours: u64,
    pub journal: JournalConfig,
    pub staging: StagingConfig,
    pub state_machine: Option<StateMachineConfig>,
    pub db_ca_file: Option<PathBuf>,
    /// The sign that the process runs in AWS Lambda, if any (see [`DEPLOYED_SIGNS`]).
    pub deployed: Option<&'static str>,
}

/// Where a function finds its database URLs.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseSource {
    /// A Secrets Manager secret whose JSON holds `app_url` and `maintenance_url`, read
    /// once at start; `endpoint` names a local Secrets Manager instead of AWS.
    Secret { arn: String, endpoint: Option<String> },
    /// The URLs themselves (local development).
    Urls { app: String, maintenance: Option<String> },
}

/// Never prints a URL: it may carry a password.
impl std::fmt::Debug for DatabaseSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseSource::Secret { arn, endpoint } => {
                f.debug_struct("Secret").field("arn", arn).field("endpoint", endpoint).finish()
            }
            DatabaseSource::Urls { maintenance, .. } => {
                f.debug_struct("Urls").field("maintenance", &maintenance.is_some()).finish_non_exhaustive()
            }
        }
    }
}

/// The state machine that runs the worker until a run is done; `endpoint` names a
/// local Step Functions server instead of AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachineConfig {
    pub arn: String,
    pub endpoint: Option<String>,
}

/// What a function needs configured beyond what every function has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    /// The run function hands long runs to the state machine.
    StateMachine,
    /// Maintenance works across tenants as the maintenance role, beside the application's.
    MaintenanceRole,
}

/// Whether the `X-Tenant-Id` header is trusted: only in local development.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevTenantMode {
    Off,
    Header,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The configuration from any source of variables (the environment, or a test's map).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let parsed = |name: &str, default: &str| var(name).unwrap_or_else(|| default.to_owned());
        let flag = |name: &str| match parsed(name, "false").as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" | "" => Ok(false),
            other => Err(ConfigError(format!("{name}={other:?}: use true or false"))),
        };
        let number = |name: &str, default: &str| {
            parsed(name, default).parse::<u64>().map_err(|e| ConfigError(format!("{name}: {e}")))
        };
        let deployed = deployed(&var);
        let set = |name: &str| var(name).filter(|value| !value.is_empty());
        let staging = match (set("COGS_BUCKET"), deployed) {
            (Some(bucket), _) => StagingConfig::S3 { bucket, endpoint: set("COGS_S3_ENDPOINT") },
            (None, Some(sign)) => {
                return Err(ConfigError(format!(
                    "COGS_BUCKET is not set: a deployed function stages files in S3, never in a local folder \
                     ({sign} is set)"
                )));
            }
            (None, None) => StagingConfig::Local { dir: parsed("COGS_STAGING_DIR", "staging").into() },
        };
        let state_machine =
            set("COGS_STATE_MACHINE_ARN").map(|arn| StateMachineConfig { arn, endpoint: set("COGS_SFN_ENDPOINT") });
        let database = match (set("COGS_DATABASE_SECRET_ARN"), set("DATABASE_URL"), deployed) {
            (Some(arn), _, _) => DatabaseSource::Secret { arn, endpoint: set("COGS_SECRETS_ENDPOINT") },
            (None, Some(_), Some(sign)) => {
                return Err(ConfigError(format!(
                    "DATABASE_URL is set in a deployed function's configuration, where whoever may read the \
                     function may read its password: name the secret in COGS_DATABASE_SECRET_ARN ({sign} is set)"
                )));
            }
            (None, Some(app), None) => DatabaseSource::Urls { app, maintenance: set("COGS_MAINTENANCE_DATABASE_URL") },
            (None, None, _) => {
                return Err(ConfigError("neither COGS_DATABASE_SECRET_ARN nor DATABASE_URL is set".into()));
            }
        };
        let dev_tenant = if flag("COGS_DEV_TENANT_HEADER")? {
            if let Some(sign) = deployed {
                return Err(ConfigError(format!(
                    "COGS_DEV_TENANT_HEADER trusts a header any caller can set; refusing to start in AWS Lambda ({sign} is set)"
                )));
            }
            DevTenantMode::Header
        } else {
            DevTenantMode::Off
        };
        if var("COGS_TENANT_FROM_EMAIL").is_some() {
            return Err(ConfigError(
                "COGS_TENANT_FROM_EMAIL is no longer supported: an address's local part is chosen by whoever \
                 registers it; put the tenant in a claim the identity provider writes (COGS_TENANT_CLAIM)"
                    .into(),
            ));
        }
        // The deployment's accounts: a tenant's own (its settings) go over them.
        let mut chart = ChartOfAccounts::default();
        for (kind, name) in ACCOUNT_VARIABLES {
            if let Some(value) = set(name) {
                let account = value.parse::<Account>().map_err(|e| ConfigError(format!("{name}: {e}")))?;
                chart.accounts.insert(kind, account);
            }
        }
        let journal = JournalConfig {
            chart,
            xero_tax_rate: parsed("COGS_XERO_TAX_RATE", "Tax Exempt"),
            ..JournalConfig::default()
        };
        if var("COGS_UTC_OFFSET").is_some() {
            return Err(ConfigError(
                "COGS_UTC_OFFSET is no longer read: each tenant's time_zone setting decides a sale's accounting date \
                 (PUT /api/v1/settings, cogs settings --time-zone)"
                    .into(),
            ));
        }
        Ok(Self {
            database,
            pool_size: number("COGS_POOL_SIZE", "2")? as usize,
            tenant_claim: parsed("COGS_TENANT_CLAIM", "custom:tenant_id"),
            dev_tenant,
            max_body_bytes: number("COGS_MAX_BODY_BYTES", "5242880")? as usize,
            health_timeout: Duration::from_millis(number("COGS_HEALTH_TIMEOUT_MS", "2000")?),
            inline_run_budget: Duration::from_millis(number("COGS_INLINE_RUN_MS", "20000")?),
            dry_run_budget: Duration::from_millis(number("COGS_DRY_RUN_MS", "20000")?),
            chunk_size: number("COGS_CHUNK_SIZE", "10000")?.max(1) as usize,
            worker_margin_ms: number("COGS_WORKER_MARGIN_MS", "10000")?,
            stale_run_minutes: number("COGS_STALE_RUN_MINUTES", "15")?,
            abandon_run_minutes: number("COGS_ABANDON_RUN_MINUTES", "120")?,
            // The maintenance role may not delete an error less than a day old (migration V15).
            validation_retention_days: match number("COGS_VALIDATION_RETENTION_DAYS", "180")? {
                0 => return Err(ConfigError("COGS_VALIDATION_RETENTION_DAYS must be at least 1".into())),
                days => days,
            },
            pending_upload_expiry_hours: match number("COGS_PENDING_UPLOAD_EXPIRY_HOURS", "24")? {
                0 => return Err(ConfigError("COGS_PENDING_UPLOAD_EXPIRY_HOURS must be at least 1".into())),
                hours => hours,
            },
            journal,
            staging,
            state_machine,
            db_ca_file: set("COGS_DB_CA_FILE").map(PathBuf::from),
            deployed,
        })
    }

    /// Refuses to start a deployed function without what it `needs`.
    pub fn require(&self, needs: Needs) -> Result<(), ConfigError> {
        match (needs, &self.state_machine, self.deployed) {
            (Needs::StateMachine, None, Some(sign)) => Err(ConfigError(format!(
                "COGS_STATE_MACHINE_ARN is not set: a deployed run function hands long runs to the state machine, \
                 it does not cost them within the request ({sign} is set)"
            ))),
            (Needs::MaintenanceRole, _, _)
                if matches!(self.database, DatabaseSource::Urls { maintenance: None, .. }) =>
            {
                Err(ConfigError("maintenance needs COGS_MAINTENANCE_DATABASE_URL, or a database secret".into()))
            }
            _ => Ok(()),
        }
    }
}

/// Variables the Lambda service sets in every deployed function, whatever the runtime,
/// and that local emulators do not (`cargo lambda watch` sets only `AWS_LAMBDA_FUNCTION_*`,
/// `AWS_LAMBDA_RUNTIME_API` and its own; `tests/fixtures/lambda-env/` holds both
/// environments). The first three are reserved: a function's configuration can neither
/// set nor unset them. `AWS_EXECUTION_ENV` alone is not enough: OS-only runtimes such as
/// `provided.al2023` do not set it.
const DEPLOYED_SIGNS: &[&str] =
    &["LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR", "_HANDLER", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_EXECUTION_ENV"];

/// The first sign that the process runs in AWS Lambda, if any: what makes a setting
/// only local development may use refuse to start.
pub fn deployed(var: &impl Fn(&str) -> Option<String>) -> Option<&'static str> {
    DEPLOYED_SIGNS.iter().copied().find(|name| var(name).is_some())
}

impl Config {
    /// Maintenance's thresholds, from this configuration.
    pub fn maintenance_settings(&self) -> MaintenanceSettings {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        MaintenanceSettings {
            stale_after: minutes(self.stale_run_minutes),
            abandon_after: minutes(self.abandon_run_minutes),
            validation_retention: minutes(self.validation_retention_days * 24 * 60),
            pending_upload_expiry: minutes(self.pending_upload_expiry_hours * 60),
            chunk_size: self.chunk_size,
            ..MaintenanceSettings::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::model::Location;

    const SECRET: &str = "COGS_DATABASE_SECRET_ARN";

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn development_tenant_mode_is_off_unless_asked_for() {
        let config = config(&[("DATABASE_URL", "postgres://x")]).unwrap();
        assert_eq!(config.dev_tenant, DevTenantMode::Off);
        assert_eq!(config.tenant_claim, "custom:tenant_id");
    }

    /// A recorded environment (`NAME=value` lines, `#` comments) with the variables given.
    fn environment(file: &str, extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let path = format!("{}/../tests/fixtures/lambda-env/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let mut vars: HashMap<String, String> = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| line.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).unwrap())
            .collect();
        vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn development_tenant_mode_refuses_to_start_in_the_environment_of_a_deployed_function() {
        let asked =
            [(SECRET, "arn:aws:secretsmanager:x"), ("COGS_BUCKET", "cogs-staging"), ("COGS_DEV_TENANT_HEADER", "true")];

        let deployed = environment("provided.al2023.env", &asked);
        let emulated = environment("cargo-lambda-watch.env", &asked).unwrap();

        let refusal = deployed.unwrap_err().to_string();
        assert!(refusal.contains("refusing to start in AWS Lambda (LAMBDA_TASK_ROOT is set)"), "{refusal}");
        assert_eq!(emulated.dev_tenant, DevTenantMode::Header);
        assert_eq!(environment("provided.al2023.env", &asked[..2]).unwrap().dev_tenant, DevTenantMode::Off);
    }

    #[test]
    fn any_one_sign_of_lambda_is_enough_to_refuse_the_development_header() {
        for sign in DEPLOYED_SIGNS {
            let refused = config(&[
                (SECRET, "arn:aws:secretsmanager:x"),
                ("COGS_BUCKET", "cogs-staging"),
                ("COGS_DEV_TENANT_HEADER", "true"),
                (sign, "x"),
            ]);
            assert!(refused.unwrap_err().to_string().contains("COGS_DEV_TENANT_HEADER"), "{sign}");
        }
    }

    #[test]
    fn the_tenant_is_never_taken_from_an_email_address() {
        let refused = config(&[("DATABASE_URL", "postgres://x"), ("COGS_TENANT_FROM_EMAIL", "true")]);
        assert!(refused.unwrap_err().to_string().contains("COGS_TENANT_CLAIM"));
    }

    #[test]
    fn accounts_come_from_the_environment() {
        let config = config(&[("DATABASE_URL", "postgres://x"), ("COGS_COGS_ACCOUNT", "310:COGS")]).unwrap();
        let cogs = config.journal.chart.account(AccountKind::Cogs, None, &Location::default());
        assert_eq!((cogs.code.as_str(), cogs.name.as_str()), ("310", "COGS"));
        assert_eq!(config.journal.chart.account(AccountKind::WriteOff, None, &Location::default()).code, "5100");
        assert!(config_error(&[("DATABASE_URL", "x"), ("COGS_INVENTORY_ACCOUNT", "1400")]));
        assert!(config_error(&[]), "DATABASE_URL is required");
    }

    #[test]
    fn a_deployed_function_without_a_bucket_refuses_to_start_instead_of_staging_locally() {
        let url = [(SECRET, "arn:aws:secretsmanager:x")];

        let refusal = environment("provided.al2023.env", &url).unwrap_err().to_string();
        let deployed = environment("provided.al2023.env", &[url[0], ("COGS_BUCKET", "cogs-staging")]).unwrap();
        let local = environment("cargo-lambda-watch.env", &url).unwrap();

        assert!(refusal.contains("COGS_BUCKET is not set") && refusal.contains("LAMBDA_TASK_ROOT"), "{refusal}");
        assert_eq!(deployed.staging, StagingConfig::S3 { bucket: "cogs-staging".into(), endpoint: None });
        assert_eq!(local.staging, StagingConfig::Local { dir: "staging".into() });
    }

    #[test]
    fn a_deployed_run_function_without_its_state_machine_refuses_to_start_instead_of_costing_inline() {
        let vars = [(SECRET, "arn:aws:secretsmanager:x"), ("COGS_BUCKET", "cogs-staging")];
        let deployed = environment("provided.al2023.env", &vars).unwrap();
        let local = environment("cargo-lambda-watch.env", &vars).unwrap();
        let with_machine = environment("provided.al2023.env", &[vars[0], vars[1], ("COGS_STATE_MACHINE_ARN", "arn:x")]);

        let refusal = deployed.require(Needs::StateMachine).unwrap_err().to_string();

        assert!(refusal.contains("COGS_STATE_MACHINE_ARN is not set"), "{refusal}");
        assert!(deployed.require(Needs::Nothing).is_ok(), "only the run function needs it");
        assert!(local.require(Needs::StateMachine).is_ok(), "locally a run is costed within the request");
        assert!(with_machine.unwrap().require(Needs::StateMachine).is_ok());
    }

    #[test]
    fn a_deployed_function_finds_its_database_in_a_secret_never_in_its_configuration() {
        let vars = [("COGS_BUCKET", "cogs-staging"), ("DATABASE_URL", "postgres://app:password@db/cogs")];

        let refusal = environment("provided.al2023.env", &vars).unwrap_err().to_string();
        let deployed = environment("provided.al2023.env", &[vars[0], (SECRET, "arn:aws:secretsmanager:x")]).unwrap();
        let local = environment("cargo-lambda-watch.env", &vars).unwrap();

        assert!(refusal.contains("COGS_DATABASE_SECRET_ARN") && !refusal.contains("password@"), "{refusal}");
        assert_eq!(
            deployed.database,
            DatabaseSource::Secret { arn: "arn:aws:secretsmanager:x".into(), endpoint: None }
        );
        assert!(matches!(local.database, DatabaseSource::Urls { maintenance: None, .. }));
        assert!(!format!("{:?}", local.database).contains("password"), "a URL is never printed");
        assert!(local.require(Needs::MaintenanceRole).is_err(), "maintenance needs its role's URL");
        assert!(deployed.require(Needs::MaintenanceRole).is_ok(), "the secret holds it");
    }

    fn config_error(vars: &[(&str, &str)]) -> bool {
        config(vars).is_err()
    }
}
