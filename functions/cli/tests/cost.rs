//! `cogs cost` through the real binary, on the bundled examples and on bad input.
#![expect(clippy::unwrap_used, reason = "a test helper that cannot do its job should fail the test loudly")]

use cogs_tests::example;

fn cogs() -> assert_cmd::Command {
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_cogs"))
}
use serde_json::{Value, json};

fn run_json(lots: &std::path::Path, sales: &std::path::Path) -> (Option<i32>, Value) {
    run_json_with(lots, sales, &[])
}

fn run_json_with(lots: &std::path::Path, sales: &std::path::Path, flags: &[&str]) -> (Option<i32>, Value) {
    let output = cogs()
        .arg("cost")
        .arg("--lots")
        .arg(lots)
        .arg("--sales")
        .arg(sales)
        .args(["--format", "json"])
        .args(flags)
        .output()
        .unwrap();
    let body = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    (output.status.code(), body)
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The figures below are worked out by hand from examples/*.csv:
///
/// WIDGET-A: LOT-001 10.00 + 0.50 = 10.50, LOT-002 12.00 + 0.50 = 12.50, LOT-005 11.40.
///   SALE-001 60 from LOT-001 = 630; SALE-003 40 × 10.50 + 30 × 12.50 = 795;
///   SALE-007 15 × 12.50 = 187.50 (LOT-005 waits: LOT-002 is older).
/// GADGET-B: LOT-003 4.25 + 0.125 = 4.375, 180 remaining of 200.
///   SALE-002 30 × 4.375 = 131.25; SALE-005 75 × 4.375 = 328.125.
/// COFFEE-KG: LOT-004 18.40 + 0.35 = 18.75, 25.5 kg.
///   SALE-004 2.5 × 18.75 = 46.875; SALE-006 10.25 × 18.75 = 192.1875.
/// Total COGS 2310.9375; left: LOT-002 5 (62.50), LOT-005 80 (912), LOT-003 75
/// (328.125), LOT-004 12.75 (239.0625) = 1541.6875 over 172.75 units. Together they
/// make the 3852.625 the lots started with.
#[test]
fn cost_prints_the_hand_worked_figures_for_the_examples() {
    let (code, body) = run_json(&example("lots.csv"), &example("sales.csv"));

    assert_eq!(code, Some(0));
    assert_eq!(
        body["totals"],
        json!({
            "total_cogs": "2310.9375", "restocked_returns": "0", "net_cogs": "2310.9375",
            "ending_inventory_value": "1541.6875", "ending_inventory_quantity": "172.75"
        })
    );
    let sales: Vec<(String, String)> = body["sales"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["sale_id"].as_str().unwrap().to_owned(), s["cogs"].as_str().unwrap().to_owned()))
        .collect();
    let expected = [
        ("SALE-001", "630"),
        ("SALE-002", "131.25"),
        ("SALE-003", "795"),
        ("SALE-004", "46.875"),
        ("SALE-005", "328.125"),
        ("SALE-006", "192.1875"),
        ("SALE-007", "187.5"),
    ];
    assert_eq!(sales, expected.map(|(id, cogs)| (id.to_owned(), cogs.to_owned())));
    assert_eq!(
        body["sales"][2],
        json!({
            "sale_id": "SALE-003", "sku": "WIDGET-A", "sale_date": "2024-07-15T11:00:00Z", "quantity_sold": "70", "cogs": "795",
            "allocations": [
                {"lot_id": "LOT-001", "quantity": "40", "unit_cost": "10.5", "cost": "420"},
                {"lot_id": "LOT-002", "quantity": "30", "unit_cost": "12.5", "cost": "375"}
            ]
        })
    );
    let lots: Vec<String> = body["lots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{} {} {}",
                l["lot_id"].as_str().unwrap(),
                l["remaining_quantity"].as_str().unwrap(),
                l["remaining_value"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        lots,
        ["LOT-004 12.75 239.0625", "LOT-003 75 328.125", "LOT-001 0 0", "LOT-002 5 62.5", "LOT-005 80 912"],
        "by SKU, each SKU's lots in consumption order"
    );
}

#[test]
fn cost_prints_a_table_for_people() {
    let output = cogs()
        .arg("cost")
        .arg("--lots")
        .arg(example("lots.csv"))
        .arg("--sales")
        .arg(example("sales.csv"))
        .output()
        .unwrap();

    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("Total COGS:               2310.94"), "{text}");
    assert!(text.contains("SALE-006"), "{text}");
}

#[test]
fn an_uncovered_sale_parks_its_sku_and_the_report_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    let sales = write(
        &dir,
        "sales.csv",
        "sale_id,sku,sale_date,quantity_sold\nS1,WIDGET-A,2024-07-08,60\nS2,WIDGET-A,2024-07-09,50\nS3,GADGET-B,2024-07-09,5\n",
    );

    let (code, body) = run_json(&example("lots.csv"), &sales);

    assert_eq!(code, Some(0));
    let costed: Vec<&str> = body["sales"].as_array().unwrap().iter().map(|s| s["sale_id"].as_str().unwrap()).collect();
    assert_eq!(costed, ["S1", "S3"]);
    assert_eq!(
        body["shortfalls"],
        json!([{
            "sku": "WIDGET-A", "event_kind": "sale", "event_id": "S2", "event_date": "2024-07-09T00:00:00Z",
            "quantity_short": "10", "on_hand": "40", "location": "main"
        }])
    );
}

#[test]
fn rows_that_name_no_location_are_at_the_default_location_given() {
    let dir = tempfile::tempdir().unwrap();
    // The lots name none: with --default-location WH-1 they are there, where S1 (naming
    // none) finds them and S2 (at main) finds nothing.
    let sales = write(
        &dir,
        "sales.csv",
        "sale_id,sku,sale_date,quantity_sold,location\nS1,GADGET-B,2024-07-09,5,\nS2,GADGET-B,2024-07-10,5,main\n",
    );

    let (code, body) = run_json_with(&example("lots.csv"), &sales, &["--default-location", "WH-1"]);

    assert_eq!(code, Some(0));
    let costed: Vec<&str> = body["sales"].as_array().unwrap().iter().map(|s| s["sale_id"].as_str().unwrap()).collect();
    assert_eq!(costed, ["S1"]);
    assert_eq!(
        (&body["shortfalls"][0]["event_id"], &body["shortfalls"][0]["location"]),
        (&json!("S2"), &json!("main"))
    );
    assert!(body["lots"].as_array().unwrap().iter().all(|lot| lot["location"] == "WH-1"), "{body}");
}

#[test]
fn insufficient_inventory_with_strict_names_the_sale_and_exits_6() {
    let dir = tempfile::tempdir().unwrap();
    let sales = write(
        &dir,
        "sales.csv",
        "sale_id,sku,sale_date,quantity_sold\nS1,WIDGET-A,2024-07-08,60\nS2,WIDGET-A,2024-07-09,50\n",
    );

    let (code, body) = run_json_with(&example("lots.csv"), &sales, &["--strict"]);

    assert_eq!(code, Some(6));
    assert_eq!(
        body,
        json!({"error": {
            "type": "insufficient_inventory",
            "message": "sale S2 needs 50 of WIDGET-A but only 40 is available from lots received by its date",
            "sale_id": "S2", "sku": "WIDGET-A", "requested": "50", "available": "40"
        }})
    );
}

#[test]
fn a_rejected_file_lists_every_row_error_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let sales = write(
        &dir,
        "sales.csv",
        "sale_id,sku,sale_date,quantity_sold\nS1,WIDGET-A,2024-07-08,1e3\nS2,WIDGET-A,someday,1\n",
    );

    let (code, body) = run_json(&example("lots.csv"), &sales);

    assert_eq!(code, Some(3));
    assert_eq!(body["error"]["type"], "validation_failed");
    assert_eq!(body["error"]["file"], "sales");
    let errors: Vec<(u64, &str, &str)> = body["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap(), e["type"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, [(2, "quantity_sold", "bad_number"), (3, "sale_date", "bad_date")]);
}

#[test]
fn a_missing_file_exits_5_with_the_path() {
    let (code, body) = run_json(&example("no-such-file.csv"), &example("sales.csv"));
    assert_eq!(code, Some(5));
    assert_eq!(body["error"]["type"], "file_not_readable");
}

#[test]
fn a_tenant_mismatch_is_refused_when_a_tenant_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let sales = write(
        &dir,
        "sales.csv",
        "sale_id,sku,sale_date,quantity_sold,tenant_id\nS1,WIDGET-A,2024-07-08,1,other-corp\n",
    );

    let output = cogs()
        .arg("cost")
        .arg("--lots")
        .arg(example("lots.csv"))
        .arg("--sales")
        .arg(&sales)
        .args(["--tenant-id", "acme-corp"])
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("row 2, column tenant_id"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
}

/// Every movement of examples/ on top of lots.csv and sales.csv, by hand:
/// WIDGET-A: SALE-001 60 of LOT-001 at 10.50 = 630; RET-001 brings 5 of them back
/// (52.50, layer RET-001:LOT-001); SALE-003 40 of LOT-001 and 30 of LOT-002 at 12.50 =
/// 795; LC-001's 25.00 on LOT-002's 50 units: SALE-003's 30 take 15.00 to COGS, the 20 on
/// hand 10.00; SR-001 sends 10 of LOT-005 back at 11.40 = 114; SALE-007 takes 15 of
/// LOT-002 (187.50) and 15/20 of its 10.00 (7.50); ADJ-002 finds 2 at 11.50 = 23.
/// GADGET-B: the count of 68 finds 75: 7 × 4.375 = 30.625 written off. COFFEE-KG:
/// ADJ-001 spoils 0.75 × 18.75 = 14.0625. COGS 2318.4375 of sales + 15.00 = 2333.4375,
/// restocked 52.50, net 2280.9375; 3852.625 loaded + 25 + 52.50 + 23 − 114 − 44.6875 −
/// 2333.4375 = 1461 left.
#[test]
fn cost_takes_every_movement_file_offline() {
    let output = cogs()
        .arg("cost")
        .args(["--lots".as_ref(), example("lots.csv").as_os_str()])
        .args(["--sales".as_ref(), example("sales.csv").as_os_str()])
        .args(["--returns".as_ref(), example("returns.csv").as_os_str()])
        .args(["--supplier-returns".as_ref(), example("supplier-returns.csv").as_os_str()])
        .args(["--adjustments".as_ref(), example("adjustments.csv").as_os_str()])
        .args(["--counts".as_ref(), example("counts.csv").as_os_str()])
        .args(["--landed-costs".as_ref(), example("landed-costs.csv").as_os_str()])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let body: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        body["totals"],
        json!({"total_cogs": "2333.4375", "restocked_returns": "52.5", "net_cogs": "2280.9375",
               "ending_inventory_value": "1461", "ending_inventory_quantity": "162"})
    );
    let sale_007 = body["sales"].as_array().unwrap().iter().find(|s| s["sale_id"] == "SALE-007").unwrap();
    assert_eq!((sale_007["cogs"].clone(), sale_007["landed_cost"].clone()), (json!("195"), json!("7.5")));
    let moved: Vec<String> = body["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{} {} {} {}",
                m["kind"].as_str().unwrap(),
                m["event_id"].as_str().unwrap(),
                m["lot_id"].as_str().unwrap(),
                m["cost"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        moved,
        [
            "adjustment_out ADJ-001 LOT-004 14.0625",
            "count_deficit CNT-001 LOT-003 30.625",
            "return_restocked RET-001 RET-001:LOT-001 52.5",
            "landed_to_cogs LC-001 LOT-002 15",
            "landed_on_hand LC-001 LOT-002 10",
            "supplier_return SR-001 LOT-005 114",
            "adjustment_in ADJ-002 adj:ADJ-002 23",
        ]
    );
}

#[test]
fn template_prints_each_kinds_header_and_an_example() {
    for kind in ["lots", "sales", "returns", "supplier_returns", "adjustments", "counts", "landed_costs"] {
        let output = cogs().args(["template", kind]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{kind}");
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.lines().count() >= 2, "{kind}: {text}");
    }
    assert_eq!(cogs().args(["template", "refunds"]).output().unwrap().status.code(), Some(2));
}

#[test]
fn specific_identification_costs_a_sale_from_the_lot_it_names_and_the_tables_say_which_method() {
    let dir = tempfile::tempdir().unwrap();
    let lots = write(
        &dir,
        "lots.csv",
        "lot_id,sku,received_date,original_quantity,remaining_quantity,unit_price,freight_cost_per_unit\n\
         L1,A,2024-01-01,5,5,10,0\nL2,A,2024-01-02,5,5,12,0\n",
    );
    let sales = write(
        &dir,
        "sales.csv",
        "sale_id,sku,sale_date,quantity_sold,lot_id\nS1,A,2024-01-03,2,L2\nS2,A,2024-01-04,1,\n",
    );

    let (status, specific) = run_json_with(&lots, &sales, &["--method", "specific-identification"]);
    let (_, fifo) = run_json(&lots, &sales);

    assert_eq!(status, Some(0));
    assert_eq!(specific["methods"], json!({ "initial": "specific_identification", "changes": [] }));
    assert_eq!(specific["totals"]["total_cogs"], "34", "S1: 2 of L2 at 12; S2: 1 of L1 at 10");
    assert_eq!(specific["sales"][0]["allocations"][0]["lot_id"], "L2");
    assert_eq!(fifo["methods"]["initial"], "fifo");
    assert_eq!(fifo["totals"]["total_cogs"], "30", "FIFO ignores the named lot: 3 of L1 at 10");
    let (_, changed) =
        run_json_with(&lots, &sales, &["--method", "fifo", "--method", "specific-identification@2024-01-03"]);
    assert_eq!(changed["methods"]["changes"][0]["at"], "2024-01-03T00:00:00Z");
    assert_eq!(changed["totals"]["total_cogs"], "34", "S1 on the 3rd is on or after the change");
    let (_, before) = run_json_with(&lots, &sales, &["--method", "specific-identification@2024-01-04T00:00:00+00:00"]);
    assert_eq!(before["totals"]["total_cogs"], "30", "S1 on the 3rd is before the change");
    let (twice, _) = run_json_with(&lots, &sales, &["--method", "fifo", "--method", "specific-identification"]);
    assert_eq!(twice, Some(3), "two methods throughout is a usage error");
    let table = cogs()
        .args(["cost", "--method", "specific-identification", "--lots"])
        .arg(&lots)
        .arg("--sales")
        .arg(&sales)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.starts_with("Costing method: specific identification"), "{text}");
}
