//! The webhooks, HMAC instead of IAM: GitHub's here (`POST /api/v1/webhooks/github`), JIRA's
//! in [`jira`].
//!
//! The GitHub webhook: the signature (`X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the raw body with the
//! shared secret) is checked, in constant time, before anything else is read: a delivery
//! without a valid one gets 401 and changes nothing. `ping` answers 200. A `push` to the
//! followed repository and branch syncs the catalog to the branch head ([`crate::sync`]);
//! pushes elsewhere and other events are accepted (202) and ignored. A completed
//! `workflow_run` concludes the task waiting on that run (see `action::github_workflow`).
//! A delivery id
//! (`X-GitHub-Delivery`, which GitHub reuses when it redelivers) is processed once.

pub mod jira;

use crate::api::envelope::{ApiError, ApiResponse};
use crate::clock::Now;
use crate::sync::{SyncError, Syncer};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// The webhook's dependencies, built once per container.
#[derive(Debug)]
pub struct Webhook {
    pub syncer: Syncer,
    /// Concludes tasks waiting on a workflow run.
    pub worker: crate::worker::Worker,
    /// The Secrets Manager secret holding the webhook's shared secret.
    pub secret_id: String,
    /// The JIRA webhook's secret (`jira`).
    pub jira_secret_id: String,
}

impl Webhook {
    pub fn from_config(config: &crate::config::Config, sdk: &crate::aws::SdkConfig) -> Self {
        Self {
            syncer: Syncer::from_config(config, sdk),
            worker: crate::worker::Worker::from_config(config, sdk),
            secret_id: config.github_webhook_secret_id.clone(),
            jira_secret_id: config.jira_webhook_secret_id.clone(),
        }
    }

    /// Answers one delivery. `headers` may be in any case; `body` is the raw body.
    pub async fn handle(&self, headers: &[(String, String)], body: &[u8]) -> ApiResponse {
        let correlation_id = header(headers, "x-github-delivery")
            .filter(|d| !d.is_empty() && d.len() <= 128 && d.chars().all(|c| c.is_ascii_graphic()))
            .map(|d| format!("gh-{d}"))
            .unwrap_or_else(|| format!("gh-{}", uuid::Uuid::new_v4()));
        let span = tracing::info_span!("webhook", correlation_id = %correlation_id);
        let answer = self.answer(headers, body, &correlation_id);
        crate::api::envelope::respond_in(span, correlation_id.clone(), answer).await
    }

    async fn answer(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        correlation_id: &str,
    ) -> Result<ApiResponse, ApiError> {
        let header = |name: &str| header(headers, name);
        let meta = json!({"correlationId": correlation_id});
        let signature = header("x-hub-signature-256").ok_or_else(|| {
            ApiError::Unauthorized("the delivery has no X-Hub-Signature-256 header".into())
        })?;
        let secret = self
            .syncer
            .secrets
            .get(&self.secret_id)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        if !signature_matches(secret.as_bytes(), body, signature) {
            tracing::warn!("GitHub delivery refused: the signature does not match");
            return Err(ApiError::Unauthorized(
                "the X-Hub-Signature-256 signature does not match the body".into(),
            ));
        }
        // Every GitHub delivery is a JSON object, whatever its event: anything else is refused
        // before the event is even looked at.
        let payload = json_object(body)?;
        let Some(event) = header("x-github-event").filter(|e| !e.is_empty()) else {
            return Err(ApiError::Validation(vec![crate::problem::Problem::at(
                "X-GitHub-Event",
                "is required: GitHub names the event of every delivery",
            )]));
        };
        if !matches!(event, "ping" | "push" | "workflow_run") {
            return Ok(ApiResponse::ok(
                202,
                json!({"ignored": format!("{event:?} events change nothing in PAO")}),
                meta,
            ));
        }
        if event == "ping" {
            return Ok(ApiResponse::ok(200, json!({"pong": true}), meta));
        }
        let ignored = |why: String| {
            Ok(ApiResponse::ok(
                202,
                json!({ "ignored": why }),
                meta.clone(),
            ))
        };
        let repository = payload
            .pointer("/repository/full_name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if event == "push" {
            let git_ref = payload
                .get("ref")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !self.syncer.follows(repository, git_ref) {
                return ignored(format!(
                    "a push to {repository} {git_ref}, which is not the catalog"
                ));
            }
        } else if payload.get("action").and_then(Value::as_str) != Some("completed") {
            return ignored("only a completed workflow run concludes a task".into());
        }
        let delivery = header("x-github-delivery").unwrap_or_default();
        let store = &self.syncer.store;
        if !delivery.is_empty() && !store.claim_delivery(delivery, &Now::current()).await? {
            return Ok(ApiResponse::ok(
                200,
                json!({"duplicate": true, "delivery": delivery}),
                meta,
            ));
        }
        let handled = if event == "push" {
            self.syncer
                .sync_head()
                .await
                .map(|report| serde_json::to_value(report).unwrap_or(Value::Null))
                .map_err(ApiError::from)
        } else {
            self.run_concluded(&payload).await
        };
        match handled {
            Ok(data) => {
                if !delivery.is_empty() {
                    store.finish_delivery(delivery).await?;
                }
                Ok(ApiResponse::ok(200, data, meta))
            }
            Err(e) => {
                // Our failure: GitHub's redelivery (or the next event) may try again.
                if !delivery.is_empty() {
                    store.release_delivery(delivery).await?;
                }
                Err(e)
            }
        }
    }

    /// A workflow run concluded: the task waiting on it completes or fails.
    async fn run_concluded(&self, payload: &Value) -> Result<Value, ApiError> {
        let Some((repository, run)) = crate::action::github_workflow::reported_run(payload) else {
            return Err(ApiError::Validation(vec![crate::problem::Problem::at(
                "workflow_run",
                "has no id",
            )]));
        };
        let Some(result) = run.outcome() else {
            return Ok(json!({"ignored": format!("run {} is {}", run.id, run.status)}));
        };
        let key = format!("run-{}", run.id);
        let outcome = self
            .worker
            .conclude(&key, result)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        tracing::info!(%repository, run = run.id, outcome = ?outcome, "workflow run concluded");
        Ok(json!({"run": run.id, "outcome": format!("{outcome:?}")}))
    }
}

/// A delivery's body, which must be a JSON object whatever the event (400 naming `body`).
fn json_object(body: &[u8]) -> Result<Value, ApiError> {
    let problem = |m: String| ApiError::Validation(vec![crate::problem::Problem::at("body", m)]);
    let payload: Value = serde_json::from_slice(body).map_err(|e| {
        problem(format!(
            "is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if !payload.is_object() {
        return Err(problem("must be a JSON object".into()));
    }
    Ok(payload)
}

/// A header's value, whatever the case of its name.
fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Whether `header` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`, compared in
/// constant time.
pub fn signature_matches(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex_digest) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The header GitHub would send for `body` under `secret` (for tests and the local push tool).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl From<SyncError> for ApiError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::NotConfigured | SyncError::OutOfTime(_) => Self::Unavailable(e.to_string()),
            SyncError::GitHub(g) => Self::Upstream(g.to_string()),
            SyncError::Store(s) => s.into(),
            SyncError::Secret(s) => s.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn github_signatures() {
        // The example from GitHub's documentation on validating webhook deliveries.
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(signature_matches(
            b"It's a Secret to Everybody",
            b"Hello, World!",
            header
        ));
        assert!(!signature_matches(
            b"It's a Secret to Everybody",
            b"Hello, World?",
            header
        ));
        assert!(!signature_matches(
            b"another secret",
            b"Hello, World!",
            header
        ));
        assert!(!signature_matches(b"s", b"x", "sha1=abc"));
        assert!(!signature_matches(b"s", b"x", "sha256=not-hex"));
        assert_eq!(
            sign(b"It's a Secret to Everybody", b"Hello, World!"),
            header
        );
    }

    proptest! {
        #[test]
        fn no_header_panics_or_passes_by_chance(header in ".{0,80}", body in prop::collection::vec(any::<u8>(), 0..64)) {
            prop_assert!(!signature_matches(b"secret", &body, &header) || header == sign(b"secret", &body));
        }
    }
}
