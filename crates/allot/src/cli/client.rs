//! The HTTP side of the API commands: where the server is, the bearer token,
//! and turning every answer into JSON or a [`CliError`] with the right exit
//! code. Commands pass path segments, never formatted paths, and ids typed
//! by the user go through [`id`] first so each stays exactly one segment.

use std::time::Duration;

use clap::Args;
pub use reqwest::Method;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, HeaderValue, IF_MATCH};
use serde_json::Value;

use super::error::CliError;

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// Options shared by every API command. `global` lets them go before or
/// after the subcommand (`allot tasks --json list` or `allot tasks list --json`).
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Base URL of the allot server.
    #[arg(long, env = "ALLOT_SERVER", default_value = DEFAULT_SERVER, global = true)]
    pub server: String,
    /// API token, sent as `Authorization: Bearer`. Prefer ALLOT_TOKEN: command
    /// lines are visible to other users of the machine.
    #[arg(long, env = "ALLOT_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Print the server's JSON document, compact on one line (pipe to `jq`),
    /// instead of a table. With --all, the pages are merged into one
    /// document of the same shape, `{"items": [...], "next_cursor": null}`.
    #[arg(long, global = true)]
    pub json: bool,
}

pub struct Client {
    base: Url,
    auth: HeaderValue,
    http: reqwest::Client,
}

/// A command waiting longer than this is better told the server is stuck.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Client {
    /// Checks the server URL and token before anything is sent, so a
    /// missing token is a usage error rather than a 401 round trip.
    pub fn new(args: &ApiArgs) -> Result<Self, CliError> {
        let base = Url::parse(args.server.trim()).map_err(|e| {
            CliError::Usage(format!(
                "--server/ALLOT_SERVER {:?} is not a URL: {e}",
                args.server
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(CliError::Usage(format!(
                "--server/ALLOT_SERVER must be an http:// or https:// URL, got {:?}",
                args.server
            )));
        }
        let token = args
            .token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                CliError::Usage(
                    "no API token: set ALLOT_TOKEN or pass --token (make one with `allot token create --name NAME`)"
                        .to_string(),
                )
            })?;
        let mut auth = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
            CliError::Usage(
                "the API token contains characters that cannot be sent in an HTTP header"
                    .to_string(),
            )
        })?;
        auth.set_sensitive(true);
        crate::tls::install();
        let http = reqwest::Client::builder()
            .user_agent(concat!("allot-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| CliError::Failed(format!("cannot set up the HTTP client: {e}")))?;
        Ok(Self { base, auth, http })
    }

    /// `base` + `/v1/...segments` + query; pairs whose value is `None` are left out.
    fn url(&self, segments: &[&str], query: &[(&str, Option<String>)]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        if let Ok(mut path) = url.path_segments_mut() {
            // Keeps a path prefix such as https://host/allot/ (reverse proxies).
            path.pop_if_empty().push("v1").extend(segments);
        }
        let given: Vec<_> = query
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
            .collect();
        if !given.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in given {
                pairs.append_pair(k, v);
            }
        }
        url
    }

    pub async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, Option<String>)],
    ) -> Result<Value, CliError> {
        self.send(Method::GET, self.url(segments, query), None, None)
            .await
    }

    pub async fn post(&self, segments: &[&str], body: Option<&Value>) -> Result<Value, CliError> {
        self.send(Method::POST, self.url(segments, &[]), body, None)
            .await
    }

    pub async fn patch(&self, segments: &[&str], body: &Value) -> Result<Value, CliError> {
        self.send(Method::PATCH, self.url(segments, &[]), Some(body), None)
            .await
    }

    pub async fn delete(&self, segments: &[&str]) -> Result<Value, CliError> {
        self.send(Method::DELETE, self.url(segments, &[]), None, None)
            .await
    }

    /// Any method with a query and, for conditional writes, an `If-Match`
    /// version (sent as the entity tag `"V"`): the routes the shorthands
    /// above do not cover (`?evict=true` on a POST, `If-Match` on a PATCH).
    pub async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, Option<String>)],
        body: Option<&Value>,
        if_match: Option<i64>,
    ) -> Result<Value, CliError> {
        self.send(method, self.url(segments, query), body, if_match)
            .await
    }

    /// The answer's JSON document; `Null` for an empty 2xx (204 on delete).
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        if_match: Option<i64>,
    ) -> Result<Value, CliError> {
        let mut request = self
            .http
            .request(method, url.clone())
            .header(AUTHORIZATION, self.auth.clone());
        if let Some(version) = if_match {
            request = request.header(IF_MATCH, format!("\"{version}\""));
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| {
            CliError::Failed(format!(
                "the server at {} stopped answering mid-response: {}",
                self.base,
                root_cause(&e)
            ))
        })?;
        if !status.is_success() {
            return Err(CliError::from_answer(status, &bytes));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            CliError::Failed(format!(
                "the server at {} answered {url} with something that is not JSON ({e}); is --server/ALLOT_SERVER an allot server?",
                self.base
            ))
        })
    }

    fn unreachable(&self, e: &reqwest::Error) -> CliError {
        let what = if e.is_timeout() {
            "did not answer in time".to_string()
        } else {
            format!("could not be reached: {}", root_cause(e))
        };
        CliError::Failed(format!(
            "the server at {} {what}\n  check --server or ALLOT_SERVER, and that `allot serve` is running there",
            self.base
        ))
    }
}

/// An id from the command line, checked before it becomes a path segment:
/// the URL parser drops `.`/`..` segments and keeps `%` escapes as typed,
/// so anything beyond the characters of the server's ids could address a
/// different resource than the one named.
pub fn id<'a>(what: &str, id: &'a str) -> Result<&'a str, CliError> {
    let ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(id)
    } else {
        let article = if what.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        Err(CliError::Usage(format!(
            "{:?} is not {article} {what} id (ids are letters, digits, - and _)",
            super::error::sanitize(id)
        )))
    }
}

/// reqwest's own message is generic ("error sending request"); the innermost
/// source says what happened ("Connection refused", "dns error", ...).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut inner = e;
    while let Some(next) = inner.source() {
        inner = next;
    }
    inner.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(server: &str) -> Client {
        let args = ApiArgs {
            server: server.to_string(),
            token: Some("t".to_string()),
            json: false,
        };
        match Client::new(&args) {
            Ok(c) => c,
            Err(e) => panic!("{e:?}"),
        }
    }

    #[test]
    fn query_pairs_without_value_are_left_out() {
        let c = client("http://h:1");
        let url = c.url(&["tasks"], &[("limit", Some("5".into())), ("state", None)]);
        assert_eq!(url.as_str(), "http://h:1/v1/tasks?limit=5");
    }

    #[test]
    fn ids_that_could_change_the_path_are_refused() {
        assert!(id("task", "0199a2b4-7c1e-7f00-8000-000000000000").is_ok());
        for bad in ["", "..", "a/b", "a%2Fb", "a?b", "a b"] {
            assert!(matches!(id("task", bad), Err(CliError::Usage(_))), "{bad}");
        }
    }

    #[test]
    fn a_path_prefix_is_kept() {
        let c = client("https://h/allot/");
        assert_eq!(c.url(&["tasks"], &[]).as_str(), "https://h/allot/v1/tasks");
    }

    #[test]
    fn missing_token_and_bad_server_are_usage_errors() {
        let no_token = ApiArgs {
            server: DEFAULT_SERVER.into(),
            token: Some("  ".into()),
            json: false,
        };
        assert!(
            matches!(Client::new(&no_token), Err(CliError::Usage(m)) if m.contains("ALLOT_TOKEN"))
        );
        let bad = ApiArgs {
            server: "localhost:8080".into(),
            token: Some("t".into()),
            json: false,
        };
        assert!(matches!(Client::new(&bad), Err(CliError::Usage(_))));
    }
}
