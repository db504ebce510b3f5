//! `cogs book`: the tenant's live book, in the shape of `cogs cost`.

use clap::Args;
use cogs_core::db::SkuRange;
use cogs_core::service;

use crate::CommandResult;
use crate::args::Scope;
use crate::output::{OutputFormat, print_json};

#[derive(Args)]
pub struct BookArgs {
    #[command(flatten)]
    pub scope: Scope,
}

/// Prints the whole live book: with `--format json`, exactly the shape of
/// `cogs cost --format json`, so the two can be compared with `diff`.
pub async fn run(args: &BookArgs) -> CommandResult {
    let pool = args.scope.database.pool()?;
    let page = service::book(&pool, &args.scope.tenant.tenant_id, SkuRange::default()).await?;
    match args.scope.output.format {
        OutputFormat::Json => print_json(&page.book),
        OutputFormat::Table => crate::cost::print_tables(&page.book),
    }
    Ok(())
}
