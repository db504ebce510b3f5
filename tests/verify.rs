//! `cogs verify`, and the storage it verifies: corruption planted as the schema's owner
//! (the application could not write most of it) is named by the check it breaks, and
//! later runs supersede earlier outputs per SKU and range without touching their rows.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use cogs_core::ingest::RecordKind;
use cogs_core::service::{self, ServiceError};
use cogs_tests::{TestDb, load, load_examples, lots_csv, run_to_end, sales_csv, tenant};

const TENANT: &str = "acme-corp";

/// Runs `sql` as the owner for `TENANT`'s rows, committed: row-level security is lifted
/// for this one transaction (DDL is transactional, so it is forced again at commit).
async fn plant(db: &TestDb, sql: &str) {
    let owner = db.owner().await;
    let tables = [
        "lots",
        "sales",
        "cogs_allocations",
        "cogs_runs",
        "sku_watermarks",
        "inventory_snapshots",
        "cogs_run_sku_outputs",
        "cogs_movements",
        "cogs_layers",
    ];
    let lift: String = tables.iter().map(|t| format!("alter table {t} no force row level security;")).collect();
    let force: String = tables.iter().map(|t| format!("alter table {t} force row level security;")).collect();
    owner.batch_execute(&format!("begin; {lift} {sql}; {force} commit;")).await.unwrap();
}

/// The findings of verifying `TENANT`'s book, as (check, subject) pairs.
async fn findings(db: &TestDb) -> Vec<(String, String)> {
    match service::verify(&db.pool, &tenant(TENANT)).await {
        Ok(report) => {
            assert!(report.findings.is_empty());
            Vec::new()
        }
        Err(ServiceError::BooksInconsistent(report)) => {
            report.findings.iter().map(|f| (f.check.to_owned(), f.subject.clone())).collect()
        }
        Err(other) => panic!("verify failed: {other}"),
    }
}

async fn costed_examples() -> (TestDb, uuid::Uuid) {
    let db = TestDb::new().await;
    load_examples(&db, TENANT).await;
    let run = run_to_end(&db, TENANT, 2).await.unwrap();
    (db, run.run_id)
}

#[tokio::test]
async fn a_clean_book_passes_every_check() {
    let (db, _) = costed_examples().await;

    let report = service::verify(&db.pool, &tenant(TENANT)).await.unwrap();

    assert!(report.findings.is_empty());
    let checks: Vec<&str> = report.checks.iter().map(|c| c.check).collect();
    assert_eq!(checks.len(), 16, "{checks:?}");
    assert!(checks.contains(&"book_equals_fresh_costing") && checks.contains(&"journal_balances"));
}

#[tokio::test]
async fn each_kind_of_corruption_is_named_by_the_rule_it_breaks() {
    let cases: [(&str, &str, (&str, &str)); 13] = [
        (
            "an allocation naming a missing lot",
            "update cogs_allocations set lot_id = 'LOT-404' where sale_id = 'SALE-002'",
            ("allocation_names_a_lot", "LOT-404"),
        ),
        (
            "an allocation naming a missing sale",
            "update cogs_allocations set sale_id = 'SALE-404' where sale_id = 'SALE-004'",
            ("allocation_names_a_sale", "SALE-404"),
        ),
        (
            "a lot whose remaining quantity disagrees",
            "update lots set remaining_quantity = remaining_quantity + 1 where lot_id = 'LOT-002'",
            ("lot_remaining_is_initial_less_consumption", "LOT-002"),
        ),
        (
            "a run total off by a cent",
            "update cogs_runs set total_cogs = total_cogs + 0.01",
            ("run_totals_are_sums", ""),
        ),
        (
            "a sale covered twice",
            "insert into cogs_allocations select * from cogs_allocations where sale_id = 'SALE-007'",
            ("costed_sale_covered_exactly", "SALE-007"),
        ),
        (
            "an allocation of a run that does not exist",
            "insert into cogs_allocations (tenant_id, run_id, sale_id, lot_id, sku, sale_date, quantity, unit_cost,
                                           extended_cost)
             values ('acme-corp', gen_random_uuid(), 'SALE-001', 'LOT-001', 'WIDGET-A', '2024-07-08T14:30:00Z', 1, 1, 1)",
            ("allocation_belongs_to_a_run", ""),
        ),
        (
            "a watermark moved before sales it covered",
            "update sku_watermarks set costed_date = '2024-07-08T14:30:00Z', costed_sale_id = 'SALE-001'
             where sku = 'WIDGET-A'",
            ("costed_sale_covered_exactly", "SALE-003"),
        ),
        (
            "a run's summary of a SKU's outputs off by a cent",
            "update cogs_run_sku_outputs set cost = cost + 0.01 where sku = 'WIDGET-A'",
            ("run_sku_outputs_are_sums", "{run} WIDGET-A"),
        ),
        (
            "a run's summary of a SKU's outputs ending before its last sale",
            "update cogs_run_sku_outputs set last_sale_id = 'SALE-001' where sku = 'GADGET-B'",
            ("run_sku_outputs_are_sums", "{run} GADGET-B"),
        ),
        (
            "a watermark row that does not know a SKU's latest sale",
            "update sku_watermarks set last_sale_date = null, last_sale_id = null where sku = 'WIDGET-A'",
            ("watermark_knows_the_latest_sale", "WIDGET-A"),
        ),
        (
            "a SKU whose sale names a lot flagged as fitting the fast path's allocator",
            "update sales set lot_id = 'LOT-001' where sale_id = 'SALE-001'",
            ("allocator_fits_as_loaded", "WIDGET-A"),
        ),
        (
            "a watermark row that miscounts a SKU's sales",
            "update sku_watermarks set sales = sales + 1 where sku = 'GADGET-B'",
            ("watermark_knows_the_latest_sale", "GADGET-B"),
        ),
        (
            "an allocation at another price than its lot's",
            "update cogs_allocations set unit_cost = 4.375, extended_cost = quantity * 4.375 where sale_id = 'SALE-004'",
            ("allocation_names_a_lot", "LOT-004"),
        ),
    ];
    for (what, sql, (check, subject)) in cases {
        let (db, run_id) = costed_examples().await;
        assert!(findings(&db).await.is_empty(), "{what}: clean before");

        plant(&db, sql).await;

        let found = findings(&db).await;
        let subject =
            if subject.is_empty() { run_id.to_string() } else { subject.replace("{run}", &run_id.to_string()) };
        assert!(
            found.iter().any(|(c, s)| c == check && (s == &subject || check == "allocation_belongs_to_a_run")),
            "{what}: expected {check} on {subject}, found {found:?}"
        );
    }
}

#[tokio::test]
async fn a_movement_skus_book_is_checked_whole_against_costing_its_events_afresh() {
    let cases = [
        ("a write-off a cent off", "update cogs_movements set cost = cost + 0.01 where kind = 'count_deficit'"),
        (
            "a layer holding a unit more",
            "update cogs_layers set remaining_quantity = remaining_quantity + 1 where layer = 'LOT-003'",
        ),
        (
            "a sale drawn from another layer",
            "update cogs_allocations set quantity = quantity - 1, extended_cost = (quantity - 1) * unit_cost where sale_id = 'SALE-005'",
        ),
    ];
    for (what, sql) in cases {
        let (db, _) = costed_examples().await;
        let counts = "count_id,sku,count_date,counted_quantity\nCNT-1,GADGET-B,2024-07-31,70\n";
        service::upload(&db.pool, &cogs_tests::caller(TENANT), RecordKind::Counts, "counts.csv", counts.as_bytes())
            .await
            .unwrap();
        run_to_end(&db, TENANT, 2).await.unwrap();
        assert!(findings(&db).await.is_empty(), "{what}: clean before");

        plant(&db, sql).await;

        let found = findings(&db).await;
        assert!(
            found.contains(&("movements_equal_fresh_costing".to_owned(), "GADGET-B".to_owned())),
            "{what}: found {found:?}"
        );
    }
}

#[tokio::test]
async fn a_lot_of_another_tenant_is_no_lot_at_all() {
    let (db, _) = costed_examples().await;
    load(&db, "tenant-b", &lots_csv(&["LOT-B,GADGET-B,2024-07-01,500,500,4.375,0"]), "").await;

    plant(&db, "update cogs_allocations set lot_id = 'LOT-B' where sale_id = 'SALE-002'").await;

    assert!(findings(&db).await.contains(&("allocation_names_a_lot".to_owned(), "LOT-B".to_owned())));
}

#[tokio::test]
async fn the_application_can_neither_delete_costed_facts_nor_rewrite_allocations() {
    let db = TestDb::new().await;
    let app = db.app().await;

    for (table, privilege) in [
        ("lots", "delete"),
        ("sales", "delete"),
        ("cogs_allocations", "delete"),
        ("cogs_allocations", "update"),
        ("cogs_supersessions", "update"),
        ("cogs_supersessions", "delete"),
    ] {
        let row = app.query_one("select has_table_privilege($1, $2)", &[&table, &privilege]).await.unwrap();
        assert!(!row.get::<_, bool>(0), "the application may {privilege} {table}");
    }
}

/// What the live book holds, as `run:sale:lot:quantity` in costing order.
async fn live(db: &TestDb) -> Vec<String> {
    let app = db.app().await;
    app.batch_execute("begin; select set_config('app.tenant_id', 'acme-corp', true)").await.unwrap();
    let rows = app
        .query(
            "select r.created_by, a.sale_id, a.lot_id, a.quantity::text
             from live_allocations a join cogs_runs r using (tenant_id, run_id)
             order by a.sku, a.sale_date, a.sale_id, a.lot_id",
            &[],
        )
        .await
        .unwrap();
    app.batch_execute("rollback").await.unwrap();
    rows.iter()
        .map(|row| {
            format!(
                "{}:{}:{}:{}",
                row.get::<_, String>(0),
                row.get::<_, String>(1),
                row.get::<_, String>(2),
                row.get::<_, String>(3)
            )
        })
        .collect()
}

/// A run written by hand, as the application: `created_by` names it.
async fn insert_run(app: &tokio_postgres::Client, name: &str, status: &str) -> uuid::Uuid {
    let row = app
        .query_one(
            "insert into cogs_runs (tenant_id, run_id, mode, status, sales_total, created_by, created_at)
             values ('acme-corp', gen_random_uuid(), 'fifo', $1, 0, $2, clock_timestamp())
             returning run_id",
            &[&status, &name],
        )
        .await
        .unwrap();
    row.get(0)
}

#[tokio::test]
async fn a_later_run_supersedes_one_skus_outputs_by_range_and_its_rollback_revives_them() {
    let db = TestDb::new().await;
    load(
        &db,
        TENANT,
        &lots_csv(&["L1,A,2024-01-01,10,10,1,0", "L2,A,2024-01-05,10,10,2,0", "L9,B,2024-01-01,10,10,5,0"]),
        &sales_csv(&[
            "S1,A,2024-02-01,3",
            "S2,A,2024-02-02,3",
            "S3,A,2024-02-03,3",
            "S4,A,2024-02-04,3",
            "B1,B,2024-02-03,1",
        ]),
    )
    .await;
    let app = db.app().await;
    app.batch_execute("begin; select set_config('app.tenant_id', 'acme-corp', true)").await.unwrap();
    // R1 costed everything; R2, after a backdated event at S3, re-costed A from S3 on.
    let r1 = insert_run(&app, "R1", "completed").await;
    let r2 = insert_run(&app, "R2", "completed").await;
    app.execute(
        "insert into cogs_allocations (tenant_id, run_id, sale_id, lot_id, sku, sale_date, quantity, unit_cost, extended_cost)
         select 'acme-corp', r, s, l, k, d::timestamptz, q, c, q * c
         from (values ($1::uuid, 'S1', 'L1', 'A', '2024-02-01', 3, 1), ($1, 'S2', 'L1', 'A', '2024-02-02', 3, 1),
                      ($1, 'S3', 'L1', 'A', '2024-02-03', 3, 1), ($1, 'S4', 'L1', 'A', '2024-02-04', 1, 1),
                      ($1, 'S4', 'L2', 'A', '2024-02-04', 2, 2), ($1, 'B1', 'L9', 'B', '2024-02-03', 1, 5),
                      ($2::uuid, 'S3', 'L2', 'A', '2024-02-03', 3, 2), ($2, 'S4', 'L2', 'A', '2024-02-04', 3, 2))
              as v(r, s, l, k, d, q, c)",
        &[&r1, &r2],
    )
    .await
    .unwrap();
    let superseded = app
        .execute(
            "insert into cogs_supersessions (tenant_id, run_id, sku, from_date, from_sale_id)
             values ('acme-corp', $1, 'A', '2024-02-03', 'S3')",
            &[&r2],
        )
        .await
        .unwrap();
    app.batch_execute("commit").await.unwrap();

    assert_eq!(superseded, 1, "one row supersedes every output of the SKU from the event on");
    assert_eq!(
        live(&db).await,
        ["R1:S1:L1:3", "R1:S2:L1:3", "R2:S3:L2:3", "R2:S4:L2:3", "R1:B1:L9:1"],
        "R1's outputs of A from S3 on are superseded; B and A before S3 are not"
    );

    // A run after R2 is not superseded by it.
    app.batch_execute("begin; select set_config('app.tenant_id', 'acme-corp', true)").await.unwrap();
    let r3 = insert_run(&app, "R3", "completed").await;
    app.execute(
        "insert into cogs_allocations (tenant_id, run_id, sale_id, lot_id, sku, sale_date, quantity, unit_cost, extended_cost)
         values ('acme-corp', $1, 'S5', 'L2', 'A', '2024-02-05', 1, 2, 2)",
        &[&r3],
    )
    .await
    .unwrap();
    // Rolling R2 back is one row changed: its supersession no longer counts.
    let rolled_back =
        app.execute("update cogs_runs set status = 'rolled_back' where run_id = $1", &[&r2]).await.unwrap();
    app.batch_execute("commit").await.unwrap();

    assert_eq!(rolled_back, 1);
    assert_eq!(
        live(&db).await,
        ["R1:S1:L1:3", "R1:S2:L1:3", "R1:S3:L1:3", "R1:S4:L1:1", "R1:S4:L2:2", "R3:S5:L2:1", "R1:B1:L9:1"],
        "R1's outputs are live again, R3's stay"
    );
}
