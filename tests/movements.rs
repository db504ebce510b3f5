//! Every stock movement through the book on a real PostgreSQL: returns, supplier
//! returns, adjustments, counts and landed costs loaded, costed by runs (late ones
//! re-costing what they change), rolled back exactly, and the live book always equal
//! to `cogs cost` over everything loaded (LEDGER.md, "One rule above all").
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use cogs_core::db::{RunStatus, SkuRange};
use cogs_core::ingest::{self, RecordKind, RowErrorKind};
use cogs_core::journal::{AccountPair, Period, SALE};
use cogs_core::model::ShortfallPolicy;
use cogs_core::model::{AccountKind, Location, Method, Methods, MovementKind, Sale};
use cogs_core::service::{self, ChunkBudget, CostFiles, CostReport, ServiceError};
use cogs_tests::{TestDb, Xorshift, assert_books_balance, caller, tenant};
use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde_json::{Value, json};

const TENANT: &str = "acme-corp";

/// Every file loaded so far, by kind, as CSV text (header included).
#[derive(Default, Clone)]
struct Loaded {
    files: Vec<(RecordKind, String)>,
    /// The tenant's costing methods, as its settings store them.
    methods: Methods,
    /// Where its rows that name no location are.
    default_location: Location,
}

impl Loaded {
    /// All rows of `kind` loaded, as one file.
    fn all(&self, kind: RecordKind) -> Option<String> {
        let mut rows = self.files.iter().filter(|(k, _)| *k == kind).map(|(_, csv)| csv);
        let first = rows.next()?;
        let mut all = first.clone();
        for csv in rows {
            all.extend(csv.lines().skip(1).map(|line| format!("{line}\n")));
        }
        Some(all)
    }

    /// Where each sale loaded was, as the upload read it (an empty `location`: the
    /// default).
    fn sale_locations(&self) -> BTreeMap<String, String> {
        let Some(sales) = self.all(RecordKind::Sales) else { return BTreeMap::new() };
        let reader = ingest::Reader::<_, Sale>::new(sales.as_bytes(), None).unwrap();
        let sales = reader.at_default_location(self.default_location.clone()).records().unwrap();
        sales.into_iter().map(|sale| (sale.sale_id.to_string(), sale.location.to_string())).collect()
    }

    /// `cogs cost --format json` over everything loaded, once lots and sales are.
    fn cost_json(&self) -> Option<Value> {
        self.cost().map(|report| serde_json::to_value(&report).unwrap())
    }

    /// `cogs cost` over everything loaded, once lots and sales are.
    fn cost(&self) -> Option<CostReport> {
        let cursor = |kind| self.all(kind).map(|csv| std::io::Cursor::new(csv.into_bytes()));
        let files = CostFiles {
            lots: cursor(RecordKind::Lots)?,
            sales: cursor(RecordKind::Sales)?,
            returns: cursor(RecordKind::Returns),
            supplier_returns: cursor(RecordKind::SupplierReturns),
            adjustments: cursor(RecordKind::Adjustments),
            counts: cursor(RecordKind::Counts),
            landed_costs: cursor(RecordKind::LandedCosts),
            transfers: cursor(RecordKind::Transfers),
        };
        Some(service::cost_files(files, None, ShortfallPolicy::Park, &self.methods, &self.default_location).unwrap())
    }
}

async fn upload(db: &TestDb, loaded: &mut Loaded, kind: RecordKind, csv: &str) -> Result<(), ServiceError> {
    service::upload(&db.pool, &caller(TENANT), kind, &format!("{kind}.csv"), csv.as_bytes()).await?;
    loaded.files.push((kind, csv.to_owned()));
    Ok(())
}

async fn run(db: &TestDb) -> uuid::Uuid {
    let caller = caller(TENANT);
    let run = service::start_run(&db.pool, &caller, None, Some(ShortfallPolicy::Park)).await.unwrap();
    let done = service::advance_run(&db.pool, &caller, run.run_id, &ChunkBudget::unlimited(3)).await.unwrap();
    assert_eq!(done.status, RunStatus::Completed);
    run.run_id
}

/// What a journal sums costs by: day, SKU, accounts, and the locations each side posts
/// at.
type JournalKey = (String, String, AccountPair, (String, String));

/// Every completed run's journal of differences, added up exactly per (day, SKU,
/// accounts, locations): together, the journal of the live book.
async fn journals_added_up(db: &TestDb) -> BTreeMap<JournalKey, Decimal> {
    let page = service::list_runs(&db.pool, &tenant(TENANT), Some(RunStatus::Completed), 500, None).await.unwrap();
    let tx = cogs_core::db::begin(&db.pool, &tenant(TENANT)).await.unwrap();
    let mut total = BTreeMap::new();
    for run in page.runs {
        for cost in cogs_core::db::journal_costs(&tx, run.run_id, Period::Day, "UTC", true).await.unwrap() {
            let at = (cost.at.0.to_string(), cost.at.1.to_string());
            *total.entry((cost.date.to_string(), cost.sku.to_string(), cost.pair, at)).or_insert(Decimal::ZERO) +=
                cost.cost;
        }
    }
    tx.rollback().await.unwrap();
    total.retain(|_, amount| !amount.is_zero());
    total
}

/// The journal of one fresh costing, exactly per (day, SKU, accounts, locations): a
/// sale at its location (`sold_at`), a movement at its layer's, a transfer's arrival
/// from its source.
fn fresh_journal(report: &CostReport, sold_at: &BTreeMap<String, String>) -> BTreeMap<JournalKey, Decimal> {
    let mut total = BTreeMap::new();
    for sale in &report.sales {
        let at = sold_at[sale.sale_id.as_str()].clone();
        let key = (sale.sale_date.date_naive().to_string(), sale.sku.to_string(), SALE, (at.clone(), at));
        *total.entry(key).or_insert(Decimal::ZERO) += sale.cogs;
    }
    let sent_from: BTreeMap<&str, String> = report
        .movements
        .iter()
        .filter(|line| line.kind == MovementKind::TransferOut)
        .map(|line| (line.event_id.as_str(), line.location.to_string()))
        .collect();
    for line in &report.movements {
        let here = line.location.to_string();
        let from = match line.kind {
            MovementKind::TransferIn => sent_from[line.event_id.as_str()].clone(),
            _ => here.clone(),
        };
        let key = (line.event_date.date_naive().to_string(), line.sku.to_string(), line.kind.accounts(), (here, from));
        *total.entry(key).or_insert(Decimal::ZERO) += line.cost;
    }
    total.retain(|_, amount| !amount.is_zero());
    total
}

/// The run's journal as the generic JSON export, with the deployment's default accounts
/// under the tenant's.
async fn journal_json(db: &TestDb, run_id: uuid::Uuid) -> Value {
    let export = service::journal_entry(
        &db.pool,
        &tenant(TENANT),
        run_id,
        service::JournalOptions::default(),
        cogs_core::journal::Format::Json,
        &cogs_core::journal::JournalConfig::default(),
    )
    .await
    .unwrap();
    serde_json::from_slice(&export.rendered().body).unwrap()
}

async fn book_json(db: &TestDb) -> Value {
    let page = service::book(&db.pool, &tenant(TENANT), Default::default()).await.unwrap();
    serde_json::to_value(&page.book).unwrap()
}

const LOTS: &str =
    "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit,receipt_id
L1,WIDGET,2024-07-01,100,100,10.00,0,PO1
L2,GADGET,2024-07-01,50,50,4.00,0,PO1
";
const SALES: &str = "sale_id,sku,sale_date,quantity_sold
S1,WIDGET,2024-07-05,40
S2,GADGET,2024-07-06,10
S3,WIDGET,2024-07-10,20
";

/// The README's worked example. WIDGET: S1 takes 40 of L1 (400.00); 5 come back on
/// 07-08 into layer R1:L1 at 10.00; S3 takes 20 more of L1 (200.00). The 150.00 freight
/// bill of 07-15 is spread over PO1 by quantity: 100.00 to L1, 50.00 to L2. L1's 100
/// loaded units: S1's 40 take 40.00 and S3's 20 take 20.00 to COGS, the 40 on hand
/// 40.00. The count of 07-20 finds 44 of the 45 on hand: one unit of L1 is written off
/// at 10.00 + 1.00 of its freight. GADGET: S2 takes 10 of L2 (40.00) and 10.00 of the
/// freight; 40 on hand carry 40.00. COGS 640.00 + 70.00 = 710.00, restocked 50.00,
/// net 660.00; closing L1 39 × 10 + 39.00 = 429.00, R1:L1 50.00, L2 40 × 4 + 40 = 200.00.
#[tokio::test]
async fn a_return_a_count_and_a_late_freight_bill_flow_into_the_book_exactly_as_cogs_cost() {
    let db = TestDb::new().await;
    let mut loaded = Loaded::default();
    upload(&db, &mut loaded, RecordKind::Lots, LOTS).await.unwrap();
    upload(&db, &mut loaded, RecordKind::Sales, SALES).await.unwrap();
    run(&db).await;
    let before_movements = book_json(&db).await;
    assert_eq!(Some(before_movements.clone()), loaded.cost_json());

    let returns = "return_id,sale_id,return_date,quantity,restock\nR1,S1,2024-07-08,5,true\n";
    let counts = "count_id,sku,count_date,counted_quantity\nC1,WIDGET,2024-07-20,44\n";
    let landed = "landed_cost_id,receipt_id,cost_date,amount,allocate_by\nF1,PO1,2024-07-15,150.00,quantity\n";
    upload(&db, &mut loaded, RecordKind::Returns, returns).await.unwrap();
    upload(&db, &mut loaded, RecordKind::Counts, counts).await.unwrap();
    upload(&db, &mut loaded, RecordKind::LandedCosts, landed).await.unwrap();
    let recosting = run(&db).await;

    let book = book_json(&db).await;
    assert_eq!(Some(book.clone()), loaded.cost_json());
    assert_eq!(
        book["totals"],
        json!({"total_cogs": "710", "restocked_returns": "50", "net_cogs": "660",
               "ending_inventory_value": "679", "ending_inventory_quantity": "84"})
    );
    assert_eq!(
        book["movements"],
        json!([
            {"kind": "landed_to_cogs", "event_id": "F1", "sku": "GADGET", "event_date": "2024-07-15T00:00:00Z",
             "lot_id": "L2", "quantity": "10", "cost": "10", "consumer": "S2", "location": "main"},
            {"kind": "landed_on_hand", "event_id": "F1", "sku": "GADGET", "event_date": "2024-07-15T00:00:00Z",
             "lot_id": "L2", "quantity": "40", "cost": "40", "location": "main"},
            {"kind": "return_restocked", "event_id": "R1", "sku": "WIDGET", "event_date": "2024-07-08T00:00:00Z",
             "lot_id": "R1:L1", "quantity": "5", "cost": "50", "location": "main"},
            {"kind": "landed_to_cogs", "event_id": "F1", "sku": "WIDGET", "event_date": "2024-07-15T00:00:00Z",
             "lot_id": "L1", "quantity": "40", "cost": "40", "consumer": "S1", "location": "main"},
            {"kind": "landed_to_cogs", "event_id": "F1", "sku": "WIDGET", "event_date": "2024-07-15T00:00:00Z",
             "lot_id": "L1", "quantity": "20", "cost": "20", "consumer": "S3", "location": "main"},
            {"kind": "landed_on_hand", "event_id": "F1", "sku": "WIDGET", "event_date": "2024-07-15T00:00:00Z",
             "lot_id": "L1", "quantity": "40", "cost": "40", "location": "main"},
            {"kind": "count_deficit", "event_id": "C1", "sku": "WIDGET", "event_date": "2024-07-20T00:00:00Z",
             "lot_id": "L1", "quantity": "1", "cost": "11", "location": "main"},
        ])
    );
    assert_books_balance(&db, TENANT).await;

    // Rolled back, the book is what it was before the movements; run again, the same.
    service::rollback_run(&db.pool, &caller(TENANT), recosting, false).await.unwrap();
    assert_eq!(book_json(&db).await, before_movements);
    assert_books_balance(&db, TENANT).await;
    run(&db).await;
    assert_eq!(book_json(&db).await, book);
    assert_books_balance(&db, TENANT).await;
    assert_eq!(journals_added_up(&db).await, fresh_journal(&loaded.cost().unwrap(), &loaded.sale_locations()));
    the_reports_tie_to_the_book_and_the_journals(&db, &book).await;
}

/// The worked example's reports, by hand: July rolls forward from nothing to 679.00;
/// the valuation ties to it and to the book; the journals' inventory lines move it by
/// what is not a receipt; the trace of S1 and L1; the ageing.
async fn the_reports_tie_to_the_book_and_the_journals(db: &TestDb, book: &Value) {
    let day = |text: &str| text.parse::<chrono::NaiveDate>().unwrap();
    let july = service::roll_forward(&db.pool, &tenant(TENANT), day("2024-07-01"), day("2024-07-31")).await.unwrap();
    let total = serde_json::to_value(&july.total).unwrap();
    assert_eq!(
        total,
        json!({"sku": null, "opening_quantity": "0", "opening_value": "0", "receipts": "1200", "landed_costs": "150",
               "restocked_returns": "50", "adjustments_in": "0", "transfers_in": "0", "supplier_returns": "0",
               "adjustments_out": "11", "transfers_out": "0", "cogs": "710", "closing_quantity": "84",
               "closing_value": "679"})
    );
    // All of it at the one location.
    let mut at_main = total.clone();
    at_main["location"] = json!("main");
    assert_eq!(serde_json::to_value(&july.locations).unwrap(), json!([at_main]));
    assert_eq!(july.total.computed_closing(), Some(july.total.closing_value));
    assert!(july.skus.iter().all(|row| row.computed_closing() == Some(row.closing_value)));

    // The valuation as July ends is the book's stock, layer by layer.
    let end = service::valuation(&db.pool, &tenant(TENANT), "2024-07-31".parse().unwrap()).await.unwrap();
    assert_eq!(end.total_value, july.total.closing_value);
    let held: Vec<(String, String, String)> =
        end.lots.iter().map(|l| (l.lot_id.clone(), l.quantity.to_string(), l.value.to_string())).collect();
    let book_lots: Vec<(String, String, String)> = book["lots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["remaining_quantity"] != "0")
        .map(|l| {
            (
                l["lot_id"].as_str().unwrap().into(),
                l["remaining_quantity"].as_str().unwrap().into(),
                l["remaining_value"].as_str().unwrap().into(),
            )
        })
        .collect();
    let mut sorted = book_lots.clone();
    sorted.sort();
    let mut held_sorted = held.clone();
    held_sorted.sort();
    assert_eq!(held_sorted, sorted);
    // Mid-July: 1200 − S1 400 − S2 40 + R1 50 − S3 200; 150 − 40 − 10 + 5 − 20 units.
    let mid = service::valuation(&db.pool, &tenant(TENANT), "2024-07-12".parse().unwrap()).await.unwrap();
    assert_eq!((mid.total_quantity.to_string(), mid.total_value.to_string()), ("85".into(), "610".into()));

    // The journals' inventory lines move it by all but the receipts (booked by payables).
    let mut inventory = Decimal::ZERO;
    for ((_, _, (debit, credit), _), amount) in journals_added_up(db).await {
        if debit == AccountKind::Inventory {
            inventory += amount;
        }
        if credit == AccountKind::Inventory {
            inventory -= amount;
        }
    }
    assert_eq!(inventory, july.total.closing_value - july.total.opening_value - july.total.receipts);

    let cogs =
        service::cogs_by_sku(&db.pool, &tenant(TENANT), day("2024-07-01"), day("2024-07-31"), true).await.unwrap();
    assert_eq!(
        (cogs.total_cogs.to_string(), cogs.total_restocked_returns.to_string(), cogs.total_net_cogs.to_string()),
        ("710".into(), "50".into(), "660".into())
    );
    let s1 = service::sale_trace(&db.pool, &tenant(TENANT), "S1").await.unwrap();
    assert_eq!(
        serde_json::to_value(&s1.allocations).unwrap(),
        json!([{"lot_id": "L1", "quantity": "40", "unit_cost": "10", "cost": "400"}])
    );
    assert_eq!(s1.cogs.to_string(), "440", "S1's 400.00 and the 40.00 of freight that fell on its units");
    let l1 = service::lot_trace(&db.pool, &tenant(TENANT), "L1").await.unwrap();
    let consumers: Vec<&str> = l1.sales.iter().map(|s| s.sale_id.as_str()).collect();
    assert_eq!(consumers, ["S1", "S3"]);
    let kinds: Vec<&str> = l1.movements.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["landed_to_cogs", "landed_to_cogs", "landed_on_hand", "count_deficit"]);
    assert!(matches!(
        service::sale_trace(&db.pool, &tenant(TENANT), "S9").await,
        Err(ServiceError::NotFound { what: "sale", .. })
    ));
    let ageing = service::ageing(&db.pool, &tenant(TENANT), "2024-07-31".parse().unwrap()).await.unwrap();
    // As July ends, PO1's lots are 31 days old, R1's restocked units 24.
    let buckets: Vec<(&str, String)> = ageing.total.buckets.iter().map(|b| (b.days, b.value.to_string())).collect();
    assert_eq!(&buckets[..2], [("0-30", "50".to_owned()), ("31-60", "629".to_owned())]);
}

#[tokio::test]
async fn a_movement_naming_what_is_not_loaded_is_rejected_by_row_and_column_and_nothing_changes() {
    let db = TestDb::new().await;
    let mut loaded = Loaded::default();
    upload(&db, &mut loaded, RecordKind::Lots, LOTS).await.unwrap();
    upload(&db, &mut loaded, RecordKind::Sales, SALES).await.unwrap();
    let before = db.data(&[TENANT]).await;
    let cases = [
        (
            RecordKind::Returns,
            "return_id,sale_id,return_date,quantity,restock\nR1,S9,2024-07-08,1,true\nR2,S1,2024-07-01,1,true\n\
             R3,S2,2024-07-08,6,false\nR4,S2,2024-07-09,5,true\n",
            vec![
                (2, "sale_id", "unknown_reference"),
                (3, "return_date", "dated_before_reference"),
                (4, "quantity", "return_exceeds_sale"),
                (5, "quantity", "return_exceeds_sale"),
            ],
        ),
        (
            RecordKind::SupplierReturns,
            "supplier_return_id,lot_id,return_date,quantity\nSR1,L9,2024-07-08,1\n",
            vec![(2, "lot_id", "unknown_reference")],
        ),
        (
            RecordKind::LandedCosts,
            "landed_cost_id,lot_id,receipt_id,cost_date,amount,allocate_by\nF1,L9,,2024-07-08,1,\n\
             F2,,PO9,2024-07-08,1,\nF3,L1,,2024-06-30,1,\n",
            vec![
                (2, "lot_id", "unknown_reference"),
                (3, "receipt_id", "unknown_reference"),
                (4, "cost_date", "dated_before_reference"),
            ],
        ),
        (
            RecordKind::Adjustments,
            "adjustment_id,sku,adjustment_date,quantity,unit_cost,reason\nA1,WIDGET,2024-07-08,3,,found\n",
            vec![(2, "unit_cost", "missing_unit_cost")],
        ),
    ];
    for (kind, csv, expected) in cases {
        let error = upload(&db, &mut loaded, kind, csv).await.unwrap_err();
        let ServiceError::UploadRejected { rejected, .. } = error else { panic!("{kind}: {error}") };
        let found: Vec<(u64, String, &str)> =
            rejected.errors.iter().map(|e| (e.row, e.column.clone().unwrap(), e.kind.as_str())).collect();
        let expected: Vec<(u64, String, &str)> =
            expected.into_iter().map(|(row, column, kind)| (row, column.to_owned(), kind)).collect();
        assert_eq!(found, expected, "{kind}");
        assert_eq!(db.data(&[TENANT]).await, before, "{kind}: a rejected file changes nothing");
    }
}

#[tokio::test]
async fn a_lot_arriving_after_a_landed_cost_of_its_delivery_is_rejected() {
    let db = TestDb::new().await;
    let mut loaded = Loaded::default();
    upload(&db, &mut loaded, RecordKind::Lots, LOTS).await.unwrap();
    let landed = "landed_cost_id,receipt_id,cost_date,amount\nF1,PO1,2024-07-15,150.00\n";
    upload(&db, &mut loaded, RecordKind::LandedCosts, landed).await.unwrap();
    let late = "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit,receipt_id\n\
                L3,WIDGET,2024-07-20,5,5,1,0,PO1\n";
    let error = upload(&db, &mut loaded, RecordKind::Lots, late).await.unwrap_err();
    let ServiceError::UploadRejected { rejected, .. } = error else { panic!("{error}") };
    assert_eq!(rejected.errors[0].column.as_deref(), Some("received_date"));
    assert_eq!(rejected.errors[0].kind, RowErrorKind::DatedBeforeReference);
}

/// A world of every movement over three SKUs, two deliveries shared across them, in
/// CSV rows per kind: valid references throughout (returns never exceed their sale,
/// landed costs dated after their delivery), but files may arrive before what they
/// name (rejected, and loaded again later; a sale may name its lot), and stock may run
/// short (the SKU parks). Stock is kept at two locations, the main one (a row that
/// names none, or names it) and WEST, with transfers between them.
fn world(random: &mut Xorshift) -> Vec<(RecordKind, Vec<String>)> {
    let day = |d: u64| format!("2024-01-{:02}T{}:00:00Z", 1 + d, if d.is_multiple_of(2) { "00" } else { "12" });
    let place = |random: &mut Xorshift| ["", "WEST", "", "main"][random.below(4) as usize];
    let mut lots = Vec::new();
    let mut sales: Vec<(String, String, u64, u64, String)> = Vec::new();
    for sku in ["A", "B", "C"] {
        let lot_count = 2 + random.below(3);
        for i in 0..lot_count {
            let at = random.below(10);
            let quantity = 1 + random.below(12);
            let price = 100 + random.below(900);
            let receipt = match random.below(3) {
                0 => ",PO1".to_owned(),
                1 => ",PO2".to_owned(),
                _ => ",".to_owned(),
            };
            lots.push((
                format!(
                    "L{sku}{i},{sku},{},{quantity},{quantity},{}.{:02},0.10{receipt},{}",
                    day(at),
                    price / 100,
                    price % 100,
                    place(random)
                ),
                at,
                receipt,
            ));
        }
        for i in 0..2 + random.below(5) {
            let at = random.below(20);
            // Now and then a sale names its lot (kept, and ignored by FIFO).
            let lot = if random.below(4) == 0 { format!("L{sku}{}", random.below(lot_count)) } else { String::new() };
            let lot = format!("{lot},{}", place(random));
            sales.push((format!("S{sku}{i}"), sku.to_owned(), at, 1 + random.below(5), lot));
        }
    }
    let mut returns = Vec::new();
    for (i, (sale_id, _, at, quantity, _)) in sales.iter().enumerate() {
        if random.below(3) == 0 {
            let back = 1 + random.below(*quantity);
            let restock = if random.below(2) == 0 { "true" } else { "false" };
            let (at, to) = (day(at + random.below(3)), place(random));
            returns.push(format!("R{i},{sale_id},{at},{back},{restock},{to}"));
        }
    }
    let mut supplier_returns = Vec::new();
    for (i, (row, at, _)) in lots.iter().enumerate() {
        if random.below(4) == 0 {
            let lot_id = row.split(',').next().unwrap();
            // Mostly from where the lot was received; now and then from WEST.
            let from = if random.below(3) == 0 { "WEST" } else { "" };
            let (at, quantity) = (day(at + random.below(4)), 1 + random.below(3));
            supplier_returns.push(format!("SR{i},{lot_id},{at},{quantity},{from}"));
        }
    }
    let mut adjustments = Vec::new();
    let mut counts = Vec::new();
    for sku in ["A", "B", "C"] {
        if random.below(2) == 0 {
            // Now and then a write-off names its lot (kept, and ignored but by specific identification).
            let lot = if random.below(2) == 0 { format!("L{sku}0") } else { String::new() };
            let (at, quantity) = (day(random.below(20)), 1 + random.below(2));
            adjustments.push(format!("ADJ{sku}1,{sku},{at},-{quantity},,shrinkage,{lot},{}", place(random)));
        }
        if random.below(2) == 0 {
            let (at, quantity, to) = (day(random.below(20)), 1 + random.below(3), place(random));
            adjustments.push(format!("ADJ{sku}2,{sku},{at},{quantity},2.50,found,,{to}"));
        }
        if random.below(2) == 0 {
            counts.push(format!("CNT{sku},{sku},{},{},{}", day(random.below(20)), random.below(8), place(random)));
        }
    }
    let mut transfers = Vec::new();
    for sku in ["A", "B", "C"] {
        for i in 0..random.below(3) {
            let (from, to) = if random.below(2) == 0 { ("main", "WEST") } else { ("WEST", "main") };
            let (at, quantity) = (day(random.below(20)), 1 + random.below(4));
            transfers.push(format!("T{sku}{i},{sku},{from},{to},{at},{quantity}"));
        }
    }
    let mut landed = Vec::new();
    for receipt in ["PO1", "PO2"] {
        let arrived = lots.iter().filter(|(_, _, r)| r.ends_with(receipt)).map(|(_, at, _)| *at).max();
        if let Some(arrived) = arrived.filter(|_| random.below(3) > 0) {
            let by = if random.below(2) == 0 { "quantity" } else { "value" };
            landed.push(format!(
                "F{receipt},,{receipt},{},{}.{:02},{by}",
                day(arrived + random.below(6)),
                random.below(90),
                random.below(100)
            ));
        }
    }
    if let Some((row, at, _)) = lots.first() {
        let lot_id = row.split(',').next().unwrap();
        landed.push(format!("FL,{lot_id},,{},12.34,quantity", day(at + 1 + random.below(5))));
    }
    // D and E have lots and sales only: D at the default location (the fast path's, but
    // while a method is the average, and given back to it once the methods are FIFO
    // throughout), E anywhere (the engine's whenever a row is elsewhere).
    for sku in ["D", "E"] {
        for i in 0..2 + random.below(2) {
            let (at, quantity, price) = (random.below(10), 4 + random.below(8), random.below(100));
            let at_place = if sku == "D" { "" } else { place(random) };
            let row = format!("L{sku}{i},{sku},{},{quantity},{quantity},3.{price:02},0.10,,{at_place}", day(at));
            lots.push((row, at, ",".into()));
        }
        for i in 0..2 + random.below(4) {
            let (at, quantity) = (5 + random.below(15), 1 + random.below(4));
            let at_place = if sku == "D" { "" } else { place(random) };
            sales.push((format!("S{sku}{i}"), sku.to_owned(), at, quantity, format!(",{at_place}")));
        }
    }
    vec![
        (RecordKind::Lots, lots.into_iter().map(|(row, _, _)| row).collect()),
        (
            RecordKind::Sales,
            sales.into_iter().map(|(id, sku, at, q, lot)| format!("{id},{sku},{},{q},{lot}", day(at))).collect(),
        ),
        (RecordKind::Returns, returns),
        (RecordKind::SupplierReturns, supplier_returns),
        (RecordKind::Adjustments, adjustments),
        (RecordKind::Counts, counts),
        (RecordKind::LandedCosts, landed),
        (RecordKind::Transfers, transfers),
    ]
}

fn header(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Lots => {
            "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit,receipt_id,location"
        }
        RecordKind::Sales => "sale_id,sku,sale_date,quantity_sold,lot_id,location",
        RecordKind::Returns => "return_id,sale_id,return_date,quantity,restock,location",
        RecordKind::SupplierReturns => "supplier_return_id,lot_id,return_date,quantity,location",
        RecordKind::Adjustments => "adjustment_id,sku,adjustment_date,quantity,unit_cost,reason,lot_id,location",
        RecordKind::Counts => "count_id,sku,count_date,counted_quantity,location",
        RecordKind::LandedCosts => "landed_cost_id,lot_id,receipt_id,cost_date,amount,allocate_by",
        RecordKind::Transfers => "transfer_id,sku,from_location,to_location,transfer_date,quantity",
    }
}

/// Costs the tenant's interrupted run, if any, to its end.
async fn finish_active(db: &TestDb) {
    for status in [RunStatus::Pending, RunStatus::Running] {
        let page = service::list_runs(&db.pool, &tenant(TENANT), Some(status), 10, None).await.unwrap();
        for active in page.runs {
            let budget = ChunkBudget::unlimited(1);
            let done = service::advance_run(&db.pool, &caller(TENANT), active.run_id, &budget).await.unwrap();
            assert!(!done.status.is_active());
        }
    }
}

/// Seeded histories: every kind's rows cut into files, loaded in random order (a file
/// naming what is not loaded yet is rejected, changes nothing, and waits: late input of
/// every kind), with runs (some interrupted after one chunk of one SKU and resumed
/// later) and rollbacks with and without cascade in between, and `cogs verify` after
/// every step, and the costing method changed now and then (throughout, or from a day
/// on). After each run that costs everything loaded, `cogs book` equals `cogs cost`
/// over every file loaded, by the tenant's methods.
#[tokio::test]
async fn after_any_history_of_every_movement_the_book_equals_cogs_cost() {
    let mut interruptions = 0;
    for seed in 1..=10_u64 {
        let mut random = Xorshift(0x5851_f42d_4c95_7f2d ^ seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let mut pending: Vec<(RecordKind, String)> = Vec::new();
        for (kind, rows) in world(&mut random) {
            for part in rows.chunks(1 + random.below(3) as usize) {
                pending.push((kind, format!("{}\n{}\n", header(kind), part.join("\n"))));
            }
        }
        for i in (1..pending.len()).rev() {
            pending.swap(i, random.below(i as u64 + 1) as usize);
        }
        let db = TestDb::new().await;
        let mut loaded = Loaded::default();
        // Half the tenants keep their stock at a default location of their own: rows
        // that name `main` are then elsewhere.
        if seed % 2 == 0 {
            let change = service::SettingsChange {
                default_location: Some(Location::parse("HQ").unwrap()),
                ..Default::default()
            };
            loaded.default_location =
                service::change_settings(&db.pool, &caller(TENANT), &change).await.unwrap().default_location;
        }
        let mut runs = Vec::new();
        let mut history: Vec<String> = Vec::new();
        let mut waiting = 0;
        while let Some((kind, csv)) = pending.first().cloned() {
            match random.below(6) {
                0..=2 => {
                    pending.remove(0);
                    // A run left interrupted finishes first: uploads wait for it.
                    finish_active(&db).await;
                    match upload(&db, &mut loaded, kind, &csv).await {
                        Ok(()) => {
                            history.push(format!("upload {kind}"));
                            waiting = 0;
                        }
                        Err(ServiceError::UploadRejected { .. }) => {
                            history.push(format!("upload {kind} (rejected)"));
                            pending.push((kind, csv));
                            waiting += 1;
                            assert!(waiting <= pending.len(), "seed {seed}: no file can be loaded: {history:?}");
                        }
                        Err(other) => panic!("seed {seed}: {other}"),
                    }
                }
                3 => {
                    finish_active(&db).await;
                    let caller = caller(TENANT);
                    let started = service::start_run(&db.pool, &caller, None, None).await.unwrap();
                    runs.push(started.run_id);
                    let interrupt = random.below(3) == 0;
                    let budget = ChunkBudget { max_chunks: interrupt.then_some(1), ..ChunkBudget::unlimited(1) };
                    let done = service::advance_run(&db.pool, &caller, started.run_id, &budget).await.unwrap();
                    history.push(format!("run{}", if interrupt { " (interrupted)" } else { "" }));
                    if !done.status.is_active()
                        && let Some(cost) = loaded.cost_json()
                    {
                        assert_eq!(book_json(&db).await, cost, "seed {seed}, after {history:?}");
                    }
                }
                4 => {
                    finish_active(&db).await;
                    let method = Method::ALL[random.below(Method::ALL.len() as u64) as usize];
                    let from = (random.below(3) > 0)
                        .then(|| chrono::NaiveDate::from_ymd_opt(2024, 1, 1 + random.below(20) as u32).unwrap());
                    let setting = service::MethodSetting { method, from };
                    let change = service::SettingsChange { costing_method: Some(setting), ..Default::default() };
                    let settings = service::change_settings(&db.pool, &caller(TENANT), &change).await.unwrap();
                    loaded.methods = settings.methods;
                    history.push(format!("method {method} from {from:?}"));
                }
                _ if !runs.is_empty() => {
                    let target = runs[random.below(runs.len() as u64) as usize];
                    let cascade = random.below(2) == 0;
                    let outcome = service::rollback_run(&db.pool, &caller(TENANT), target, cascade).await;
                    assert!(
                        matches!(
                            outcome,
                            Ok(_)
                                | Err(ServiceError::WrongRunStatus { .. }
                                    | ServiceError::DependentRuns { .. }
                                    | ServiceError::RunInProgress { .. })
                        ),
                        "seed {seed}: {outcome:?}"
                    );
                    history.push(format!("rollback{}", if cascade { " --cascade" } else { "" }));
                }
                _ => {}
            }
            assert_books_balance(&db, TENANT).await;
        }
        finish_active(&db).await;
        run(&db).await;
        assert_eq!(Some(book_json(&db).await), loaded.cost_json(), "seed {seed}, after {history:?}");
        let interrupted = history.iter().filter(|step| step.ends_with("(interrupted)")).count();
        interruptions += interrupted;
        assert_books_balance(&db, TENANT).await;
        if let Some(report) = loaded.cost() {
            let sold_at = loaded.sale_locations();
            let fresh = fresh_journal(&report, &sold_at);
            assert_eq!(journals_added_up(&db).await, fresh, "seed {seed}: the journals add up");
            // The roll-forward of the whole year ends at the book's stock.
            let day = |text: &str| text.parse::<chrono::NaiveDate>().unwrap();
            let year =
                service::roll_forward(&db.pool, &tenant(TENANT), day("2024-01-01"), day("2024-12-31")).await.unwrap();
            assert_eq!(year.total.closing_value, report.totals.ending_inventory_value, "seed {seed}");
            assert!(year.skus.iter().all(|row| row.computed_closing() == Some(row.closing_value)), "seed {seed}");
            // The valuation after everything holds the fresh costing's layers, each at its
            // location, and each location is worth what the costing leaves there. (Layer by
            // layer, the values differ under the average: the costing restates a pool's
            // layers at its average, which moves no value the flows could show.)
            let now = service::valuation(&db.pool, &tenant(TENANT), "2030-01-01".parse().unwrap()).await.unwrap();
            let mut valued: Vec<_> = now
                .lots
                .iter()
                .filter(|l| !l.quantity.is_zero())
                .map(|l| (l.lot_id.clone(), l.location.to_string(), l.quantity.normalize()))
                .collect();
            let mut costed: Vec<_> = report
                .lots
                .iter()
                .filter(|l| !l.remaining_quantity.is_zero())
                .map(|l| (l.lot_id.to_string(), l.location.to_string(), l.remaining_quantity.normalize()))
                .collect();
            valued.sort();
            costed.sort();
            assert_eq!(valued, costed, "seed {seed}: the valuation's layers and their locations");
            let mut left_at: BTreeMap<String, Decimal> = BTreeMap::new();
            for lot in &report.lots {
                *left_at.entry(lot.location.to_string()).or_default() += lot.remaining_value;
            }
            left_at.retain(|_, value| !value.is_zero());
            let worth: BTreeMap<String, Decimal> = now
                .locations
                .iter()
                .filter(|at| !at.value.is_zero())
                .map(|at| (at.location.to_string(), at.value))
                .collect();
            assert_eq!(worth, left_at, "seed {seed}: the valuation by location");
            // The year's roll-forward ends each location at what the costing leaves there.
            let closing_at: BTreeMap<String, Decimal> = year
                .locations
                .iter()
                .filter(|row| !row.closing_value.is_zero())
                .map(|row| (row.location.as_ref().expect("a location's line").to_string(), row.closing_value))
                .collect();
            assert_eq!(closing_at, left_at, "seed {seed}: the roll-forward by location");
            assert!(year.locations.iter().all(|row| row.computed_closing() == Some(row.closing_value)), "seed {seed}");
        }
    }
    assert!(interruptions > 0, "the histories interrupt runs and resume them");
}

#[tokio::test]
async fn a_late_write_off_in_a_closed_period_is_refused_under_refuse_and_posted_in_the_open_period_otherwise() {
    let db = TestDb::new().await;
    let mut loaded = Loaded::default();
    let lots = "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit\nL1,A,2024-01-01,10,10,1.00,0\n";
    upload(&db, &mut loaded, RecordKind::Lots, lots).await.unwrap();
    upload(&db, &mut loaded, RecordKind::Sales, "sale_id,sku,sale_date,quantity_sold\nS2,A,2024-02-10,1\n")
        .await
        .unwrap();
    run(&db).await;
    let close_january: service::SettingsChange =
        serde_json::from_str(r#"{"lock_date": "2024-01-31", "lock_policy": "refuse"}"#).unwrap();
    service::change_settings(&db.pool, &caller(TENANT), &close_january).await.unwrap();
    let write_off = "adjustment_id,sku,adjustment_date,quantity,unit_cost,reason\nADJ1,A,2024-01-20,-2,,broken\n";
    upload(&db, &mut loaded, RecordKind::Adjustments, write_off).await.unwrap();
    let before = db.data(&[TENANT]).await;

    let refused = service::start_run(&db.pool, &caller(TENANT), None, None).await.unwrap_err();

    let ServiceError::LockedPeriod { kind, id, .. } = &refused else { panic!("{refused:?}") };
    assert_eq!((kind.as_str(), id.as_str()), ("adjustment", "ADJ1"));
    assert_eq!(db.data(&[TENANT]).await, before, "nothing changed");

    // Posted in the open period instead: the write-off of 20 January is dated 1 February,
    // naming the period it corrects; the sale's costing is unchanged, so it posts nothing.
    let post_open: service::SettingsChange = serde_json::from_str(r#"{"lock_policy": "post_in_open_period"}"#).unwrap();
    service::change_settings(&db.pool, &caller(TENANT), &post_open).await.unwrap();
    let correcting = run(&db).await;
    let options = service::JournalOptions { period: Some(Period::Day), ..Default::default() };
    let export = service::journal_entry(
        &db.pool,
        &tenant(TENANT),
        correcting,
        options,
        cogs_core::journal::Format::Json,
        &cogs_core::journal::JournalConfig::default(),
    )
    .await
    .unwrap();
    let journal: Value = serde_json::from_slice(&export.rendered().body).unwrap();
    let entries = journal["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{journal}");
    assert_eq!(entries[0]["date"], "2024-02-01");
    assert!(entries[0]["narration"].as_str().unwrap().contains("corrects closed period 2024-01-20"), "{journal}");
    let lines: Vec<(String, String, String)> = entries[0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["account_code"].as_str().unwrap().into(),
                l["side"].as_str().unwrap().into(),
                l["amount"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("5100".to_owned(), "debit".to_owned(), "2.00".to_owned()),
            ("1400".to_owned(), "credit".to_owned(), "2.00".to_owned())
        ]
    );
    assert_books_balance(&db, TENANT).await;
}

#[tokio::test]
async fn a_supplier_return_larger_than_its_lot_parks_the_sku_or_fails_a_strict_run_changing_nothing() {
    let db = TestDb::new().await;
    let mut loaded = Loaded::default();
    let lots = "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit\nL1,A,2024-01-01,5,5,1.00,0\nL2,B,2024-01-01,5,5,2.00,0\n";
    upload(&db, &mut loaded, RecordKind::Lots, lots).await.unwrap();
    let sales = "sale_id,sku,sale_date,quantity_sold\nS1,A,2024-01-02,2\nS2,B,2024-01-02,1\n";
    upload(&db, &mut loaded, RecordKind::Sales, sales).await.unwrap();
    let sent = "supplier_return_id,lot_id,return_date,quantity\nSR1,L1,2024-01-03,4\n";
    upload(&db, &mut loaded, RecordKind::SupplierReturns, sent).await.unwrap();
    let before = db.data(&[TENANT]).await;

    let caller = caller(TENANT);
    let strict = service::start_run(&db.pool, &caller, None, Some(ShortfallPolicy::Fail)).await.unwrap();
    let failed = service::advance_run(&db.pool, &caller, strict.run_id, &ChunkBudget::unlimited(10)).await.unwrap_err();

    let message = failed.to_string();
    assert!(message.contains("supplier return SR1 needs 1 more of A than its layers held (3)"), "{message}");
    assert_eq!(failed.kind(), "insufficient_inventory");
    // A failed run changes nothing but its own records (the snapshots it took).
    let mut after = db.data(&[TENANT]).await;
    let mut before = before;
    for records in ["acme-corp.watermark_snapshots", "acme-corp.inventory_snapshots"] {
        before.remove(records);
        after.remove(records);
    }
    assert_eq!(after, before, "a failed run changes nothing");

    let parking = run(&db).await;
    let detail = service::show_run(&db.pool, &tenant(TENANT), parking).await.unwrap();
    let shortfalls = serde_json::to_value(&detail.shortfalls).unwrap();
    assert_eq!(
        shortfalls,
        json!([{"sku": "A", "event_kind": "supplier_return", "event_id": "SR1", "event_date": "2024-01-03T00:00:00Z",
                "quantity_short": "1", "on_hand": "3", "location": "main"}])
    );
    assert_eq!(Some(book_json(&db).await), loaded.cost_json(), "B is costed, A parked at SR1 as cogs cost parks it");
    assert_books_balance(&db, TENANT).await;
}

#[tokio::test]
async fn a_dry_run_costs_movement_files_with_what_is_loaded_and_writes_nothing() {
    let db = TestDb::new().await;
    let mut loaded = Loaded::default();
    upload(&db, &mut loaded, RecordKind::Lots, LOTS).await.unwrap();
    upload(&db, &mut loaded, RecordKind::Sales, SALES).await.unwrap();
    run(&db).await;
    let before = db.data(&[TENANT]).await;
    let returns = "return_id,sale_id,return_date,quantity,restock\nR1,S1,2024-07-08,5,true\n";
    let landed = "landed_cost_id,receipt_id,cost_date,amount,allocate_by\nF1,PO1,2024-07-15,150.00,quantity\n";

    // Given landed costs first: loaded after the lots and sales they name all the same.
    let input = service::DryRunInput {
        files: vec![
            (RecordKind::LandedCosts, "landed.csv".to_owned(), landed.as_bytes()),
            (RecordKind::Returns, "returns.csv".to_owned(), returns.as_bytes()),
        ],
    };
    let report = service::dry_run(&db.pool, &caller(TENANT), None, None, input, None).await.unwrap();

    let kinds: Vec<&str> = report.costing.movements.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["landed_to_cogs", "landed_on_hand", "return_restocked", "landed_to_cogs", "landed_to_cogs", "landed_on_hand"]
    );
    assert_eq!(report.costing.totals.restocked_returns.to_string(), "50");
    assert_eq!(report.skus_recosted, 2, "both SKUs of the delivery are costed again");
    assert_eq!(db.data(&[TENANT]).await, before, "a dry run writes nothing");
}

#[tokio::test]
async fn a_tenants_accounts_and_options_reach_its_journals_over_the_deployments() {
    let db = TestDb::new().await;
    let mut loaded = Loaded::default();
    upload(&db, &mut loaded, RecordKind::Lots, LOTS).await.unwrap();
    upload(&db, &mut loaded, RecordKind::Sales, SALES).await.unwrap();
    let run_id = run(&db).await;
    let pool = &db.pool;
    let export = async |format| {
        let deployment = cogs_core::journal::JournalConfig::default();
        let options = service::JournalOptions::default();
        let export = service::journal_entry(pool, &tenant(TENANT), run_id, options, format, &deployment).await;
        String::from_utf8(export.unwrap().rendered().body).unwrap()
    };
    // A tenant that set nothing posts to the deployment's accounts, a line per SKU a day.
    let csv = export(cogs_core::journal::Format::Csv).await;
    assert!(csv.contains(",5000,Cost of Goods Sold,") && csv.contains(",1400,Inventory,"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 2 * 3, "three (day, SKU) lines: {csv}");

    let change: service::SettingsChange = serde_json::from_value(json!({
        "accounts": {"cogs": {"code": "310", "name": "Cost of Sales"}},
        "sku_rules": [{"prefix": "GAD", "inventory": {"code": "1450", "name": "Gadget Stock"}}],
        "location_accounts": {"WEST": {"code": "1420", "name": "Inventory West"}},
        "xero_tracking": {"name": "Channel", "option": "Online"},
        "journal_period": "month",
        "journal_lines": "single"
    }))
    .unwrap();
    let stored = service::change_settings(&db.pool, &caller(TENANT), &change).await.unwrap();
    assert_eq!(service::settings(&db.pool, &tenant(TENANT)).await.unwrap(), stored, "the settings read back as stored");

    // Its own COGS account, its rule for GADGET's stock, the deployment's inventory
    // account for the rest, a journal per month with a line per pair of accounts.
    let csv = export(cogs_core::journal::Format::Csv).await;
    let lines: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            format!("{} {} {}{}", cells[1], cells[3], cells[7], cells[8])
        })
        .collect();
    assert_eq!(
        lines,
        ["2024-07-31 310 600.00", "2024-07-31 1400 600.00", "2024-07-31 310 40.00", "2024-07-31 1450 40.00"],
        "{csv}"
    );
    let xero = export(cogs_core::journal::Format::Xero).await;
    assert!(xero.lines().skip(1).all(|line| line.ends_with(",Channel,Online")), "{xero}");
}

/// The first lot of a new SKU, arriving after a landed cost of its delivery was loaded
/// and costed: the next run gives it its share (the SKU is marked for costing whole).
#[tokio::test]
async fn a_new_skus_first_lot_in_a_delivery_with_a_landed_cost_takes_its_share_at_the_next_run() {
    let db = TestDb::new().await;
    let mut loaded = Loaded::default();
    let header =
        "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit,receipt_id";
    upload(&db, &mut loaded, RecordKind::Lots, &format!("{header}\nLA,A,2024-01-01,3,3,1.00,0,PO1\n")).await.unwrap();
    upload(&db, &mut loaded, RecordKind::Sales, "sale_id,sku,sale_date,quantity_sold\nS1,A,2024-01-05,1\n")
        .await
        .unwrap();
    let freight = "landed_cost_id,lot_id,receipt_id,cost_date,amount,allocate_by\nF1,,PO1,2024-01-03,6.00,quantity\n";
    upload(&db, &mut loaded, RecordKind::LandedCosts, freight).await.unwrap();
    run(&db).await;

    upload(&db, &mut loaded, RecordKind::Lots, &format!("{header}\nLB,B,2024-01-02,3,3,1.00,0,PO1\n")).await.unwrap();
    run(&db).await;

    assert_books_balance(&db, TENANT).await;
    let book = service::book(&db.pool, &tenant(TENANT), SkuRange::default()).await.unwrap();
    assert_eq!(serde_json::to_value(&book.book).unwrap(), loaded.cost_json().unwrap(), "the book is cogs cost");
    let on_hand: Vec<(&str, String)> = book
        .book
        .movements
        .iter()
        .filter(|m| m.kind == MovementKind::LandedOnHand)
        .map(|m| (m.lot_id.as_str(), m.cost.to_string()))
        .collect();
    assert_eq!(
        on_hand,
        [("LA", "3".to_owned()), ("LB", "3".to_owned())],
        "6.00 over 6 units, all on hand on the cost date"
    );
}

/// Locations through the live book: FIFO per location, a transfer keeping its units'
/// cost and receipt order, a shortfall at one location though another holds stock, the
/// trace of a lot following its units, the valuation by location, and a journal that
/// posts the sales only (a transfer is inventory to inventory), until the tenant gives
/// the location an inventory account of its own.
#[tokio::test]
async fn stock_moved_to_another_location_is_sold_there_at_its_cost_and_traced_and_valued_where_it_is() {
    let db = TestDb::new().await;
    let mut loaded = Loaded::default();
    let lots = "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit,location
L1,A,2024-01-01,10,10,1.00,0,
L2,A,2024-01-05,5,5,3.00,0,WEST
";
    upload(&db, &mut loaded, RecordKind::Lots, lots).await.unwrap();
    let transfers = "transfer_id,sku,from_location,to_location,transfer_date,quantity\nT1,A,main,WEST,2024-01-03,4\n";
    upload(&db, &mut loaded, RecordKind::Transfers, transfers).await.unwrap();
    // S1 takes the 4 units T1 moved (received 1 January) before L2's; S2 finds 4 at WEST.
    let sales = "sale_id,sku,sale_date,quantity_sold,location\nS1,A,2024-01-06,5,WEST\nS2,A,2024-01-07,10,WEST\n";
    upload(&db, &mut loaded, RecordKind::Sales, sales).await.unwrap();
    let run_id = run(&db).await;
    assert_eq!(Some(book_json(&db).await), loaded.cost_json(), "the book is cogs cost");
    assert_books_balance(&db, TENANT).await;

    let detail = service::show_run(&db.pool, &tenant(TENANT), run_id).await.unwrap();
    assert_eq!(
        serde_json::to_value(&detail.shortfalls).unwrap(),
        json!([{"sku": "A", "event_kind": "sale", "event_id": "S2", "event_date": "2024-01-07T00:00:00Z",
                "quantity_short": "6", "on_hand": "4", "location": "WEST"}])
    );
    let s1 = service::sale_trace(&db.pool, &tenant(TENANT), "S1").await.unwrap();
    assert_eq!(
        serde_json::to_value(&s1.allocations).unwrap(),
        json!([{"lot_id": "transfer:T1:L1", "quantity": "4", "unit_cost": "1", "cost": "4"},
               {"lot_id": "L2", "quantity": "1", "unit_cost": "3", "cost": "3"}])
    );
    let l1 = service::lot_trace(&db.pool, &tenant(TENANT), "L1").await.unwrap();
    let sold: Vec<(&str, &str)> = l1.sales.iter().map(|s| (s.sale_id.as_str(), s.lot_id.as_str())).collect();
    assert_eq!(sold, [("S1", "transfer:T1:L1")]);
    let moved: Vec<(&str, String, String)> =
        l1.movements.iter().map(|m| (m.kind.as_str(), m.lot_id.to_string(), m.location.to_string())).collect();
    assert_eq!(
        moved,
        [
            ("transfer_out", "L1".to_owned(), "main".to_owned()),
            ("transfer_in", "transfer:T1:L1".to_owned(), "WEST".to_owned())
        ]
    );

    let valuation = service::valuation(&db.pool, &tenant(TENANT), "2024-12-31".parse().unwrap()).await.unwrap();
    let by_location: Vec<(String, String, String)> = valuation
        .locations
        .iter()
        .map(|at| (at.location.to_string(), at.quantity.to_string(), at.value.to_string()))
        .collect();
    assert_eq!(by_location, [("WEST".into(), "4".into(), "12".into()), ("main".into(), "6".into(), "6".into())]);
    // January rolls forward per location: WEST receives L2 (15) and 4 units moved in (4),
    // sells S1 (7) and closes at 12; main receives L1 (10), moves 4 out, closes at 6.
    let day = |text: &str| text.parse::<chrono::NaiveDate>().unwrap();
    let january = service::roll_forward(&db.pool, &tenant(TENANT), day("2024-01-01"), day("2024-01-31")).await.unwrap();
    let lines: Vec<[String; 6]> = january
        .locations
        .iter()
        .map(|row| {
            [
                row.location.as_ref().unwrap().as_str(),
                &row.receipts.to_string(),
                &row.transfers_in.to_string(),
                &row.transfers_out.to_string(),
                &row.cogs.to_string(),
                &row.closing_value.to_string(),
            ]
            .map(ToString::to_string)
        })
        .collect();
    let line = |cells: [&str; 6]| cells.map(ToString::to_string);
    assert_eq!(lines, [line(["WEST", "15", "4", "0", "7", "12"]), line(["main", "10", "0", "4", "0", "6"])]);
    let a = &january.skus[0];
    assert_eq!(
        (a.transfers_in, a.transfers_out, a.closing_value),
        (4.into(), 4.into(), 18.into()),
        "in a SKU's own line"
    );

    let journal = journal_json(&db, run_id).await;
    let lines: Vec<(String, String)> = journal["entries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|entry| entry["lines"].as_array().unwrap().iter())
        .map(|l| (l["side"].as_str().unwrap().into(), l["amount"].as_str().unwrap().into()))
        .collect();
    assert_eq!(lines, [("debit".to_owned(), "7.00".to_owned()), ("credit".to_owned(), "7.00".to_owned())], "{journal}");

    // With an inventory account of WEST's own, the transfer posts from main's inventory
    // to WEST's, and the sale at WEST takes its cost out of WEST's.
    let west = Location::parse("WEST").unwrap();
    let accounts = BTreeMap::from([(west, "1420:Inventory West".parse().unwrap())]);
    let change = service::SettingsChange { location_accounts: Some(accounts), ..Default::default() };
    service::change_settings(&db.pool, &caller(TENANT), &change).await.unwrap();
    let journal = journal_json(&db, run_id).await;
    let lines: Vec<(String, String, String, String)> = journal["entries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|entry| {
            let date = entry["date"].as_str().unwrap().to_owned();
            entry["lines"].as_array().unwrap().iter().map(move |l| {
                let text = |field: &str| l[field].as_str().unwrap().to_owned();
                (date.clone(), text("side"), text("account_code"), text("amount"))
            })
        })
        .collect();
    let line =
        |date: &str, side: &str, code: &str, amount: &str| (date.into(), side.into(), code.into(), amount.into());
    assert_eq!(
        lines,
        [
            line("2024-01-03", "debit", "1420", "4.00"),
            line("2024-01-03", "credit", "1400", "4.00"),
            line("2024-01-06", "debit", "5000", "7.00"),
            line("2024-01-06", "credit", "1420", "7.00"),
        ],
        "{journal}"
    );
}

/// A tenant whose stock is at WH-1 unless a row says otherwise: rows that name no
/// location are stored there (the fast path costs them), a transfer moves stock to a
/// shop, reports name WH-1, and the default cannot move once rows are loaded.
#[tokio::test]
async fn a_tenants_own_default_location_takes_the_rows_that_name_none_and_stays_once_they_are_loaded() {
    let db = TestDb::new().await;
    let mut loaded = Loaded::default();
    let warehouse = Location::parse("WH-1").unwrap();
    let change = service::SettingsChange { default_location: Some(warehouse.clone()), ..Default::default() };
    let settings = service::change_settings(&db.pool, &caller(TENANT), &change).await.unwrap();
    assert_eq!(settings.default_location, warehouse);
    loaded.default_location = warehouse.clone();
    let lots = "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit
L1,A,2024-01-01,10,10,1.00,0
L2,B,2024-01-01,10,10,2.00,0
";
    upload(&db, &mut loaded, RecordKind::Lots, lots).await.unwrap();
    let transfers = "transfer_id,sku,from_location,to_location,transfer_date,quantity\nT1,A,WH-1,SHOP,2024-01-02,3\n";
    upload(&db, &mut loaded, RecordKind::Transfers, transfers).await.unwrap();
    let sales = "sale_id,sku,sale_date,quantity_sold,location\nS1,A,2024-01-03,2,SHOP\nS2,A,2024-01-03,4,\nS3,B,2024-01-04,5,\n";
    upload(&db, &mut loaded, RecordKind::Sales, sales).await.unwrap();
    run(&db).await;
    assert_eq!(Some(book_json(&db).await), loaded.cost_json(), "the book is cogs cost at WH-1");
    assert_books_balance(&db, TENANT).await;

    let valuation = service::valuation(&db.pool, &tenant(TENANT), "2024-12-31".parse().unwrap()).await.unwrap();
    let by_location: Vec<(String, String)> =
        valuation.locations.iter().map(|at| (at.location.to_string(), at.value.to_string())).collect();
    // SHOP: 1 of L1's at 1; WH-1: A's 3 left at 1 and B's 5 at 2.
    assert_eq!(by_location, [("SHOP".into(), "1".into()), ("WH-1".into(), "13".into())]);
    let day = |text: &str| text.parse::<chrono::NaiveDate>().unwrap();
    let year = service::roll_forward(&db.pool, &tenant(TENANT), day("2024-01-01"), day("2024-12-31")).await.unwrap();
    let closing: Vec<(String, String)> = year
        .locations
        .iter()
        .map(|row| (row.location.as_ref().unwrap().to_string(), row.closing_value.to_string()))
        .collect();
    assert_eq!(closing, [("SHOP".into(), "1".into()), ("WH-1".into(), "13".into())]);

    let elsewhere = service::SettingsChange { default_location: Some(Location::default()), ..Default::default() };
    let refused = service::change_settings(&db.pool, &caller(TENANT), &elsewhere).await.unwrap_err();
    assert!(refused.to_string().contains("before the first upload"), "{refused}");
    let kept = service::settings(&db.pool, &tenant(TENANT)).await.unwrap();
    assert_eq!(kept.default_location, warehouse, "a refused change changed nothing");
}

/// A lot received away from the default location makes its SKU one costed whole, even
/// when an earlier lot of the same file is at the default and the SKU's sales came
/// first. (The mark once took that from the SKU's earliest new lot alone, and the FIFO
/// allocator, which knows no locations, sold the WEST lot at `main`.)
#[tokio::test]
async fn a_lot_received_elsewhere_after_its_skus_sales_makes_the_sku_one_costed_whole() {
    let db = TestDb::new().await;
    let mut loaded = Loaded::default();
    // The sale goes first: its SKU has a watermark row when the lots arrive.
    let sales = "sale_id,sku,sale_date,quantity_sold\nS1,WIDGET,2024-07-05,3\n";
    upload(&db, &mut loaded, RecordKind::Sales, sales).await.unwrap();
    let lots = "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit,location
M0,WIDGET,2024-07-01,1,1,1.00,0,
W1,WIDGET,2024-07-02,10,10,5.00,0,WEST
M2,WIDGET,2024-07-03,10,10,2.00,0,
";
    upload(&db, &mut loaded, RecordKind::Lots, lots).await.unwrap();
    run(&db).await;
    let book = book_json(&db).await;
    assert_eq!(book["sales"][0]["cogs"], "5", "S1 takes M0's 1.00 and two of M2 at 2.00, never W1 at WEST");
    assert_eq!(Some(book), loaded.cost_json());
    assert_books_balance(&db, TENANT).await;
}

#[tokio::test]
async fn a_lot_received_elsewhere_after_a_waiting_mark_makes_the_sku_one_costed_whole() {
    let db = TestDb::new().await;
    let mut loaded = Loaded::default();
    let header =
        "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit,location";
    upload(&db, &mut loaded, RecordKind::Lots, &format!("{header}\nM0,WIDGET,2024-07-01,3,3,1.00,0,\n")).await.unwrap();
    let sales = "sale_id,sku,sale_date,quantity_sold\nS1,WIDGET,2024-07-05,3\n";
    upload(&db, &mut loaded, RecordKind::Sales, sales).await.unwrap();
    run(&db).await;
    // A late lot at main marks WIDGET from 2 July; a lot at WEST dated after that mark
    // arrives before the next run, and then a sale at main.
    upload(&db, &mut loaded, RecordKind::Lots, &format!("{header}\nM1,WIDGET,2024-07-02,1,1,2.00,0,\n")).await.unwrap();
    upload(&db, &mut loaded, RecordKind::Lots, &format!("{header}\nW1,WIDGET,2024-07-03,5,5,5.00,0,WEST\n"))
        .await
        .unwrap();
    let sales = "sale_id,sku,sale_date,quantity_sold\nS2,WIDGET,2024-07-06,2\n";
    upload(&db, &mut loaded, RecordKind::Sales, sales).await.unwrap();
    run(&db).await;
    let book = book_json(&db).await;
    assert_eq!(book["sales"].as_array().map(Vec::len), Some(1), "S2 waits for stock at main: {book}");
    assert_eq!(book["shortfalls"][0]["event_id"], "S2", "S2 is short at main, W1 is at WEST: {book}");
    assert_eq!(Some(book), loaded.cost_json());
    assert_books_balance(&db, TENANT).await;
}
