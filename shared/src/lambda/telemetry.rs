//! Structured JSON logs and CloudWatch Embedded Metric Format lines.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

/// JSON logs on stdout, one object per line, with the fields of every open span (the
/// runtime's request id, and the tenant and run ids the handlers record). `RUST_LOG`
/// filters; the default is `info`.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .flatten_event(true)
        .with_target(false)
        .init();
}

/// The metrics cogs reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    RunsStarted,
    RunsCompleted,
    RunsFailed,
    RunsRolledBack,
    /// Milliseconds from a run's start to its completion.
    RunDuration,
    /// Tenants whose book broke a rule in a maintenance pass's verification.
    BooksInconsistent,
    /// Items (a tenant's run, upload or book) a maintenance pass could not finish.
    MaintenanceFailures,
    /// SKUs a completed run parked for want of stock.
    SkusParked,
    /// Staged objects put again (a used upload URL) after their file was loaded.
    StagedObjectsReplaced,
}

impl Metric {
    fn name_and_unit(self) -> (&'static str, &'static str) {
        match self {
            Metric::RunsStarted => ("RunsStarted", "Count"),
            Metric::RunsCompleted => ("RunsCompleted", "Count"),
            Metric::RunsFailed => ("RunsFailed", "Count"),
            Metric::RunsRolledBack => ("RunsRolledBack", "Count"),
            Metric::RunDuration => ("RunDuration", "Milliseconds"),
            Metric::BooksInconsistent => ("BooksInconsistent", "Count"),
            Metric::MaintenanceFailures => ("MaintenanceFailures", "Count"),
            Metric::SkusParked => ("SkusParked", "Count"),
            Metric::StagedObjectsReplaced => ("StagedObjectsReplaced", "Count"),
        }
    }
}

/// One EMF line: CloudWatch turns it into a metric in namespace `cogs`, by function.
pub fn emf_line(metric: Metric, value: u64, function: &str) -> String {
    let (name, unit) = metric.name_and_unit();
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp,
            "CloudWatchMetrics": [{
                "Namespace": "cogs",
                "Dimensions": [["Function"]],
                "Metrics": [{ "Name": name, "Unit": unit }],
            }],
        }),
    );
    line.insert("Function".into(), Value::from(function));
    line.insert(name.into(), Value::from(value));
    Value::Object(line).to_string()
}

/// Prints one EMF line on stdout, where Lambda ships it to CloudWatch.
pub fn emit(metric: Metric, value: u64, function: &str) {
    println!("{}", emf_line(metric, value, function));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_names_its_metric_unit_and_value() {
        let line: Value = serde_json::from_str(&emf_line(Metric::RunDuration, 1234, "run")).unwrap();
        assert_eq!(line["RunDuration"], 1234);
        assert_eq!(line["Function"], "run");
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0],
            json!({"Name": "RunDuration", "Unit": "Milliseconds"})
        );
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "cogs");
    }
}
