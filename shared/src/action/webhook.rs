//! The `webhook` fulfillment item: the rendered payload sent (POST unless the item says PUT or
//! PATCH) to a URL, signed when the item names a signing secret: `X-PAO-Timestamp: <epoch
//! seconds>` and `X-PAO-Signature-256: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`, so a
//! receiver can check who sent it and refuse an old copy. Result: `{"status", "body"}`.

use super::http::{Outbound, check_url, signature};
use super::rest::{body_bytes, text};
use super::{ActionError, ActionResult};
use crate::secrets::{CatalogSecrets, SecretCache};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhookConfig {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, Value>,
    #[serde(default)]
    payload: Option<Value>,
    #[serde(default)]
    signing_secret: Option<String>,
}

/// Delivers the payload a rendered `webhook` config describes.
pub async fn deliver(
    out: &Outbound,
    secrets: &SecretCache,
    catalog: &CatalogSecrets,
    config: &Value,
    idempotency_key: &str,
    timeout: Duration,
    typed: &[String],
) -> Result<ActionResult, ActionError> {
    let config: WebhookConfig = serde_json::from_value(config.clone())
        .map_err(|e| ActionError::Config(format!("webhook config: {e}")))?;
    let url = check_url(&config.url, &out.allowed)?;
    let method = match config
        .method
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("POST") => reqwest::Method::POST,
        Some("PUT") => reqwest::Method::PUT,
        Some("PATCH") => reqwest::Method::PATCH,
        Some(other) => {
            return Err(ActionError::Config(format!(
                "webhook method {other:?}: use POST, PUT or PATCH"
            )));
        }
    };
    let what = format!(
        "{method} {}{}",
        url.host_str().unwrap_or_default(),
        url.path()
    );
    let body = body_bytes(config.payload.as_ref()).unwrap_or_else(|| b"{}".to_vec());
    let mut request = out.request(method, url.clone())?;
    for (k, v) in &config.headers {
        request = request.header(k.as_str(), text(v));
    }
    request = request
        .header("Idempotency-Key", idempotency_key)
        .header("Content-Type", "application/json");
    // Typed password values the config carries are blanked from any quoted answer like the
    // item's own secrets.
    let mut secret_values: Vec<String> = typed.to_vec();
    if let Some(name) = &config.signing_secret {
        let id = catalog
            .id(name)
            .map_err(|e| ActionError::Config(format!("signingSecret: {e}")))?;
        let secret = secrets
            .get(&id)
            .await
            .map_err(|e| ActionError::Config(format!("signingSecret: {}", catalog.describe(&e))))?;
        let (timestamp, signed) = signature(secret.as_bytes(), &body);
        request = request
            .header("X-PAO-Timestamp", timestamp)
            .header("X-PAO-Signature-256", signed);
        secret_values.push(secret);
    }
    let answer = out.send(&url, request.body(body), timeout).await?;
    let refs: Vec<&str> = secret_values.iter().map(String::as_str).collect();
    answer.check(&what, &[], &refs)?;
    Ok(ActionResult {
        result: json!({"status": answer.status, "body": answer.body}),
        external_ref: None,
        waiting: false,
    })
}
