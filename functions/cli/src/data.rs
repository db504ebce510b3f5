//! `cogs migrate`, `cogs upload`, `cogs inventory`.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use clap::Args;
use cogs_core::db::UploadRow;
use cogs_core::ingest::RecordKind;
use cogs_core::service::{self, ServiceError, StagedLoad};
use cogs_core::staging::{Staging, Store};

use crate::CommandResult;
use crate::args::{Scope, StagingArgs, Tenant};
use crate::output::{Failure, OutputFormat, cents, print_json, table};

#[derive(Args)]
pub struct MigrateArgs {
    /// The database as its owner role. Also read from COGS_MIGRATION_DATABASE_URL.
    #[arg(long, env = "COGS_MIGRATION_DATABASE_URL", hide_env_values = true)]
    database_url: String,
}

pub async fn migrate(args: &MigrateArgs) -> CommandResult {
    let applied = cogs_core::db::migrate(&args.database_url).await.map_err(ServiceError::from)?;
    if applied.is_empty() {
        println!("the database is up to date");
    }
    for name in applied {
        println!("applied {name}");
    }
    Ok(())
}

#[derive(Args)]
pub struct UploadArgs {
    /// What the file holds: lots, sales, returns, supplier_returns, adjustments, counts, landed_costs or transfers.
    kind: RecordKind,
    /// The CSV file.
    file: PathBuf,
    /// Stage the file in the bucket (--bucket, --s3-endpoint) and load it from there, as
    /// a large upload through a presigned URL is loaded.
    #[arg(long)]
    via_s3: bool,
    #[command(flatten)]
    staging: StagingArgs,
    #[command(flatten)]
    pub scope: Scope,
}

/// Opens an input file for streaming.
pub fn open(path: &Path) -> Result<BufReader<File>, Failure> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|source| Failure::InputFile { path: path.display().to_string(), source })
}

/// Loads one file and prints what happened.
pub async fn load_file(
    pool: &deadpool_postgres::Pool,
    tenant: &Tenant,
    kind: RecordKind,
    path: &Path,
    format: OutputFormat,
) -> Result<UploadRow, Failure> {
    let file_name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let upload = service::upload(pool, &tenant.caller(), kind, &file_name, open(path)?).await?;
    if format == OutputFormat::Table {
        eprintln!(
            "loaded {} {}: {} rows, {} new, {} already loaded (upload {})",
            kind, file_name, upload.rows_received, upload.rows_inserted, upload.rows_unchanged, upload.upload_id
        );
    }
    Ok(upload)
}

#[derive(Args)]
pub struct TemplateArgs {
    /// The kind of file: lots, sales, returns, supplier_returns, adjustments, counts, landed_costs or transfers.
    kind: RecordKind,
}

/// Prints the CSV template of a kind of file: its header and example rows.
pub fn template(args: &TemplateArgs) -> CommandResult {
    print!("{}", args.kind.template());
    Ok(())
}

pub async fn upload(args: &UploadArgs) -> CommandResult {
    let pool = args.scope.database.pool()?;
    let upload = if args.via_s3 {
        load_via_staging(&pool, &args.staging, &args.scope.tenant, args.kind, &args.file).await?
    } else {
        load_file(&pool, &args.scope.tenant, args.kind, &args.file, args.scope.output.format).await?
    };
    if args.scope.output.format == OutputFormat::Json {
        print_json(&upload);
    }
    Ok(())
}

/// The large-file path: a pending upload, the file put under its staged key, then
/// loaded from the store exactly as the bucket's object-created event loads it (in AWS
/// the event arrives too, and finds the work done).
async fn load_via_staging(
    pool: &deadpool_postgres::Pool,
    staging: &StagingArgs,
    tenant: &Tenant,
    kind: RecordKind,
    path: &Path,
) -> Result<UploadRow, Failure> {
    let staging = staging.store().await;
    if matches!(staging, Store::Local(_)) {
        return Err(Failure::Refused {
            kind: "bucket_required",
            message: "--via-s3 needs COGS_BUCKET (and COGS_S3_ENDPOINT for a local S3 server)".into(),
        });
    }
    let size = std::fs::metadata(path)
        .map_err(|source| Failure::InputFile { path: path.display().to_string(), source })?
        .len();
    let file_name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let pending = service::create_upload(pool, &staging, &tenant.caller(), kind, &file_name, size).await?;
    let key = pending.upload.object_key.clone().unwrap_or_default();
    staging.put_file(&key, path).await.map_err(|e| Failure::Service(ServiceError::Staging(e)))?;
    eprintln!("staged {} as {key}", path.display());
    match service::load_staged(pool, &staging, &key, &tenant.actor).await? {
        StagedLoad::Loaded { upload, .. } | StagedLoad::AlreadyDone { upload } => Ok(upload),
    }
}

#[derive(Args)]
pub struct InventoryArgs {
    /// Only this SKU.
    #[arg(long)]
    sku: Option<String>,
    #[command(flatten)]
    pub scope: Scope,
}

pub async fn inventory(args: &InventoryArgs) -> CommandResult {
    let pool = args.scope.database.pool()?;
    let report = service::inventory(&pool, &args.scope.tenant.tenant_id, args.sku.as_deref()).await?;
    if args.scope.output.format == OutputFormat::Json {
        print_json(&report);
        return Ok(());
    }
    let mut skus = table(&["sku", "lots", "remaining", "value"], &[1, 2, 3]);
    for sku in &report.skus {
        skus.add_row(vec![
            sku.sku.clone(),
            sku.lots.to_string(),
            sku.remaining_quantity.normalize().to_string(),
            cents(sku.remaining_value),
        ]);
    }
    let mut lots =
        table(&["lot", "sku", "received (UTC)", "original", "remaining", "unit cost", "value"], &[3, 4, 5, 6]);
    for lot in &report.lots {
        lots.add_row(vec![
            lot.lot_id.to_string(),
            lot.sku.to_string(),
            lot.received_date.format("%Y-%m-%d %H:%M").to_string(),
            lot.original_quantity.normalize().to_string(),
            lot.remaining_quantity.normalize().to_string(),
            lot.unit_cost.normalize().to_string(),
            cents(lot.remaining_value),
        ]);
    }
    println!("Inventory by SKU\n{skus}\n\nLots\n{lots}\n");
    println!(
        "Total remaining: {} units worth {}",
        report.remaining_quantity.normalize(),
        cents(report.remaining_value)
    );
    Ok(())
}
