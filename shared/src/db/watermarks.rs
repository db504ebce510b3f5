//! Watermarks: per SKU, the last sale costed (everything after it is uncosted), the
//! snapshots a rollback restores them from, and the backdated events that would make
//! a run go back before them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{DbError, TenantTx};

/// Moves each SKU's watermark to the last sale a chunk costed for it: `skus[i]` to
/// (`sale_dates[i]`, `sale_ids[i]`), costed by `run_id`. The watermark each SKU had
/// before the run first moved it is kept in `watermark_snapshots` (a later chunk of
/// the same run keeps the first snapshot). A stale backdating mark (one the watermark
/// had already gone back before, by a rollback) is cleared: costing forward covers it.
pub async fn advance_watermarks(
    tx: &TenantTx,
    run_id: Uuid,
    skus: &[&str],
    sale_dates: &[DateTime<Utc>],
    sale_ids: &[&str],
) -> Result<u64, DbError> {
    tx.execute(
        r"with snapshot as (
              insert into watermark_snapshots (tenant_id, run_id, sku, costed_date, costed_sale_id, costed_by_run)
              select w.tenant_id, $1, w.sku, w.costed_date, w.costed_sale_id, w.costed_by_run
              from sku_watermarks w
              where w.sku = any($2)
              on conflict (tenant_id, run_id, sku) do nothing
          )
          update sku_watermarks w
          set costed_date = v.sale_date, costed_sale_id = v.sale_id, costed_by_run = $1,
              rewind_date = null, rewind_sale_id = null, backdated_kind = null, backdated_id = null
          from unnest($2::text[], $3::timestamptz[], $4::text[]) as v(sku, sale_date, sale_id)
          where w.sku = v.sku",
        &[&run_id, &skus, &sale_dates, &sale_ids],
    )
    .await
}

/// Puts back the watermark of every SKU the run moved, as it was before the run.
pub async fn restore_watermarks(tx: &TenantTx, run_id: Uuid) -> Result<u64, DbError> {
    tx.execute(
        r"update sku_watermarks w
          set costed_date = s.costed_date, costed_sale_id = s.costed_sale_id, costed_by_run = s.costed_by_run
          from watermark_snapshots s
          where s.run_id = $1 and s.sku = w.sku",
        &[&run_id],
    )
    .await
}

/// A lot loaded after sales of its SKU received at or after it were costed: costing it
/// now would change past costs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackdatedLot {
    pub lot_id: String,
    pub sku: String,
    pub received_date: DateTime<Utc>,
    /// The run that costed the earliest sale it should have been available to.
    pub first_affected_run: Uuid,
}

/// A sale loaded after a later sale of its SKU was costed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackdatedSale {
    pub sale_id: String,
    pub sku: String,
    pub sale_date: DateTime<Utc>,
    /// The run that costed the earliest sale it should have come before.
    pub first_affected_run: Uuid,
}

/// For each SKU marked backdated at or before its watermark, the earliest backdated
/// event (at most `limit` SKUs, earliest first), with the live run that costed the
/// first sale it affects: the latest live run whose starting watermark for the SKU
/// came before the event.
pub async fn backdated_events(tx: &TenantTx, limit: i64) -> Result<(Vec<BackdatedLot>, Vec<BackdatedSale>), DbError> {
    let rows = tx
        .query(
            r"select w.backdated_kind, w.backdated_id, w.sku, w.rewind_date, f.run_id
              from sku_watermarks w
              cross join lateral (
                  select s.run_id
                  from watermark_snapshots s
                  join cogs_runs r on r.run_id = s.run_id
                  where s.sku = w.sku and r.status in ('pending', 'running', 'completed')
                    and (s.costed_date is null
                         or (s.costed_date, s.costed_sale_id) < (w.rewind_date, w.rewind_sale_id))
                  order by r.created_at desc, r.run_id desc
                  limit 1
              ) f
              where w.rewind_date is not null
                and (w.rewind_date, w.rewind_sale_id) <= (w.costed_date, w.costed_sale_id)
              order by w.rewind_date, w.rewind_sale_id, w.sku
              limit $1",
            &[&limit],
        )
        .await?;
    let (mut lots, mut sales) = (Vec::new(), Vec::new());
    for row in &rows {
        let kind: &str = row.try_get(0)?;
        let (id, sku, date, first_affected_run) = (row.try_get(1)?, row.try_get(2)?, row.try_get(3)?, row.try_get(4)?);
        if kind == "lot" {
            lots.push(BackdatedLot { lot_id: id, sku, received_date: date, first_affected_run });
        } else {
            sales.push(BackdatedSale { sale_id: id, sku, sale_date: date, first_affected_run });
        }
    }
    Ok((lots, sales))
}
