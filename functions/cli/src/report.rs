//! `cogs report`: the roll-forward, the valuation, the cost of sales, ageing and the
//! trace of a sale or lot, as a table, JSON or CSV.

use chrono::NaiveDate;
use clap::{Args, Subcommand, ValueEnum};
use cogs_core::service::{self, AsOf, CsvReport, RollForwardRow};

use crate::CommandResult;
use crate::args::{Database, Tenant};
use crate::cost::methods_text;
use crate::output::{OutputFormat, cents, print_json, table};

#[derive(Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    report: Report,
    #[command(flatten)]
    tenant: Tenant,
    #[command(flatten)]
    database: Database,
    /// `table` for people, `json` for scripts, `csv` for spreadsheets (exact decimals).
    #[arg(long, value_enum, default_value = "table", global = true)]
    pub format: ReportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Csv,
}

impl ReportFormat {
    /// How a failure is printed.
    pub fn output(self) -> OutputFormat {
        if self == ReportFormat::Json { OutputFormat::Json } else { OutputFormat::Table }
    }
}

#[derive(Subcommand)]
enum Report {
    /// Opening value + receipts + landed costs + restocked returns + adjustments in −
    /// supplier returns − adjustments out − COGS = closing value, by SKU, for the days
    /// FROM to TO (inclusive, in the tenant's time zone).
    Rollforward {
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        to: NaiveDate,
    },
    /// Quantity and value by SKU and by layer as of a day (as it ends) or an instant.
    Valuation {
        #[arg(long)]
        as_of: AsOf,
    },
    /// The cost of sales by SKU and month (or day) of a period.
    Cogs {
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        to: NaiveDate,
        /// By day instead of by month.
        #[arg(long)]
        daily: bool,
    },
    /// Stock by days since each layer was received, as of a day or an instant.
    Ageing {
        #[arg(long)]
        as_of: AsOf,
    },
    /// Every allocation of a sale, or every consumer of a lot.
    Trace {
        #[arg(long, conflicts_with = "lot", required_unless_present = "lot")]
        sale: Option<String>,
        #[arg(long)]
        lot: Option<String>,
    },
}

/// Prints as `format` asks: JSON, CSV, or the table `people` draws.
fn print<T: serde::Serialize + CsvReport>(format: ReportFormat, report: &T, people: impl FnOnce(&T)) {
    match format {
        ReportFormat::Json => print_json(report),
        ReportFormat::Csv => print!("{}", report.csv()),
        ReportFormat::Table => people(report),
    }
}

pub async fn run(args: &ReportArgs) -> CommandResult {
    let pool = args.database.pool()?;
    let tenant = &args.tenant.tenant_id;
    match &args.report {
        Report::Rollforward { from, to } => {
            let report = service::roll_forward(&pool, tenant, *from, *to).await?;
            print(args.format, &report, |report| {
                let lines = |first: &str, rows: &mut dyn Iterator<Item = &RollForwardRow>| {
                    let mut lines = table(
                        &[
                            first,
                            "opening",
                            "+ receipts",
                            "+ landed",
                            "+ returns",
                            "+ adj. in",
                            "+ moved in",
                            "− to suppliers",
                            "− adj. out",
                            "− moved out",
                            "− COGS",
                            "= closing",
                        ],
                        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
                    );
                    for row in rows {
                        let name = row
                            .sku
                            .as_ref()
                            .map(ToString::to_string)
                            .or(row.location.as_ref().map(ToString::to_string));
                        lines.add_row(vec![
                            name.unwrap_or_else(|| "total".to_owned()),
                            cents(row.opening_value),
                            cents(row.receipts),
                            cents(row.landed_costs),
                            cents(row.restocked_returns),
                            cents(row.adjustments_in),
                            cents(row.transfers_in),
                            cents(row.supplier_returns),
                            cents(row.adjustments_out),
                            cents(row.transfers_out),
                            cents(row.cogs),
                            cents(row.closing_value),
                        ]);
                    }
                    lines
                };
                let by_sku = lines("sku", &mut report.skus.iter().chain([&report.total]));
                let by_location = lines("location", &mut report.locations.iter().chain([&report.total]));
                println!("Roll-forward {} to {} ({})", report.from, report.to, report.time_zone);
                println!("Costing method: {}\n{by_sku}\n{by_location}", methods_text(&report.methods));
            });
        }
        Report::Valuation { as_of } => {
            let report = service::valuation(&pool, tenant, *as_of).await?;
            print(args.format, &report, |report| {
                let mut rows = table(&["lot", "sku", "location", "received", "quantity", "value"], &[4, 5]);
                for lot in &report.lots {
                    rows.add_row(vec![
                        lot.lot_id.clone(),
                        lot.sku.to_string(),
                        lot.location.to_string(),
                        lot.received_date.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default(),
                        lot.quantity.to_string(),
                        cents(lot.value),
                    ]);
                }
                let mut places = table(&["location", "quantity", "value"], &[1, 2]);
                for at in &report.locations {
                    places.add_row(vec![at.location.to_string(), at.quantity.to_string(), cents(at.value)]);
                }
                println!("Valuation as of {}", report.as_of.format("%Y-%m-%d %H:%M UTC"));
                println!("Costing method: {}\n{rows}\n{places}", methods_text(&report.methods));
                println!("Total: {} units, {}", report.total_quantity, cents(report.total_value));
            });
        }
        Report::Cogs { from, to, daily } => {
            let report = service::cogs_by_sku(&pool, tenant, *from, *to, !*daily).await?;
            print(args.format, &report, |report| {
                let mut rows = table(&["period", "sku", "sold", "COGS", "restocked", "net COGS"], &[2, 3, 4, 5]);
                for row in &report.rows {
                    rows.add_row(vec![
                        row.period.to_string(),
                        row.sku.to_string(),
                        row.quantity_sold.to_string(),
                        cents(row.cogs),
                        cents(row.restocked_returns),
                        cents(row.net_cogs),
                    ]);
                }
                println!("Cost of sales {} to {} ({})", report.from, report.to, report.time_zone);
                println!("Costing method: {}\n{rows}", methods_text(&report.methods));
                println!(
                    "Total: COGS {}, restocked {}, net {}",
                    cents(report.total_cogs),
                    cents(report.total_restocked_returns),
                    cents(report.total_net_cogs)
                );
            });
        }
        Report::Ageing { as_of } => {
            let report = service::ageing(&pool, tenant, *as_of).await?;
            print(args.format, &report, |report| {
                let mut header = vec!["sku".to_owned()];
                header.extend(service::AGE_BUCKETS.iter().map(|(days, _)| format!("{days} days")));
                let header: Vec<&str> = header.iter().map(String::as_str).collect();
                let mut rows = table(&header, &[1, 2, 3, 4, 5, 6]);
                for sku in report.skus.iter().chain([&report.total]) {
                    let mut row = vec![sku.sku.as_ref().map_or_else(|| "total".to_owned(), ToString::to_string)];
                    row.extend(sku.buckets.iter().map(|b| format!("{} ({})", cents(b.value), b.quantity)));
                    rows.add_row(row);
                }
                println!("Ageing as of {}: value (units)", report.as_of.format("%Y-%m-%d %H:%M UTC"));
                println!("Costing method: {}\n{rows}", methods_text(&report.methods));
            });
        }
        Report::Trace { sale: Some(sale), .. } => {
            let trace = service::sale_trace(&pool, tenant, sale).await?;
            if args.format == ReportFormat::Table {
                let mut rows = table(&["lot", "quantity", "unit cost", "cost"], &[1, 2, 3]);
                for line in &trace.allocations {
                    rows.add_row(vec![
                        line.lot_id.to_string(),
                        line.quantity.to_string(),
                        line.unit_cost.to_string(),
                        cents(line.cost),
                    ]);
                }
                for line in &trace.landed_costs {
                    let what = format!("{} {}", line.kind.as_str().replace('_', " "), line.event_id);
                    rows.add_row(vec![
                        format!("{} ({what})", line.lot_id),
                        line.quantity.to_string(),
                        String::new(),
                        cents(line.cost),
                    ]);
                }
                println!("Sale {}\n{rows}\nCOGS {}", trace.sale_id, cents(trace.cogs));
            } else {
                print_json(&trace);
            }
        }
        Report::Trace { lot, .. } => {
            let lot = lot.as_deref().unwrap_or_default();
            let trace = service::lot_trace(&pool, tenant, lot).await?;
            if args.format == ReportFormat::Table {
                let mut rows = table(&["taken by", "layer", "date (UTC)", "quantity", "cost"], &[3, 4]);
                for sale in &trace.sales {
                    rows.add_row(vec![
                        format!("sale {}", sale.sale_id),
                        sale.lot_id.clone(),
                        sale.sale_date.format("%Y-%m-%d %H:%M").to_string(),
                        sale.quantity.to_string(),
                        cents(sale.cost),
                    ]);
                }
                for line in &trace.movements {
                    rows.add_row(vec![
                        format!("{} {}", line.kind.as_str().replace('_', " "), line.event_id),
                        format!("{} @{}", line.lot_id, line.location),
                        line.event_date.format("%Y-%m-%d %H:%M").to_string(),
                        line.quantity.to_string(),
                        cents(line.cost),
                    ]);
                }
                println!("Lot {}\n{rows}", trace.lot_id);
            } else {
                print_json(&trace);
            }
        }
    }
    Ok(())
}
