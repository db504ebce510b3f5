//! The ledger's one rule (LEDGER.md): after any history of uploads, runs and
//! rollbacks, the live book equals `cogs cost` over everything loaded. Seeded random
//! histories: files loaded in random order (some backdated, which the next run
//! re-costs), runs interrupted and resumed, rollbacks with and without cascade.
//! `cogs verify` checks the book after every step; at the end the live book is
//! compared line by line with an offline costing of every file loaded, and the
//! journals of every completed run, added up, with the journal of that costing.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::collections::BTreeMap;

use cogs_core::db::RunStatus;
use cogs_core::engine::CostingError;
use cogs_core::ingest::RecordKind;
use cogs_core::journal::{Format, JournalConfig, LineDetail, Period};
use cogs_core::model::ShortfallPolicy;
use cogs_core::service::{self, ChunkBudget, CostFiles, ServiceError};
use cogs_tests::{TestDb, Xorshift, assert_books_balance, caller, lots_csv, sales_csv};
use rust_decimal::Decimal;
use uuid::Uuid;

const TENANT: &str = "acme-corp";

/// A world that never oversells: per SKU, lots received over January and sales each
/// taking at most what the SKU's lots received by then still hold. Lot and sale rows
/// in CSV form. Unit prices have `places` decimal places (freight is 0.25), so with 2
/// every cost is a whole number of cents.
fn world(random: &mut Xorshift, places: u32) -> (Vec<String>, Vec<String>) {
    let (mut lots, mut sales) = (Vec::new(), Vec::new());
    for sku in ["A", "B", "C"] {
        let mut arrivals: Vec<(u64, u64)> =
            (0..2 + random.below(4)).map(|_| (1 + random.below(28), 1 + random.below(20))).collect();
        arrivals.sort_unstable();
        for (i, (day, quantity)) in arrivals.iter().enumerate() {
            let price = 1 + random.below(99_999);
            let scale = 10_u64.pow(places);
            let unit = format!("{}.{:0width$}", price / scale, price % scale, width = places as usize);
            lots.push(format!("L{sku}{i},{sku},2024-01-{day:02}T00:00:00Z,{quantity},{quantity},{unit},0.25"));
        }
        let mut days: Vec<u64> = (0..4 + random.below(12)).map(|_| 1 + random.below(28)).collect();
        days.sort_unstable();
        let (mut held, mut next) = (0, 0);
        for (s, day) in days.into_iter().enumerate() {
            while next < arrivals.len() && arrivals[next].0 <= day {
                held += arrivals[next].1;
                next += 1;
            }
            let quantity = (1 + random.below(6)).min(held);
            if quantity > 0 {
                held -= quantity;
                sales.push(format!("S{sku}{s:02},{sku},2024-01-{day:02}T12:00:00Z,{quantity}"));
            }
        }
    }
    (lots, sales)
}

/// The world's rows cut into files, shuffled: what a merchant uploads over time.
fn files(random: &mut Xorshift, lots: &[String], sales: &[String]) -> Vec<(RecordKind, String)> {
    let mut files = Vec::new();
    type Csv = fn(&[&str]) -> String;
    for (kind, rows, csv) in [(RecordKind::Lots, lots, lots_csv as Csv), (RecordKind::Sales, sales, sales_csv as Csv)] {
        let mut rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        shuffle(random, &mut rows);
        for part in rows.chunks(1 + random.below(4) as usize) {
            files.push((kind, csv(part)));
        }
    }
    shuffle(random, &mut files);
    files
}

fn shuffle<T>(random: &mut Xorshift, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, random.below(i as u64 + 1) as usize);
    }
}

/// Starts a run and costs it to the end in small chunks, or, when `interrupt`, costs
/// one chunk and leaves the rest to a resume.
async fn run(db: &TestDb, interrupt: bool) -> Option<Uuid> {
    let caller = caller(TENANT);
    loop {
        match service::start_run(&db.pool, &caller, None, Some(ShortfallPolicy::Park)).await {
            Ok(run) => {
                let budget = ChunkBudget { max_chunks: interrupt.then_some(1), ..ChunkBudget::unlimited(3) };
                return match service::advance_run(&db.pool, &caller, run.run_id, &budget).await {
                    Ok(_) => Some(run.run_id),
                    // A sale whose lots are not loaded yet fails the run, which changes nothing.
                    Err(ServiceError::Costing(CostingError::InsufficientInventory { .. })) => None,
                    Err(other) => panic!("{other}"),
                };
            }
            Err(ServiceError::RunInProgress { .. }) => finish_active(db).await,
            Err(other) => panic!("{other}"),
        }
    }
}

/// The journals of every completed run, added up exactly per (day, SKU): each is the
/// difference its run made, so together they are the journal of the live book. With
/// how many of those runs re-costed backdated input.
async fn journals_added_up(db: &TestDb) -> (BTreeMap<(String, String), Decimal>, usize) {
    let tx = cogs_core::db::begin(&db.pool, &cogs_tests::tenant(TENANT)).await.unwrap();
    let page =
        service::list_runs(&db.pool, &cogs_tests::tenant(TENANT), Some(RunStatus::Completed), 500, None).await.unwrap();
    let mut total = BTreeMap::new();
    let recosting = page.runs.iter().filter(|run| run.skus_recosted > 0).count();
    for run in page.runs {
        for cost in cogs_core::db::journal_costs(&tx, run.run_id, Period::Day, "UTC", true).await.unwrap() {
            *total.entry((cost.date.to_string(), cost.sku.to_string())).or_insert(Decimal::ZERO) += cost.cost;
        }
    }
    tx.rollback().await.unwrap();
    total.retain(|_, amount| !amount.is_zero());
    (total, recosting)
}

/// `cogs book --format json`, as a JSON value.
async fn book_json(db: &TestDb) -> serde_json::Value {
    let page = service::book(&db.pool, &cogs_tests::tenant(TENANT), Default::default()).await.unwrap();
    assert_eq!(page.next_after_sku, None);
    serde_json::to_value(&page.book).unwrap()
}

/// `cogs cost --format json` over every row, as a JSON value.
fn cost_json(lots: &[String], sales: &[String]) -> serde_json::Value {
    let lots_file = lots_csv(&lots.iter().map(String::as_str).collect::<Vec<_>>());
    let sales_file = sales_csv(&sales.iter().map(String::as_str).collect::<Vec<_>>());
    let report = service::cost_files(
        CostFiles::lots_and_sales(lots_file.as_bytes(), sales_file.as_bytes()),
        None,
        ShortfallPolicy::Park,
        &cogs_core::model::Methods::FIFO,
        &cogs_core::model::Location::default(),
    )
    .unwrap();
    serde_json::to_value(&report).unwrap()
}

/// The journal of one fresh costing of every row, exactly per (day, SKU).
fn fresh_journal(lots: &[String], sales: &[String]) -> BTreeMap<(String, String), Decimal> {
    let lots_file = lots_csv(&lots.iter().map(String::as_str).collect::<Vec<_>>());
    let sales_file = sales_csv(&sales.iter().map(String::as_str).collect::<Vec<_>>());
    let report = service::cost_files(
        CostFiles::lots_and_sales(lots_file.as_bytes(), sales_file.as_bytes()),
        None,
        ShortfallPolicy::Park,
        &cogs_core::model::Methods::FIFO,
        &cogs_core::model::Location::default(),
    )
    .unwrap();
    let mut total = BTreeMap::new();
    for sale in &report.sales {
        let day = sale.sale_date.date_naive().to_string();
        *total.entry((day, sale.sku.to_string())).or_insert(Decimal::ZERO) += sale.cogs;
    }
    total.retain(|_, amount| !amount.is_zero());
    total
}

/// Costs the tenant's interrupted run, if any, to its end.
async fn finish_active(db: &TestDb) {
    for status in [RunStatus::Pending, RunStatus::Running] {
        let page = service::list_runs(&db.pool, &cogs_tests::tenant(TENANT), Some(status), 10, None).await.unwrap();
        for active in page.runs {
            let outcome =
                service::advance_run(&db.pool, &caller(TENANT), active.run_id, &ChunkBudget::unlimited(3)).await;
            let failed = matches!(outcome, Err(ServiceError::Costing(CostingError::InsufficientInventory { .. })));
            assert!(failed || outcome.is_ok_and(|done| !done.status.is_active()));
        }
    }
}

/// The live book as `sale lot quantity cost` lines in costing order, and each lot's
/// remaining quantity, read as the application.
async fn live_book(db: &TestDb) -> (Vec<String>, Vec<String>) {
    let app = db.app().await;
    app.batch_execute("begin; select set_config('app.tenant_id', 'acme-corp', true)").await.unwrap();
    let lines = app
        .query(
            "select a.sale_id || ' ' || a.lot_id || ' ' || trim_scale(a.quantity) || ' ' || trim_scale(a.extended_cost)
             from live_allocations a join lots l using (tenant_id, lot_id)
             order by a.sku, a.sale_date, a.sale_id, l.received_date, a.lot_id",
            &[],
        )
        .await
        .unwrap();
    let lots = app
        .query("select lot_id || '=' || trim_scale(remaining_quantity) from lots order by lot_id", &[])
        .await
        .unwrap();
    app.batch_execute("rollback").await.unwrap();
    (lines.iter().map(|row| row.get(0)).collect(), lots.iter().map(|row| row.get(0)).collect())
}

/// What `cogs cost` computes offline over every row.
fn fresh(lots: &[String], sales: &[String]) -> (Vec<String>, Vec<String>) {
    let lots_file = lots_csv(&lots.iter().map(String::as_str).collect::<Vec<_>>());
    let sales_file = sales_csv(&sales.iter().map(String::as_str).collect::<Vec<_>>());
    let report = service::cost_files(
        CostFiles::lots_and_sales(lots_file.as_bytes(), sales_file.as_bytes()),
        None,
        ShortfallPolicy::Park,
        &cogs_core::model::Methods::FIFO,
        &cogs_core::model::Location::default(),
    )
    .unwrap();
    let mut costed: Vec<_> = report.sales.iter().collect();
    costed.sort_by(|a, b| {
        (a.sku.as_str(), a.sale_date, a.sale_id.as_str()).cmp(&(b.sku.as_str(), b.sale_date, b.sale_id.as_str()))
    });
    let lines = costed
        .iter()
        .flat_map(|sale| {
            sale.allocations.iter().map(|a| format!("{} {} {} {}", sale.sale_id, a.lot_id, a.quantity, a.cost))
        })
        .collect();
    let mut remaining: Vec<String> =
        report.lots.iter().map(|lot| format!("{}={}", lot.lot_id, lot.remaining_quantity)).collect();
    remaining.sort();
    (lines, remaining)
}

/// Loads `pending` in its order with runs (some interrupted) and rollbacks (with and
/// without cascade) in between, as `random` chooses, `cogs verify` after every step;
/// then costs whatever is left. Returns the runs made and the history, for messages.
async fn history(
    db: &TestDb,
    random: &mut Xorshift,
    mut pending: Vec<(RecordKind, String)>,
    seed: u64,
) -> (Vec<Uuid>, Vec<String>) {
    let mut runs: Vec<Uuid> = Vec::new();
    let mut history = Vec::new();
    while !pending.is_empty() || history.len() < 6 {
        match random.below(6) {
            0..=2 if !pending.is_empty() => {
                let (kind, csv) = pending.remove(0);
                // A run left interrupted finishes first: uploads wait for it.
                finish_active(db).await;
                service::upload(&db.pool, &caller(TENANT), kind, "part.csv", csv.as_bytes()).await.unwrap();
                history.push(format!("upload {kind}"));
            }
            3 | 4 => {
                let interrupt = random.below(3) == 0;
                runs.extend(run(db, interrupt).await);
                history.push(format!("run{}", if interrupt { " (interrupted)" } else { "" }));
            }
            _ if !runs.is_empty() => {
                let target = runs[random.below(runs.len() as u64) as usize];
                let cascade = random.below(2) == 0;
                let outcome = service::rollback_run(&db.pool, &caller(TENANT), target, cascade).await;
                assert!(
                    matches!(
                        outcome,
                        Ok(_)
                            | Err(ServiceError::DependentRuns { .. }
                                | ServiceError::WrongRunStatus { .. }
                                | ServiceError::RunInProgress { .. })
                    ),
                    "seed {seed}: {outcome:?}"
                );
                history.push(format!("rollback{}", if cascade { " --cascade" } else { "" }));
            }
            _ => continue,
        }
        assert_books_balance(db, TENANT).await;
    }
    // Everything loaded: cost whatever is left, as an operator would.
    finish_active(db).await;
    runs.extend(run(db, false).await);
    assert_books_balance(db, TENANT).await;
    (runs, history)
}

/// A seeded history and what it loaded.
struct Seeded {
    lots: Vec<String>,
    sales: Vec<String>,
    db: TestDb,
    runs: Vec<Uuid>,
    history: Vec<String>,
}

/// The world of `seed` (unit prices with `places` decimals), cut into files and loaded
/// in a random history on a database of its own. `salt` tells one test's seeds from
/// another's.
async fn seeded_history(salt: u64, seed: u64, places: u32) -> Seeded {
    let mut random = Xorshift(salt ^ seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let (lots, sales) = world(&mut random, places);
    let pending = files(&mut random, &lots, &sales);
    let db = TestDb::new().await;
    let (runs, history) = history(&db, &mut random, pending, seed).await;
    Seeded { lots, sales, db, runs, history }
}

#[tokio::test]
async fn after_any_history_the_live_book_equals_a_fresh_costing_of_everything_loaded() {
    let mut recosting_runs = 0;
    for seed in 1..=12_u64 {
        let Seeded { lots, sales, db, runs, history } = seeded_history(0x9e37_79b9_7f4a_7c15, seed, 3).await;

        assert_eq!(live_book(&db).await, fresh(&lots, &sales), "seed {seed}, after {history:?}");
        assert_eq!(book_json(&db).await, cost_json(&lots, &sales), "seed {seed}: cogs book = cogs cost");
        let (journals, recosting) = journals_added_up(&db).await;
        assert_eq!(journals, fresh_journal(&lots, &sales), "seed {seed}, after {history:?}");
        recosting_runs += recosting;
        let last = cogs_tests::run_row(&db, TENANT, *runs.last().unwrap()).await.unwrap();
        assert_eq!(last.status, RunStatus::Completed, "seed {seed}");
    }
    assert!(recosting_runs > 0, "the histories re-cost backdated input");
}

/// A rendered journal's lines, added up per (date, account, line text) as signed cents
/// (debit positive), read back from the file as a ledger would import it.
fn read_journal(format: Format, body: &[u8]) -> BTreeMap<(String, String, String), i64> {
    let text = std::str::from_utf8(body).unwrap();
    let cents = |amount: &str| -> i64 {
        let amount: Decimal = amount.parse().unwrap();
        assert_eq!(amount.scale(), 2, "{format:?} writes cents: {amount}");
        i64::try_from(amount.mantissa()).unwrap()
    };
    // `MM/DD/YYYY` (iif) and `DD/MM/YYYY` (xero) as ISO dates.
    let iso = |date: &str, month_first: bool| {
        let parts: Vec<&str> = date.split('/').collect();
        let (month, day) = if month_first { (parts[0], parts[1]) } else { (parts[1], parts[0]) };
        format!("{}-{month}-{day}", parts[2])
    };
    let mut lines: Vec<((String, String, String), i64)> = Vec::new();
    match format {
        Format::Csv => {
            for row in csv::Reader::from_reader(body).records() {
                let row = row.unwrap();
                let amount = if row[7].is_empty() { -cents(&row[8]) } else { cents(&row[7]) };
                lines.push(((row[1].to_owned(), row[3].to_owned(), row[6].to_owned()), amount));
            }
        }
        Format::Json => {
            let journal: serde_json::Value = serde_json::from_slice(body).unwrap();
            for entry in journal["entries"].as_array().unwrap() {
                for line in entry["lines"].as_array().unwrap() {
                    let amount = cents(line["amount"].as_str().unwrap());
                    let sign = if line["side"] == "debit" { 1 } else { -1 };
                    let key = (
                        entry["date"].as_str().unwrap().to_owned(),
                        line["account_code"].as_str().unwrap().to_owned(),
                        line["sku"].as_str().unwrap().to_owned(),
                    );
                    lines.push((key, sign * amount));
                }
            }
        }
        Format::Iif => {
            for line in text.split("\r\n").filter(|line| line.starts_with("TRNS\t") || line.starts_with("SPL\t")) {
                let fields: Vec<&str> = line.split('\t').collect();
                lines.push(((iso(fields[3], true), fields[4].to_owned(), fields[7].to_owned()), cents(fields[5])));
            }
        }
        Format::Xero => {
            for row in csv::Reader::from_reader(body).records() {
                let row = row.unwrap();
                lines.push(((iso(&row[1], false), row[3].to_owned(), row[2].to_owned()), cents(&row[5])));
            }
        }
        Format::Qbo => {
            let entries: serde_json::Value = serde_json::from_slice(body).unwrap();
            for entry in entries.as_array().unwrap() {
                for line in entry["Line"].as_array().unwrap() {
                    let detail = &line["JournalEntryLineDetail"];
                    let amount = cents(&line["Amount"].to_string());
                    let sign = if detail["PostingType"] == "Debit" { 1 } else { -1 };
                    let key = (
                        entry["TxnDate"].as_str().unwrap().to_owned(),
                        detail["AccountRef"]["value"].as_str().unwrap().to_owned(),
                        line["Description"].as_str().unwrap().to_owned(),
                    );
                    lines.push((key, sign * amount));
                }
            }
        }
    }
    let mut total = BTreeMap::new();
    for (key, amount) in lines {
        *total.entry(key).or_insert(0) += amount;
    }
    total
}

/// The journal of each of `runs` (completed ones; by day, a line pair per SKU) in
/// `format`, read back and added up.
async fn journals_in(
    db: &TestDb,
    tenant: &str,
    runs: &[Uuid],
    format: Format,
) -> BTreeMap<(String, String, String), i64> {
    let options =
        service::JournalOptions { period: Some(Period::Day), detail: Some(LineDetail::PerSku), reversal_date: None };
    let mut total = BTreeMap::new();
    for run_id in runs {
        let run = cogs_tests::run_row(db, tenant, *run_id).await.unwrap();
        if run.status != RunStatus::Completed {
            continue;
        }
        let export = service::journal_entry(
            &db.pool,
            &cogs_tests::tenant(tenant),
            *run_id,
            options,
            format,
            &JournalConfig::default(),
        )
        .await
        .unwrap();
        for (key, amount) in read_journal(format, &export.rendered().body) {
            *total.entry(key).or_insert(0) += amount;
        }
    }
    total.retain(|_, amount| *amount != 0);
    total
}

#[tokio::test]
async fn the_journals_of_every_history_add_up_line_by_line_to_one_fresh_costings_in_every_format() {
    // Whole cents, so that each journal's lines are exact: with finer unit costs each
    // journal rounds its own lines once, and their sum may differ from the fresh
    // journal's line by the cents of those roundings (the exact sums agree: the test
    // above).
    let mut recosting_runs = 0;
    for seed in 1..=4_u64 {
        let Seeded { lots, sales, db, runs, history } = seeded_history(0x51_7cc1_b727_220a, seed, 2).await;
        let (lot_rows, sale_rows): (Vec<&str>, Vec<&str>) =
            (lots.iter().map(String::as_str).collect(), sales.iter().map(String::as_str).collect());
        cogs_tests::load(&db, "fresh-corp", &lots_csv(&lot_rows), &sales_csv(&sale_rows)).await;
        let fresh = cogs_tests::run_to_end(&db, "fresh-corp", 1000).await.unwrap();

        for format in [Format::Csv, Format::Json, Format::Iif, Format::Xero, Format::Qbo] {
            let added_up = journals_in(&db, TENANT, &runs, format).await;
            assert!(!added_up.is_empty(), "seed {seed}: {format:?} has lines");
            assert_eq!(
                added_up,
                journals_in(&db, "fresh-corp", &[fresh.run_id], format).await,
                "seed {seed}, {format:?}, after {history:?}"
            );
        }
        recosting_runs += journals_added_up(&db).await.1;
    }
    assert!(recosting_runs > 0, "the histories re-cost backdated input");
}
