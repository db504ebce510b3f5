//! `cogs run`, `resume`, `list-runs`, `show-run`, `rollback`, `journal-entry`.

use std::fs::File;
use std::io::{BufWriter, Seek};
use std::path::PathBuf;

use chrono::NaiveDate;
use clap::Args;
use cogs_core::db::{RunRow, RunStatus};
use cogs_core::ingest::RecordKind;
use cogs_core::journal::{Account, Format, JournalConfig, LineDetail, Period};
use cogs_core::model::AccountKind;
use cogs_core::model::{Method, ShortfallPolicy};
use cogs_core::service::{self, ChunkBudget, DryRunInput, JournalOptions};
use indicatif::{ProgressBar, ProgressStyle};
use uuid::Uuid;

use crate::CommandResult;
use crate::args::{Database, Scope, Tenant};
use crate::data::{load_file, open};
use crate::output::{Failure, OutputFormat, cents, print_json, table};

fn run_id(value: &str) -> Result<Uuid, String> {
    value.parse().map_err(|_| format!("{value:?} is not a run id (a UUID, as cogs list-runs shows)"))
}

#[derive(Args)]
pub struct RunArgs {
    /// Sales to load before running.
    #[arg(long, value_name = "FILE")]
    sales_file: Option<PathBuf>,
    /// Lots to load before running (loaded before the sales).
    #[arg(long, value_name = "FILE")]
    lots_file: Option<PathBuf>,
    /// Customer returns to load before running (after the sales they name).
    #[arg(long, value_name = "FILE")]
    returns_file: Option<PathBuf>,
    /// Supplier returns to load before running.
    #[arg(long, value_name = "FILE")]
    supplier_returns_file: Option<PathBuf>,
    /// Adjustments to load before running.
    #[arg(long, value_name = "FILE")]
    adjustments_file: Option<PathBuf>,
    /// Stock counts to load before running.
    #[arg(long, value_name = "FILE")]
    counts_file: Option<PathBuf>,
    /// Landed costs to load before running (after the lots they name).
    #[arg(long, value_name = "FILE")]
    landed_costs_file: Option<PathBuf>,
    /// Transfers between locations to load before running.
    #[arg(long, value_name = "FILE")]
    transfers_file: Option<PathBuf>,
    /// The costing method; absent, the tenant's (`cogs settings --method`). Given, it
    /// must be the tenant's: a run refuses any other.
    #[arg(long, value_parser = crate::cost::method)]
    mode: Option<Method>,
    /// Validate and compute the result without writing anything.
    #[arg(long)]
    dry_run: bool,
    /// Fail the whole run (and undo it) on a sale the lots cannot cover, instead of
    /// parking that SKU and costing the others.
    #[arg(long)]
    strict: bool,
    /// Sales costed per transaction.
    #[arg(long, default_value_t = ChunkBudget::DEFAULT_CHUNK_SIZE)]
    chunk_size: usize,
    #[command(flatten)]
    pub scope: Scope,
}

impl RunArgs {
    /// The files to load, in the order they must be loaded: lots, sales, then the
    /// movements that name them.
    fn files(&self) -> impl Iterator<Item = (RecordKind, &PathBuf)> {
        [
            (RecordKind::Lots, &self.lots_file),
            (RecordKind::Sales, &self.sales_file),
            (RecordKind::Returns, &self.returns_file),
            (RecordKind::SupplierReturns, &self.supplier_returns_file),
            (RecordKind::Adjustments, &self.adjustments_file),
            (RecordKind::Counts, &self.counts_file),
            (RecordKind::LandedCosts, &self.landed_costs_file),
            (RecordKind::Transfers, &self.transfers_file),
        ]
        .into_iter()
        .filter_map(|(kind, path)| path.as_ref().map(|path| (kind, path)))
    }
}

pub async fn run(args: &RunArgs) -> CommandResult {
    let pool = args.scope.database.pool()?;
    let caller = args.scope.tenant.caller();
    // Without --strict, the tenant's setting decides (park, unless set otherwise).
    let on_shortfall = args.strict.then_some(ShortfallPolicy::Fail);
    if args.dry_run {
        let files = args
            .files()
            .map(|(kind, path)| Ok::<_, Failure>((kind, path.display().to_string(), open(path)?)))
            .collect::<Result<_, _>>()?;
        let input = DryRunInput { files };
        let report = service::dry_run(&pool, &caller, args.mode, on_shortfall, input, None).await?;
        match args.scope.output.format {
            OutputFormat::Json => print_json(&report),
            OutputFormat::Table => {
                println!("Dry run: nothing was written.\n");
                crate::cost::print_tables(&report.costing);
                if report.skus_recosted > 0 {
                    println!(
                        "Would re-cost {} SKU(s): {} sale(s) that cost {} before; difference {}",
                        report.skus_recosted,
                        report.sales_superseded,
                        cents(report.superseded_cogs),
                        cents(report.net_difference)
                    );
                }
            }
        }
        return Ok(());
    }
    for (kind, path) in args.files() {
        load_file(&pool, &args.scope.tenant, kind, path, args.scope.output.format).await?;
    }
    let run = service::start_run(&pool, &caller, args.mode, on_shortfall).await?;
    drive(&pool, &args.scope.tenant, run.run_id, args.chunk_size, args.scope.output.format).await
}

/// Advances a run chunk by chunk to the end, with a progress bar on a terminal, then
/// shows it.
async fn drive(
    pool: &deadpool_postgres::Pool,
    tenant: &Tenant,
    run_id: Uuid,
    chunk_size: usize,
    format: OutputFormat,
) -> CommandResult {
    let caller = tenant.caller();
    let bar = ProgressBar::hidden();
    if format == OutputFormat::Table {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} costing [{bar:40}] {pos}/{len} sales ({per_sec}, {eta} left)")
                .expect("the template is valid")
                .progress_chars("=> "),
        );
    }
    let one_chunk = ChunkBudget { chunk_size, deadline: None, max_chunks: Some(1) };
    loop {
        let progress = service::advance_run(pool, &caller, run_id, &one_chunk).await;
        let progress = match progress {
            Ok(progress) => progress,
            Err(error) => {
                bar.abandon();
                return Err(error.into());
            }
        };
        bar.set_length(progress.sales_total.max(0) as u64);
        bar.set_position(progress.sales_processed.max(0) as u64);
        if progress.done {
            break;
        }
    }
    bar.finish_and_clear();
    show_run(pool, tenant, run_id, format).await
}

#[derive(Args)]
pub struct ResumeArgs {
    /// The run to continue.
    #[arg(value_parser = run_id)]
    run_id: Uuid,
    #[arg(long, default_value_t = ChunkBudget::DEFAULT_CHUNK_SIZE)]
    chunk_size: usize,
    #[command(flatten)]
    pub scope: Scope,
}

pub async fn resume(args: &ResumeArgs) -> CommandResult {
    let pool = args.scope.database.pool()?;
    drive(&pool, &args.scope.tenant, args.run_id, args.chunk_size, args.scope.output.format).await
}

#[derive(Args)]
pub struct ListArgs {
    /// Only runs with this status: pending, running, completed, failed, rolled_back.
    #[arg(long)]
    status: Option<RunStatus>,
    /// How many runs (1 to 500).
    #[arg(long, default_value_t = 20)]
    limit: i64,
    /// Continue after a previous page (its next_cursor).
    #[arg(long)]
    cursor: Option<String>,
    #[command(flatten)]
    pub scope: Scope,
}

pub async fn list(args: &ListArgs) -> CommandResult {
    let pool = args.scope.database.pool()?;
    let page = service::list_runs(&pool, &args.scope.tenant.tenant_id, args.status, args.limit, args.cursor.as_deref())
        .await?;
    if args.scope.output.format == OutputFormat::Json {
        print_json(&page);
        return Ok(());
    }
    let mut runs = table(
        &["run", "status", "mode", "sales", "re-costed SKUs", "total cogs", "difference", "created (UTC)"],
        &[3, 4, 5, 6],
    );
    for run in &page.runs {
        runs.add_row(vec![
            run.run_id.to_string(),
            run.status.to_string(),
            run.mode.to_string(),
            format!("{}/{}", run.sales_processed, run.sales_total),
            run.skus_recosted.to_string(),
            cents(run.total_cogs),
            cents(run.net_difference),
            run.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        ]);
    }
    println!("{runs}");
    if let Some(cursor) = &page.next_cursor {
        println!("more: cogs list-runs --tenant-id {} --cursor {cursor}", args.scope.tenant.tenant_id);
    }
    Ok(())
}

#[derive(Args)]
pub struct ShowArgs {
    #[arg(value_parser = run_id)]
    run_id: Uuid,
    #[command(flatten)]
    pub scope: Scope,
}

pub async fn show(args: &ShowArgs) -> CommandResult {
    let pool = args.scope.database.pool()?;
    show_run(&pool, &args.scope.tenant, args.run_id, args.scope.output.format).await
}

async fn show_run(
    pool: &deadpool_postgres::Pool,
    tenant: &Tenant,
    run_id: Uuid,
    format: OutputFormat,
) -> CommandResult {
    let detail = service::show_run(pool, &tenant.tenant_id, run_id).await?;
    if format == OutputFormat::Json {
        print_json(&detail);
        return Ok(());
    }
    print_run(&detail.run);
    for error in &detail.validation_errors {
        let about = error.sale_id.as_deref().map(|id| format!(" (sale {id})")).unwrap_or_default();
        println!("  {}{about}: {}", error.error_type, error.message);
    }
    crate::cost::print_shortfalls(&detail.shortfalls);
    Ok(())
}

fn print_run(run: &RunRow) {
    let time = |at: Option<chrono::DateTime<chrono::Utc>>| at.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string());
    println!("run          {}", run.run_id);
    println!("status       {}", run.status);
    println!("mode         {}", run.mode);
    println!("sales        {} of {} costed in {} chunk(s)", run.sales_processed, run.sales_total, run.chunks_applied);
    println!("allocations  {}", run.allocations_count);
    println!("quantity     {}", run.total_quantity.normalize());
    println!("total COGS   {} (exact {})", cents(run.total_cogs), run.total_cogs.normalize());
    if run.skus_recosted > 0 {
        println!(
            "re-costed    {} SKU(s); {} sale(s) re-costed had cost {} before",
            run.skus_recosted,
            run.sales_superseded,
            cents(run.superseded_cogs)
        );
    }
    println!(
        "difference   {} (exact {}): what the journal posts",
        cents(run.net_difference),
        run.net_difference.normalize()
    );
    if run.skus_parked > 0 {
        println!("parked       {} SKU(s) for want of stock; their sales wait for the next run", run.skus_parked);
    }
    println!("created      {} by {}", run.created_at.format("%Y-%m-%d %H:%M:%S UTC"), run.created_by);
    for (label, at) in [("completed", run.completed_at), ("rolled back", run.rolled_back_at)] {
        if let Some(at) = time(at) {
            println!("{label:<12} {at}");
        }
    }
    if let Some(message) = &run.error_message {
        println!("error        {message}");
    }
}

#[derive(Args)]
pub struct RollbackArgs {
    #[arg(value_parser = run_id)]
    run_id: Uuid,
    /// Required: rolling back changes inventory.
    #[arg(long)]
    confirm: bool,
    /// Also roll back later runs that rest on this one, newest first.
    #[arg(long)]
    cascade: bool,
    #[command(flatten)]
    pub scope: Scope,
}

pub async fn rollback(args: &RollbackArgs) -> CommandResult {
    if !args.confirm {
        return Err(Failure::Refused {
            kind: "confirmation_required",
            message: format!(
                "rolling back run {} restores the lots it used and uncosts its sales; add --confirm to go ahead",
                args.run_id
            ),
        });
    }
    let pool = args.scope.database.pool()?;
    let runs = service::rollback_run(&pool, &args.scope.tenant.caller(), args.run_id, args.cascade).await?;
    if args.scope.output.format == OutputFormat::Json {
        print_json(&serde_json::json!({ "rolled_back": runs }));
        return Ok(());
    }
    for run in &runs {
        println!(
            "rolled back run {} ({} sales uncosted, {} of COGS reversed)",
            run.run_id,
            run.sales_processed,
            cents(run.total_cogs)
        );
    }
    Ok(())
}

#[derive(Args)]
pub struct JournalArgs {
    #[arg(value_parser = run_id)]
    run_id: Uuid,
    /// csv, json, iif (QuickBooks Desktop), xero (manual journal CSV), qbo (QuickBooks Online JSON).
    #[arg(long, default_value = "csv")]
    format: Format,
    /// Write to this file instead of standard output.
    #[arg(long)]
    output_file: Option<PathBuf>,
    /// One journal per day, per month, or for the whole run (default: the tenant's setting, else day).
    #[arg(long)]
    period: Option<Period>,
    /// A line pair per SKU, or one pair per journal (default: the tenant's setting, else sku).
    #[arg(long)]
    lines: Option<LineDetail>,
    /// For a rolled-back run: the date to post the reversal on (default: the rollback's date).
    #[arg(long)]
    reversal_date: Option<NaiveDate>,
    /// The deployment's COGS account as CODE:NAME (a tenant's own account goes over it).
    #[arg(long, env = "COGS_COGS_ACCOUNT", default_value = "5000:Cost of Goods Sold")]
    cogs_account: Account,
    /// The deployment's inventory account as CODE:NAME (a tenant's own account goes over it).
    #[arg(long, env = "COGS_INVENTORY_ACCOUNT", default_value = "1400:Inventory")]
    inventory_account: Account,
    /// The deployment's tax rate name on Xero lines (a tenant's own goes over it).
    #[arg(long, env = "COGS_XERO_TAX_RATE", default_value = "Tax Exempt")]
    xero_tax_rate: String,
    #[command(flatten)]
    tenant: Tenant,
    #[command(flatten)]
    database: Database,
}

pub async fn journal_entry(args: &JournalArgs) -> CommandResult {
    let pool = args.database.pool()?;
    let mut config = JournalConfig { xero_tax_rate: args.xero_tax_rate.clone(), ..JournalConfig::default() };
    config.chart.accounts.insert(AccountKind::Cogs, args.cogs_account.clone());
    config.chart.accounts.insert(AccountKind::Inventory, args.inventory_account.clone());
    let options = JournalOptions { period: args.period, detail: args.lines, reversal_date: args.reversal_date };
    let export =
        service::journal_entry(&pool, &args.tenant.tenant_id, args.run_id, options, args.format, &config).await?;
    match &args.output_file {
        Some(path) => {
            let failure = |source| Failure::OutputFile { path: path.display().to_string(), source };
            let mut file = BufWriter::new(File::create(path).map_err(failure)?);
            export.write_to(&mut file).map_err(failure)?;
            let bytes = file.into_inner().map_err(|error| failure(error.into_error()))?.stream_position();
            eprintln!("wrote {} ({} bytes)", path.display(), bytes.map_err(failure)?);
        }
        None => export
            .write_to(BufWriter::new(std::io::stdout().lock()))
            .map_err(|source| Failure::OutputFile { path: "standard output".into(), source })?,
    }
    Ok(())
}
