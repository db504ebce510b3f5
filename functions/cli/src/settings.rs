//! `cogs settings`: show the tenant's settings, or change them.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use clap::Args;
use cogs_core::journal::{Account, LineDetail, Period, SkuRule, XeroTracking};
use cogs_core::model::{AccountKind, Location, LockPolicy, Method, ShortfallPolicy};
use cogs_core::service::{self, MethodSetting, SettingsChange};

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
    /// An account of the tenant's own, KIND=CODE:NAME (kinds: cogs, inventory, write_off,
    /// adjustment_gain, supplier_returns_clearing, landed_cost_clearing); repeat for more.
    /// KIND=default goes back to the deployment's.
    #[arg(long = "account", value_parser = account_setting)]
    accounts: Vec<(AccountKind, Option<Account>)>,
    /// An inventory account of a location's own, LOCATION=CODE:NAME (like
    /// WEST=1420:Inventory West): its stock is held there, and a transfer between
    /// locations posts between their accounts. LOCATION=default goes back to the
    /// inventory account; repeat for more.
    #[arg(long = "location-account", value_parser = location_account)]
    location_accounts: Vec<(Location, Option<Account>)>,
    /// The SKU rules as a JSON array, like
    /// [{"prefix":"COF-","cogs":{"code":"5010","name":"COGS Coffee"}}]; [] removes them.
    #[arg(long, value_parser = sku_rules)]
    sku_rules: Option<Vec<SkuRule>>,
    /// The tax rate name on Xero lines, or `none` for the deployment's.
    #[arg(long, value_parser = optional_text)]
    xero_tax_rate: Option<Option<String>>,
    /// The Xero tracking category and option on every line, NAME:OPTION, or `none`.
    #[arg(long, value_parser = tracking)]
    xero_tracking: Option<Option<XeroTracking>>,
    /// The QuickBooks class on every line, ID:NAME, or `none`.
    #[arg(long, value_parser = class)]
    qbo_class: Option<Option<Account>>,
    /// The default journal period (day, month, run), or `none`.
    #[arg(long, value_parser = optional_choice::<Period>)]
    journal_period: Option<Option<Period>>,
    /// The default journal lines (sku, single), or `none`.
    #[arg(long, value_parser = optional_choice::<LineDetail>)]
    journal_lines: Option<Option<LineDetail>>,
    /// The costing method (fifo, specific-identification, moving-average): from --method-from on, or
    /// without it throughout. The next run re-costs what the change moves and posts the
    /// difference.
    #[arg(long, value_parser = crate::cost::method)]
    method: Option<Method>,
    /// The day (YYYY-MM-DD, in the tenant's time zone) --method takes effect from.
    #[arg(long, requires = "method")]
    method_from: Option<NaiveDate>,
    /// Where a row that names no location is (main unless set): chosen before the
    /// first upload.
    #[arg(long, value_parser = |s: &str| Location::parse(s).map_err(|e| format!("{s:?} {e}")))]
    default_location: Option<Location>,
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

fn account_setting(value: &str) -> Result<(AccountKind, Option<Account>), String> {
    let (kind, account) = value.split_once('=').ok_or_else(|| format!("{value:?} is not KIND=CODE:NAME"))?;
    let kind = AccountKind::ALL
        .into_iter()
        .find(|known| known.as_str() == kind)
        .ok_or_else(|| format!("{kind:?} is not a kind of account; the kinds are cogs, inventory, write_off, adjustment_gain, supplier_returns_clearing, landed_cost_clearing"))?;
    Ok((kind, if account == "default" { None } else { Some(account.parse()?) }))
}

fn location_account(value: &str) -> Result<(Location, Option<Account>), String> {
    let (location, account) = value.split_once('=').ok_or_else(|| format!("{value:?} is not LOCATION=CODE:NAME"))?;
    let location = Location::parse(location).map_err(|error| format!("{location:?} is not a location: {error}"))?;
    Ok((location, if account == "default" { None } else { Some(account.parse()?) }))
}

fn sku_rules(value: &str) -> Result<Vec<SkuRule>, String> {
    serde_json::from_str(value).map_err(|error| format!("the SKU rules are not a JSON array of rules: {error}"))
}

fn optional_text(value: &str) -> Result<Option<String>, String> {
    Ok((value != "none").then(|| value.to_owned()))
}

fn tracking(value: &str) -> Result<Option<XeroTracking>, String> {
    if value == "none" {
        return Ok(None);
    }
    let (name, option) = value.split_once(':').ok_or_else(|| format!("{value:?} is not NAME:OPTION"))?;
    Ok(Some(XeroTracking { name: name.to_owned(), option: option.to_owned() }))
}

fn class(value: &str) -> Result<Option<Account>, String> {
    if value == "none" { Ok(None) } else { value.parse().map(Some) }
}

fn optional_choice<T: std::str::FromStr<Err = String>>(value: &str) -> Result<Option<T>, String> {
    if value == "none" { Ok(None) } else { value.parse().map(Some) }
}

/// `stored` with each account of `changes` put in (or, for `None`, taken out); `None`
/// when nothing changes.
fn changed<K: Ord + Clone>(
    stored: &BTreeMap<K, Account>,
    changes: &[(K, Option<Account>)],
) -> Option<BTreeMap<K, Account>> {
    if changes.is_empty() {
        return None;
    }
    let mut accounts = stored.clone();
    for (key, account) in changes {
        match account {
            Some(account) => accounts.insert(key.clone(), account.clone()),
            None => accounts.remove(key),
        };
    }
    Some(accounts)
}

/// Without a flag, shows the settings; with any, changes those and shows the result.
pub async fn run(args: &SettingsArgs) -> CommandResult {
    let pool = args.scope.database.pool()?;
    // --account and --location-account change the kinds and locations they name, one
    // at a time, over what is stored.
    let stored = if args.accounts.is_empty() && args.location_accounts.is_empty() {
        None
    } else {
        Some(service::settings(&pool, &args.scope.tenant.tenant_id).await?.journal)
    };
    let accounts = stored.as_ref().and_then(|stored| changed(&stored.accounts, &args.accounts));
    let location_accounts =
        stored.as_ref().and_then(|stored| changed(&stored.location_accounts, &args.location_accounts));
    let change = SettingsChange {
        time_zone: args.time_zone.clone(),
        lock_date: args.lock_date.map(|LockDate(date)| date),
        lock_policy: args.lock_policy,
        on_shortfall: args.on_shortfall,
        accounts,
        sku_rules: args.sku_rules.clone(),
        location_accounts,
        xero_tax_rate: args.xero_tax_rate.clone(),
        xero_tracking: args.xero_tracking.clone(),
        qbo_class: args.qbo_class.clone(),
        journal_period: args.journal_period,
        journal_lines: args.journal_lines,
        costing_method: args.method.map(|method| MethodSetting { method, from: args.method_from }),
        default_location: args.default_location.clone(),
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
            println!("method        {}", crate::cost::methods_text(&settings.methods));
            println!("location      {} by default", settings.default_location);
            let journal = &settings.journal;
            for (kind, account) in &journal.accounts {
                println!("account       {} = {}:{}", kind.as_str(), account.code, account.name);
            }
            for rule in &journal.sku_rules {
                let named = |account: &Option<Account>| {
                    account.as_ref().map_or("-".to_owned(), |a| format!("{}:{}", a.code, a.name))
                };
                println!(
                    "sku rule      {}* cogs {} inventory {}",
                    rule.prefix,
                    named(&rule.cogs),
                    named(&rule.inventory)
                );
            }
            for (location, account) in &journal.location_accounts {
                println!("location      {location} inventory = {}:{}", account.code, account.name);
            }
            let or_default = |value: Option<String>| value.unwrap_or_else(|| "the deployment's".to_owned());
            println!("xero tax rate {}", or_default(journal.xero_tax_rate.clone()));
            println!(
                "xero tracking {}",
                or_default(journal.xero_tracking.as_ref().map(|t| format!("{}:{}", t.name, t.option)))
            );
            println!(
                "qbo class     {}",
                or_default(journal.qbo_class.as_ref().map(|c| format!("{}:{}", c.code, c.name)))
            );
            println!(
                "journals      {} / {}",
                journal.journal_period.unwrap_or_default().as_str(),
                journal.journal_lines.unwrap_or_default().as_str()
            );
        }
    }
    Ok(())
}
