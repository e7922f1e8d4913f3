//! The four task kinds: what a task does when it runs.
//!
//! Params are validated when a task is created or updated ([`TaskAction::parse`]),
//! so a run only fails for reasons of the moment (a URL answering 500), never
//! for a malformed task.

mod counter;
mod http;
mod sleep;
pub(crate) mod webhook;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::problem::FieldError;
use crate::store::Db;

/// The kinds a task can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    Sleep,
    Counter,
    Http,
    Webhook,
}

impl TaskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Sleep => "sleep",
            TaskKind::Counter => "counter",
            TaskKind::Http => "http",
            TaskKind::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sleep" => Some(TaskKind::Sleep),
            "counter" => Some(TaskKind::Counter),
            "http" => Some(TaskKind::Http),
            "webhook" => Some(TaskKind::Webhook),
            _ => None,
        }
    }
}

/// Settings the kinds need from the service configuration.
#[derive(Debug, Clone, Default)]
pub struct KindSettings {
    /// URL an `http` task GETs when its params give none.
    pub http_default_url: String,
    /// Hosts `http` and `webhook` tasks may reach; empty = any host.
    pub allowed_hosts: Vec<String>,
    /// HMAC-SHA256 key for webhook signatures; webhook tasks are refused without one.
    pub webhook_secret: Option<String>,
}

/// Everything a run may use.
#[derive(Clone)]
pub struct RunContext {
    pub db: Db,
    pub clock: crate::clock::SharedClock,
    pub http: reqwest::Client,
    pub settings: Arc<KindSettings>,
}

/// A validated task action.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskAction {
    Sleep(sleep::SleepParams),
    Counter(counter::CounterParams),
    Http(http::HttpParams),
    Webhook(webhook::WebhookParams),
}

/// Why a run did not succeed (its output may still say what happened).
#[derive(Debug)]
pub struct RunFailure {
    pub error: String,
    pub output: Option<Value>,
}

impl TaskAction {
    /// Validates `params` for `kind`. `task_id` names the default counter.
    pub fn parse(
        kind: TaskKind,
        params: &Value,
        settings: &KindSettings,
    ) -> Result<TaskAction, FieldError> {
        match kind {
            TaskKind::Sleep => sleep::parse(params).map(TaskAction::Sleep),
            TaskKind::Counter => counter::parse(params).map(TaskAction::Counter),
            TaskKind::Http => http::parse(params, settings).map(TaskAction::Http),
            TaskKind::Webhook => webhook::parse(params, settings).map(TaskAction::Webhook),
        }
    }

    /// Performs the action once. The caller enforces the task timeout by
    /// dropping this future.
    pub async fn run(&self, task_id: uuid::Uuid, ctx: &RunContext) -> Result<Value, RunFailure> {
        match self {
            TaskAction::Sleep(p) => Ok(sleep::run(p).await),
            TaskAction::Counter(p) => counter::run(p, task_id, ctx).await,
            TaskAction::Http(p) => http::run(p, ctx).await,
            TaskAction::Webhook(p) => webhook::run(p, task_id, ctx).await,
        }
    }
}

/// Deserialises kind params with a pointer under `/params` on error.
fn from_params<T: serde::de::DeserializeOwned>(params: &Value) -> Result<T, FieldError> {
    if params.is_null() {
        return Err(param_error_root(
            "params are required for this kind (see the kind's documentation)",
        ));
    }
    serde_path_to_error::deserialize(params.clone()).map_err(|e| {
        let path = e.path().to_string();
        FieldError {
            pointer: if path == "." {
                "/params".to_string()
            } else {
                format!("/params/{}", path.replace('.', "/"))
            },
            message: e.into_inner().to_string(),
        }
    })
}

fn param_error_root(message: &str) -> FieldError {
    FieldError {
        pointer: "/params".to_string(),
        message: message.to_string(),
    }
}

fn param_error(name: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        pointer: format!("/params/{name}"),
        message: message.into(),
    }
}

/// A humane duration param (`"2s"`), with a pointer on error.
fn duration_param(name: &str, value: &str) -> Result<Duration, FieldError> {
    allot_kernel::duration::parse_duration(value).map_err(|e| param_error(name, e.to_string()))
}

/// Checks a URL param: http(s), and its host on the allowlist when there is one.
fn url_param(name: &str, url: &str, settings: &KindSettings) -> Result<reqwest::Url, FieldError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| param_error(name, format!("{url:?} is not a valid URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(param_error(name, "only http and https URLs are allowed"));
    }
    let host = parsed.host_str().unwrap_or_default();
    if !settings.allowed_hosts.is_empty()
        && !settings
            .allowed_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
    {
        return Err(param_error(
            name,
            format!(
                "host {host:?} is not in the allowed hosts ({})",
                settings.allowed_hosts.join(", ")
            ),
        ));
    }
    Ok(parsed)
}
