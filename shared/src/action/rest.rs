//! The `rest-api` fulfillment item: one HTTP call, its method, URL, headers, query and body
//! rendered from the item's templates, authenticated with a secret from Secrets Manager
//! (`bearer`, `basic` as `user:password`, a named `header`, or `hmac` signing of the body).
//!
//! Every call carries `Idempotency-Key: <requestId>-<task>-<attempt>`, so a target that
//! honours it creates nothing twice; PAO itself never calls again once a request may have
//! reached the target (a retry is a person's decision, with a new attempt number). The answer
//! (status, headers, JSON body) is the result `outputs` read.

use super::http::{Outbound, check_url, signature};
use super::{ActionError, ActionResult};
use crate::secrets::{CatalogSecrets, SecretCache};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestConfig {
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, Value>,
    #[serde(default)]
    query: BTreeMap<String, Value>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    auth: Option<Auth>,
    #[serde(default)]
    expected_status: Vec<u16>,
}

#[derive(Debug, Deserialize)]
struct Auth {
    #[serde(rename = "type", default)]
    kind: AuthKind,
    secret: String,
    /// The header `header` auth sets (default `X-API-Key`).
    #[serde(default)]
    header: Option<String>,
}

#[derive(Debug, Default, Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum AuthKind {
    #[default]
    Bearer,
    Basic,
    Header,
    Hmac,
}

/// A header or query value as text (a rendered number or boolean stays as written).
pub(super) fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The body to send: a string is a rendered JSON document, anything else is sent as JSON.
pub(super) fn body_bytes(body: Option<&Value>) -> Option<Vec<u8>> {
    match body? {
        Value::Null => None,
        Value::String(s) => Some(s.clone().into_bytes()),
        other => Some(other.to_string().into_bytes()),
    }
}

/// Makes the call a rendered `rest-api` config describes.
pub async fn call(
    out: &Outbound,
    secrets: &SecretCache,
    catalog: &CatalogSecrets,
    config: &Value,
    idempotency_key: &str,
    timeout: Duration,
    typed: &[String],
) -> Result<ActionResult, ActionError> {
    let config: RestConfig = serde_json::from_value(config.clone())
        .map_err(|e| ActionError::Config(format!("rest-api config: {e}")))?;
    let mut url = check_url(&config.url, &out.allowed)?;
    if !config.query.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (k, v) in &config.query {
            pairs.append_pair(k, &text(v));
        }
    }
    let method = reqwest::Method::from_bytes(config.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| {
            ActionError::Config(format!("method {:?} is not an HTTP method", config.method))
        })?;
    let what = format!(
        "{method} {}{}",
        url.host_str().unwrap_or_default(),
        url.path()
    );
    let body = body_bytes(config.body.as_ref());
    let mut request = out.request(method, url.clone())?;
    for (k, v) in &config.headers {
        request = request.header(k.as_str(), text(v));
    }
    request = request.header("Idempotency-Key", idempotency_key);
    // Typed password values the config carries are blanked from any quoted answer like the
    // item's own secrets.
    let mut secret_values: Vec<String> = typed.to_vec();
    if let Some(auth) = &config.auth {
        let id = catalog
            .id(&auth.secret)
            .map_err(|e| ActionError::Config(format!("auth.secret: {e}")))?;
        let value = secrets
            .get(&id)
            .await
            .map_err(|e| ActionError::Config(format!("auth.secret: {}", catalog.describe(&e))))?;
        request = match auth.kind {
            AuthKind::Bearer => request.bearer_auth(&value),
            AuthKind::Basic => {
                let (user, password) = value.split_once(':').ok_or_else(|| {
                    ActionError::Config(format!(
                        "secret {} must hold user:password for basic auth",
                        auth.secret
                    ))
                })?;
                request.basic_auth(user, Some(password))
            }
            AuthKind::Header => {
                request.header(auth.header.as_deref().unwrap_or("X-API-Key"), &value)
            }
            AuthKind::Hmac => {
                let (timestamp, signed) =
                    signature(value.as_bytes(), body.as_deref().unwrap_or_default());
                request
                    .header("X-PAO-Timestamp", timestamp)
                    .header("X-PAO-Signature-256", signed)
            }
        };
        secret_values.push(value);
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body);
    }
    let answer = out.send(&url, request, timeout).await?;
    let secret_refs: Vec<&str> = secret_values.iter().map(String::as_str).collect();
    answer.check(&what, &config.expected_status, &secret_refs)?;
    Ok(ActionResult {
        result: json!({"status": answer.status, "headers": answer.headers, "body": answer.body}),
        external_ref: None,
        waiting: false,
    })
}
