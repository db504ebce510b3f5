//! The HTTP functions in process: real API Gateway HTTP API (payload v2) events with
//! JWT claims, through each function's handler, against a real database.
#![expect(clippy::unwrap_used, reason = "tests fail loudly")]

use std::collections::{BTreeSet, HashMap};

use cogs_core::lambda::RunDispatch;
use cogs_core::model::ShortfallPolicy;
use cogs_core::service;
use cogs_tests::api::{Api, JWT_EVENT, body_json, call, context, header, multipart, request};
use cogs_tests::{caller, example, load, lots_csv, sales_csv};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};

const OPENAPI: &str = include_str!("../functions/openapi.json");

/// Every function and the routes it serves.
fn served() -> Vec<(&'static str, &'static [cogs_core::http::Route])> {
    vec![
        ("upload", cogs_upload::ROUTES),
        ("run", cogs_run::ROUTES),
        ("list", cogs_list::ROUTES),
        ("rollback", cogs_rollback::ROUTES),
        ("journal-export", cogs_journal_export::ROUTES),
        ("web", cogs_web::ROUTES),
    ]
}

/// (method, path template, status) for every documented response.
fn documented() -> BTreeSet<(String, String, u16)> {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let mut statuses = BTreeSet::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for status in operation["responses"].as_object().unwrap().keys() {
                statuses.insert((method.to_uppercase(), path.clone(), status.parse().unwrap()));
            }
        }
    }
    statuses
}

#[test]
fn every_route_served_is_documented_and_every_documented_route_is_served() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let mut documented = BTreeSet::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for function in operation["x-functions"].as_array().unwrap() {
                documented.insert((function.as_str().unwrap().to_owned(), method.to_uppercase(), path.clone()));
            }
        }
    }
    let served: BTreeSet<(String, String, String)> = served()
        .into_iter()
        .flat_map(|(function, routes)| {
            routes.iter().map(move |(m, t)| (function.to_owned(), (*m).to_owned(), (*t).to_owned()))
        })
        .collect();
    assert_eq!(served, documented);
}

/// A path a function serves, asked with a method it does not serve, is 405 with an
/// `Allow` header naming exactly the methods it does (RFC 9110), on every function.
#[tokio::test]
async fn an_undeclared_method_is_405_naming_the_methods_the_path_accepts() {
    let ctx = context("postgres://cogs_api:cogs_api@127.0.0.1:1/none", &[]);
    for (function, routes) in served() {
        for (_, template) in routes.iter() {
            let path = template
                .replace("{run_id}", "00000000-0000-0000-0000-000000000000")
                .replace("{upload_id}", "00000000-0000-0000-0000-000000000000")
                .replace("{kind}", "lots");
            let accepted: BTreeSet<&str> =
                routes.iter().filter(|(_, t)| t == template).map(|(method, _)| *method).collect();
            for method in
                ["GET", "PUT", "POST", "DELETE", "PATCH", "TRACE"].into_iter().filter(|m| !accepted.contains(m))
            {
                let response = call(&ctx, function, request(method, &path, Some("acme-corp"), None)).await;
                assert_eq!(response.status().as_u16(), 405, "{function}: {method} {path}");
                let allow: BTreeSet<&str> = header(&response, "allow").split(", ").collect();
                assert_eq!(allow, accepted, "{function}: {method} {path}");
                assert_eq!(body_json(&response)["error"]["type"], "method_not_allowed");
            }
        }
    }
}

/// A body whose bytes are not UTF-8, sent as JSON or as a CSV file, is 400 saying so and
/// loads nothing. (`cargo lambda watch` cannot carry such a body as text, so the
/// Schemathesis run of scripts/contract-local.sh leaves these requests to this test.)
#[tokio::test]
async fn a_body_that_is_not_utf8_is_400_naming_the_problem() {
    let api = Api::new().await;
    let not_utf8 = |method: &str, path: &str, content_type: &str| {
        let mut req = request(method, path, Some("acme-corp"), Some((content_type, "")));
        *req.body_mut() = Body::Binary(vec![b'{', 0xff, 0xfe, b'}']);
        req
    };
    for (function, method, path) in
        [("run", "POST", "/api/v1/runs"), ("upload", "POST", "/api/v1/uploads"), ("list", "PUT", "/api/v1/settings")]
    {
        let response = call(&api.ctx, function, not_utf8(method, path, "application/json")).await;
        assert_eq!(response.status().as_u16(), 400, "{method} {path}");
        assert_eq!(body_json(&response)["error"]["type"], "malformed_json", "{method} {path}");
    }
    let response = call(&api.ctx, "upload", not_utf8("POST", "/api/v1/files/lots", "text/csv")).await;
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(body_json(&response)["error"]["errors"][0]["type"], "invalid_utf8");
    let runs = service::list_runs(&api.db.pool, &cogs_tests::tenant("acme-corp"), None, 1, None).await.unwrap();
    assert!(runs.runs.is_empty(), "nothing was started");
}

/// The OpenAPI 3.0 document as JSON Schema: `nullable` becomes a `null` type, and every
/// object with `properties` allows no others, so an answer carrying a field the document
/// does not have (an internal by accident) fails as surely as a wrong type.
fn as_json_schema(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.remove("nullable") == Some(Value::Bool(true)) {
                match object.remove("$ref") {
                    Some(reference) => {
                        object.insert("anyOf".into(), json!([{ "$ref": reference }, { "type": "null" }]));
                    }
                    None => {
                        let kind = object.remove("type").unwrap_or(json!("object"));
                        object.insert("type".into(), json!([kind, "null"]));
                    }
                }
            }
            if object.contains_key("properties") && !object.contains_key("additionalProperties") {
                object.insert("additionalProperties".into(), json!(false));
            }
            object.values_mut().for_each(as_json_schema);
        }
        Value::Array(items) => items.iter_mut().for_each(as_json_schema),
        _ => {}
    }
}

/// Checks a JSON answer against the schema the document gives for its route and status.
fn assert_documented_body(doc: &Value, method: &str, template: &str, status: u16, response: &Response<Body>) {
    let operation = &doc["paths"][template][method.to_lowercase()];
    let Some(schema) = operation["responses"][status.to_string()]["content"]["application/json"].get("schema") else {
        return;
    };
    if !header(response, "content-type").starts_with("application/json") {
        return; // a journal in another format, documented beside
    }
    let mut root = doc.clone();
    root["$ref"] = schema["$ref"].clone();
    if schema.get("$ref").is_none() {
        root["properties"] = json!({ "__answer": schema });
        root.as_object_mut().unwrap().remove("$ref");
    }
    let validator = jsonschema::validator_for(&root).unwrap();
    let body = body_json(response);
    let body = if schema.get("$ref").is_none() { json!({ "__answer": body }) } else { body };
    let errors: Vec<String> = validator.iter_errors(&body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{method} {template} {status}: the answer is not what the document says: {errors:#?}");
}

/// Walks every documented (route, status) with real requests and checks the document
/// lists exactly the statuses the functions answer with, and each JSON answer is what
/// the document says, field by field.
#[tokio::test]
async fn every_documented_status_is_what_the_functions_answer() {
    let api = Api::new().await;
    let ctx = &api.ctx;
    let mut doc: Value = serde_json::from_str(OPENAPI).unwrap();
    as_json_schema(&mut doc);
    let doc = &doc;
    let mut seen = BTreeSet::new();
    let mut expect = async |function: &str, template: &str, req: Request, status: u16| -> Response<Body> {
        let method = req.method().to_string();
        // Boxed: the five handlers inlined at every call would overflow the test stack.
        let response = Box::pin(call(ctx, function, req)).await;
        assert_eq!(
            response.status().as_u16(),
            status,
            "{method} {template}: {}",
            String::from_utf8_lossy(response.body())
        );
        assert_documented_body(doc, &method, template, status, &response);
        seen.insert((method, template.to_owned(), status));
        response
    };
    let lots = std::fs::read_to_string(example("lots.csv")).unwrap();
    let sales = std::fs::read_to_string(example("sales.csv")).unwrap();

    // Health, on every function; and a database that does not answer.
    for (function, _) in served().into_iter().filter(|(function, _)| *function != "web") {
        expect(function, "/health", request("GET", "/health", None, None), 200).await;
    }
    let dead = context("postgres://cogs_api:cogs_api@127.0.0.1:1/none", &[("COGS_HEALTH_TIMEOUT_MS", "500")]);
    let unavailable = call(&dead, "list", request("GET", "/health", None, None)).await;
    assert_eq!(unavailable.status().as_u16(), 503);
    assert_documented_body(doc, "GET", "/health", 503, &unavailable);
    let answer = String::from_utf8_lossy(unavailable.body()).into_owned();
    assert_eq!(body_json(&unavailable)["checks"]["database"], "unreachable", "{answer}");
    for leak in ["127.0.0.1", "cogs_api", "refused", "error"] {
        assert!(!answer.contains(leak), "the health answer tells no database detail ({leak}): {answer}");
    }

    // Files.
    let files = "/api/v1/files/{kind}";
    let templates = "/api/v1/files/templates/{kind}";
    expect("upload", templates, request("GET", "/api/v1/files/templates/lots", Some("acme-corp"), None), 200).await;
    expect("upload", templates, request("GET", "/api/v1/files/templates/costs", Some("acme-corp"), None), 404).await;
    expect("upload", files, request("POST", "/api/v1/files/lots", Some("acme-corp"), Some(("text/csv", &lots))), 201)
        .await;
    expect(
        "upload",
        files,
        request("POST", "/api/v1/files/sales?file_name=s.csv", Some("acme-corp"), Some(("text/csv", &sales))),
        201,
    )
    .await;
    expect("upload", files, multipart("acme-corp"), 201).await;
    expect(
        "upload",
        files,
        request("POST", "/api/v1/files/sales", Some("acme-corp"), Some(("text/csv", "sale_id\nS1\n"))),
        400,
    )
    .await;
    expect("upload", files, request("POST", "/api/v1/files/sales", None, Some(("text/csv", &sales))), 401).await;
    expect("upload", files, multipart("tenant-b"), 403).await;
    expect("upload", files, request("POST", "/api/v1/files/costs", Some("acme-corp"), Some(("text/csv", &sales))), 404)
        .await;
    let huge = "x".repeat(ctx.config.max_body_bytes + 1);
    expect("upload", files, request("POST", "/api/v1/files/sales", Some("acme-corp"), Some(("text/csv", &huge))), 413)
        .await;
    expect(
        "upload",
        files,
        request("POST", "/api/v1/files/sales", Some("acme-corp"), Some(("application/json", "{}"))),
        415,
    )
    .await;

    // Runs.
    let runs = "/api/v1/runs";
    expect(
        "run",
        runs,
        request("POST", runs, Some("acme-corp"), Some(("application/json", r#"{"dry_run": true}"#))),
        200,
    )
    .await;
    let started =
        expect("run", runs, request("POST", runs, Some("acme-corp"), Some(("application/json", "{}"))), 202).await;
    let run_id = body_json(&started)["run"]["run_id"].as_str().unwrap().to_owned();
    expect("run", runs, request("POST", runs, Some("acme-corp"), Some(("application/json", "{"))), 400).await;
    expect("run", runs, request("POST", runs, None, None), 401).await;
    expect(
        "run",
        runs,
        request("POST", runs, Some("acme-corp"), Some(("application/json", r#"{"tenant_id": "tenant-b"}"#))),
        403,
    )
    .await;
    load(&api.db, "busy-corp", &lots_csv(&["L1,A,2024-01-01,1,1,1,0"]), &sales_csv(&["S1,A,2024-01-02,1"])).await;
    service::start_run(&api.db.pool, &caller("busy-corp"), None, Some(ShortfallPolicy::Fail)).await.unwrap();
    expect("run", runs, request("POST", runs, Some("busy-corp"), None), 409).await;
    expect("upload", files, request("POST", "/api/v1/files/sales", Some("busy-corp"), Some(("text/csv", &sales))), 409)
        .await;
    let method = Some(("application/json", r#"{"costing_method": {"method": "specific_identification"}}"#));
    let busy = expect("list", "/api/v1/settings", request("PUT", "/api/v1/settings", Some("busy-corp"), method), 409);
    assert_eq!(body_json(&busy.await)["error"]["type"], "run_in_progress");
    load(&api.db, "short-corp", &lots_csv(&["L1,A,2024-01-01,1,1,1,0"]), &sales_csv(&["S1,A,2024-01-02,5"])).await;
    let strict = r#"{"on_shortfall": "fail"}"#;
    let failed =
        expect("run", runs, request("POST", runs, Some("short-corp"), Some(("application/json", strict))), 422).await;

    // Large uploads.
    let uploads = "/api/v1/uploads";
    let new_upload = r#"{"kind": "sales", "file_name": "big.csv", "size": 123456}"#;
    let created = expect(
        "upload",
        uploads,
        request("POST", uploads, Some("acme-corp"), Some(("application/json", new_upload))),
        201,
    )
    .await;
    let created = body_json(&created);
    assert!(created["upload_url"]["url"].as_str().unwrap().contains(created["object_key"].as_str().unwrap()));
    let zero = r#"{"kind": "sales", "file_name": "big.csv", "size": 0}"#;
    expect("upload", uploads, request("POST", uploads, Some("acme-corp"), Some(("application/json", zero))), 400).await;
    expect("upload", uploads, request("POST", uploads, None, Some(("application/json", new_upload))), 401).await;
    let other = r#"{"kind": "sales", "file_name": "big.csv", "size": 1, "tenant_id": "tenant-b"}"#;
    expect("upload", uploads, request("POST", uploads, Some("acme-corp"), Some(("application/json", other))), 403)
        .await;
    let one_upload = "/api/v1/uploads/{upload_id}";
    let upload_path = format!("/api/v1/uploads/{}", created["upload_id"].as_str().unwrap());
    let shown = expect("upload", one_upload, request("GET", &upload_path, Some("acme-corp"), None), 200).await;
    assert_eq!(body_json(&shown)["status"], "pending");
    expect("upload", one_upload, request("GET", &upload_path, None, None), 401).await;
    expect("upload", one_upload, request("GET", &upload_path, Some("tenant-b"), None), 404).await;
    assert_eq!(body_json(&failed)["error"]["sale_id"], "S1");

    // Listing.
    let run_path = format!("/api/v1/runs/{run_id}");
    expect("list", runs, request("GET", "/api/v1/runs?limit=5", Some("acme-corp"), None), 200).await;
    expect("list", runs, request("GET", "/api/v1/runs?limit=0", Some("acme-corp"), None), 400).await;
    // Any position the document's cursor pattern allows is a page, not only one given out.
    let before_1970 = "/api/v1/runs?cursor=-1.00000000-0000-0000-0000-000000000000";
    let empty = expect("list", runs, request("GET", before_1970, Some("acme-corp"), None), 200).await;
    assert_eq!(body_json(&empty)["runs"], json!([]));
    expect("list", runs, request("GET", runs, None, None), 401).await;
    expect("list", runs, request("GET", "/api/v1/runs?tenant_id=tenant-b", Some("acme-corp"), None), 403).await;
    let one = "/api/v1/runs/{run_id}";
    expect("list", one, request("GET", &run_path, Some("acme-corp"), None), 200).await;
    expect("list", one, request("GET", &run_path, None, None), 401).await;
    expect("list", one, request("GET", &run_path, Some("tenant-b"), None), 404).await;
    let inventory = "/api/v1/inventory";
    expect("list", inventory, request("GET", "/api/v1/inventory?sku=WIDGET-A", Some("acme-corp"), None), 200).await;
    expect("list", inventory, request("GET", inventory, None, None), 401).await;
    let elsewhere = |path: &str| request("GET", &format!("{path}?tenant_id=tenant-b"), Some("acme-corp"), None);
    expect("list", inventory, elsewhere(inventory), 403).await;
    // No text field can hold NUL: a query parameter with one is refused before any work.
    // As API Gateway sends it: percent-encoded in the raw query, decoded in the parameters.
    let with_nul = |path: &str| {
        request("GET", &format!("{path}?tenant_id=acme%00corp"), Some("acme-corp"), None)
            .with_query_string_parameters(HashMap::from([("tenant_id".to_owned(), "acme\0corp".to_owned())]))
    };
    expect("list", inventory, with_nul(inventory), 400).await;
    let settings = "/api/v1/settings";
    let json_body = |body: &'static str| Some(("application/json", body));
    expect("list", settings, request("GET", settings, Some("acme-corp"), None), 200).await;
    let changed = r#"{"time_zone": "Europe/Berlin", "lock_date": "2024-06-30", "lock_policy": "refuse",
                      "location_accounts": {"WEST": {"code": "1420", "name": "Inventory West"}}}"#;
    let stored = expect("list", settings, request("PUT", settings, Some("acme-corp"), json_body(changed)), 200).await;
    assert_eq!(body_json(&stored)["lock_date"], "2024-06-30");
    assert_eq!(body_json(&stored)["location_accounts"], json!({"WEST": {"code": "1420", "name": "Inventory West"}}));
    for (bad, field) in [
        (r#"{"time_zone": "Mars/Olympus"}"#, "time_zone"),
        (r#"{"lock_date": "2999-01-01"}"#, "lock_date"),
        (r#"{"lock_day": "2024-01-01"}"#, "lock_day"),
        (r#"{"time_zone": null}"#, "null"),
        ("[]", "object"),
        ("\n", "EOF"),
        (r#"{"lock_policy": null}"#, "null"),
        (r#"{"costing_method": {"method": "lifo"}}"#, "lifo"),
        (r#"{"costing_method": {"method": "fifo", "from": "0100-01-01"}}"#, "1900 to 9999"),
        (r#"{"location_accounts": {"": {"code": "1420", "name": "Inventory"}}}"#, "is empty"),
        (r#"{"location_accounts": {"WEST": {"code": " ", "name": "Inventory"}}}"#, "location WEST"),
        (r#"{"location_accounts": [{"code": "1420", "name": "Inventory"}]}"#, "map"),
        (r#"{"default_location": ""}"#, "is empty"),
        (r#"{"default_location": null}"#, "null"),
    ] {
        let refused = expect("list", settings, request("PUT", settings, Some("acme-corp"), json_body(bad)), 400).await;
        assert!(body_json(&refused)["error"]["message"].as_str().unwrap().contains(field), "{bad}");
    }
    expect("list", settings, request("PUT", settings, Some("acme-corp"), json_body(r#"{"lock_date": null}"#)), 200)
        .await;
    let method = r#"{"costing_method": {"method": "specific_identification", "from": "2024-08-01"}}"#;
    let stored = expect("list", settings, request("PUT", settings, Some("acme-corp"), json_body(method)), 200).await;
    let change = &body_json(&stored)["methods"]["changes"][0];
    assert_eq!(
        (&change["from"], &change["at"]),
        (&json!("2024-08-01"), &json!("2024-07-31T22:00:00Z")),
        "Berlin's midnight"
    );
    expect("list", settings, request("GET", settings, None, None), 401).await;
    expect("list", settings, request("PUT", settings, None, json_body(r#"{"lock_date": null}"#)), 401).await;
    expect("list", settings, elsewhere(settings), 403).await;
    expect("list", settings, with_nul(settings), 400).await;
    let put_with_nul = request("PUT", settings, Some("acme-corp"), json_body(r#"{"time_zone": "Europe/\u0000"}"#));
    expect("list", settings, put_with_nul, 400).await;
    let put_elsewhere = request("PUT", "/api/v1/settings?tenant_id=tenant-b", Some("acme-corp"), json_body("{}"));
    expect("list", settings, put_elsewhere, 403).await;
    let book = "/api/v1/book";
    let page = expect("list", book, request("GET", "/api/v1/book?limit=1", Some("acme-corp"), None), 200).await;
    let page = body_json(&page);
    assert!(page["sales"].is_array() && page["lots"].is_array() && page["shortfalls"].is_array(), "{page}");
    expect("list", book, request("GET", "/api/v1/book?limit=0", Some("acme-corp"), None), 400).await;
    expect("list", book, request("GET", book, None, None), 401).await;
    expect("list", book, elsewhere(book), 403).await;
    let verify = "/api/v1/verify";
    let clean = expect("list", verify, request("GET", verify, Some("acme-corp"), None), 200).await;
    assert_eq!(body_json(&clean)["findings"], serde_json::json!([]));
    expect("list", verify, request("GET", verify, None, None), 401).await;
    expect("list", verify, elsewhere(verify), 403).await;
    expect("list", verify, with_nul(verify), 400).await;
    cogs_tests::load_examples(&api.db, "broken-corp").await;
    cogs_tests::run_to_end(&api.db, "broken-corp", 100).await.unwrap();
    api.db
        .owner()
        .await
        .batch_execute(
            "begin; alter table lots no force row level security;
             update lots set remaining_quantity = remaining_quantity - 1 where tenant_id = 'broken-corp' and lot_id = 'LOT-005';
             alter table lots force row level security; commit;",
        )
        .await
        .unwrap();
    let broken = expect("list", verify, request("GET", verify, Some("broken-corp"), None), 500).await;
    assert_eq!(body_json(&broken)["error"]["type"], "books_inconsistent");
    assert_eq!(body_json(&broken)["error"]["findings"][0]["subject"], "LOT-005");

    // Reports, as JSON and CSV, and the trace of a sale and a lot.
    for (template, good, bad) in [
        (
            "/api/v1/reports/rollforward",
            "/api/v1/reports/rollforward?from=2024-07-01&to=2024-07-31",
            "/api/v1/reports/rollforward?from=2024-07-31&to=2024-07-01",
        ),
        ("/api/v1/reports/valuation", "/api/v1/reports/valuation?as_of=2024-07-15", "/api/v1/reports/valuation"),
        (
            "/api/v1/reports/cogs",
            "/api/v1/reports/cogs?from=2024-07-01&to=2024-07-31&period=day",
            "/api/v1/reports/cogs?from=2024-07-01&to=2024-07-31&period=week",
        ),
        (
            "/api/v1/reports/ageing",
            "/api/v1/reports/ageing?as_of=2024-07-31T12:00:00Z",
            "/api/v1/reports/ageing?as_of=soon",
        ),
    ] {
        let answer = expect("list", template, request("GET", good, Some("acme-corp"), None), 200).await;
        assert!(body_json(&answer).is_object(), "{template}");
        let csv =
            expect("list", template, request("GET", &format!("{good}&format=csv"), Some("acme-corp"), None), 200).await;
        assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
        expect("list", template, request("GET", bad, Some("acme-corp"), None), 400).await;
        expect("list", template, request("GET", good, None, None), 401).await;
        expect("list", template, request("GET", &format!("{good}&tenant_id=tenant-b"), Some("acme-corp"), None), 403)
            .await;
    }
    let month = body_json(
        &expect(
            "list",
            "/api/v1/reports/rollforward",
            request("GET", "/api/v1/reports/rollforward?from=2024-07-01&to=2024-07-31", Some("acme-corp"), None),
            200,
        )
        .await,
    );
    assert_eq!(month["total"]["opening_value"], "0");
    for (template, path, missing) in [
        ("/api/v1/sales/{sale_id}/allocations", "/api/v1/sales/SALE-001/allocations", "/api/v1/sales/NOPE/allocations"),
        ("/api/v1/lots/{lot_id}/consumption", "/api/v1/lots/LOT-001/consumption", "/api/v1/lots/NOPE/consumption"),
    ] {
        expect("list", template, request("GET", path, Some("acme-corp"), None), 200).await;
        expect("list", template, request("GET", missing, Some("acme-corp"), None), 404).await;
        expect("list", template, request("GET", path, Some("tenant-b"), None), 404).await;
        expect("list", template, request("GET", path, None, None), 401).await;
        expect("list", template, elsewhere(path), 403).await;
        expect("list", template, with_nul(path), 400).await;
    }

    // Journals.
    let journal = "/api/v1/runs/{run_id}/journal-entry";
    let journal_path = format!("{run_path}/journal-entry");
    expect(
        "journal-export",
        journal,
        request("GET", &format!("{journal_path}?format=xero"), Some("acme-corp"), None),
        200,
    )
    .await;
    expect(
        "journal-export",
        journal,
        request("GET", &format!("{journal_path}?format=pdf"), Some("acme-corp"), None),
        400,
    )
    .await;
    expect("journal-export", journal, request("GET", &journal_path, None, None), 401).await;
    expect("journal-export", journal, request("GET", &journal_path, Some("tenant-b"), None), 404).await;
    let short_runs = service::list_runs(&api.db.pool, &cogs_tests::tenant("short-corp"), None, 1, None).await.unwrap();
    let failed_journal = format!("/api/v1/runs/{}/journal-entry", short_runs.runs[0].run_id);
    expect("journal-export", journal, request("GET", &failed_journal, Some("short-corp"), None), 409).await;

    // Rollback: a later run on the same SKUs blocks it until cascade.
    let later = sales_csv(&["SALE-900,WIDGET-A,2024-08-15T00:00:00Z,1"]);
    expect("upload", files, request("POST", "/api/v1/files/sales", Some("acme-corp"), Some(("text/csv", &later))), 201)
        .await;
    expect("run", runs, request("POST", runs, Some("acme-corp"), None), 202).await;
    let rollback = "/api/v1/runs/{run_id}/rollback";
    let rollback_path = format!("{run_path}/rollback");
    let blocked = expect("rollback", rollback, request("POST", &rollback_path, Some("acme-corp"), None), 409).await;
    assert_eq!(body_json(&blocked)["error"]["type"], "dependent_run");
    let shown = expect("list", "/api/v1/runs/{run_id}", request("GET", &run_path, Some("acme-corp"), None), 200).await;
    let later = body_json(&blocked)["error"]["later_runs"].clone();
    assert_eq!(body_json(&shown)["cascade_takes"], later, "the run says what a cascade would take with it");
    expect("rollback", rollback, request("POST", &rollback_path, None, None), 401).await;
    let unclear = request("POST", &format!("{rollback_path}?cascade=maybe"), Some("acme-corp"), None);
    expect("rollback", rollback, unclear, 400).await;
    expect("rollback", rollback, request("POST", &rollback_path, Some("tenant-b"), None), 404).await;
    let cascaded = expect(
        "rollback",
        rollback,
        request("POST", &format!("{rollback_path}?cascade=true"), Some("acme-corp"), None),
        200,
    )
    .await;
    assert_eq!(body_json(&cascaded)["rolled_back"].as_array().unwrap().len(), 2);

    // The dashboard: its page at every screen's address, and its assets, with no token.
    for (template, path, status) in [
        ("/", "/", 200),
        ("/app", "/app", 200),
        ("/app/{page}", "/app/inventory", 200),
        ("/app/{page}", "/app/no-such-screen", 404),
        ("/app/runs/{run_id}", &run_path.replace("/api/v1/", "/app/"), 200),
        ("/app/assets/{file}", "/app/assets/no-such.js", 404),
    ] {
        expect("web", template, request("GET", path, None, None), status).await;
    }
    let asset = expect("web", "/app/assets/{file}", request("GET", "/app/assets/app.css", None, None), 200).await;
    let mut again = request("GET", "/app/assets/app.css", None, None);
    again.headers_mut().insert("if-none-match", header(&asset, "etag").parse().unwrap());
    expect("web", "/app/assets/{file}", again, 304).await;

    seen.insert(("GET".into(), "/health".into(), unavailable.status().as_u16()));
    assert_eq!(seen, documented(), "the statuses answered are exactly the documented ones");
}

#[tokio::test]
async fn the_runbooks_inline_run_request_starts_a_run_to_poll() {
    let api = Api::new().await;
    let body = r#"{
        "tenant_id": "acme-corp",
        "mode": "fifo",
        "sales_data": [{"sale_id": "SALE001", "sku": "WIDGET-A", "sale_date": "2024-07-20T10:00:00Z",
                        "quantity_sold": 100, "tenant_id": "acme-corp"}],
        "lots_data": [{"lot_id": "LOT001", "sku": "WIDGET-A", "received_date": "2024-07-01T00:00:00Z",
                       "original_quantity": 500, "remaining_quantity": 500, "unit_price": 10.00,
                       "freight_cost_per_unit": 1.00, "tenant_id": "acme-corp"}]
    }"#;

    let started =
        call(&api.ctx, "run", request("POST", "/api/v1/runs", Some("acme-corp"), Some(("application/json", body))))
            .await;

    assert_eq!(started.status().as_u16(), 202);
    let location = header(&started, "location").to_owned();
    assert_eq!(location, format!("/api/v1/runs/{}", body_json(&started)["run"]["run_id"].as_str().unwrap()));
    let polled = call(&api.ctx, "list", request("GET", &location, Some("acme-corp"), None)).await;
    let run = body_json(&polled);
    assert_eq!((run["status"].as_str(), run["total_cogs"].as_str()), (Some("completed"), Some("1100.00")));
}

/// A deployment that hands every run to the worker (no costing in the request) still
/// previews: a dry run has a budget of its own.
#[tokio::test]
async fn a_dry_run_answers_where_runs_are_handed_to_the_worker_at_once() {
    let api = Api::new().await;
    let ctx = context(&api.db.app_url(), &[("COGS_INLINE_RUN_MS", "0")]);
    let lots = std::fs::read_to_string(example("lots.csv")).unwrap();
    let sales = std::fs::read_to_string(example("sales.csv")).unwrap();
    for (kind, csv) in [("lots", &lots), ("sales", &sales)] {
        let path = format!("/api/v1/files/{kind}");
        let loaded = call(&ctx, "upload", request("POST", &path, Some("acme-corp"), Some(("text/csv", csv)))).await;
        assert_eq!(loaded.status().as_u16(), 201);
    }

    let dry = Some(("application/json", r#"{"dry_run": true}"#));
    let preview = call(&ctx, "run", request("POST", "/api/v1/runs", Some("acme-corp"), dry)).await;

    assert_eq!(preview.status().as_u16(), 200, "{}", String::from_utf8_lossy(preview.body()));
    assert_eq!(body_json(&preview)["totals"]["total_cogs"], "2310.9375");
    let started = call(&ctx, "run", request("POST", "/api/v1/runs", Some("acme-corp"), None)).await;
    assert_eq!(body_json(&started)["run"]["done"], false, "the run itself waits for the worker");
}

#[tokio::test]
async fn inline_rows_naming_another_tenant_are_forbidden_and_bad_rows_are_named() {
    let api = Api::new().await;
    let other = r#"{"sales_data": [{"sale_id": "S1", "sku": "A", "sale_date": "2024-07-20", "quantity_sold": 1, "tenant_id": "tenant-b"}]}"#;
    let bad = r#"{"sales_data": [{"sale_id": "S1", "sku": "A", "sale_date": "2024-07-20", "quantity_sold": -1}]}"#;

    let forbidden =
        call(&api.ctx, "run", request("POST", "/api/v1/runs", Some("acme-corp"), Some(("application/json", other))))
            .await;
    let rejected =
        call(&api.ctx, "run", request("POST", "/api/v1/runs", Some("acme-corp"), Some(("application/json", bad))))
            .await;

    assert_eq!(forbidden.status().as_u16(), 403);
    assert_eq!(body_json(&forbidden)["error"]["type"], "tenant_mismatch");
    assert_eq!(rejected.status().as_u16(), 400);
    let error = &body_json(&rejected)["error"];
    assert_eq!(
        (error["errors"][0]["row"].as_u64(), error["errors"][0]["column"].as_str()),
        (Some(2), Some("quantity_sold"))
    );
    assert!(api.db.data(&["acme-corp"]).await.values().all(Vec::is_empty), "no lot or sale was written");
}

#[tokio::test]
async fn an_upload_answers_with_its_counts_or_every_row_error() {
    let api = Api::new().await;
    let good = sales_csv(&["S1,A,2024-07-20,1", "S2,A,2024-07-21,2"]);
    let bad = sales_csv(&["S1,A,someday,1", "S2,A,2024-07-21,x"]);

    let loaded =
        call(&api.ctx, "upload", request("POST", "/api/v1/files/sales", Some("acme-corp"), Some(("text/csv", &good))))
            .await;
    let refused =
        call(&api.ctx, "upload", request("POST", "/api/v1/files/sales", Some("acme-corp"), Some(("text/csv", &bad))))
            .await;

    let upload = body_json(&loaded);
    assert_eq!(
        (upload["rows_received"].as_i64(), upload["rows_inserted"].as_i64(), upload["status"].as_str()),
        (Some(2), Some(2), Some("loaded"))
    );
    let error = &body_json(&refused)["error"];
    assert_eq!(error["type"], "validation_failed");
    assert!(error["upload_id"].is_string(), "the rejection is recorded and can be looked up");
    let rows: Vec<(u64, &str)> = error["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap()))
        .collect();
    assert_eq!(rows, [(2, "sale_date"), (3, "quantity_sold")]);
}

#[tokio::test]
async fn another_tenants_run_answers_exactly_as_a_missing_one() {
    let api = Api::new().await;
    load(&api.db, "acme-corp", &lots_csv(&["L1,A,2024-01-01,5,5,1,0"]), &sales_csv(&["S1,A,2024-01-02,1"])).await;
    let run = cogs_tests::run_to_end(&api.db, "acme-corp", 10).await.unwrap();
    let missing = uuid::Uuid::now_v7();

    let theirs =
        call(&api.ctx, "list", request("GET", &format!("/api/v1/runs/{}", run.run_id), Some("tenant-b"), None)).await;
    let nobodys =
        call(&api.ctx, "list", request("GET", &format!("/api/v1/runs/{missing}"), Some("tenant-b"), None)).await;

    assert_eq!((theirs.status(), nobodys.status()), (nobodys.status(), lambda_http::http::StatusCode::NOT_FOUND));
    let scrub = |response: &Response<Body>, id: &str| body_json(response).to_string().replace(id, "ID");
    assert_eq!(scrub(&theirs, &run.run_id.to_string()), scrub(&nobodys, &missing.to_string()));
}

#[tokio::test]
async fn a_journal_downloads_with_its_type_and_file_name() {
    let api = Api::new().await;
    load(&api.db, "acme-corp", &lots_csv(&["L1,A,2024-01-01,5,5,1.5,0"]), &sales_csv(&["S1,A,2024-01-02,2"])).await;
    let run = cogs_tests::run_to_end(&api.db, "acme-corp", 10).await.unwrap();

    let path = format!("/api/v1/runs/{}/journal-entry?format=iif&group_by=none", run.run_id);
    let response = call(&api.ctx, "journal-export", request("GET", &path, Some("acme-corp"), None)).await;

    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(&response, "content-type"), "text/plain; charset=utf-8");
    assert_eq!(
        header(&response, "content-disposition"),
        format!("attachment; filename=\"cogs-journal-{}-iif.iif\"", run.run_id)
    );
    let text = String::from_utf8(response.body().to_vec()).unwrap();
    assert!(text.contains("TRNS\t\tGENERAL JOURNAL\t01/02/2024\tCost of Goods Sold\t3.00"), "{text}");
}

#[tokio::test]
async fn the_development_header_names_the_tenant_only_when_switched_on() {
    let api = Api::new().await;
    let mut req = request("GET", "/api/v1/runs", None, None);
    req.headers_mut().insert("x-tenant-id", "acme-corp".parse().unwrap());
    let mut again = request("GET", "/api/v1/runs", None, None);
    again.headers_mut().insert("x-tenant-id", "acme-corp".parse().unwrap());
    let dev = context(&api.db.app_url(), &[("COGS_DEV_TENANT_HEADER", "true")]);

    let refused = call(&api.ctx, "list", req).await;
    let accepted = call(&dev, "list", again).await;

    assert_eq!(refused.status().as_u16(), 401, "off by default: the header is just a header");
    assert_eq!(accepted.status().as_u16(), 200);
}

#[tokio::test]
async fn a_verified_token_always_wins_over_the_development_header() {
    let api = Api::new().await;
    load(&api.db, "victim-co", &lots_csv(&["L1,A,2024-01-01,5,5,1,0"]), &sales_csv(&["S1,A,2024-01-02,1"])).await;
    let dev = context(&api.db.app_url(), &[("COGS_DEV_TENANT_HEADER", "true")]);
    let forged = |event: &Value| {
        let mut req = lambda_http::request::from_str(&event.to_string()).unwrap();
        req.headers_mut().insert("x-tenant-id", "victim-co".parse().unwrap());
        req
    };
    let mut signed_in: Value = serde_json::from_str(JWT_EVENT).unwrap();
    signed_in["rawPath"] = json!("/api/v1/inventory");
    signed_in["requestContext"]["http"]["path"] = json!("/api/v1/inventory");
    let mut without_tenant_claim = signed_in.clone();
    without_tenant_claim["requestContext"]["authorizer"]["jwt"]["claims"]
        .as_object_mut()
        .unwrap()
        .remove("custom:tenant_id");
    let mut other_authorizer = signed_in.clone();
    other_authorizer["requestContext"]["authorizer"] = json!({ "lambda": { "tenant": "victim-co" } });

    let own = call(&dev, "list", forged(&signed_in)).await;
    let no_claim = call(&dev, "list", forged(&without_tenant_claim)).await;
    let lambda_authorizer = call(&dev, "list", forged(&other_authorizer)).await;

    assert_eq!(own.status().as_u16(), 200);
    let own_stock = String::from_utf8_lossy(own.body()).into_owned();
    assert!(!own_stock.contains("L1"), "the token's tenant's stock, not the header's: {own_stock}");
    assert_eq!(no_claim.status().as_u16(), 401, "a token without the claim is not helped by the header");
    assert_eq!(lambda_authorizer.status().as_u16(), 401, "any authorizer context rules the header out");
}

#[tokio::test]
async fn with_a_state_machine_configured_a_run_is_handed_to_it_not_costed_in_the_request() {
    use aws_sdk_sfn::config::{BehaviorVersion, Credentials, Region};
    let api = Api::new().await;
    load(&api.db, "acme-corp", &lots_csv(&["L1,A,2024-01-01,5,5,1,0"]), &sales_csv(&["S1,A,2024-01-02,1"])).await;
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "testtesttest", None, None, "cogs-tests"))
        .endpoint_url(cogs_tests::s3_endpoint())
        .build();
    let client = aws_sdk_sfn::Client::from_conf(config);
    let machine = client
        .create_state_machine()
        .name(format!("cogs-runs-{}", uuid::Uuid::now_v7()))
        .definition(r#"{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}"#)
        .role_arn("arn:aws:iam::123456789012:role/cogs-state-machine")
        .send()
        .await
        .unwrap();
    let mut ctx = context(&api.db.app_url(), &[]);
    ctx.dispatch =
        RunDispatch::StepFunctions { client: client.clone(), state_machine_arn: machine.state_machine_arn.clone() };

    let started = call(&ctx, "run", request("POST", "/api/v1/runs", Some("acme-corp"), None)).await;

    assert_eq!(started.status().as_u16(), 202);
    let body = body_json(&started);
    assert_eq!(body["run"]["status"], "pending", "nothing was costed in the request");
    let execution =
        client.describe_execution().execution_arn(body["execution"].as_str().unwrap()).send().await.unwrap();
    let input: Value = serde_json::from_str(execution.input().unwrap()).unwrap();
    assert_eq!(input, json!({ "tenant_id": "acme-corp", "run_id": body["run"]["run_id"] }));
    assert_eq!(execution.name(), Some(format!("run-{}", body["run"]["run_id"].as_str().unwrap()).as_str()));
}
