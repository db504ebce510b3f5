//! Helpers shared by the test packages: a fresh PostgreSQL database per test, cloned
//! from the template `scripts/setup-db.sh --test` migrates once per test run, with the
//! code under test connected as the application role (which has no BYPASSRLS: a
//! superuser or owner would skip row-level security and prove nothing).
#![expect(clippy::unwrap_used, clippy::missing_panics_doc, reason = "test helpers fail the test loudly")]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use cogs_core::model::TenantId;
use cogs_core::service::Caller;
use tokio_postgres::NoTls;

pub mod api;
pub mod outage;

/// A small deterministic generator (xorshift64): the same sequence on every run.
pub struct Xorshift(pub u64);

impl Xorshift {
    /// The next value in `0..below`.
    pub fn below(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repository").to_path_buf()
}

/// A file under `examples/`.
pub fn example(name: &str) -> PathBuf {
    repo_root().join("examples").join(name)
}

/// The template every test database is cloned from.
pub const TEMPLATE: &str = "cogs_test_template";

fn server() -> String {
    let host = std::env::var("COGS_PGHOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::env::var("COGS_PGPORT").unwrap_or_else(|_| "5432".into());
    format!("{host}:{port}")
}

/// A URL for `role` (whose password, locally, is its name) to `database`, straight
/// to the server.
pub fn url(role: &str, database: &str) -> String {
    format!("postgres://{role}:{role}@{}/{database}", server())
}

/// A URL for `role` to `database` as the code under test connects: through the
/// transaction-mode pooler named by `COGS_TEST_POOLER` (host:port; scripts/test.sh
/// runs the database tests a second time through PgBouncer), else straight to the
/// server. Raw clients of the tests themselves use [`url`]: tokio-postgres's plain
/// `query` names its statements, which a transaction-mode pooler cannot carry.
pub fn pooled_url(role: &str, database: &str) -> String {
    match std::env::var("COGS_TEST_POOLER") {
        Ok(pooler) => format!("postgres://{role}:{role}@{pooler}/{database}"),
        Err(_) => url(role, database),
    }
}

/// Whether the code under test connects through a transaction-mode pooler.
pub fn through_pooler() -> bool {
    std::env::var_os("COGS_TEST_POOLER").is_some()
}

/// Every table that holds tenant rows.
pub const TENANT_TABLES: [&str; 23] = [
    "tenants",
    "uploads",
    "lots",
    "sales",
    "cogs_runs",
    "cogs_allocations",
    "inventory_snapshots",
    "sku_watermarks",
    "watermark_snapshots",
    "cogs_supersessions",
    "cogs_superseded_ranges",
    "cogs_run_shortfalls",
    "cogs_run_sku_outputs",
    "customer_returns",
    "supplier_returns",
    "adjustments",
    "stock_counts",
    "landed_costs",
    "cogs_movements",
    "cogs_layers",
    "tenant_settings",
    "validation_errors",
    "audit_log",
];

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A database of its own for one test. Dropped when the test passes; kept, with its
/// name printed, when it fails.
pub struct TestDb {
    pub name: String,
    /// The application role's pool: what the code under test uses.
    pub pool: deadpool_postgres::Pool,
}

impl TestDb {
    pub async fn new() -> Self {
        let name = format!("cogs_test_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let admin = connect(&url("cogs_owner", "postgres")).await;
        admin.batch_execute(&format!("create database {name} template {TEMPLATE}")).await.unwrap_or_else(|e| {
            panic!("cannot clone {TEMPLATE} ({e}); run scripts/setup-db.sh --test (scripts/test.sh does)")
        });
        let pool = cogs_core::db::connect(&pooled_url("cogs_api", &name), 4, None).unwrap();
        Self { name, pool }
    }

    /// The application role's URL for this database, as the code under test connects
    /// ([`pooled_url`]).
    pub fn app_url(&self) -> String {
        pooled_url("cogs_api", &self.name)
    }

    /// The maintenance role's URL for this database, as the code under test connects.
    pub fn maintenance_url(&self) -> String {
        pooled_url("cogs_maint", &self.name)
    }

    /// A raw connection as the application role, straight to the server.
    pub async fn app(&self) -> tokio_postgres::Client {
        connect(&url("cogs_api", &self.name)).await
    }

    /// A raw connection as the schema owner (for faults like a trigger that fails).
    pub async fn owner(&self) -> tokio_postgres::Client {
        connect(&url("cogs_owner", &self.name)).await
    }

    /// A raw connection as the maintenance role.
    pub async fn maintenance(&self) -> tokio_postgres::Client {
        connect(&url("cogs_maint", &self.name)).await
    }

    /// Every row of every tenant table, as text, for "nothing changed" comparisons,
    /// read tenant by tenant as the application role.
    pub async fn contents(&self, tenants: &[&str]) -> BTreeMap<String, Vec<String>> {
        let app = self.app().await;
        let mut contents = BTreeMap::new();
        for tenant in tenants {
            app.batch_execute("begin").await.unwrap();
            app.query("select set_config('app.tenant_id', $1, true)", &[tenant]).await.unwrap();
            for table in TENANT_TABLES {
                let rows = app.query(&format!("select t::text from {table} t order by t::text"), &[]).await.unwrap();
                let key = format!("{tenant}.{table}");
                contents.insert(key, rows.iter().map(|row| row.get::<_, String>(0)).collect());
            }
            app.batch_execute("rollback").await.unwrap();
        }
        contents
    }

    /// The data tables only (what a rejected file or failed run must not change).
    pub async fn data(&self, tenants: &[&str]) -> BTreeMap<String, Vec<String>> {
        let mut contents = self.contents(tenants).await;
        contents.retain(|key, _| {
            [
                "lots",
                "sales",
                "cogs_allocations",
                "inventory_snapshots",
                "sku_watermarks",
                "watermark_snapshots",
                "customer_returns",
                "supplier_returns",
                "adjustments",
                "stock_counts",
                "landed_costs",
                "cogs_movements",
                "cogs_layers",
            ]
            .iter()
            .any(|t| key.ends_with(&format!(".{t}")))
        });
        contents
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: kept database {} for inspection", self.name);
            return;
        }
        self.pool.close();
        let name = self.name.clone();
        // Drop cannot await; a short-lived runtime on its own thread can.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let admin = connect(&url("cogs_owner", "postgres")).await;
                admin.batch_execute(&format!("drop database if exists {name} with (force)")).await.ok();
            });
        })
        .join()
        .ok();
    }
}

/// Connects and drives the connection in the background.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) =
        tokio_postgres::connect(url, NoTls).await.unwrap_or_else(|e| panic!("connect {url}: {e}"));
    tokio::spawn(connection);
    client
}

pub fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).unwrap()
}

pub fn caller(id: &str) -> Caller {
    Caller::new(tenant(id), "test")
}

/// A lots CSV from `lot_id,sku,received_date,original,remaining,price,freight` rows.
pub fn lots_csv(rows: &[&str]) -> String {
    let mut csv = String::from(
        "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit\n",
    );
    for row in rows {
        csv.push_str(row);
        csv.push('\n');
    }
    csv
}

/// A sales CSV from `sale_id,sku,sale_date,quantity_sold` rows.
pub fn sales_csv(rows: &[&str]) -> String {
    let mut csv = String::from("sale_id,sku,sale_date,quantity_sold\n");
    for row in rows {
        csv.push_str(row);
        csv.push('\n');
    }
    csv
}

/// Loads a lots file and a sales file for `tenant` (either may be empty to skip it).
pub async fn load(db: &TestDb, tenant: &str, lots: &str, sales: &str) {
    use cogs_core::ingest::RecordKind;
    use cogs_core::service::upload;
    if !lots.is_empty() {
        upload(&db.pool, &caller(tenant), RecordKind::Lots, "lots.csv", lots.as_bytes()).await.unwrap();
    }
    if !sales.is_empty() {
        upload(&db.pool, &caller(tenant), RecordKind::Sales, "sales.csv", sales.as_bytes()).await.unwrap();
    }
}

/// Loads the bundled examples for `tenant`.
pub async fn load_examples(db: &TestDb, tenant: &str) {
    let lots = std::fs::read_to_string(example("lots.csv")).unwrap();
    let sales = std::fs::read_to_string(example("sales.csv")).unwrap();
    load(db, tenant, &lots, &sales).await;
}

/// Starts a run and advances it to the end in chunks of `chunk_size`.
pub async fn run_to_end(
    db: &TestDb,
    tenant: &str,
    chunk_size: usize,
) -> Result<cogs_core::db::RunRow, cogs_core::service::ServiceError> {
    use cogs_core::service::{ChunkBudget, advance_run, start_run};
    let run = start_run(&db.pool, &caller(tenant), None, Some(cogs_core::model::ShortfallPolicy::Fail)).await?;
    advance_run(&db.pool, &caller(tenant), run.run_id, &ChunkBudget::unlimited(chunk_size)).await?;
    run_row(db, tenant, run.run_id).await
}

/// A run as stored.
pub async fn run_row(
    db: &TestDb,
    tenant: &str,
    run_id: uuid::Uuid,
) -> Result<cogs_core::db::RunRow, cogs_core::service::ServiceError> {
    Ok(cogs_core::service::show_run(&db.pool, &self::tenant(tenant), run_id).await?.run)
}

/// A run's allocations as `sale lot quantity unit_cost extended_cost` lines, in costing order.
pub async fn allocations(db: &TestDb, tenant: &str, run_id: uuid::Uuid) -> Vec<String> {
    let tx = cogs_core::db::begin(&db.pool, &self::tenant(tenant)).await.unwrap();
    let allocations = cogs_core::db::load_allocations(&tx, run_id).await.unwrap();
    tx.rollback().await.unwrap();
    allocations
        .iter()
        .map(|a| {
            format!(
                "{} {} {} {} {}",
                a.sale_id,
                a.lot_id,
                a.quantity.normalize(),
                a.unit_cost.normalize(),
                a.extended_cost.normalize()
            )
        })
        .collect()
}

/// Each lot's remaining quantity, `lot=remaining`, by lot id.
pub async fn remaining(db: &TestDb, tenant: &str) -> Vec<String> {
    let report = cogs_core::service::inventory(&db.pool, &self::tenant(tenant), None).await.unwrap();
    let mut lots: Vec<String> =
        report.lots.iter().map(|lot| format!("{}={}", lot.lot_id, lot.remaining_quantity.normalize())).collect();
    lots.sort();
    lots
}

/// The local S3-protocol server `scripts/s3-local.sh` starts (moto), or
/// `COGS_TEST_S3_ENDPOINT`.
pub fn s3_endpoint() -> String {
    std::env::var("COGS_TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:5055".into())
}

/// A client of the local S3 server, with the static credentials it accepts.
pub fn s3_client() -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "testtesttest", None, None, "cogs-tests"))
        .endpoint_url(s3_endpoint())
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// A Secrets Manager client of the local server (moto speaks it too), with the static
/// credentials it accepts.
pub fn secrets_client() -> aws_sdk_secretsmanager::Client {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "testtesttest", None, None, "cogs-tests"))
        .endpoint_url(s3_endpoint())
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

/// A store on a fresh bucket of the local S3 server.
pub async fn s3_store() -> cogs_core::staging::S3Store {
    let client = s3_client();
    let bucket = format!("cogs-test-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("no S3 server at {} ({e}); run scripts/s3-local.sh", s3_endpoint()));
    cogs_core::staging::S3Store::new(client, bucket)
}

/// A function's context as its `main` builds it, on this test's database: the
/// configuration from `vars` over the defaults, the given staging store, runs costed
/// in the request (no state machine), no maintenance pool.
pub fn function_context(
    database_url: &str,
    vars: &[(&str, &str)],
    staging: cogs_core::staging::Store,
) -> cogs_core::lambda::Context {
    let config = cogs_core::lambda::Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
            .or_else(|| (name == "DATABASE_URL").then(|| database_url.to_owned()))
    })
    .unwrap();
    let pool = cogs_core::db::connect(database_url, config.pool_size, None).unwrap();
    cogs_core::lambda::Context {
        config,
        pool,
        staging,
        dispatch: cogs_core::lambda::RunDispatch::Inline,
        maintenance_pool: None,
    }
}

/// A local staging folder for tests that do not use S3.
pub fn local_staging() -> cogs_core::staging::Store {
    cogs_core::staging::Store::Local(cogs_core::staging::LocalFolder::new(std::env::temp_dir().join("cogs-tests")))
}

/// Checks, as the application role, that `tenant`'s books add up whatever happened
/// to them: `cogs verify` (every live allocation names a real sale and lot, each costed
/// sale is covered exactly, each lot's remaining quantity is its loaded one less its
/// live consumption, run totals, journals, and the book equals a fresh costing).
/// Panics naming every finding.
pub async fn assert_books_balance(db: &TestDb, tenant: &str) {
    match cogs_core::service::verify(&db.pool, &self::tenant(tenant)).await {
        Ok(_) => {}
        Err(cogs_core::service::ServiceError::BooksInconsistent(report)) => {
            panic!("{tenant}: the books break a rule: {:#?}", report.findings)
        }
        Err(other) => panic!("{tenant}: cannot verify the books: {other}"),
    }
}
