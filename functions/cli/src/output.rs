//! Printing results and failures, and the exit codes scripts can rely on.

use std::process::ExitCode;

use cogs_core::model::TenantId;
use cogs_core::service::{Category, MaintenanceFailure, ServiceError};
use serde_json::{Value, json};

/// How a command prints: a table for people, JSON for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

/// Exit codes, one per kind of failure (2 is clap's, for usage errors).
pub mod exit {
    pub const VALIDATION: u8 = 3;
    pub const CONFLICT: u8 = 4;
    pub const NOT_FOUND: u8 = 5;
    pub const INSUFFICIENT_INVENTORY: u8 = 6;
    pub const INFRASTRUCTURE: u8 = 7;
    /// `cogs verify` found the stored book breaking a rule.
    pub const BOOKS_INCONSISTENT: u8 = 8;
}

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    Service(ServiceError),
    InputFile {
        path: String,
        source: std::io::Error,
    },
    OutputFile {
        path: String,
        source: std::io::Error,
    },
    /// The command needs something more from the operator (like `--confirm`).
    Refused {
        kind: &'static str,
        message: String,
    },
    /// Maintenance found tenants whose book breaks a rule.
    BooksInconsistent {
        tenants: Vec<TenantId>,
    },
    /// Maintenance could not finish some items; it did everything else.
    MaintenanceIncomplete {
        failures: Vec<MaintenanceFailure>,
    },
}

impl From<ServiceError> for Failure {
    fn from(error: ServiceError) -> Self {
        Failure::Service(error)
    }
}

impl Failure {
    fn envelope(&self) -> Value {
        match self {
            Failure::Service(error) => error.envelope(),
            Failure::InputFile { path, source } => json!({
                "error": { "type": "file_not_readable", "message": format!("cannot open {path}: {source}"), "path": path }
            }),
            Failure::OutputFile { path, source } => json!({
                "error": { "type": "file_not_writable", "message": format!("cannot write {path}: {source}"), "path": path }
            }),
            Failure::Refused { kind, message } => json!({ "error": { "type": kind, "message": message } }),
            Failure::BooksInconsistent { tenants } => json!({ "error": {
                "type": "books_inconsistent",
                "message": format!("the books of {} tenant(s) break a rule", tenants.len()),
                "tenants": tenants,
            }}),
            Failure::MaintenanceIncomplete { failures } => json!({ "error": {
                "type": "maintenance_incomplete",
                "message": format!("{} item(s) could not be finished; everything else was done", failures.len()),
                "failures": failures,
            }}),
        }
    }

    fn exit_code(&self) -> u8 {
        match self {
            Failure::InputFile { .. } => exit::NOT_FOUND,
            Failure::OutputFile { .. } => exit::INFRASTRUCTURE,
            Failure::Refused { .. } => exit::VALIDATION,
            Failure::BooksInconsistent { .. } => exit::BOOKS_INCONSISTENT,
            Failure::MaintenanceIncomplete { .. } => exit::INFRASTRUCTURE,
            Failure::Service(error) => match error.category() {
                Category::Validation => exit::VALIDATION,
                Category::Conflict => exit::CONFLICT,
                Category::NotFound => exit::NOT_FOUND,
                Category::Unprocessable if error.kind() == "insufficient_inventory" => exit::INSUFFICIENT_INVENTORY,
                Category::Unprocessable => exit::VALIDATION,
                Category::Infrastructure => exit::INFRASTRUCTURE,
                Category::Inconsistent => exit::BOOKS_INCONSISTENT,
            },
        }
    }

    /// What the operator can do next.
    fn hint(&self) -> &'static str {
        let kind = match self {
            Failure::InputFile { .. } => return "check the path and try again",
            Failure::OutputFile { .. } => return "check the folder exists and is writable",
            Failure::Refused { .. } => return "add the flag named above to go ahead",
            Failure::BooksInconsistent { .. } => return "run cogs verify for each tenant named to see every finding",
            Failure::MaintenanceIncomplete { .. } => {
                return "each failed item is listed with its tenant; the next pass tries it again";
            }
            Failure::Service(error) => error.kind(),
        };
        match kind {
            "validation_failed" => "fix the rows listed above and load the file again; nothing was loaded",
            "insufficient_inventory" => {
                "load the missing lots (or correct the sale), then run again; the run was undone and nothing was costed"
            }
            "run_in_progress" => {
                "wait for it (cogs show-run RUN), resume it (cogs resume RUN) or roll it back (cogs rollback RUN --confirm)"
            }
            "dependent_run" => "add --cascade to roll back the later runs too, newest first",
            "not_found" => "list the tenant's runs with cogs list-runs --tenant-id TENANT",
            "wrong_run_status" => "check the run's status with cogs show-run RUN",
            "books_inconsistent" => {
                "each finding above names a record and the rule it breaks; nothing was changed: find the cause before running again"
            }
            "database_error" => {
                "check DATABASE_URL and that PostgreSQL is running (scripts/setup-db.sh); nothing was changed by a failed command"
            }
            _ => "correct the input and try again",
        }
    }

    /// Prints the failure (the JSON envelope on stdout, or sentences on stderr) and
    /// returns the exit code.
    pub fn report(&self, format: OutputFormat) -> ExitCode {
        let envelope = self.envelope();
        match format {
            OutputFormat::Json => print_json(&envelope),
            OutputFormat::Table => {
                let error = &envelope["error"];
                // People at a terminal get the cause itself, not the generic API text.
                let message = match self {
                    Failure::Service(error) => error.to_string(),
                    _ => error["message"].as_str().unwrap_or_default().to_owned(),
                };
                eprintln!("error: {message}");
                for finding in error["findings"].as_array().into_iter().flatten() {
                    let text = |key: &str| finding[key].as_str().unwrap_or_default().to_owned();
                    eprintln!("  {} {}: {}", text("check"), text("subject"), text("detail"));
                }
                for row in error["errors"].as_array().into_iter().flatten() {
                    let column = row["column"].as_str().map(|c| format!(", column {c}")).unwrap_or_default();
                    eprintln!("  row {}{column}: {}", row["row"], row["message"].as_str().unwrap_or_default());
                }
                if let Some(count) = error["error_count"].as_u64() {
                    let shown = error["errors"].as_array().map_or(0, Vec::len) as u64;
                    if count > shown {
                        eprintln!("  … and {} more", count - shown);
                    }
                }
                eprintln!("hint: {}", self.hint());
            }
        }
        ExitCode::from(self.exit_code())
    }
}

/// Prints a value as pretty JSON on stdout, written as it is laid out: a report of a
/// million lots is never held whole as text beside the report.
pub fn print_json(value: &impl serde::Serialize) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut out, value).map_err(std::io::Error::from);
    written.and_then(|()| writeln!(out)).and_then(|()| out.flush()).expect("standard output takes the report");
}

/// A table whose `numeric` columns are right-aligned.
pub fn table(header: &[&str], numeric: &[usize]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED).set_header(header.to_vec());
    for &index in numeric {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
    table
}

/// An exact amount shown in cents, for people.
pub fn cents(amount: rust_decimal::Decimal) -> String {
    format!("{:.2}", cogs_core::money::to_cents(amount))
}
