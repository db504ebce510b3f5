//! `cogs`: the operators' command-line tool. Each command parses its arguments, calls
//! one use case of `cogs-core`, and prints a table for people or JSON for scripts.
//! The verbs and flags follow the operations runbook.

mod args;
mod book;
mod cost;
mod data;
mod maintain;
mod output;
mod report;
mod runs;
mod settings;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use output::{Failure, OutputFormat};

#[derive(Parser)]
#[command(name = "cogs", version, about = "FIFO cost of goods sold: cost sales against inventory lots")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply the database migrations (as the owner role).
    Migrate(data::MigrateArgs),
    /// Load a CSV file of one kind (lots, sales, returns, supplier_returns, adjustments, counts,
    /// landed_costs, transfers) for a tenant: all rows or none.
    Upload(data::UploadArgs),
    /// Print the CSV template of a kind of file.
    Template(data::TemplateArgs),
    /// Load the given files, then cost every uncosted sale by FIFO, to completion.
    Run(runs::RunArgs),
    /// Continue an interrupted run from where it stopped.
    Resume(runs::ResumeArgs),
    /// List a tenant's runs, newest first.
    ListRuns(runs::ListArgs),
    /// Show one run: status, progress, totals, errors.
    ShowRun(runs::ShowArgs),
    /// Roll a run back exactly: lots restored, sales uncosted.
    Rollback(runs::RollbackArgs),
    /// Export a run's journal entry (the reversing entry for a rolled-back run).
    JournalEntry(runs::JournalArgs),
    /// Remaining quantity and value per lot and per SKU.
    Inventory(data::InventoryArgs),
    /// Reports: the roll-forward of a period, the valuation as of any date, the cost of sales by
    /// SKU and period, ageing, and the trace of a sale or a lot.
    Report(report::ReportArgs),
    /// The tenant's live book: every costed sale with its lots, every lot's stock, the
    /// SKUs parked; with --format json exactly the shape of `cogs cost`.
    Book(book::BookArgs),
    /// Cost a sales file against a lots file, and any returns, supplier returns, adjustments, counts
    /// and landed costs, offline: nothing is stored, no database needed.
    Cost(cost::CostArgs),
    /// One pass of scheduled maintenance: stale runs, staged uploads, old validation errors, statistics.
    Maintenance(maintain::MaintenanceArgs),
    /// Show the tenant's settings (time zone, lock date and policy, shortfall policy), or change them.
    Settings(settings::SettingsArgs),
    /// Check the tenant's whole book: every allocation names a real sale and lot, each costed sale is
    /// covered exactly, each lot's remaining quantity adds up, run totals and journals, a fresh costing.
    Verify(verify::VerifyArgs),
}

fn main() -> ExitCode {
    // A closed pipe ends the process as it ends other Unix tools (`cogs list-runs | head`),
    // not with a panic at the next print.
    sigpipe::reset();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime starts");
    let (result, format) = runtime.block_on(async {
        match cli.command {
            Command::Migrate(args) => (data::migrate(&args).await, OutputFormat::Table),
            Command::Upload(args) => (data::upload(&args).await, args.scope.output.format),
            Command::Template(args) => (data::template(&args), OutputFormat::Table),
            Command::Run(args) => (runs::run(&args).await, args.scope.output.format),
            Command::Resume(args) => (runs::resume(&args).await, args.scope.output.format),
            Command::ListRuns(args) => (runs::list(&args).await, args.scope.output.format),
            Command::ShowRun(args) => (runs::show(&args).await, args.scope.output.format),
            Command::Rollback(args) => (runs::rollback(&args).await, args.scope.output.format),
            Command::JournalEntry(args) => (runs::journal_entry(&args).await, OutputFormat::Table),
            Command::Inventory(args) => (data::inventory(&args).await, args.scope.output.format),
            Command::Report(args) => (report::run(&args).await, args.format.output()),
            Command::Book(args) => (book::run(&args).await, args.scope.output.format),
            Command::Cost(args) => (cost::run(&args), args.format),
            Command::Maintenance(args) => (maintain::run(&args).await, args.output.format),
            Command::Settings(args) => (settings::run(&args).await, args.scope.output.format),
            Command::Verify(args) => (verify::run(&args).await, args.scope.output.format),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(format),
    }
}

pub type CommandResult = Result<(), Failure>;
