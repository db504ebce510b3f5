//! The runbook's commands through the real `cogs` binary against a real database.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::process::Output;

use cogs_tests::{TestDb, example, lots_csv, sales_csv};
use serde_json::Value;

/// `cogs ARGS` as the operator runs it, with DATABASE_URL and COGS_TENANT_ID set.
fn cogs(db: &TestDb, args: &[&str]) -> Output {
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_cogs"))
        .env("DATABASE_URL", db.app_url())
        .env("COGS_TENANT_ID", "acme-corp")
        .env_remove("COGS_ACTOR")
        .args(args)
        .output()
        .unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    })
}

fn path(p: std::path::PathBuf) -> String {
    p.display().to_string()
}

/// Writes `text` to `dir/name` and returns the path.
fn write(dir: &tempfile::TempDir, name: &str, text: String) -> String {
    let file = dir.path().join(name);
    std::fs::write(&file, text).unwrap();
    path(file)
}

#[tokio::test]
async fn the_runbook_workflow_runs_end_to_end() {
    let db = TestDb::new().await;
    let (lots, sales) = (path(example("lots.csv")), path(example("sales.csv")));

    let dry = cogs(&db, &["run", "--sales-file", &sales, "--lots-file", &lots, "--dry-run", "--format", "json"]);
    assert_eq!(json(&dry)["totals"]["total_cogs"], "2310.9375");
    let nothing = cogs(&db, &["list-runs", "--format", "json"]);
    assert_eq!(json(&nothing)["runs"], Value::Array(vec![]), "the dry run wrote nothing");

    let run = cogs(
        &db,
        &["run", "--tenant-id", "acme-corp", "--sales-file", &sales, "--lots-file", &lots, "--format", "json"],
    );
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let run = json(&run);
    assert_eq!((run["status"].as_str(), run["total_cogs"].as_str()), (Some("completed"), Some("2310.9375")));
    let run_id = run["run_id"].as_str().unwrap().to_owned();

    let listed = json(&cogs(&db, &["list-runs", "--tenant-id", "acme-corp", "--limit", "10", "--format", "json"]));
    assert_eq!(listed["runs"][0]["run_id"], run_id.as_str());
    let shown = cogs(&db, &["show-run", &run_id]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("total COGS   2310.94 (exact 2310.9375)"));

    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.csv");
    let exported = cogs(&db, &["journal-entry", &run_id, "--format", "xero", "--output-file", &path(journal.clone())]);
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));
    let xero = std::fs::read_to_string(&journal).unwrap();
    assert!(xero.starts_with("Narration,Date,Description,AccountCode,TaxRate,Amount"));
    // The file written as it is laid out is the text a pipe gets; a file that cannot
    // take it is a failure named with its path, not a panic.
    let csv_file = dir.path().join("journal-generic.csv");
    let to_file = cogs(&db, &["journal-entry", &run_id, "--output-file", &path(csv_file.clone())]);
    assert!(
        String::from_utf8_lossy(&to_file.stderr).contains("bytes)"),
        "{}",
        String::from_utf8_lossy(&to_file.stderr)
    );
    let piped = cogs(&db, &["journal-entry", &run_id]);
    assert!(piped.stdout.starts_with(b"journal_number,date,narration"));
    assert_eq!(std::fs::read(&csv_file).unwrap(), piped.stdout);
    let full = cogs(&db, &["journal-entry", &run_id, "--output-file", "/dev/full"]);
    assert_eq!(full.status.code(), Some(7), "{}", String::from_utf8_lossy(&full.stderr));
    assert!(String::from_utf8_lossy(&full.stderr).contains("/dev/full"), "{}", String::from_utf8_lossy(&full.stderr));

    let unconfirmed = cogs(&db, &["rollback", &run_id]);
    assert_eq!(unconfirmed.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&unconfirmed.stderr).contains("--confirm"));
    let rolled_back = json(&cogs(&db, &["rollback", &run_id, "--confirm", "--format", "json"]));
    assert_eq!(rolled_back["rolled_back"][0]["status"], "rolled_back");
    let reversal = cogs(&db, &["journal-entry", &run_id, "--format", "iif"]);
    assert!(String::from_utf8_lossy(&reversal.stdout).contains("REV-"));

    let rerun = json(&cogs(&db, &["run", "--sales-file", &sales, "--format", "json"]));
    assert_eq!(rerun["total_cogs"], "2310.9375", "a re-run reproduces the rolled-back run");
    let inventory = json(&cogs(&db, &["inventory", "--format", "json"]));
    assert_eq!(inventory["remaining_value"], "1541.6875");
}

#[tokio::test]
async fn a_reader_that_stops_reading_ends_the_output_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let db = TestDb::new().await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cogs"))
        .env("DATABASE_URL", db.app_url())
        .args(["list-runs", "--tenant-id", "acme-corp"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away before the first line (the command connects to the database first).
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.signal(), Some(13), "ended by SIGPIPE, as `head` expects: {:?}", output.status);
}

#[tokio::test]
async fn each_kind_of_failure_has_its_exit_code_and_a_next_step() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let lots = write(&dir, "lots.csv", lots_csv(&["L1,A,2024-01-01,5,5,1,0"]));
    let bad = write(&dir, "bad.csv", sales_csv(&["S1,A,2024-01-02,many"]));
    let short = write(&dir, "short.csv", sales_csv(&["S1,A,2024-01-02,9"]));

    let validation = cogs(&db, &["upload", "sales", &bad]);
    let insufficient = cogs(&db, &["run", "--strict", "--lots-file", &lots, "--sales-file", &short]);
    let parked = cogs(&db, &["run"]);
    let not_found = cogs(&db, &["show-run", "01a22279-ab47-73f6-98cf-60b080bfc9af"]);
    let bad_tenant = cogs(&db, &["list-runs", "--tenant-id", "acme'; drop table lots; --"]);
    let no_database = assert_cmd::Command::new(env!("CARGO_BIN_EXE_cogs"))
        .env("DATABASE_URL", "postgres://cogs_api:cogs_api@127.0.0.1:1/nowhere")
        .args(["list-runs", "--tenant-id", "acme-corp"])
        .output()
        .unwrap();

    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(validation.status.code(), Some(3), "{}", stderr(&validation));
    assert!(stderr(&validation).contains("row 2, column quantity_sold"));
    assert_eq!(insufficient.status.code(), Some(6), "{}", stderr(&insufficient));
    assert!(stderr(&insufficient).contains("sale S1 needs 9 of A but only 5 is available"));
    let parked_out = String::from_utf8_lossy(&parked.stdout).into_owned();
    assert_eq!(parked.status.code(), Some(0), "without --strict the SKU is parked: {}", stderr(&parked));
    assert!(parked_out.contains("parked       1 SKU(s)") && parked_out.contains("│ A   ┆ sale S1"), "{parked_out}");
    assert_eq!(not_found.status.code(), Some(5), "{}", stderr(&not_found));
    assert_eq!(bad_tenant.status.code(), Some(2), "{}", stderr(&bad_tenant));
    assert_eq!(no_database.status.code(), Some(7), "{}", stderr(&no_database));
    for output in [&validation, &insufficient, &not_found, &no_database] {
        assert!(stderr(output).contains("hint: "), "{}", stderr(output));
    }
}

#[tokio::test]
async fn a_rollback_with_a_later_dependent_run_is_a_conflict_until_cascaded() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let lots = write(&dir, "lots.csv", lots_csv(&["L1,A,2024-01-01,10,10,1,0"]));
    let first = json(&cogs(
        &db,
        &[
            "run",
            "--lots-file",
            &lots,
            "--sales-file",
            &write(&dir, "s1.csv", sales_csv(&["S1,A,2024-02-01,2"])),
            "--format",
            "json",
        ],
    ));
    json(&cogs(
        &db,
        &["run", "--sales-file", &write(&dir, "s2.csv", sales_csv(&["S2,A,2024-03-01,2"])), "--format", "json"],
    ));
    let first = first["run_id"].as_str().unwrap();

    let refused = cogs(&db, &["rollback", first, "--confirm"]);
    let cascaded = cogs(&db, &["rollback", first, "--confirm", "--cascade", "--format", "json"]);

    assert_eq!(refused.status.code(), Some(4), "{}", String::from_utf8_lossy(&refused.stderr));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--cascade"));
    assert_eq!(json(&cascaded)["rolled_back"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn upload_via_s3_stages_the_file_and_loads_it_from_the_bucket() {
    let db = TestDb::new().await;
    let store = cogs_tests::s3_store().await;

    let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_cogs"))
        .env("DATABASE_URL", db.app_url())
        .env("COGS_TENANT_ID", "acme-corp")
        .env("COGS_BUCKET", store.bucket())
        .env("COGS_S3_ENDPOINT", cogs_tests::s3_endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "testtesttest")
        .env("AWS_REGION", "us-east-1")
        .args(["upload", "sales", &path(example("sales.csv")), "--via-s3", "--format", "json"])
        .output()
        .unwrap();

    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let upload = json(&output);
    assert_eq!((upload["status"].as_str(), upload["rows_inserted"].as_i64()), (Some("loaded"), Some(7)));
    assert!(upload["object_key"].as_str().unwrap().starts_with("tenants/acme-corp/uploads/"));
}

#[tokio::test]
async fn a_location_gets_an_inventory_account_of_its_own_and_gives_it_back_and_the_default_location_moves() {
    let db = TestDb::new().await;
    let set = cogs(&db, &["settings", "--location-account", "WEST=1420:Inventory West", "--format", "json"]);
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));
    assert_eq!(
        json(&set)["location_accounts"],
        serde_json::json!({"WEST": {"code": "1420", "name": "Inventory West"}})
    );
    let shown = cogs(&db, &["settings"]);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("location      WEST inventory = 1420:Inventory West"));
    let back = cogs(&db, &["settings", "--location-account", "WEST=default", "--format", "json"]);
    assert_eq!(json(&back)["location_accounts"], serde_json::json!({}));
    let moved = cogs(&db, &["settings", "--default-location", "WH-1", "--format", "json"]);
    assert_eq!(json(&moved)["default_location"], "WH-1", "nothing is loaded yet: the default may move");
    let bad = cogs(&db, &["settings", "--location-account", "WEST=1420"]);
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("is not CODE:NAME"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[tokio::test]
async fn maintenance_runs_from_the_command_line() {
    let db = TestDb::new().await;

    let output = assert_cmd::Command::new(env!("CARGO_BIN_EXE_cogs"))
        .env("DATABASE_URL", db.app_url())
        .env("COGS_MAINTENANCE_DATABASE_URL", db.maintenance_url())
        .args(["maintenance", "--format", "json"])
        .output()
        .unwrap();

    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(json(&output)["analyzed"], true);
}

#[tokio::test]
async fn verify_passes_a_clean_book_and_names_what_breaks_a_corrupted_one() {
    let db = TestDb::new().await;
    let (lots, sales) = (path(example("lots.csv")), path(example("sales.csv")));
    assert!(cogs(&db, &["run", "--lots-file", &lots, "--sales-file", &sales]).status.success());

    let clean = cogs(&db, &["verify", "--format", "json"]);
    db.owner()
        .await
        .batch_execute(
            "begin; alter table lots no force row level security;
             update lots set remaining_quantity = 0 where lot_id = 'LOT-005';
             alter table lots force row level security; commit;",
        )
        .await
        .unwrap();
    let broken = cogs(&db, &["verify", "--format", "json"]);
    let told = cogs(&db, &["verify"]);

    assert_eq!(clean.status.code(), Some(0), "{}", String::from_utf8_lossy(&clean.stderr));
    assert_eq!(json(&clean)["findings"], serde_json::json!([]));
    assert_eq!(broken.status.code(), Some(8));
    let error = &json(&broken)["error"];
    assert_eq!(error["type"], "books_inconsistent");
    assert_eq!(error["findings"][0]["check"], "lot_remaining_is_initial_less_consumption");
    assert_eq!(error["findings"][0]["subject"], "LOT-005");
    let stderr = String::from_utf8_lossy(&told.stderr);
    assert!(
        stderr.contains("lot_remaining_is_initial_less_consumption LOT-005") && stderr.contains("hint: "),
        "{stderr}"
    );
}
