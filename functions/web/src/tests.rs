use lambda_http::http::{self as http_types, header};
use lambda_http::{Body, Request};

use super::*;

fn dashboard() -> Dashboard {
    Dashboard::new(&WebConfig {
        base_path: "/lambda-url/cogs-web/".into(),
        api_base: "/lambda-url/cogs-{function}".into(),
        sign_in: SignIn::Development,
        connect_origins: vec!["http://127.0.0.1:5055".into()],
        large_file_bytes: 1000,
    })
}

fn get(path: &str, etag: Option<&str>) -> Request {
    let mut builder = http_types::Request::builder().method("GET").uri(path);
    if let Some(etag) = etag {
        builder = builder.header(header::IF_NONE_MATCH, etag);
    }
    builder.body(Body::Empty).unwrap()
}

fn text(response: &lambda_http::Response<Body>) -> String {
    String::from_utf8_lossy(response.body()).into_owned()
}

fn header_of(response: &lambda_http::Response<Body>, name: header::HeaderName) -> &str {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[test]
fn every_screen_address_serves_the_page_with_its_base_and_settings() {
    let dashboard = dashboard();
    for path in ["/", "/app", "/app/", "/app/upload", "/app/settings", "/app/callback", "/app/runs/0192-abc"] {
        let response = handle(&dashboard, &get(path, None));
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header_of(&response, header::CONTENT_TYPE), HTML);
        let page = text(&response);
        assert!(page.contains(r#"<base href="/lambda-url/cogs-web/">"#), "{page}");
        assert!(page.contains(r#""api":"/lambda-url/cogs-{function}""#), "{page}");
        assert!(page.contains(r#""sign_in":{"mode":"development"}"#), "{page}");
    }
    let unknown = handle(&dashboard, &get("/app/ledger", None));
    assert_eq!(unknown.status(), 404, "an unknown screen is 404, and the page says so");
    assert_eq!(header_of(&unknown, header::CONTENT_TYPE), HTML);
}

#[test]
fn only_the_page_own_scripts_run_and_it_sends_only_to_its_own_origin_bucket_and_sign_in_page() {
    let response = handle(&dashboard(), &get("/app", None));
    let policy = header_of(&response, header::CONTENT_SECURITY_POLICY);
    assert!(policy.contains("script-src 'self';"), "{policy}");
    assert!(policy.contains("connect-src 'self' http://127.0.0.1:5055;"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(header_of(&response, header::REFERRER_POLICY), "no-referrer");
    assert_eq!(header_of(&response, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
}

#[test]
fn settings_cannot_end_the_script_element_they_are_written_into() {
    let config = WebConfig {
        base_path: "/x\"></base><script>/".into(),
        api_base: "</script><script>alert(1)</script>".into(),
        sign_in: SignIn::Development,
        connect_origins: Vec::new(),
        large_file_bytes: 1,
    };
    let page = text(&handle(&Dashboard::new(&config), &get("/", None)));
    assert!(!page.contains("</script><script>alert"), "{page}");
    assert!(page.contains(r#"<base href="/x&quot;>&lt;/base>&lt;script>/">"#), "{page}");
}

#[test]
fn an_asset_is_served_with_its_type_and_a_validator_and_not_sent_again_while_unchanged() {
    let dashboard = dashboard();
    let first = handle(&dashboard, &get("/app/assets/app.js", None));
    assert_eq!(first.status(), 200);
    assert_eq!(header_of(&first, header::CONTENT_TYPE), JS);
    let etag = header_of(&first, header::ETAG).to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let again = handle(&dashboard, &get("/app/assets/app.js", Some(&etag)));
    assert_eq!(again.status(), 304);
    assert!(again.body().is_empty());
    let changed = handle(&dashboard, &get("/app/assets/app.js", Some("\"other\"")));
    assert_eq!(changed.status(), 200);
    let css = handle(&dashboard, &get("/app/assets/app.css", None));
    assert_eq!(header_of(&css, header::CONTENT_TYPE), CSS);
    // A module asked for again after a dropped fetch comes under another address.
    let asked_again = handle(&dashboard, &get("/app/assets/inventory.js?again", None));
    assert_eq!(asked_again.status(), 200);
    assert_eq!(text(&asked_again), include_str!("../assets/inventory.js"));
    let missing = handle(&dashboard, &get("/app/assets/nothing.js", None));
    assert_eq!(missing.status(), 404);
    let post = http_types::Request::builder().method("POST").uri("/app").body(Body::Empty).unwrap();
    assert_eq!(handle(&dashboard, &post).status(), 405);
}

/// Every file in `assets/` is served, and every module a script imports is one of them:
/// a file left out of the table would be a screen that never loads.
#[test]
fn every_asset_file_is_served_and_every_import_resolves() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != "index.html")
        .collect();
    files.sort();
    let mut served: Vec<String> = ASSETS.iter().map(|(name, _, _)| (*name).to_owned()).collect();
    served.sort();
    assert_eq!(files, served);
    let references = ASSETS.iter().map(|(_, _, body)| *body).chain([INDEX]).flat_map(|body| {
        body.match_indices("./")
            .map(move |(at, _)| &body[at + 2..])
            .filter_map(|rest| rest.split_once(".js'"))
            .map(|(name, _)| format!("{name}.js"))
    });
    // app.js names each screen's module in its table: `[/^pattern$/, 'link', 'module'],`.
    let app = include_str!("../assets/app.js");
    let screens = app.lines().filter(|line| line.trim_start().starts_with("[/^")).map(|line| {
        let module = line.trim_end().trim_end_matches("],").rsplit('\'').nth(1).unwrap();
        format!("{module}.js")
    });
    let pages = INDEX.split("app/assets/").skip(1).map(|rest| rest.split('"').next().unwrap().into());
    for name in references.chain(screens).chain(pages) {
        assert!(served.contains(&name), "{name} is referred to but not served");
    }
}

/// The first screen (the page, its style sheet, and every script) stays under 200 KB.
#[test]
fn the_whole_dashboard_is_under_two_hundred_kilobytes() {
    let total: usize = INDEX.len() + ASSETS.iter().map(|(_, _, body)| body.len()).sum::<usize>();
    assert!(total < 200_000, "{total} bytes");
}
