//! Tenant settings: time zone, lock date and policy, shortfall policy, and how its
//! journals post (accounts, SKU rules, Xero and QuickBooks options, grouping).

use chrono::NaiveDate;
use serde::Serialize;

use std::collections::BTreeMap;

use tokio_postgres::Row;

use super::watermarks::HAS_UNCOSTED;
use super::{DbError, TenantTx};
use crate::journal::{Account, JournalConfig, LineDetail, Period, SkuRule, XeroTracking};
use crate::model::{AccountKind, Location, LockPolicy, Methods, ShortfallPolicy};

/// The tenant's default location, in a statement (`default_location_sql!`).
pub(super) const DEFAULT_LOCATION: &str = default_location_sql!();

/// A tenant's settings (the defaults when it has saved none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantSettings {
    /// The IANA time zone whose days and months journals use.
    pub time_zone: String,
    /// The last day of the closed periods, if any.
    pub lock_date: Option<NaiveDate>,
    pub lock_policy: LockPolicy,
    pub on_shortfall: ShortfallPolicy,
    /// The costing methods over time.
    pub methods: Methods,
    /// Where a row that names no location is: chosen before the first upload.
    pub default_location: Location,
    #[serde(flatten)]
    pub journal: JournalSettings,
}

/// How a tenant's journals post: its own accounts and options over the deployment's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct JournalSettings {
    /// The accounts it named, by kind of line; the others are the deployment's.
    pub accounts: BTreeMap<AccountKind, Account>,
    /// COGS and inventory accounts of SKUs by prefix (the longest matching wins).
    pub sku_rules: Vec<SkuRule>,
    /// The inventory account of each location that has one of its own: its stock is
    /// held there, and a transfer between locations posts between their accounts.
    pub location_accounts: BTreeMap<Location, Account>,
    /// The tax rate name on Xero lines; none: the deployment's.
    pub xero_tax_rate: Option<String>,
    pub xero_tracking: Option<XeroTracking>,
    /// The QuickBooks class every line carries: id (code) and name.
    pub qbo_class: Option<Account>,
    /// How its journals are grouped unless an export says: by day, month or run.
    pub journal_period: Option<Period>,
    /// A line per SKU, or a single line.
    pub journal_lines: Option<LineDetail>,
}

impl JournalSettings {
    /// The deployment's configuration with this tenant's settings put over it.
    pub fn over(&self, deployment: &JournalConfig) -> JournalConfig {
        JournalConfig {
            chart: deployment.chart.overlaid(&self.accounts, &self.sku_rules, &self.location_accounts),
            xero_tax_rate: self.xero_tax_rate.clone().unwrap_or_else(|| deployment.xero_tax_rate.clone()),
            xero_tracking: self.xero_tracking.clone().or_else(|| deployment.xero_tracking.clone()),
            qbo_class: self.qbo_class.clone().or_else(|| deployment.qbo_class.clone()),
            utc_offset: deployment.utc_offset,
        }
    }
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            time_zone: "UTC".to_owned(),
            lock_date: None,
            lock_policy: LockPolicy::default(),
            on_shortfall: ShortfallPolicy::default(),
            methods: Methods::default(),
            default_location: Location::default(),
            journal: JournalSettings::default(),
        }
    }
}

/// The tenant's settings, or the defaults.
pub async fn load_settings(tx: &TenantTx) -> Result<TenantSettings, DbError> {
    let Some(row) = tx
        .query_opt(
            r"select time_zone, lock_date, lock_policy, on_shortfall, accounts, sku_rules, xero_tax_rate, xero_tracking,
                     qbo_class, journal_period, journal_lines, costing_methods, location_accounts, default_location
              from tenant_settings",
            &[],
        )
        .await?
    else {
        return Ok(TenantSettings::default());
    };
    // A JSON column as the type it holds; SQL null as JSON null (an absent option).
    fn json<T: serde::de::DeserializeOwned>(row: &Row, index: usize, column: &'static str) -> Result<T, DbError> {
        let value = row.try_get::<_, Option<serde_json::Value>>(index)?.unwrap_or_default();
        serde_json::from_value(value).map_err(|error| DbError::Corrupt { column, reason: error.to_string() })
    }
    fn choice<T: std::str::FromStr<Err = String>>(
        row: &Row,
        index: usize,
        column: &'static str,
    ) -> Result<Option<T>, DbError> {
        let value: Option<String> = row.try_get(index)?;
        value.map(|text| text.parse()).transpose().map_err(|reason| DbError::Corrupt { column, reason })
    }
    Ok(TenantSettings {
        time_zone: row.try_get(0)?,
        lock_date: row.try_get(1)?,
        lock_policy: row.try_get::<_, &str>(2)?.parse().map_err(DbError::corrupt("lock_policy"))?,
        on_shortfall: row.try_get::<_, &str>(3)?.parse().map_err(DbError::corrupt("on_shortfall"))?,
        methods: json(&row, 11, "costing_methods")?,
        default_location: Location::parse(row.try_get::<_, String>(13)?)
            .map_err(DbError::corrupt("default_location"))?,
        journal: JournalSettings {
            accounts: json(&row, 4, "accounts")?,
            sku_rules: json(&row, 5, "sku_rules")?,
            location_accounts: json(&row, 12, "location_accounts")?,
            xero_tax_rate: row.try_get(6)?,
            xero_tracking: json(&row, 7, "xero_tracking")?,
            qbo_class: json(&row, 8, "qbo_class")?,
            journal_period: choice(&row, 9, "journal_period")?,
            journal_lines: choice(&row, 10, "journal_lines")?,
        },
    })
}

/// Stores the tenant's settings (the tenant row must exist).
pub async fn save_settings(tx: &TenantTx, settings: &TenantSettings, updated_by: &str) -> Result<(), DbError> {
    let journal = &settings.journal;
    let to_json = |value: serde_json::Result<serde_json::Value>| value.expect("settings always serialise");
    let accounts = to_json(serde_json::to_value(&journal.accounts));
    let sku_rules = to_json(serde_json::to_value(&journal.sku_rules));
    let location_accounts = to_json(serde_json::to_value(&journal.location_accounts));
    let tracking = journal.xero_tracking.as_ref().map(|t| to_json(serde_json::to_value(t)));
    let class = journal.qbo_class.as_ref().map(|c| to_json(serde_json::to_value(c)));
    let period = journal.journal_period.map(|p| p.as_str());
    let lines = journal.journal_lines.map(|l| l.as_str());
    let methods = to_json(serde_json::to_value(&settings.methods));
    tx.execute(
        r"insert into tenant_settings (tenant_id, time_zone, lock_date, lock_policy, on_shortfall, updated_by, accounts,
                                      sku_rules, xero_tax_rate, xero_tracking, qbo_class, journal_period, journal_lines,
                                      costing_methods, location_accounts, default_location)
          values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
          on conflict (tenant_id) do update
          set time_zone = excluded.time_zone, lock_date = excluded.lock_date, lock_policy = excluded.lock_policy,
              on_shortfall = excluded.on_shortfall, updated_by = excluded.updated_by, updated_at = now(),
              accounts = excluded.accounts, sku_rules = excluded.sku_rules, xero_tax_rate = excluded.xero_tax_rate,
              xero_tracking = excluded.xero_tracking, qbo_class = excluded.qbo_class,
              journal_period = excluded.journal_period, journal_lines = excluded.journal_lines,
              costing_methods = excluded.costing_methods, location_accounts = excluded.location_accounts,
              default_location = excluded.default_location",
        &[
            &tx.tenant_id().as_str(),
            &settings.time_zone,
            &settings.lock_date,
            &settings.lock_policy.as_str(),
            &settings.on_shortfall.as_str(),
            &updated_by,
            &accounts,
            &sku_rules,
            &journal.xero_tax_rate,
            &tracking,
            &class,
            &period,
            &lines,
            &methods,
            &location_accounts,
            &settings.default_location.as_str(),
        ],
    )
    .await?;
    Ok(())
}

/// Whether any row that holds or moves stock is loaded (a landed cost falls on lots):
/// the default location is chosen before.
pub async fn stock_rows_loaded(tx: &TenantTx) -> Result<bool, DbError> {
    let row = tx
        .query_one(
            r"select exists (select 1 from lots) or exists (select 1 from sales)
                     or exists (select 1 from customer_returns) or exists (select 1 from supplier_returns)
                     or exists (select 1 from adjustments) or exists (select 1 from stock_counts)
                     or exists (select 1 from transfers)",
            &[],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// Today in `time_zone`, if PostgreSQL knows the zone (its IANA database).
pub async fn today_in(tx: &TenantTx, time_zone: &str) -> Result<Option<NaiveDate>, DbError> {
    let row = tx
        .query_one(
            r"select case when exists (select 1 from pg_timezone_names where name = $1)
                          then (now() at time zone $1)::date end",
            &[&time_zone],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// The first event a run would cost on or before `lock_date` (in `time_zone`): a
/// backdated lot or sale waiting for a rewind, the earliest new event of a SKU with
/// movements besides lots and sales, or an uncosted sale. As (kind, id, SKU,
/// date).
pub async fn first_locked_event(
    tx: &TenantTx,
    lock_date: NaiveDate,
    time_zone: &str,
) -> Result<Option<(String, String, String, chrono::DateTime<chrono::Utc>)>, DbError> {
    let row = tx
        .query_opt(
            &format!(
                r"select kind, id, sku, at from (
                  select w.backdated_kind as kind, w.backdated_id as id, w.sku, w.rewind_date as at
                  from sku_watermarks w
                  where w.rewind_date is not null
                    and (w.movements or (w.rewind_date, w.rewind_sale_id) <= (w.costed_date, w.costed_sale_id))
                  union all
                  select 'sale', s.sale_id, s.sku, s.sale_date
                  from sku_watermarks w
                  cross join lateral (
                      select s.sale_id, s.sku, s.sale_date from sales s
                      where s.sku = w.sku
                        and (s.sale_date, s.sale_id)
                            > (coalesce(w.costed_date, '-infinity'), coalesce(w.costed_sale_id, ''))
                      order by s.sale_date, s.sale_id
                      limit 1
                  ) s
                  where {HAS_UNCOSTED}
              ) events
              where (at at time zone $2)::date <= $1
              order by at, sku, id
              limit 1"
            ),
            &[&lock_date, &time_zone],
        )
        .await?;
    row.map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?))).transpose()
}

/// The day `instant` falls on in `time_zone`.
pub async fn local_date(
    tx: &TenantTx,
    instant: chrono::DateTime<chrono::Utc>,
    time_zone: &str,
) -> Result<NaiveDate, DbError> {
    let row = tx.query_one(r"select ($1::timestamptz at time zone $2::text)::date", &[&instant, &time_zone]).await?;
    Ok(row.try_get(0)?)
}
