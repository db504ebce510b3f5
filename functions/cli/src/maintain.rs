//! `cogs maintenance`: the scheduled maintenance pass, on demand.

use std::time::Duration;

use clap::Args;
use cogs_core::service::{self, MaintenanceSettings};

use crate::CommandResult;
use crate::args::{Database, Output, StagingArgs};
use crate::output::{Failure, OutputFormat, print_json};

#[derive(Args)]
pub struct MaintenanceArgs {
    /// The maintenance role's database URL.
    #[arg(long, env = "COGS_MAINTENANCE_DATABASE_URL", hide_env_values = true)]
    maintenance_database_url: String,
    /// Resume runs silent this many minutes.
    #[arg(long, default_value_t = 15)]
    stale_minutes: u64,
    /// Abandon (undo and fail) runs silent this many minutes.
    #[arg(long, default_value_t = 120)]
    abandon_minutes: u64,
    /// Delete validation errors older than this many days (at least 1: a fresh one is
    /// the tenant's to read).
    #[arg(long, default_value_t = 180, value_parser = clap::value_parser!(u64).range(1..))]
    retention_days: u64,
    /// Expire staged uploads still not loaded this many hours after they were asked for.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..))]
    pending_expiry_hours: u64,
    #[command(flatten)]
    database: Database,
    #[command(flatten)]
    staging: StagingArgs,
    #[command(flatten)]
    pub output: Output,
}

pub async fn run(args: &MaintenanceArgs) -> CommandResult {
    let app = args.database.pool()?;
    let maintenance = args.database.pool_of(&args.maintenance_database_url, 1)?;
    let minutes = |m: u64| Duration::from_secs(m * 60);
    let settings = MaintenanceSettings {
        stale_after: minutes(args.stale_minutes),
        abandon_after: minutes(args.abandon_minutes),
        validation_retention: minutes(args.retention_days * 24 * 60),
        pending_upload_expiry: minutes(args.pending_expiry_hours * 60),
        ..MaintenanceSettings::default()
    };
    let report = service::run_maintenance(&app, &maintenance, &args.staging.store().await, &settings).await?;
    match args.output.format {
        OutputFormat::Json => print_json(&report),
        OutputFormat::Table => {
            println!("stale runs            {}", report.stale_runs);
            println!("  completed           {}", report.runs_completed);
            println!("  still running       {}", report.runs_still_running);
            println!("  failed              {}", report.runs_failed);
            println!("  abandoned           {}", report.runs_abandoned);
            println!(
                "staged uploads loaded {} (waiting: {}, expired: {})",
                report.uploads_loaded, report.uploads_waiting, report.uploads_expired
            );
            println!("validation errors     {} deleted", report.validation_errors_deleted);
            println!("statistics            {}", if report.analyzed { "refreshed" } else { "not refreshed" });
            println!("books verified        {}", report.books_verified);
            for failure in &report.failures {
                println!(
                    "failed                {} {} {}: {}",
                    failure.task, failure.tenant_id, failure.item, failure.error
                );
            }
        }
    }
    if !report.books_inconsistent.is_empty() {
        Err(Failure::BooksInconsistent { tenants: report.books_inconsistent })
    } else if !report.failures.is_empty() {
        Err(Failure::MaintenanceIncomplete { failures: report.failures })
    } else {
        Ok(())
    }
}
