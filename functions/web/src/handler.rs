//! The dashboard function: the dashboard's one page (`/`, `/app`, `/app/{page}`,
//! `/app/runs/{run_id}`: every screen has an address of its own, and the page draws the
//! one its address names) and its assets (`/app/assets/{file}`). Everything is built
//! into the binary, so a deployment serves one version; no route reads data, so none
//! needs a token: the page signs in and calls the API with its own.

mod config;

use cogs_core::http::{self, ApiError, Route};
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};

pub use config::{SignIn, WebConfig};

pub const ROUTES: &[Route] = &[
    ("GET", "/"),
    ("GET", "/app"),
    ("GET", "/app/{page}"),
    ("GET", "/app/runs/{run_id}"),
    ("GET", "/app/assets/{file}"),
];

/// The screens with an address of their own under `/app/` (home is `/app` itself), and
/// where the sign-in page sends a person back to.
pub const PAGES: &[&str] = &["upload", "run", "inventory", "settings", "callback"];

/// Every asset: name, content type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.css", CSS, include_str!("../assets/app.css")),
    ("app.js", JS, include_str!("../assets/app.js")),
    ("api.js", JS, include_str!("../assets/api.js")),
    ("auth.js", JS, include_str!("../assets/auth.js")),
    ("ui.js", JS, include_str!("../assets/ui.js")),
    ("home.js", JS, include_str!("../assets/home.js")),
    ("upload.js", JS, include_str!("../assets/upload.js")),
    ("run.js", JS, include_str!("../assets/run.js")),
    ("detail.js", JS, include_str!("../assets/detail.js")),
    ("inventory.js", JS, include_str!("../assets/inventory.js")),
    ("settings.js", JS, include_str!("../assets/settings.js")),
];
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";
const INDEX: &str = include_str!("../assets/index.html");

/// The page and assets as served: rendered once per instance.
pub struct Dashboard {
    page: Served,
    assets: Vec<(&'static str, Served)>,
    policy: String,
}

struct Served {
    content_type: &'static str,
    body: String,
    etag: String,
}

impl Served {
    fn new(content_type: &'static str, body: String) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, body.as_bytes());
        let etag = digest.as_ref()[..12].iter().map(|b| format!("{b:02x}")).collect::<String>();
        Self { content_type, body, etag: format!("\"{etag}\"") }
    }
}

impl Dashboard {
    pub fn new(config: &WebConfig) -> Self {
        let settings = serde_json::json!({
            "base": config.base_path,
            "api": config.api_base,
            "sign_in": config.sign_in,
            "large_file_bytes": config.large_file_bytes,
        });
        // In a script element only `</` could end it early.
        let settings = settings.to_string().replace('<', "\\u003c");
        let base = config.base_path.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
        let page = INDEX.replace("%BASE%", &base).replace("%SETTINGS%", &settings);
        let connect = ["'self'".to_owned()].into_iter().chain(config.connect_origins.iter().cloned());
        // Nothing runs but the page's own scripts, nothing is sent but to the API, the
        // bucket and the sign-in page, and no other site may frame it.
        let policy = format!(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src {}; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'self'",
            connect.collect::<Vec<_>>().join(" ")
        );
        Self {
            page: Served::new(HTML, page),
            assets: ASSETS.iter().map(|(name, kind, body)| (*name, Served::new(kind, (*body).to_owned()))).collect(),
            policy,
        }
    }
}

pub fn handle(dashboard: &Dashboard, req: &Request) -> Response<Body> {
    let response = match http::route(req, ROUTES) {
        Ok((("GET", "/app/assets/{file}"), params)) => {
            let file = params.get("file").map(String::as_str).unwrap_or_default();
            match dashboard.assets.iter().find(|(name, _)| *name == file) {
                Some((_, asset)) => serve(req, asset, StatusCode::OK),
                None => http::respond(Err(ApiError::RouteNotFound)),
            }
        }
        Ok((("GET", "/app/{page}"), params)) if !PAGES.contains(&params["page"].as_str()) => {
            // The page says the screen does not exist, with the way home.
            serve(req, &dashboard.page, StatusCode::NOT_FOUND)
        }
        Ok(_) => serve(req, &dashboard.page, StatusCode::OK),
        Err(error) => http::respond(Err(error)),
    };
    secure(response, &dashboard.policy)
}

/// `served` with its validator: 304 when the browser already holds this version.
fn serve(req: &Request, served: &Served, status: StatusCode) -> Response<Body> {
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim().trim_start_matches("W/") == served.etag));
    let builder = Response::builder()
        .header(header::ETAG, &served.etag)
        // Always asked again, answered with 304 while the deployment is the same.
        .header(header::CACHE_CONTROL, "no-cache");
    if fresh && status == StatusCode::OK {
        return builder.status(StatusCode::NOT_MODIFIED).body(Body::Empty).expect("valid headers");
    }
    builder
        .status(status)
        .header(header::CONTENT_TYPE, served.content_type)
        .body(Body::Text(served.body.clone()))
        .expect("valid headers")
}

fn secure(mut response: Response<Body>, policy: &str) -> Response<Body> {
    let headers = response.headers_mut();
    if let Ok(policy) = HeaderValue::from_str(policy) {
        headers.insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // The sign-in page's code comes back in the address: never sent on to another site.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

#[cfg(test)]
mod tests;
