//! The tenant-isolation attack suite. Tenant `evil-corp` tries, through the real
//! handlers (API Gateway events with JWT claims), the S3 event handler, and the
//! database as the application role, to read or change what `acme-corp` owns. Every
//! attempt is named; for each one:
//! - the answer has the expected status and carries nothing of acme-corp's (no id,
//!   SKU or amount of it that the attempt did not itself send), and
//! - every row acme-corp owns, in every table, is exactly as before.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use cogs_core::ingest::RecordKind;
use cogs_core::service;
use cogs_core::staging::Staging;
use cogs_tests::api::{Api, body_json, call, multipart, request, s3_put_event};
use cogs_tests::{TestDb, caller, load, lots_csv, run_to_end, sales_csv, tenant};
use lambda_http::Request;
use serde_json::json;
use uuid::Uuid;

/// Two tenants with data, acme-corp's marked so a leak is recognisable.
struct Scene {
    api: Api,
    acme_run: Uuid,
    acme_upload: Uuid,
    evil_run: Uuid,
    /// What must never reach evil-corp unless it sent it itself.
    secrets: Vec<String>,
}

impl Scene {
    async fn new() -> Self {
        let api = Api::new().await;
        let acme_lots = lots_csv(&[
            "ACME-LOT-1,ACME-SKU-1,2024-01-01,10,10,7.77,0.11",
            "ACME-LOT-2,ACME-SKU-2,2024-01-01,5,5,3.33,0",
        ]);
        load(&api.db, "acme-corp", &acme_lots, &sales_csv(&["ACME-SALE-1,ACME-SKU-1,2024-01-02,4"])).await;
        let acme_run = run_to_end(&api.db, "acme-corp", 10).await.unwrap().run_id;
        let csv = sales_csv(&["ACME-SALE-2,ACME-SKU-2,2024-01-03,1"]);
        let acme_upload =
            service::upload(&api.db.pool, &caller("acme-corp"), RecordKind::Sales, "acme.csv", csv.as_bytes())
                .await
                .unwrap()
                .upload_id;
        load(
            &api.db,
            "evil-corp",
            &lots_csv(&["EVIL-LOT-1,EVIL-SKU,2024-01-01,10,10,1,0"]),
            &sales_csv(&["EVIL-SALE-1,EVIL-SKU,2024-01-02,2"]),
        )
        .await;
        let evil_run = run_to_end(&api.db, "evil-corp", 10).await.unwrap().run_id;
        let secrets = vec![
            "ACME".to_owned(),
            "acme.csv".to_owned(),
            // 4 × (7.77 + 0.11) = 31.52, the run's cost.
            "31.52".to_owned(),
            "7.88".to_owned(),
            acme_run.to_string(),
            acme_upload.to_string(),
        ];
        Self { api, acme_run, acme_upload, evil_run, secrets }
    }

    /// Everything acme-corp owns, in every table.
    async fn acme(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        self.api.db.contents(&["acme-corp"]).await
    }

    /// The secrets in `answer` that `sent` did not contain.
    fn leaked(&self, answer: &str, sent: &str) -> Vec<String> {
        self.secrets.iter().filter(|s| mentions(answer, s) && !sent.contains(s.as_str())).cloned().collect()
    }
}

/// Whether `secret` appears in `text` as itself, not inside a longer number: a
/// timestamp's fraction of a second holds any digits ("16:56:47.889400Z" holds no
/// amount of 7.88), while an amount may be rendered with more places ("7.8800").
fn mentions(text: &str, secret: &str) -> bool {
    text.match_indices(secret).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + secret.len()..].trim_start_matches('0').chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

#[test]
fn a_secret_amount_is_found_as_itself_and_not_inside_a_timestamp() {
    assert!(mentions(r#"{"total_cogs":"7.88"}"#, "7.88"));
    assert!(mentions(r#"{"total_cogs":"7.8800"}"#, "7.88"));
    assert!(mentions("ACME-LOT-1", "ACME"));
    assert!(!mentions(r#"{"created_at":"2026-12-06T16:56:47.889400Z"}"#, "7.88"));
    assert!(!mentions(r#"{"total_cogs":"17.88"}"#, "7.88"));
    assert!(!mentions(r#"{"total_cogs":"7.881"}"#, "7.88"));
}

/// One attempt over HTTP: its name, the function API Gateway routes it to, what it
/// sends (for the leak check), the request, and the status it must get.
struct Attempt {
    name: &'static str,
    function: &'static str,
    sent: String,
    request: Request,
    status: u16,
}

fn attempt(name: &'static str, function: &'static str, method: &str, path: &str, status: u16) -> Attempt {
    attempt_as(name, function, method, path, Some("evil-corp"), None, status)
}

fn attempt_as(
    name: &'static str,
    function: &'static str,
    method: &str,
    path: &str,
    tenant: Option<&str>,
    body: Option<(&str, &str)>,
    status: u16,
) -> Attempt {
    let sent = format!("{method} {path} {tenant:?} {body:?}");
    Attempt { name, function, sent, request: request(method, path, tenant, body), status }
}

async fn assert_attempts_fail(scene: &Scene, attempts: Vec<Attempt>) {
    let before = scene.acme().await;
    for attempt in attempts {
        let response = call(&scene.api.ctx, attempt.function, attempt.request).await;
        let answer = String::from_utf8_lossy(response.body()).into_owned();
        assert_eq!(response.status().as_u16(), attempt.status, "{}: {answer}", attempt.name);
        assert_eq!(scene.leaked(&answer, &attempt.sent), Vec::<String>::new(), "{} leaked: {answer}", attempt.name);
        assert!(scene.acme().await == before, "{} changed acme-corp's data", attempt.name);
    }
}

#[tokio::test]
async fn another_tenants_ids_in_every_route_answer_as_missing_ids() {
    let scene = Scene::new().await;
    let (run, upload) = (scene.acme_run, scene.acme_upload);
    let attempts = vec![
        attempt("show acme's run", "list", "GET", &format!("/api/v1/runs/{run}"), 404),
        attempt("acme's journal", "journal-export", "GET", &format!("/api/v1/runs/{run}/journal-entry"), 404),
        attempt(
            "acme's journal for QuickBooks Online, one entry",
            "journal-export",
            "GET",
            &format!("/api/v1/runs/{run}/journal-entry?format=qbo&period=run"),
            404,
        ),
        attempt(
            "acme's reversal journal",
            "journal-export",
            "GET",
            &format!("/api/v1/runs/{run}/journal-entry?reversal_date=2024-02-01"),
            404,
        ),
        attempt("roll acme's run back", "rollback", "POST", &format!("/api/v1/runs/{run}/rollback"), 404),
        attempt(
            "roll acme's run back with its dependents",
            "rollback",
            "POST",
            &format!("/api/v1/runs/{run}/rollback?cascade=true"),
            404,
        ),
        attempt("show acme's upload", "upload", "GET", &format!("/api/v1/uploads/{upload}"), 404),
        attempt("trace acme's sale", "list", "GET", "/api/v1/sales/ACME-SALE-1/allocations", 404),
        attempt("trace acme's lot", "list", "GET", "/api/v1/lots/ACME-LOT-1/consumption", 404),
        attempt("acme's upload id as a run id", "list", "GET", &format!("/api/v1/runs/{upload}"), 404),
    ];
    assert_attempts_fail(&scene, attempts).await;
}

#[tokio::test]
async fn naming_another_tenant_in_query_body_or_form_is_forbidden() {
    let scene = Scene::new().await;
    let claimed_body = json!({ "tenant_id": "acme-corp" }).to_string();
    let staged_body =
        json!({ "kind": "sales", "file_name": "s.csv", "size": 10, "tenant_id": "acme-corp" }).to_string();
    let csv_with_tenant = "tenant_id,sale_id,sku,sale_date,quantity_sold\nacme-corp,X1,ACME-SKU-1,2024-02-01,1\n";
    let mut attempts = vec![
        attempt("list acme's runs by query", "list", "GET", "/api/v1/runs?tenant_id=acme-corp", 403),
        attempt("acme's inventory by query", "list", "GET", "/api/v1/inventory?tenant_id=acme-corp", 403),
        attempt("acme's book by query", "list", "GET", "/api/v1/book?tenant_id=acme-corp", 403),
        attempt(
            "acme's roll-forward by query",
            "list",
            "GET",
            "/api/v1/reports/rollforward?from=2024-01-01&to=2024-12-31&tenant_id=acme-corp",
            403,
        ),
        attempt_as(
            "start a run for acme in the body",
            "run",
            "POST",
            "/api/v1/runs",
            Some("evil-corp"),
            Some(("application/json", &claimed_body)),
            403,
        ),
        attempt_as(
            "stage a file for acme in the body",
            "upload",
            "POST",
            "/api/v1/uploads",
            Some("evil-corp"),
            Some(("application/json", &staged_body)),
            403,
        ),
        attempt_as(
            "upload lots for acme by query",
            "upload",
            "POST",
            "/api/v1/files/lots?tenant_id=acme-corp",
            Some("evil-corp"),
            Some(("text/csv", &lots_csv(&["X1,ACME-SKU-1,2024-01-01,1,1,1,0"]))),
            403,
        ),
        attempt_as(
            "upload sales whose rows name acme",
            "upload",
            "POST",
            "/api/v1/files/sales",
            Some("evil-corp"),
            Some(("text/csv", csv_with_tenant)),
            400,
        ),
    ];
    attempts.push(Attempt {
        name: "upload lots with acme in the form's tenant field",
        function: "upload",
        sent: "multipart tenant_id=acme-corp".into(),
        request: multipart("evil-corp"),
        status: 403,
    });
    assert_attempts_fail(&scene, attempts).await;
}

#[tokio::test]
async fn a_forged_or_missing_token_tenant_gets_nothing() {
    let scene = Scene::new().await;
    let run = scene.acme_run;
    let path = format!("/api/v1/runs/{run}");
    let mut with_header = request("GET", "/api/v1/runs", Some("evil-corp"), None);
    with_header.headers_mut().insert("x-tenant-id", "acme-corp".parse().unwrap());
    let mut attempts = vec![
        attempt_as("a claim with SQL in it", "list", "GET", &path, Some("acme-corp' or '1'='1"), None, 403),
        attempt_as("an empty claim", "list", "GET", &path, Some(""), None, 403),
        attempt_as("acme's name in capitals", "list", "GET", &path, Some("ACME-CORP"), None, 403),
        attempt_as("acme's name with a trailing space", "list", "GET", &path, Some("acme-corp "), None, 403),
        attempt_as("no token at all", "list", "GET", &path, None, None, 401),
        attempt_as("no token, acme's inventory", "list", "GET", "/api/v1/inventory", None, None, 401),
    ];
    attempts.push(Attempt {
        name: "acme in the development header next to a token",
        function: "list",
        sent: "GET /api/v1/runs".into(),
        request: with_header,
        status: 200,
    });
    assert_attempts_fail(&scene, attempts).await;
}

#[tokio::test]
async fn sql_in_every_string_field_is_data_never_code() {
    let scene = Scene::new().await;
    let sql_sku = lots_csv(&["'); delete from lots; --,x' or '1'='1,2024-01-01,1,1,1,0"]);
    let sql_sale = sales_csv(&["S'; update lots set remaining_quantity = 0; --,EVIL-SKU,2024-01-03,1"]);
    let attempts = vec![
        attempt("an inventory SKU filter with SQL", "list", "GET", "/api/v1/inventory?sku='%20or%20'1'='1", 200),
        attempt("a book page start with SQL", "list", "GET", "/api/v1/book?after_sku='%20or%20'1'='1", 200),
        attempt("a status with SQL", "list", "GET", "/api/v1/runs?status=completed'%20or%20'1'='1", 400),
        attempt("a run id with SQL", "list", "GET", &format!("/api/v1/runs/{}'%20or%20'1'='1", scene.acme_run), 404),
        attempt("a page cursor with SQL", "list", "GET", "/api/v1/runs?cursor='%20or%20'1'='1", 400),
        attempt(
            "a journal format with SQL",
            "journal-export",
            "GET",
            &format!("/api/v1/runs/{}/journal-entry?format=csv';--", scene.evil_run),
            400,
        ),
        attempt_as(
            "a file name with SQL",
            "upload",
            "POST",
            "/api/v1/files/lots?file_name=x');%20delete%20from%20lots;--",
            Some("evil-corp"),
            Some(("text/csv", &lots_csv(&["EVIL-LOT-2,EVIL-SKU,2024-01-01,1,1,1,0"]))),
            201,
        ),
        attempt_as(
            "lot id and SKU with SQL",
            "upload",
            "POST",
            "/api/v1/files/lots",
            Some("evil-corp"),
            Some(("text/csv", &sql_sku)),
            201,
        ),
        attempt_as(
            "a sale id with SQL",
            "upload",
            "POST",
            "/api/v1/files/sales",
            Some("evil-corp"),
            Some(("text/csv", &sql_sale)),
            201,
        ),
        attempt_as(
            "acme's lot ids with other values",
            "upload",
            "POST",
            "/api/v1/files/lots",
            Some("evil-corp"),
            Some(("text/csv", &lots_csv(&["ACME-LOT-1,EVIL-SKU,2024-01-01,99,99,0.01,0"]))),
            201,
        ),
    ];
    assert_attempts_fail(&scene, attempts).await;
}

#[tokio::test]
async fn a_tenants_own_lists_and_exports_hold_only_its_own_rows() {
    let scene = Scene::new().await;
    let mut acme_page = request("GET", "/api/v1/runs?limit=1", Some("acme-corp"), None);
    acme_page.headers_mut().remove("x-tenant-id");
    // acme's own page cursor, replayed by evil-corp.
    let cursor = body_json(&call(&scene.api.ctx, "list", acme_page).await)["next_cursor"].clone();
    let evil_run = scene.evil_run;
    let mut attempts = vec![
        attempt("list every run", "list", "GET", "/api/v1/runs?limit=500", 200),
        attempt("list completed runs", "list", "GET", "/api/v1/runs?status=completed", 200),
        attempt("the whole inventory", "list", "GET", "/api/v1/inventory", 200),
        attempt("the whole book", "list", "GET", "/api/v1/book?limit=1000", 200),
        attempt("the book from before acme's SKU", "list", "GET", "/api/v1/book?after_sku=A", 200),
        attempt("the inventory of acme's SKU", "list", "GET", "/api/v1/inventory?sku=ACME-SKU-1", 200),
        attempt(
            "a year's roll-forward",
            "list",
            "GET",
            "/api/v1/reports/rollforward?from=2024-01-01&to=2024-12-31",
            200,
        ),
        attempt("the valuation now", "list", "GET", "/api/v1/reports/valuation?as_of=2030-01-01", 200),
        attempt("a year's cost of sales", "list", "GET", "/api/v1/reports/cogs?from=2024-01-01&to=2024-12-31", 200),
        attempt("the ageing as CSV", "list", "GET", "/api/v1/reports/ageing?as_of=2030-01-01&format=csv", 200),
        attempt("its own run", "list", "GET", &format!("/api/v1/runs/{evil_run}"), 200),
        attempt(
            "its own journal, every format",
            "journal-export",
            "GET",
            &format!("/api/v1/runs/{evil_run}/journal-entry?format=json&period=run"),
            200,
        ),
        attempt(
            "its own Xero journal",
            "journal-export",
            "GET",
            &format!("/api/v1/runs/{evil_run}/journal-entry?format=xero"),
            200,
        ),
        attempt("a run over everything it may cost", "run", "POST", "/api/v1/runs", 202),
    ];
    if let Some(cursor) = cursor.as_str() {
        attempts.push(attempt("acme's page cursor", "list", "GET", &format!("/api/v1/runs?cursor={cursor}"), 200));
    }
    assert_attempts_fail(&scene, attempts).await;
}

#[tokio::test]
async fn crafted_object_keys_load_nothing_into_another_tenant() {
    let scene = Scene::new().await;
    let ctx = &scene.api.ctx;
    let bucket = match &ctx.staging {
        cogs_core::staging::Store::S3(store) => store.bucket(),
        cogs_core::staging::Store::Local(_) => unreachable!("the scene stages in S3"),
    };
    // The objects have the declared size, so only the key can be what refuses them.
    let sales = "sale_id,sku,sale_date,quantity_sold\nEVIL-SALE-9,ACME-SKU-1,2024-02-01,9\n";
    let declared = sales.len() as u64;
    let pending = service::create_upload(
        &scene.api.db.pool,
        &ctx.staging,
        &caller("acme-corp"),
        RecordKind::Sales,
        "s.csv",
        declared,
    )
    .await
    .unwrap();
    let id = pending.upload.upload_id;
    let before = scene.acme().await;
    for (name, key) in [
        ("evil's prefix, acme's pending upload", format!("tenants/evil-corp/uploads/{id}/sales.csv")),
        ("a climb out of evil's prefix", format!("tenants/evil-corp/../acme-corp/uploads/{id}/sales.csv")),
        ("SQL in the tenant part", format!("tenants/acme-corp' or '1'='1/uploads/{id}/sales.csv")),
        (
            "acme's prefix, an upload that is not acme's",
            format!("tenants/acme-corp/uploads/{}/sales.csv", Uuid::now_v7()),
        ),
        ("no tenant prefix", format!("uploads/{id}/sales.csv")),
    ] {
        ctx.staging.put(&key, sales.as_bytes().to_vec()).await.unwrap();
        let outcome = cogs_upload::events::handle(ctx, s3_put_event(bucket, &key).await).await;
        let outcome = outcome.map(|value| value["objects"][0]["outcome"].clone());
        assert!(!matches!(&outcome, Ok(o) if o == "loaded"), "{name}: {outcome:?}");
        assert!(scene.acme().await == before, "{name} changed acme-corp's data");
    }
    let upload = service::show_upload(&scene.api.db.pool, &tenant("acme-corp"), id).await.unwrap();
    assert_eq!(
        upload.upload.status,
        cogs_core::db::UploadStatus::Pending,
        "acme's upload still waits for its own file"
    );
}

/// What the application role may run inside evil-corp's own transaction, aimed at
/// acme-corp's rows: each statement either fails or touches nothing of acme-corp's.
#[tokio::test]
async fn every_statement_the_application_may_run_finds_no_row_of_another_tenant() {
    let scene = Scene::new().await;
    let db: &TestDb = &scene.api.db;
    let before = scene.acme().await;
    let mut attempts: Vec<String> = Vec::new();
    for table in cogs_tests::TENANT_TABLES {
        attempts.push(format!("select count(*) from {table} where tenant_id = 'acme-corp'"));
        attempts.push(format!("update {table} set tenant_id = tenant_id where tenant_id = 'acme-corp'"));
        attempts.push(format!("delete from {table} where tenant_id = 'acme-corp'"));
    }
    attempts.extend([
        "select count(*) from lots l join sales s using (sku) where s.tenant_id <> l.tenant_id".to_owned(),
        "select count(*) from cogs_runs where tenant_id <> 'evil-corp'".to_owned(),
        "update lots set tenant_id = 'acme-corp' where tenant_id = 'evil-corp'".to_owned(),
        "insert into tenants (tenant_id) values ('acme-corp') on conflict do nothing".to_owned(),
        "select set_config('app.tenant_id', '', true); select count(*) from lots".to_owned(),
        "reset all; select count(*) from lots".to_owned(),
    ]);
    let app = db.app().await;
    for statement in &attempts {
        app.batch_execute("begin").await.unwrap();
        app.execute("select set_config('app.tenant_id', 'evil-corp', true)", &[]).await.unwrap();
        if let Ok(messages) = app.simple_query(statement).await {
            let rows: Vec<String> = messages
                .iter()
                .filter_map(|message| match message {
                    tokio_postgres::SimpleQueryMessage::Row(row) => {
                        Some((0..row.len()).filter_map(|i| row.get(i)).collect::<Vec<_>>().join(","))
                    }
                    _ => None,
                })
                .collect();
            assert!(rows.iter().all(|row| !row.to_lowercase().contains("acme")), "{statement}: {rows:?}");
            if statement.contains("count(*)") {
                assert_eq!(rows.last().map(String::as_str), Some("0"), "{statement} counts no other tenant's row");
            }
            for message in &messages {
                if let tokio_postgres::SimpleQueryMessage::CommandComplete(touched) = message
                    && (statement.starts_with("update")
                        || statement.starts_with("delete")
                        || statement.starts_with("insert"))
                {
                    assert_eq!(*touched, 0, "{statement}");
                }
            }
        }
        app.batch_execute("rollback").await.unwrap();
        assert!(scene.acme().await == before, "{statement} changed acme-corp's data");
    }
    assert!(attempts.len() >= 30);

    // COPY out of a table answers with the rows its policy lets through.
    for copy in ["copy lots to stdout", "copy (select * from sales) to stdout"] {
        app.batch_execute("begin").await.unwrap();
        app.execute("select set_config('app.tenant_id', 'evil-corp', true)", &[]).await.unwrap();
        let stream = app.copy_out(copy).await.unwrap();
        let chunks: Vec<bytes::Bytes> = futures_util::TryStreamExt::try_collect(stream).await.unwrap();
        let text = String::from_utf8(chunks.concat()).unwrap();
        assert!(text.contains("EVIL") && !text.contains("ACME"), "{copy}: {text}");
        app.batch_execute("rollback").await.unwrap();
    }
    assert!(scene.acme().await == before, "and acme-corp's data is as it was");
}
