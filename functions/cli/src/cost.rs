//! `cogs cost`: offline costing of every movement's CSV file, by FIFO or specific identification.

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use cogs_core::model::{Location, Method, MethodChange, Methods, ShortfallPolicy, TenantId};
use cogs_core::service::{self, CostFiles, CostReport, ServiceError};

use crate::CommandResult;
use crate::output::{Failure, OutputFormat, cents, print_json, table};

#[derive(Args)]
pub struct CostArgs {
    /// Lots CSV: lot_id, sku, received_date, original_quantity, remaining_quantity, unit_price, freight_cost_per_unit,
    /// and optionally receipt_id and location (every file but landed costs may say where its stock is).
    #[arg(long, value_name = "LOTS.csv")]
    lots: PathBuf,
    /// Sales CSV: sale_id, sku, sale_date, quantity_sold, and optionally lot_id and location.
    #[arg(long, value_name = "SALES.csv")]
    sales: PathBuf,
    /// Customer returns CSV: return_id, sale_id, return_date, quantity, restock.
    #[arg(long, value_name = "RETURNS.csv")]
    returns: Option<PathBuf>,
    /// Supplier returns CSV: supplier_return_id, lot_id, return_date, quantity.
    #[arg(long, value_name = "SUPPLIER_RETURNS.csv")]
    supplier_returns: Option<PathBuf>,
    /// Adjustments CSV: adjustment_id, sku, adjustment_date, quantity (signed), unit_cost, reason.
    #[arg(long, value_name = "ADJUSTMENTS.csv")]
    adjustments: Option<PathBuf>,
    /// Stock counts CSV: count_id, sku, count_date, counted_quantity, unit_cost.
    #[arg(long, value_name = "COUNTS.csv")]
    counts: Option<PathBuf>,
    /// Landed costs CSV: landed_cost_id, lot_id or receipt_id, cost_date, amount, allocate_by.
    #[arg(long, value_name = "LANDED_COSTS.csv")]
    landed_costs: Option<PathBuf>,
    /// Transfers CSV: transfer_id, sku, from_location, to_location, transfer_date, quantity.
    #[arg(long, value_name = "TRANSFERS.csv")]
    transfers: Option<PathBuf>,
    /// When given, every non-empty tenant_id cell must name this tenant.
    #[arg(long, env = "COGS_TENANT_ID", value_parser = |s: &str| TenantId::parse(s).map_err(|e| e.to_string()))]
    tenant_id: Option<TenantId>,
    /// Fail (exit 6) on a sale the lots cannot cover, instead of parking that SKU.
    #[arg(long)]
    strict: bool,
    /// The costing method: `fifo`, `specific-identification` (a sale that names a
    /// lot_id is costed from that lot; one that names none, oldest lot first) or
    /// `moving-average` (an outflow costs its share of the stock's value). A method
    /// from a day on is METHOD@YYYY-MM-DD (midnight UTC) or METHOD@RFC3339-INSTANT;
    /// repeat for each change, like `--method fifo --method specific-identification@2024-03-01`.
    #[arg(long = "method", value_name = "METHOD[@FROM]", value_parser = method_from)]
    methods: Vec<(Method, Option<DateTime<Utc>>)>,
    /// Where a row with an empty location is (the tenant's default location).
    #[arg(long, value_name = "LOCATION", default_value = Location::DEFAULT,
          value_parser = |s: &str| Location::parse(s).map_err(|e| format!("{s:?} {e}")))]
    default_location: Location,
    /// `table` for people; `json` for scripts (exact decimal strings).
    #[arg(long, value_enum, default_value = "table")]
    pub format: OutputFormat,
}

/// A method as the command line names it: `specific-identification` or `specific_identification`.
pub fn method(value: &str) -> Result<Method, String> {
    value.replace('-', "_").parse()
}

/// METHOD, or METHOD@DAY (from midnight UTC), or METHOD@INSTANT.
fn method_from(value: &str) -> Result<(Method, Option<DateTime<Utc>>), String> {
    let Some((name, from)) = value.split_once('@') else { return Ok((method(value)?, None)) };
    let at = match from.parse::<NaiveDate>() {
        Ok(day) => day.and_time(chrono::NaiveTime::MIN).and_utc(),
        Err(_) => DateTime::parse_from_rfc3339(from)
            .map_err(|_| format!("{from:?} is neither a day (YYYY-MM-DD) nor an RFC 3339 instant"))?
            .to_utc(),
    };
    Ok((method(name)?, Some(at)))
}

/// The methods the `--method` flags give: the one without a day throughout (FIFO when
/// none), each with a day from then on.
fn schedule(flags: &[(Method, Option<DateTime<Utc>>)]) -> Result<Methods, Failure> {
    let mut throughout = flags.iter().filter(|(_, at)| at.is_none()).map(|(method, _)| *method);
    let initial = throughout.next().unwrap_or_default();
    if throughout.next().is_some() {
        return Err(Failure::Service(ServiceError::InvalidRequest(
            "give --method without a day once; each other --method needs @FROM".into(),
        )));
    }
    let mut changes: Vec<MethodChange> = flags
        .iter()
        .filter_map(|(method, at)| at.map(|at| MethodChange { from: at.date_naive(), at, method: *method }))
        .collect();
    changes.sort_by_key(|change| change.at);
    Ok(Methods { initial, changes })
}

fn open(path: &PathBuf) -> Result<BufReader<File>, Failure> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|source| Failure::InputFile { path: path.display().to_string(), source })
}

pub fn run(args: &CostArgs) -> CommandResult {
    let on_shortfall = if args.strict { ShortfallPolicy::Fail } else { ShortfallPolicy::Park };
    let optional = |path: &Option<PathBuf>| path.as_ref().map(open).transpose();
    let files = CostFiles {
        lots: open(&args.lots)?,
        sales: open(&args.sales)?,
        returns: optional(&args.returns)?,
        supplier_returns: optional(&args.supplier_returns)?,
        adjustments: optional(&args.adjustments)?,
        counts: optional(&args.counts)?,
        landed_costs: optional(&args.landed_costs)?,
        transfers: optional(&args.transfers)?,
    };
    let methods = schedule(&args.methods)?;
    let report = service::cost_files(files, args.tenant_id.as_ref(), on_shortfall, &methods, &args.default_location)?;
    match args.format {
        OutputFormat::Json => print_json(&report),
        OutputFormat::Table => print_tables(&report),
    }
    Ok(())
}

/// Money is shown in cents here (the table is a rendering); JSON keeps it exact.
pub fn print_tables(report: &CostReport) {
    let mut sales = table(&["sale", "sku", "sale date (UTC)", "quantity", "cogs", "from lots"], &[3, 4]);
    for sale in &report.sales {
        let from: Vec<String> =
            sale.allocations.iter().map(|a| format!("{} × {} @ {}", a.lot_id, a.quantity, a.unit_cost)).collect();
        sales.add_row(vec![
            sale.sale_id.to_string(),
            sale.sku.to_string(),
            sale.sale_date.format("%Y-%m-%d %H:%M").to_string(),
            sale.quantity_sold.to_string(),
            cents(sale.cogs),
            from.join(", "),
        ]);
    }
    let mut movements = table(&["movement", "id", "sku", "date (UTC)", "lot", "quantity", "cost", "taken by"], &[5, 6]);
    for line in &report.movements {
        movements.add_row(vec![
            line.kind.as_str().replace('_', " "),
            line.event_id.to_string(),
            line.sku.to_string(),
            line.event_date.format("%Y-%m-%d %H:%M").to_string(),
            line.lot_id.to_string(),
            line.quantity.to_string(),
            cents(line.cost),
            line.consumer.as_ref().map(ToString::to_string).unwrap_or_default(),
        ]);
    }
    let mut lots = table(&["lot", "sku", "remaining", "value"], &[2, 3]);
    for lot in &report.lots {
        lots.add_row(vec![
            lot.lot_id.to_string(),
            lot.sku.to_string(),
            lot.remaining_quantity.to_string(),
            cents(lot.remaining_value),
        ]);
    }
    let totals = &report.totals;
    println!("Costing method: {}\n", methods_text(&report.methods));
    println!("Sales, in costing order\n{sales}\n");
    if !report.movements.is_empty() {
        println!("Other movements, by SKU in costing order\n{movements}\n");
    }
    println!("Lots after costing\n{lots}\n");
    println!("Total COGS:               {}", cents(totals.total_cogs));
    if !totals.restocked_returns.is_zero() {
        println!("Restocked returns:        {}", cents(totals.restocked_returns));
        println!("Net COGS:                 {}", cents(totals.net_cogs));
    }
    println!("Ending inventory value:   {}", cents(totals.ending_inventory_value));
    println!("Ending inventory units:   {}", totals.ending_inventory_quantity);
    print_shortfalls(&report.shortfalls);
}

/// The SKUs parked for want of stock, if any.
pub fn print_shortfalls(shortfalls: &[cogs_core::model::Shortfall]) {
    if shortfalls.is_empty() {
        return;
    }
    let mut parked = table(&["sku", "first uncovered event", "date (UTC)", "short", "on hand"], &[3, 4]);
    for shortfall in shortfalls {
        parked.add_row(vec![
            shortfall.sku.to_string(),
            format!("{} {}", shortfall.event_kind, shortfall.event_id),
            shortfall.event_date.format("%Y-%m-%d %H:%M").to_string(),
            shortfall.quantity_short.to_string(),
            shortfall.on_hand.to_string(),
        ]);
    }
    println!("\nParked for want of stock: these SKUs' events from the one named on stay uncosted\n{parked}");
}

/// The method as the tables name it.
pub fn method_name(method: Method) -> &'static str {
    match method {
        Method::Fifo => "FIFO (first in, first out)",
        Method::SpecificIdentification => "specific identification (a sale's named lot; FIFO otherwise)",
        Method::MovingAverage => "moving weighted average",
    }
}

/// The methods over time as the tables name them.
pub fn methods_text(methods: &Methods) -> String {
    let mut text = method_name(methods.initial).to_owned();
    for change in &methods.changes {
        text.push_str(&format!("; from {} ({}), {}", change.from, change.at.to_rfc3339(), method_name(change.method)));
    }
    text
}
