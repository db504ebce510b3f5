//! `cogs verify`: the whole book of one tenant checked against the rules it keeps.

use clap::Args;
use cogs_core::service;

use crate::CommandResult;
use crate::args::Scope;
use crate::output::{OutputFormat, print_json};

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub scope: Scope,
}

/// Prints every check with its outcome. A finding fails the command (exit 8) with the
/// findings in the error envelope.
pub async fn run(args: &VerifyArgs) -> CommandResult {
    let pool = args.scope.database.pool()?;
    let report = service::verify(&pool, &args.scope.tenant.tenant_id).await?;
    match args.scope.output.format {
        OutputFormat::Json => print_json(&report),
        OutputFormat::Table => {
            for check in &report.checks {
                println!("ok  {:<42} {}", check.check, check.rule);
            }
            println!("the book of {} keeps every rule", report.tenant_id);
        }
    }
    Ok(())
}
