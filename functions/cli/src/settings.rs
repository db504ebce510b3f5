//! `cogs settings`: show the tenant's settings, or change them.

use chrono::NaiveDate;
use clap::Args;
use cogs_core::model::{LockPolicy, ShortfallPolicy};
use cogs_core::service::{self, SettingsChange};

use crate::CommandResult;
use crate::args::Scope;
use crate::output::{OutputFormat, print_json};

#[derive(Args)]
pub struct SettingsArgs {
    /// The IANA time zone whose days and months the journals use (like Europe/Berlin).
    #[arg(long)]
    time_zone: Option<String>,
    /// Close the periods up to this day (YYYY-MM-DD), or `none` to reopen them.
    #[arg(long, value_parser = lock_date)]
    lock_date: Option<LockDate>,
    /// post_in_open_period or refuse: what a run does about a change on or before the lock date.
    #[arg(long)]
    lock_policy: Option<LockPolicy>,
    /// park or fail: what a run does with a sale the lots cannot cover, unless it says.
    #[arg(long)]
    on_shortfall: Option<ShortfallPolicy>,
    #[command(flatten)]
    pub scope: Scope,
}

/// A lock date given on the command line: a day, or none.
#[derive(Debug, Clone, Copy)]
struct LockDate(Option<NaiveDate>);

fn lock_date(value: &str) -> Result<LockDate, String> {
    match value {
        "none" => Ok(LockDate(None)),
        date => date
            .parse()
            .map(|d| LockDate(Some(d)))
            .map_err(|_| format!("{date:?} is not a date like 2024-06-30 (or none)")),
    }
}

/// Without a flag, shows the settings; with any, changes those and shows the result.
pub async fn run(args: &SettingsArgs) -> CommandResult {
    let pool = args.scope.database.pool()?;
    let change = SettingsChange {
        time_zone: args.time_zone.clone(),
        lock_date: args.lock_date.map(|LockDate(date)| date),
        lock_policy: args.lock_policy,
        on_shortfall: args.on_shortfall,
    };
    let settings = if change == SettingsChange::default() {
        service::settings(&pool, &args.scope.tenant.tenant_id).await?
    } else {
        service::change_settings(&pool, &args.scope.tenant.caller(), &change).await?
    };
    match args.scope.output.format {
        OutputFormat::Json => print_json(&settings),
        OutputFormat::Table => {
            println!("time zone     {}", settings.time_zone);
            println!("lock date     {}", settings.lock_date.map_or_else(|| "none".to_owned(), |d| d.to_string()));
            println!("lock policy   {}", settings.lock_policy.as_str());
            println!("on shortfall  {}", settings.on_shortfall.as_str());
        }
    }
    Ok(())
}
