//! The dashboard's configuration, read once at start.

use cogs_core::lambda::{ConfigError, deployed};
use serde::Serialize;

/// What the dashboard needs to know about where it runs, from the environment:
///
/// | variable | meaning | default |
/// | --- | --- | --- |
/// | `COGS_WEB_BASE_PATH` | the path the dashboard is served under (`/lambda-url/cogs-web` under `cargo lambda watch`) | `/` |
/// | `COGS_WEB_API_BASE` | what the API's paths are prefixed with; `{function}` stands for the function serving the path (`/lambda-url/cogs-{function}` locally) | empty: the same HTTP API |
/// | `COGS_COGNITO_DOMAIN`, `COGS_COGNITO_CLIENT_ID` | the hosted sign-in page (`https://PREFIX.auth.REGION.amazoncognito.com`) and the public app client: sign-in with authorization code and PKCE | required unless in development mode |
/// | `COGS_DEV_TENANT_HEADER` | `true`: no sign-in, a tenant picker sends `X-Tenant-Id` (local only; refused when deployed) | `false` |
/// | `COGS_S3_ENDPOINT`, `COGS_BUCKET`, `AWS_REGION` | where presigned uploads go, so the page may send files there | unset |
/// | `COGS_WEB_LARGE_FILE_BYTES` | files larger than this go to the bucket through a presigned URL rather than in the request | 4000000 |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfig {
    pub base_path: String,
    pub api_base: String,
    pub sign_in: SignIn,
    /// Origins beside the page's own that the page may send requests to.
    pub connect_origins: Vec<String>,
    pub large_file_bytes: u64,
}

/// How a person signs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum SignIn {
    /// Cognito's hosted UI: authorization code with PKCE, for a public client.
    Cognito { domain: String, client_id: String },
    /// Local development: a tenant picker and the development header.
    Development,
}

impl WebConfig {
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| var(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
        let development = match set("COGS_DEV_TENANT_HEADER").as_deref() {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(other) => return Err(ConfigError(format!("COGS_DEV_TENANT_HEADER={other:?}: use true or false"))),
        };
        let sign_in = match (development, set("COGS_COGNITO_DOMAIN"), set("COGS_COGNITO_CLIENT_ID")) {
            (true, _, _) => {
                if let Some(sign) = deployed(&var) {
                    return Err(ConfigError(format!(
                        "COGS_DEV_TENANT_HEADER lets anyone pick any tenant; refusing to start in AWS Lambda ({sign} is set)"
                    )));
                }
                SignIn::Development
            }
            (false, Some(domain), Some(client_id)) => {
                let domain = domain.trim_end_matches('/').to_owned();
                if !domain.starts_with("https://") {
                    return Err(ConfigError(format!("COGS_COGNITO_DOMAIN={domain:?}: give the https:// address")));
                }
                SignIn::Cognito { domain, client_id }
            }
            (false, _, _) => {
                return Err(ConfigError(
                    "the dashboard has no way to sign in: set COGS_COGNITO_DOMAIN and COGS_COGNITO_CLIENT_ID, or \
                     COGS_DEV_TENANT_HEADER=true for local development"
                        .into(),
                ));
            }
        };
        let base_path =
            format!("/{}/", set("COGS_WEB_BASE_PATH").unwrap_or_default().trim_matches('/')).replace("//", "/");
        let uploads = match (set("COGS_S3_ENDPOINT"), set("COGS_BUCKET"), set("AWS_REGION")) {
            (Some(endpoint), _, _) => Some(origin(&endpoint)),
            // Presigned URLs name the bucket in the host (virtual-hosted style).
            (None, Some(bucket), Some(region)) => Some(format!("https://{bucket}.s3.{region}.amazonaws.com")),
            _ => None,
        };
        let cognito = match &sign_in {
            SignIn::Cognito { domain, .. } => Some(domain.clone()),
            SignIn::Development => None,
        };
        let large_file_bytes = match set("COGS_WEB_LARGE_FILE_BYTES") {
            Some(value) => value.parse().map_err(|e| ConfigError(format!("COGS_WEB_LARGE_FILE_BYTES: {e}")))?,
            None => 4_000_000,
        };
        Ok(Self {
            base_path,
            api_base: set("COGS_WEB_API_BASE").unwrap_or_default().trim_end_matches('/').to_owned(),
            sign_in,
            connect_origins: uploads.into_iter().chain(cognito).collect(),
            large_file_bytes,
        })
    }
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{host}")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<WebConfig, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        WebConfig::from_lookup(|name| vars.get(name).cloned())
    }

    const COGNITO: [(&str, &str); 2] = [
        ("COGS_COGNITO_DOMAIN", "https://acme.auth.eu-west-1.amazoncognito.com/"),
        ("COGS_COGNITO_CLIENT_ID", "client123"),
    ];

    #[test]
    fn the_development_tenant_picker_refuses_to_start_in_aws_lambda() {
        let local = config(&[("COGS_DEV_TENANT_HEADER", "true")]).unwrap();
        assert_eq!(local.sign_in, SignIn::Development);
        let deployed = config(&[("COGS_DEV_TENANT_HEADER", "true"), ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/web")]);
        assert!(deployed.unwrap_err().0.contains("refusing to start in AWS Lambda"));
    }

    #[test]
    fn without_a_way_to_sign_in_the_dashboard_does_not_start() {
        assert!(config(&[]).unwrap_err().0.contains("COGS_COGNITO_DOMAIN"));
        assert!(config(&COGNITO[1..]).is_err(), "a client without its sign-in page");
        let plain = [("COGS_COGNITO_DOMAIN", "http://acme.example"), COGNITO[1]];
        assert!(config(&plain).unwrap_err().0.contains("https://"));
    }

    #[test]
    fn the_page_may_reach_its_sign_in_page_and_its_bucket_and_nothing_else() {
        let deployed =
            config(&[COGNITO[0], COGNITO[1], ("COGS_BUCKET", "cogs-staging"), ("AWS_REGION", "eu-west-1")]).unwrap();
        assert_eq!(
            deployed.sign_in,
            SignIn::Cognito {
                domain: "https://acme.auth.eu-west-1.amazoncognito.com".into(),
                client_id: "client123".into()
            }
        );
        assert_eq!(
            deployed.connect_origins,
            ["https://cogs-staging.s3.eu-west-1.amazonaws.com", "https://acme.auth.eu-west-1.amazoncognito.com"]
        );
        assert_eq!((deployed.base_path.as_str(), deployed.api_base.as_str()), ("/", ""));

        let local = config(&[
            ("COGS_DEV_TENANT_HEADER", "true"),
            ("COGS_S3_ENDPOINT", "http://127.0.0.1:5055/"),
            ("COGS_WEB_BASE_PATH", "/lambda-url/cogs-web"),
            ("COGS_WEB_API_BASE", "/lambda-url/cogs-{function}/"),
        ])
        .unwrap();
        assert_eq!(local.connect_origins, ["http://127.0.0.1:5055"]);
        assert_eq!(local.base_path, "/lambda-url/cogs-web/");
        assert_eq!(local.api_base, "/lambda-url/cogs-{function}");
    }
}
