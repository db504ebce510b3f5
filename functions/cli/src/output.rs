//! Printing results and failures, and the exit codes scripts can rely on.

use std::process::ExitCode;

use cogs_core::service::ServiceError;
use serde_json::{Value, json};

use crate::OutputFormat;

/// Exit codes, one per kind of failure (2 is clap's, for usage errors).
pub mod exit {
    pub const VALIDATION: u8 = 3;
    pub const NOT_FOUND: u8 = 5;
    pub const INSUFFICIENT_INVENTORY: u8 = 6;
    pub const INFRASTRUCTURE: u8 = 7;
}

/// Why a command failed, with what to do next.
#[derive(Debug)]
pub enum Failure {
    Service(ServiceError),
    InputFile { path: String, source: std::io::Error },
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
        }
    }

    fn exit_code(&self) -> u8 {
        match self {
            Failure::InputFile { .. } => exit::NOT_FOUND,
            Failure::Service(error) => match error.kind() {
                "insufficient_inventory" => exit::INSUFFICIENT_INVENTORY,
                "unreadable_input" => exit::INFRASTRUCTURE,
                _ => exit::VALIDATION,
            },
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Failure::InputFile { .. } => "check the path and try again",
            Failure::Service(error) => match error.kind() {
                "validation_failed" => "fix the rows listed above and run again; nothing was costed",
                "insufficient_inventory" => {
                    "add the missing lots (or correct the sale), then run again; nothing was costed"
                }
                _ => "correct the input and run again; nothing was costed",
            },
        }
    }

    /// Prints the failure (JSON envelope on stdout, or sentences on stderr) and
    /// returns the exit code.
    pub fn report(&self, format: OutputFormat) -> ExitCode {
        let envelope = self.envelope();
        match format {
            OutputFormat::Json => {
                println!("{}", serde_json::to_string_pretty(&envelope).expect("a JSON value serialises"))
            }
            OutputFormat::Table => {
                let error = &envelope["error"];
                eprintln!("error: {}", error["message"].as_str().unwrap_or_default());
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

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) {
    println!("{}", serde_json::to_string_pretty(value).expect("report types serialise"));
}
