//! The bad-input corpus (`tests/fixtures/bad-input/{lots,sales}/`): every file is
//! rejected with the precise first problem (row, column, type) and count listed in
//! `tests/fixtures/bad-input/EXPECTED`, through the real upload path, and the data
//! tables are byte for byte as before (the rejection itself is recorded in `uploads`,
//! `validation_errors` and `audit_log`, see docs/DECISIONS.md). Two more are made
//! here rather than stored: a header of two million columns and a 5 MB field.
//!
//! `COGS_BLESS=1 cargo test -p cogs-tests --test bad_input` rewrites EXPECTED from
//! what the code answers, for review in the diff.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::collections::BTreeMap;
use std::path::Path;

use cogs_core::ingest::RecordKind;
use cogs_core::journal::Format;
use cogs_core::service::{self, ServiceError};
use cogs_tests::{TestDb, caller, load, lots_csv, repo_root, sales_csv, tenant};

/// Uploads `bytes` and describes the rejection: `row column type count`.
async fn rejection(db: &TestDb, kind: RecordKind, name: &str, bytes: &[u8]) -> String {
    match service::upload(&db.pool, &caller("acme-corp"), kind, name, bytes).await {
        Err(ServiceError::UploadRejected { rejected, .. }) => {
            let first = &rejected.errors[0];
            let column = first.column.as_deref().unwrap_or("-");
            format!("{} {column} {} {}", first.row, first.kind.as_str(), rejected.error_count)
        }
        other => format!("not rejected: {other:?}"),
    }
}

/// Every table but the three that record a rejection.
async fn data(db: &TestDb) -> BTreeMap<String, Vec<String>> {
    let mut contents = db.contents(&["acme-corp"]).await;
    contents.retain(|table, _| !["uploads", "validation_errors", "audit_log"].iter().any(|t| table.ends_with(t)));
    contents
}

#[tokio::test]
async fn every_file_of_the_corpus_is_rejected_precisely_and_changes_no_data() {
    let corpus = repo_root().join("tests/fixtures/bad-input");
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots_csv(&["L0,WIDGET-A,2024-01-01,5,5,1,0"]), &sales_csv(&["S0,WIDGET-A,2024-01-02,1"]))
        .await;
    cogs_tests::run_to_end(&db, "acme-corp", 100).await.unwrap();
    let before = data(&db).await;

    let mut answers = Vec::new();
    for (kind, folder) in [(RecordKind::Lots, "lots"), (RecordKind::Sales, "sales")] {
        let mut files: Vec<_> = std::fs::read_dir(corpus.join(folder)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for path in files {
            let name = format!("{folder}/{}", path.file_name().unwrap().to_string_lossy());
            let answer = rejection(&db, kind, &name, &std::fs::read(&path).unwrap()).await;
            assert!(data(&db).await == before, "{name} changed the data");
            answers.push(format!("{name} {answer}"));
        }
    }
    assert!(answers.len() >= 50, "the corpus has {} files", answers.len());
    compare_or_bless(&corpus.join("EXPECTED"), &answers);
}

fn compare_or_bless(expected_file: &Path, answers: &[String]) {
    let actual = answers.join("\n") + "\n";
    if std::env::var_os("COGS_BLESS").is_some() {
        std::fs::write(expected_file, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(expected_file).unwrap();
    for (expected, actual) in expected.lines().zip(actual.lines()) {
        assert_eq!(actual, expected, "file row column type count");
    }
    assert_eq!(actual.lines().count(), expected.lines().count(), "one line per corpus file");
}

#[tokio::test]
async fn two_million_columns_and_a_five_megabyte_field_are_rejected_as_records_too_long() {
    let db = TestDb::new().await;
    load(&db, "acme-corp", &lots_csv(&["L0,WIDGET-A,2024-01-01,5,5,1,0"]), "").await;
    let before = data(&db).await;

    let mut wide = String::from("sale_id,sku,sale_date,quantity_sold");
    for column in 0..2_000_000 {
        wide.push_str(&format!(",c{column}"));
    }
    wide.push_str("\nS1,A,2024-01-01,1\n");
    let huge = format!("sale_id,sku,sale_date,quantity_sold\nS1,A,2024-01-01,{}\n", "9".repeat(5 << 20));

    assert_eq!(rejection(&db, RecordKind::Sales, "wide.csv", wide.as_bytes()).await, "1 - record_too_long 1");
    assert_eq!(rejection(&db, RecordKind::Sales, "huge.csv", huge.as_bytes()).await, "2 - record_too_long 1");
    assert!(data(&db).await == before);
}

#[tokio::test]
async fn formula_cells_are_loaded_as_text_and_exported_inert() {
    let db = TestDb::new().await;
    let skus = ["=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")", "+SUM(1+1)", "-2+3", "@cmd", "=1+2"];
    let lots: Vec<String> =
        skus.iter().enumerate().map(|(i, sku)| format!("L{i},\"{sku}\",2024-01-01,5,5,1.25,0")).collect();
    let sales: Vec<String> = skus.iter().enumerate().map(|(i, sku)| format!("S{i},\"{sku}\",2024-01-02,2")).collect();
    let refs = |rows: &[String]| rows.iter().map(String::as_str).collect::<Vec<_>>().join("\n");
    load(&db, "acme-corp", &lots_csv(&[&refs(&lots)]), &sales_csv(&[&refs(&sales)])).await;
    let run = cogs_tests::run_to_end(&db, "acme-corp", 100).await.unwrap();

    for format in [Format::Csv, Format::Xero] {
        let options = service::JournalOptions::default();
        let config = cogs_core::journal::JournalConfig::default();
        let export =
            service::journal_entry(&db.pool, &tenant("acme-corp"), run.run_id, options, format, &config).await.unwrap();
        let text = String::from_utf8(export.rendered().body).unwrap();
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
        let cells: Vec<String> =
            reader.records().flat_map(|r| r.unwrap().iter().map(str::to_owned).collect::<Vec<_>>()).collect();
        for cell in &cells {
            let dangerous = cell.starts_with(['=', '+', '@'])
                || (cell.starts_with('-') && rust_decimal::Decimal::from_str_exact(cell).is_err());
            assert!(!dangerous, "{format:?}: the cell {cell:?} would run as a formula");
        }
        assert!(
            cells.iter().any(|cell| cell.contains("=HYPERLINK(\"http://evil.example\"")),
            "{format:?}: the SKU is kept: {text}"
        );
        if format == Format::Csv {
            assert!(cells.iter().any(|cell| cell.starts_with("'=HYPERLINK")), "a cell of just the SKU is made inert");
        }
    }
}
