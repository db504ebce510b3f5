//! Sales: loading files in batches, and reading uncosted sales (those after their
//! SKU's watermark) in costing order.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tokio_postgres::Row;
use uuid::Uuid;

use super::settings::DEFAULT_LOCATION;
use super::watermarks::HAS_UNCOSTED;
use super::{DbError, Param, TenantTx};
use crate::ingest::RowError;
use crate::model::{LotId, Sale, SaleId, Sku};

impl TryFrom<&Row> for Sale {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        Ok(Sale {
            sale_id: SaleId::parse(row.try_get::<_, String>("sale_id")?).map_err(DbError::corrupt("sale_id"))?,
            sku: Sku::parse(row.try_get::<_, String>("sku")?).map_err(DbError::corrupt("sku"))?,
            sale_date: row.try_get("sale_date")?,
            quantity_sold: row.try_get("quantity_sold")?,
            lot_id: row
                .try_get::<_, Option<String>>("lot_id")?
                .map(LotId::parse)
                .transpose()
                .map_err(DbError::corrupt("lot_id"))?,
            location: super::location_of(row, "location")?,
        })
    }
}

/// Inserts one batch of a file's numbered sales, in one statement, and returns how
/// many were new. A sale whose id is already loaded is left as it is (the caller
/// tells an identical row from a conflict with [`sales_batch_problems`] when fewer
/// were new than sent). Each new SKU gets its watermark row, and each SKU's row knows
/// its latest sale; a new sale at or before its SKU's watermark marks the SKU
/// backdated there, and any new sale marks a SKU with movements besides lots and sales
/// (it is costed whole again). A sale that names its lot, or leaves from another
/// location than the tenant's default, makes its SKU one costed whole (marked from its
/// earliest new sale). The caller holds the tenant's lock ([`super::lock_tenant`]), so no
/// other statement adds the same SKU's row meanwhile.
pub async fn insert_sales_batch(tx: &TenantTx, upload_id: Uuid, batch: &[(u64, Sale)]) -> Result<u64, DbError> {
    let columns = SaleColumns::of(batch);
    let row = tx
        .query_one(
            &format!(
                r"with inserted as (
                  insert into sales (tenant_id, sale_id, sku, sale_date, quantity_sold, lot_id, location, upload_id,
                                     upload_row)
                  select $1, i.sale_id, i.sku, i.sale_date, i.quantity_sold, i.lot_id, i.location, $2, i.upload_row
                  from unnest($3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::numeric[], $8::text[],
                              $9::text[])
                       as i(upload_row, sale_id, sku, sale_date, quantity_sold, lot_id, location)
                  order by i.sale_id, i.upload_row
                  on conflict (tenant_id, sale_id) do nothing
                  returning sku, sale_date, sale_id, lot_id, location
              ),
              earliest as (
                  select distinct on (sku) sku, sale_date, sale_id from inserted order by sku, sale_date, sale_id
              ),
              latest as (
                  select distinct on (sku) sku, sale_date, sale_id
                  from inserted
                  order by sku, sale_date desc, sale_id desc
              ),
              counted as (
                  select sku, count(*) as sales from inserted group by sku
              ),
              -- A SKU with a sale that names its lot, or leaves from another location than
              -- the tenant's default, is costed whole from now on: specific identification
              -- draws on the named lot, and FIFO runs per location, neither of which the
              -- FIFO allocator reads.
              named as (
                  select distinct sku from inserted
                  where lot_id is not null
                     or location <> {DEFAULT_LOCATION}
              ),
              new_skus as (
                  insert into sku_watermarks (tenant_id, sku, last_sale_date, last_sale_id, sales, movements,
                                              allocator_fits, rewind_date, rewind_sale_id, backdated_kind, backdated_id)
                  select $1, l.sku, l.sale_date, l.sale_id, c.sales, n.sku is not null, n.sku is null,
                         case when n.sku is not null then e.sale_date end,
                         case when n.sku is not null then e.sale_id end,
                         case when n.sku is not null then 'sale' end,
                         case when n.sku is not null then e.sale_id end
                  from latest l
                  join earliest e on e.sku = l.sku
                  join counted c on c.sku = l.sku
                  left join named n on n.sku = l.sku
                  where not exists (select 1 from sku_watermarks w where w.sku = l.sku)
              ),
              known as (
                  select w.sku, e.sale_date as first_date, e.sale_id as first_sale_id,
                         l.sale_date as last_date, l.sale_id as last_sale_id, c.sales,
                         n.sku is not null as named,
                         w.last_sale_date is null
                             or (l.sale_date, l.sale_id) > (w.last_sale_date, w.last_sale_id) as later,
                         (coalesce((e.sale_date, e.sale_id) <= (w.costed_date, w.costed_sale_id), false)
                          or w.movements or n.sku is not null)
                             and (w.rewind_date is null
                                  or (e.sale_date, e.sale_id) < (w.rewind_date, w.rewind_sale_id)) as backdated
                  from sku_watermarks w
                  join earliest e on e.sku = w.sku
                  join latest l on l.sku = w.sku
                  join counted c on c.sku = w.sku
                  left join named n on n.sku = w.sku
              ),
              known_skus as (
                  update sku_watermarks w
                  set last_sale_date = case when k.later then k.last_date else w.last_sale_date end,
                      last_sale_id = case when k.later then k.last_sale_id else w.last_sale_id end,
                      sales = w.sales + k.sales,
                      movements = w.movements or k.named,
                      allocator_fits = w.allocator_fits and not k.named,
                      rewind_date = case when k.backdated then k.first_date else w.rewind_date end,
                      rewind_sale_id = case when k.backdated then k.first_sale_id else w.rewind_sale_id end,
                      backdated_kind = case when k.backdated then 'sale' else w.backdated_kind end,
                      backdated_id = case when k.backdated then k.first_sale_id else w.backdated_id end
                  from known k
                  where w.sku = k.sku
              )
              select count(*) from inserted"
            ),
            &columns.params(&[&tx.tenant_id().as_str(), &upload_id]),
        )
        .await?;
    Ok(row.try_get::<_, i64>(0)?.unsigned_abs())
}

/// The sales of a batch that were not inserted for a reason: an id used on an earlier
/// row of the same file, or an id already loaded with other values. Identical rows
/// already loaded are no problem. Run after [`insert_sales_batch`], in row order.
pub async fn sales_batch_problems(
    tx: &TenantTx,
    upload_id: Uuid,
    batch: &[(u64, Sale)],
) -> Result<Vec<BatchProblem>, DbError> {
    let columns = SaleColumns::of(batch);
    let rows = tx
        .query(
            r"with incoming as (
                  select * from unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::numeric[], $7::text[],
                                       $8::text[])
                       as i(upload_row, sale_id, sku, sale_date, quantity_sold, lot_id, location)
              )
              select i.upload_row, i.sale_id, case when s.upload_id = $1 then s.upload_row end
              from incoming i join sales s on s.sale_id = i.sale_id
              where (s.upload_id = $1 and s.upload_row <> i.upload_row)
                 or (s.upload_id <> $1
                     and (s.sku, s.sale_date, s.quantity_sold, s.lot_id, s.location)
                         is distinct from (i.sku, i.sale_date, i.quantity_sold, i.lot_id, i.location))
              union
              select upload_row, sale_id, first_row
              from (select upload_row, sale_id, min(upload_row) over (partition by sale_id) as first_row from incoming) d
              where upload_row <> first_row
              order by 1",
            &columns.params(&[&upload_id]),
        )
        .await?;
    rows.iter().map(BatchProblem::try_from).collect()
}

/// A batch of sales as the columns of one statement.
struct SaleColumns<'a> {
    rows: Vec<i64>,
    sale_ids: Vec<&'a str>,
    skus: Vec<&'a str>,
    sale_dates: Vec<DateTime<Utc>>,
    quantities: Vec<Decimal>,
    lot_ids: Vec<Option<&'a str>>,
    locations: Vec<&'a str>,
}

impl<'a> SaleColumns<'a> {
    fn of(batch: &'a [(u64, Sale)]) -> Self {
        Self {
            rows: batch.iter().map(|(row, _)| i64::try_from(*row).unwrap_or(i64::MAX)).collect(),
            sale_ids: batch.iter().map(|(_, sale)| sale.sale_id.as_str()).collect(),
            skus: batch.iter().map(|(_, sale)| sale.sku.as_str()).collect(),
            sale_dates: batch.iter().map(|(_, sale)| sale.sale_date).collect(),
            quantities: batch.iter().map(|(_, sale)| sale.quantity_sold).collect(),
            lot_ids: batch.iter().map(|(_, sale)| sale.lot_id.as_ref().map(LotId::as_str)).collect(),
            locations: batch.iter().map(|(_, sale)| sale.location.as_str()).collect(),
        }
    }

    /// `leading` followed by the columns, in the order the statements number them.
    fn params(&'a self, leading: &[&'a dyn Param]) -> Vec<&'a dyn Param> {
        let columns: [&'a dyn Param; 7] = [
            &self.rows,
            &self.sale_ids,
            &self.skus,
            &self.sale_dates,
            &self.quantities,
            &self.lot_ids,
            &self.locations,
        ];
        leading.iter().copied().chain(columns).collect()
    }
}

/// Up to `limit` uncosted sales, in costing order (sku, sale_date, sale_id), of the
/// SKUs of lots and sales only (a SKU with other movements is costed whole, by
/// [`super::load_movement_inputs`]) from `from_sku` on that `run_id` has not parked. A sale is uncosted when it
/// comes after its SKU's watermark; only SKUs whose latest sale is after their
/// watermark are looked into, each from its watermark on through the
/// `sales_costing_order` index, so neither costed history nor SKUs without new sales
/// are read.
pub async fn load_uncosted(
    tx: &TenantTx,
    run_id: Uuid,
    from_sku: Option<&str>,
    limit: i64,
) -> Result<Vec<Sale>, DbError> {
    let rows = tx
        .query(
            &format!(
                r"select s.sale_id, s.sku, s.sale_date, s.quantity_sold, s.lot_id, s.location
              from sku_watermarks w
              cross join lateral (
                  select s.sale_id, s.sku, s.sale_date, s.quantity_sold, s.lot_id, s.location from sales s
                  where s.sku = w.sku
                    and (s.sale_date, s.sale_id)
                        > (coalesce(w.costed_date, '-infinity'), coalesce(w.costed_sale_id, ''))
                  order by s.sale_date, s.sale_id
                  limit $2
              ) s
              where w.sku >= coalesce($1, '') and {HAS_UNCOSTED} and not w.movements
                and not exists (select 1 from cogs_run_shortfalls p where p.run_id = $3 and p.sku = w.sku)
              order by w.sku, s.sale_date, s.sale_id
              limit $2"
            ),
            &[&from_sku, &limit, &run_id],
        )
        .await?;
    rows.iter().map(Sale::try_from).collect()
}

/// Up to this many SKUs with new sales, [`count_uncosted`] counts them SKU by SKU.
const FEW_SKUS_TO_COUNT: i64 = 1_000;

/// How many sales come after their SKU's watermark. A few SKUs' sales are counted SKU
/// by SKU through the `sales_costing_order` index (an aggregate per SKU, which the
/// planner cannot turn into a scan of every sale: it did, overestimating the SKUs, and
/// one late lot's run spent 121 ms here); many are joined with one scan, which is then
/// cheaper than thousands of index ranges.
pub async fn count_uncosted(tx: &TenantTx) -> Result<i64, DbError> {
    let skus: i64 =
        tx.query_one(&format!("select count(*) from sku_watermarks w where {HAS_UNCOSTED}"), &[]).await?.try_get(0)?;
    let (total, uncosted) = if skus <= FEW_SKUS_TO_COUNT {
        ("coalesce(sum(s.sales), 0)::bigint", "select count(*) as sales from sales s")
    } else {
        ("count(*)", "select 1 from sales s")
    };
    Ok(tx
        .query_one(
            &format!(
                r"select {total}
              from sku_watermarks w
              cross join lateral (
                  {uncosted}
                  where s.sku = w.sku
                    and (s.sale_date, s.sale_id)
                        > (coalesce(w.costed_date, '-infinity'), coalesce(w.costed_sale_id, ''))
              ) s
              where {HAS_UNCOSTED}"
            ),
            &[],
        )
        .await?
        .try_get(0)?)
}

/// A row of an incoming file that cannot be loaded: its id was used on an earlier row
/// of the file (`first_row`), or, when `first_row` is `None`, it is already loaded with
/// other values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchProblem {
    pub row: u64,
    pub id: String,
    pub first_row: Option<u64>,
}

/// From (upload_row, id, the earlier row of the same file or null).
impl TryFrom<&Row> for BatchProblem {
    type Error = DbError;
    fn try_from(row: &Row) -> Result<Self, DbError> {
        Ok(Self {
            row: row.try_get::<_, i64>(0)?.unsigned_abs(),
            id: row.try_get(1)?,
            first_row: row.try_get::<_, Option<i64>>(2)?.map(i64::unsigned_abs),
        })
    }
}

/// The sales a run costed, in costing order.
pub async fn load_sales_of_run(tx: &TenantTx, run_id: Uuid) -> Result<Vec<Sale>, DbError> {
    let rows = tx
        .query(
            r"select sale_id, sku, sale_date, quantity_sold, lot_id, location from sales
              where sale_id in (select sale_id from cogs_allocations where run_id = $1)
              order by sale_date, sale_id",
            &[&run_id],
        )
        .await?;
    rows.iter().map(Sale::try_from).collect()
}

/// The rows of a batch whose `lot_id` names no loaded lot, or a lot of another SKU.
pub async fn sale_reference_problems(tx: &TenantTx, batch: &[(u64, Sale)]) -> Result<Vec<RowError>, DbError> {
    let columns = SaleColumns::of(batch);
    super::movements::named_lot_problems(tx, &columns.rows, &columns.skus, &columns.lot_ids).await
}
