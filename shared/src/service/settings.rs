//! Tenant settings: read, and change with every change audited (a moved lock date
//! by name).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::{Caller, ServiceError};
use std::collections::BTreeMap;

use crate::db::{self, JournalSettings, TenantSettings};
use crate::journal::{Account, LineDetail, Period, SkuRule, XeroTracking};
use crate::model::{AccountKind, Location, LockPolicy, Method, Methods, ShortfallPolicy, TenantId};

/// A change of settings: each field given replaces the stored one; `lock_date: null`
/// removes the lock, and `null` is refused for the others (they cannot be removed).
/// Unknown fields are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    #[serde(default, deserialize_with = "present")]
    pub time_zone: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub lock_date: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "present")]
    pub lock_policy: Option<LockPolicy>,
    #[serde(default, deserialize_with = "present")]
    pub on_shortfall: Option<ShortfallPolicy>,
    /// The accounts the tenant names, by kind of line (replacing those it named before).
    #[serde(default, deserialize_with = "present")]
    pub accounts: Option<BTreeMap<AccountKind, Account>>,
    #[serde(default, deserialize_with = "present")]
    pub sku_rules: Option<Vec<SkuRule>>,
    /// The inventory account of each location that has one of its own (replacing those
    /// named before).
    #[serde(default, deserialize_with = "present")]
    pub location_accounts: Option<BTreeMap<Location, Account>>,
    #[serde(default, deserialize_with = "present")]
    pub xero_tax_rate: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub xero_tracking: Option<Option<XeroTracking>>,
    #[serde(default, deserialize_with = "present")]
    pub qbo_class: Option<Option<Account>>,
    #[serde(default, deserialize_with = "present")]
    pub journal_period: Option<Option<Period>>,
    #[serde(default, deserialize_with = "present")]
    pub journal_lines: Option<Option<LineDetail>>,
    #[serde(default, deserialize_with = "present")]
    pub costing_method: Option<MethodSetting>,
    /// Where a row that names no location is; chosen before the first upload.
    #[serde(default, deserialize_with = "present")]
    pub default_location: Option<Location>,
}

/// A costing method from a day on (local midnight in the tenant's time zone), or with
/// no `from` throughout: it decides every event from then on (changes scheduled from
/// then on are replaced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodSetting {
    pub method: Method,
    #[serde(default)]
    pub from: Option<NaiveDate>,
}

/// A field that is present is `Some`: `null` as well where `T` takes it, an error where not.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// The tenant's settings (the defaults when none were saved).
pub async fn settings(pool: &deadpool_postgres::Pool, tenant_id: &TenantId) -> Result<TenantSettings, ServiceError> {
    let tx = db::begin(pool, tenant_id).await?;
    let settings = db::load_settings(&tx).await?;
    tx.rollback().await?;
    Ok(settings)
}

/// Applies `change` and returns the settings as stored. Refused (nothing changed) when
/// the time zone is not an IANA name PostgreSQL knows, or the lock date is after
/// today in the tenant's time zone: the periods up to it must have happened. The
/// change is in the audit log with the settings before and after; a lock date that
/// moves is also logged as `lock_date.moved`.
///
/// A change of costing method readies the SKUs it can re-cost (the next run costs them
/// again from the change on, and its journal posts the difference); it is refused
/// while a run is active, and under `lock_policy = refuse` when it would re-cost a
/// sale dated on or before the lock date. Logged as `costing_method.changed`. The
/// default location is refused once any row that holds or moves stock is loaded.
pub async fn change_settings(
    pool: &deadpool_postgres::Pool,
    caller: &Caller,
    change: &SettingsChange,
) -> Result<TenantSettings, ServiceError> {
    let tx = db::begin(pool, &caller.tenant_id).await?;
    db::lock_tenant(&tx).await?;
    let before = db::load_settings(&tx).await?;
    let mut after = before.clone();
    if let Some(time_zone) = &change.time_zone {
        after.time_zone.clone_from(time_zone);
    }
    if let Some(lock_date) = change.lock_date {
        after.lock_date = lock_date;
    }
    after.lock_policy = change.lock_policy.unwrap_or(after.lock_policy);
    after.on_shortfall = change.on_shortfall.unwrap_or(after.on_shortfall);
    apply_journal_change(&mut after.journal, change)?;
    let today = db::today_in(&tx, &after.time_zone).await?.ok_or_else(|| {
        ServiceError::InvalidRequest(format!(
            "time_zone {:?} is not an IANA time zone name (like Europe/Berlin or America/New_York)",
            after.time_zone
        ))
    })?;
    if let Some(lock_date) = after.lock_date
        && lock_date > today
    {
        return Err(ServiceError::InvalidRequest(format!(
            "lock_date {lock_date} is after today ({today} in {}): only past periods can be closed",
            after.time_zone
        )));
    }
    if let Some(setting) = change.costing_method {
        change_method(&tx, &mut after, setting).await?;
    }
    if let Some(location) = &change.default_location
        && *location != before.default_location
    {
        // Rows loaded keep where they were loaded; the allocator of lots and sales
        // relies on every row it costs being at the one default location.
        if db::stock_rows_loaded(&tx).await? {
            return Err(ServiceError::InvalidRequest(format!(
                "default_location can be chosen before the first upload only: rows already loaded are at {} and keep it; \
                 name the location in the files instead",
                before.default_location
            )));
        }
        after.default_location = location.clone();
    }
    db::ensure_tenant(&tx).await?;
    db::save_settings(&tx, &after, &caller.actor).await?;
    db::insert_audit(&tx, &caller.actor, "settings.updated", None, None, &json!({ "before": before, "after": after }))
        .await?;
    if after.lock_date != before.lock_date {
        let moved = json!({ "from": before.lock_date, "to": after.lock_date });
        db::insert_audit(&tx, &caller.actor, "lock_date.moved", None, None, &moved).await?;
    }
    if after.methods != before.methods {
        let changed = json!({ "from": before.methods, "to": after.methods });
        db::insert_audit(&tx, &caller.actor, "costing_method.changed", None, None, &changed).await?;
    }
    tx.commit().await?;
    Ok(after)
}

/// Sets `after`'s methods as `setting` says and readies what the change re-costs.
async fn change_method(
    tx: &db::TenantTx,
    after: &mut TenantSettings,
    setting: MethodSetting,
) -> Result<(), ServiceError> {
    if let Some(active) = db::load_active_run(tx).await? {
        return Err(ServiceError::RunInProgress { run_id: Some(active.run_id) });
    }
    let since = match setting.from {
        Some(from) if !(1900..=9999).contains(&from.year()) => {
            return Err(ServiceError::InvalidRequest(format!(
                "costing_method.from {from} is outside the years 1900 to 9999"
            )));
        }
        Some(from) => Some((from, db::day_starts(tx, from, &after.time_zone).await?)),
        None => None,
    };
    let methods = after.methods.changed(setting.method, since);
    if methods == after.methods {
        return Ok(());
    }
    let average = |methods: &Methods| methods.uses(Method::MovingAverage);
    let every_outflow = average(&after.methods) || average(&methods);
    after.methods = methods;
    let first = db::mark_method_change(tx, since.map(|(_, at)| at), every_outflow).await?;
    if let (LockPolicy::Refuse, Some(lock_date), Some((kind, id, sku, date))) =
        (after.lock_policy, after.lock_date, first)
        && db::local_date(tx, date, &after.time_zone).await? <= lock_date
    {
        return Err(ServiceError::LockedPeriod { kind, id, sku, date, lock_date });
    }
    Ok(())
}

/// Applies the journal settings of `change`, refusing what a ledger could not import:
/// an empty code or name, a control character, a SKU rule without a prefix or without
/// an account.
fn apply_journal_change(journal: &mut JournalSettings, change: &SettingsChange) -> Result<(), ServiceError> {
    let invalid = |message: String| ServiceError::InvalidRequest(message);
    let text = |what: &str, value: &str| {
        if value.trim().is_empty() || value.chars().any(char::is_control) || value.len() > 200 {
            Err(invalid(format!("{what} {value:?} must be 1 to 200 printable characters")))
        } else {
            Ok(())
        }
    };
    let account = |what: &str, account: &Account| {
        text(&format!("{what} code"), &account.code)?;
        text(&format!("{what} name"), &account.name)
    };
    if let Some(accounts) = &change.accounts {
        for (kind, named) in accounts {
            account(&format!("the {} account's", kind.as_str()), named)?;
        }
        journal.accounts.clone_from(accounts);
    }
    if let Some(rules) = &change.sku_rules {
        for rule in rules {
            text("a SKU rule's prefix", &rule.prefix)?;
            if rule.cogs.is_none() && rule.inventory.is_none() {
                return Err(invalid(format!(
                    "the SKU rule for {:?} names neither a cogs nor an inventory account",
                    rule.prefix
                )));
            }
            for named in rule.cogs.iter().chain(&rule.inventory) {
                account(&format!("the SKU rule for {:?}'s", rule.prefix), named)?;
            }
        }
        journal.sku_rules.clone_from(rules);
    }
    if let Some(locations) = &change.location_accounts {
        for (location, named) in locations {
            account(&format!("location {location}'s inventory account's"), named)?;
        }
        journal.location_accounts.clone_from(locations);
    }
    if let Some(rate) = &change.xero_tax_rate {
        if let Some(rate) = rate {
            text("xero_tax_rate", rate)?;
        }
        journal.xero_tax_rate.clone_from(rate);
    }
    if let Some(tracking) = &change.xero_tracking {
        if let Some(tracking) = tracking {
            text("the Xero tracking category", &tracking.name)?;
            text("the Xero tracking option", &tracking.option)?;
        }
        journal.xero_tracking.clone_from(tracking);
    }
    if let Some(class) = &change.qbo_class {
        if let Some(class) = class {
            account("the QuickBooks class's", class)?;
        }
        journal.qbo_class.clone_from(class);
    }
    journal.journal_period = change.journal_period.unwrap_or(journal.journal_period);
    journal.journal_lines = change.journal_lines.unwrap_or(journal.journal_lines);
    Ok(())
}

/// Refuses a run under `lock_policy = refuse` that would change a closed period: the
/// first event on or before the lock date it would cost.
pub(super) async fn refuse_locked(tx: &db::TenantTx, settings: &TenantSettings) -> Result<(), ServiceError> {
    let (LockPolicy::Refuse, Some(lock_date)) = (settings.lock_policy, settings.lock_date) else { return Ok(()) };
    match db::first_locked_event(tx, lock_date, &settings.time_zone).await? {
        Some((kind, id, sku, date)) => Err(ServiceError::LockedPeriod { kind, id, sku, date, lock_date }),
        None => Ok(()),
    }
}
