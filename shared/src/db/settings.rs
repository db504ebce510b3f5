//! Tenant settings: time zone, lock date and policy, shortfall policy.

use chrono::NaiveDate;
use serde::Serialize;

use super::watermarks::HAS_UNCOSTED;
use super::{DbError, TenantTx};
use crate::model::{LockPolicy, ShortfallPolicy};

/// A tenant's settings (the defaults when it has saved none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantSettings {
    /// The IANA time zone whose days and months journals use.
    pub time_zone: String,
    /// The last day of the closed periods, if any.
    pub lock_date: Option<NaiveDate>,
    pub lock_policy: LockPolicy,
    pub on_shortfall: ShortfallPolicy,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            time_zone: "UTC".to_owned(),
            lock_date: None,
            lock_policy: LockPolicy::default(),
            on_shortfall: ShortfallPolicy::default(),
        }
    }
}

/// The tenant's settings, or the defaults.
pub async fn load_settings(tx: &TenantTx) -> Result<TenantSettings, DbError> {
    let Some(row) =
        tx.query_opt(r"select time_zone, lock_date, lock_policy, on_shortfall from tenant_settings", &[]).await?
    else {
        return Ok(TenantSettings::default());
    };
    Ok(TenantSettings {
        time_zone: row.try_get(0)?,
        lock_date: row.try_get(1)?,
        lock_policy: row.try_get::<_, &str>(2)?.parse().map_err(DbError::corrupt("lock_policy"))?,
        on_shortfall: row.try_get::<_, &str>(3)?.parse().map_err(DbError::corrupt("on_shortfall"))?,
    })
}

/// Stores the tenant's settings (the tenant row must exist).
pub async fn save_settings(tx: &TenantTx, settings: &TenantSettings, updated_by: &str) -> Result<(), DbError> {
    tx.execute(
        r"insert into tenant_settings (tenant_id, time_zone, lock_date, lock_policy, on_shortfall, updated_by)
          values ($1, $2, $3, $4, $5, $6)
          on conflict (tenant_id) do update
          set time_zone = excluded.time_zone, lock_date = excluded.lock_date, lock_policy = excluded.lock_policy,
              on_shortfall = excluded.on_shortfall, updated_by = excluded.updated_by, updated_at = now()",
        &[
            &tx.tenant_id().as_str(),
            &settings.time_zone,
            &settings.lock_date,
            &settings.lock_policy.as_str(),
            &settings.on_shortfall.as_str(),
            &updated_by,
        ],
    )
    .await?;
    Ok(())
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
