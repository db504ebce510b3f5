//! `cogs`: the operators' command-line tool. Each command parses its arguments, calls
//! one use case of `cogs-core`, and prints a table for people or JSON for scripts.

mod cost;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use output::Failure;

#[derive(Parser)]
#[command(name = "cogs", version, about = "FIFO cost of goods sold: cost sales against inventory lots")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Cost a sales file against a lots file, offline: nothing is stored, no database needed.
    Cost(cost::CostArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (result, format) = match cli.command {
        Command::Cost(args) => (cost::run(&args), args.format),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(format),
    }
}

/// How a command prints: a table for people, JSON for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

pub type CommandResult = Result<(), Failure>;
