//! The JIRA webhook (`POST /api/v1/webhooks/jira?instance=<name>`, no IAM): JIRA says a
//! ticket changed, and a task waiting on that ticket may conclude.
//!
//! Who may call it is checked before anything is read, against the secret
//! `PAO_JIRA_WEBHOOK_SECRET_ID` (`{"signingSecret": "…", "tokens": {"<instance>": "…"}}`):
//! - Jira Cloud admin webhooks registered with a secret sign the raw body with HMAC-SHA256 in
//!   `X-Hub-Signature: sha256=<hex>` (the `signingSecret`).
//! - Jira Data Center sends no signature: its webhook URL carries the instance's own token
//!   (`&token=…`, compared in constant time). Weaker: anyone who sees the URL (JIRA's admin
//!   screens, a proxy's access log) can call it, which is why such a call only makes PAO ask
//!   JIRA.
//!
//! Whatever a delivery says, PAO asks JIRA itself how the ticket is before a task concludes
//! (the same path the sweeper's poll takes, [`crate::worker::Worker::check_ticket`]): a forged
//! or stale delivery concludes nothing JIRA would not. A delivery id
//! (`X-Atlassian-Webhook-Identifier`, unique per site and kept across retries) is handled
//! once; tickets PAO does not wait on are accepted (202) and ignored.

use super::{Webhook, header};
use crate::api::envelope::{ApiError, ApiResponse};
use crate::clock::Now;
use crate::problem::Problem;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use subtle::ConstantTimeEq;

/// The JIRA webhook secret.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JiraWebhookSecret {
    #[serde(default)]
    signing_secret: String,
    /// Data Center instances' tokens, by instance name.
    #[serde(default)]
    tokens: HashMap<String, String>,
}

/// How long a ticket key may be (JIRA's project keys are at most 255 characters).
const MAX_KEY: usize = 300;

impl Webhook {
    /// Answers one JIRA delivery: `query` is the URL's query parameters, `headers` in any
    /// case, `body` the raw body.
    pub async fn handle_jira(
        &self,
        query: &[(String, String)],
        headers: &[(String, String)],
        body: &[u8],
    ) -> ApiResponse {
        let correlation_id = header(headers, "x-atlassian-webhook-identifier")
            .filter(|d| !d.is_empty() && d.len() <= 128 && d.chars().all(|c| c.is_ascii_graphic()))
            .map(|d| format!("jira-{d}"))
            .unwrap_or_else(|| format!("jira-{}", uuid::Uuid::new_v4()));
        let span = tracing::info_span!("jira_webhook", correlation_id = %correlation_id);
        let answer = self.answer_jira(query, headers, body, &correlation_id);
        crate::api::envelope::respond_in(span, correlation_id.clone(), answer).await
    }

    async fn answer_jira(
        &self,
        query: &[(String, String)],
        headers: &[(String, String)],
        body: &[u8],
        correlation_id: &str,
    ) -> Result<ApiResponse, ApiError> {
        let param = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if let Some((unknown, _)) = query.iter().find(|(k, _)| k != "instance" && k != "token") {
            return Err(ApiError::Validation(vec![Problem::at(
                unknown.chars().take(64).collect::<String>(),
                "is not a parameter of the JIRA webhook (instance, token)",
            )]));
        }
        // The instance names the token and the JIRA to ask: a name as the JIRA secret has them.
        let instance = param("instance").unwrap_or("default");
        if instance.is_empty()
            || instance.len() > 64
            || !instance
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(ApiError::Validation(vec![Problem::at(
                "instance",
                "is the name of a JIRA instance in the JIRA secret (letters, digits, - _ ., at most 64)",
            )]));
        }
        self.authenticate_jira(instance, param("token"), headers, body)
            .await?;
        let meta = json!({"correlationId": correlation_id});
        let accepted = |why: String| {
            Ok(ApiResponse::ok(
                202,
                json!({ "ignored": why }),
                meta.clone(),
            ))
        };
        let payload = super::json_object(body)?;
        let event = payload
            .get("webhookEvent")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if event != "jira:issue_updated" {
            return accepted(format!("{event:?} events conclude nothing in PAO"));
        }
        let key = payload
            .pointer("/issue/key")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty() && k.len() <= MAX_KEY && !k.contains(['/', '?', '#']))
            .ok_or_else(|| {
                ApiError::Validation(vec![Problem::at(
                    "issue.key",
                    "is required: the ticket's key",
                )])
            })?;
        // Only a resolution can conclude a task; JIRA itself is asked what it is.
        if payload
            .pointer("/issue/fields/resolution")
            .is_none_or(Value::is_null)
        {
            return accepted(format!("{key} has no resolution"));
        }
        let instances = self
            .worker
            .secrets
            .get(&self.worker.settings.jira_secret_id)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let instances = crate::action::jira::JiraInstances::parse(&instances)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let Ok(configured) = instances.get(instance) else {
            return Err(ApiError::Validation(vec![Problem::at(
                "instance",
                format!("{instance:?} is not a JIRA instance PAO is configured with"),
            )]));
        };
        let url = crate::action::jira::browse_url(&configured.base_url, key);
        let store = &self.syncer.store;
        if store.task_of_external(&url).await?.is_none() {
            return accepted(format!("no task waits for {key}"));
        }
        let delivery = header(headers, "x-atlassian-webhook-identifier")
            .filter(|d| !d.is_empty() && d.len() <= 128)
            .map(|d| format!("jira:{instance}:{d}"));
        if let Some(d) = &delivery {
            if !store.claim_delivery(d, &Now::current()).await? {
                return Ok(ApiResponse::ok(200, json!({"duplicate": true}), meta));
            }
        }
        match self.worker.check_ticket(&url).await {
            Ok(outcome) => {
                if let Some(d) = &delivery {
                    store.finish_delivery(d).await?;
                }
                tracing::info!(ticket = key, outcome = ?outcome, "JIRA ticket checked");
                Ok(ApiResponse::ok(
                    200,
                    json!({"ticket": key, "outcome": format!("{outcome:?}")}),
                    meta,
                ))
            }
            Err(e) => {
                // JIRA (or the store) failed us: JIRA's retry, or the sweeper's poll, tries again.
                if let Some(d) = &delivery {
                    store.release_delivery(d).await?;
                }
                Err(match e {
                    crate::worker::WorkerError::Action(a) => ApiError::Upstream(a.to_string()),
                    other => ApiError::Internal(other.to_string()),
                })
            }
        }
    }

    /// A Cloud delivery's signature or a Data Center delivery's token; 401 otherwise.
    async fn authenticate_jira(
        &self,
        instance: &str,
        token: Option<&str>,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(), ApiError> {
        let signature = header(headers, "x-hub-signature");
        if signature.is_none() && token.is_none() {
            return Err(ApiError::Unauthorized(
                "the delivery has neither an X-Hub-Signature header (Jira Cloud) nor a token in its URL (Data Center)".into(),
            ));
        }
        let secret = self
            .syncer
            .secrets
            .get(&self.jira_secret_id)
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let secret: JiraWebhookSecret = serde_json::from_str(&secret).map_err(|_| {
            ApiError::Internal(
                "the JIRA webhook secret is not {\"signingSecret\": \"…\", \"tokens\": {…}}".into(),
            )
        })?;
        let admitted = match (signature, token) {
            (Some(signature), _) => {
                !secret.signing_secret.is_empty()
                    && super::signature_matches(secret.signing_secret.as_bytes(), body, signature)
            }
            (None, Some(token)) => secret.tokens.get(instance).is_some_and(|expected| {
                !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
            }),
            (None, None) => false,
        };
        if !admitted {
            tracing::warn!(
                instance,
                "JIRA delivery refused: signature or token does not match"
            );
            return Err(ApiError::Unauthorized(
                "the delivery's signature or token does not match".into(),
            ));
        }
        Ok(())
    }
}
