//! Slack's Web API: `chat.postMessage` to a channel, and to a person found by their email
//! (`users.lookupByEmail`, then a direct message to their user id). The bot token is read from
//! Secrets Manager (`{"botToken": "xoxb-…"}`); without one Slack is off. An error names what
//! Slack said (`channel_not_found`, `ratelimited`), never the token.

use super::{Notice, Sent};
use serde_json::{Value, json};
use std::time::Duration;

/// How long one Slack call may take: a notice never holds the stream longer.
const TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone)]
pub struct Slack {
    secrets: std::sync::Arc<crate::secrets::SecretCache>,
    secret_id: String,
    /// `https://slack.com/api` (the local stack's stand-in elsewhere): deployment config.
    api: String,
}

impl Slack {
    pub fn new(
        secrets: std::sync::Arc<crate::secrets::SecretCache>,
        secret_id: &str,
        api: &str,
    ) -> Self {
        Self {
            secrets,
            secret_id: secret_id.to_string(),
            api: api.trim_end_matches('/').to_string(),
        }
    }

    /// The bot token, or `None`: Slack is not set up.
    async fn token(&self) -> Result<Option<String>, String> {
        if self.secret_id.is_empty() {
            return Ok(None);
        }
        match self.secrets.get(&self.secret_id).await {
            Ok(text) => Ok(serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| {
                    v.get("botToken")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .filter(|t| !t.trim().is_empty())),
            Err(
                crate::secrets::SecretError::NotFound(_) | crate::secrets::SecretError::Empty(_),
            ) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Posts `notice` to `channel` (`#name`, a channel id or a user id).
    pub async fn post(&self, channel: &str, notice: &Notice) -> Sent {
        let token = match self.token().await {
            Ok(Some(t)) => t,
            Ok(None) => return Sent::Off,
            Err(e) => return Sent::Failed(e),
        };
        self.post_with(&token, channel, notice).await
    }

    async fn post_with(&self, token: &str, channel: &str, notice: &Notice) -> Sent {
        let body = json!({
            "channel": channel,
            "text": format!("*{}*\n{}", notice.subject, notice.text),
            "unfurl_links": false,
            "unfurl_media": false,
        });
        let answer = crate::https::Https::shared()
            .client()
            .post(format!("{}/chat.postMessage", self.api))
            .bearer_auth(token)
            .timeout(TIMEOUT)
            .json(&body)
            .send()
            .await;
        match said(answer).await {
            Ok(_) => Sent::Sent,
            Err(e) => Sent::Failed(format!("Slack chat.postMessage to {channel}: {e}")),
        }
    }

    /// Finds the Slack user with `email` and sends them `notice` directly.
    pub async fn post_to_user(&self, email: &str, notice: &Notice) -> Sent {
        let token = match self.token().await {
            Ok(Some(t)) => t,
            Ok(None) => return Sent::Off,
            Err(e) => return Sent::Failed(e),
        };
        let answer = crate::https::Https::shared()
            .client()
            .get(format!("{}/users.lookupByEmail", self.api))
            .query(&[("email", email)])
            .bearer_auth(&token)
            .timeout(TIMEOUT)
            .send()
            .await;
        let user = match said(answer).await {
            Ok(v) => v
                .pointer("/user/id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            Err(e) => return Sent::Failed(format!("Slack users.lookupByEmail: {e}")),
        };
        if user.is_empty() {
            return Sent::Failed("Slack users.lookupByEmail gave no user id".into());
        }
        self.post_with(&token, &user, notice).await
    }
}

/// Slack's answer: `ok: true` and its body, or what it said went wrong.
async fn said(answer: Result<reqwest::Response, reqwest::Error>) -> Result<Value, String> {
    let answer = answer.map_err(|e| e.without_url().to_string())?;
    let status = answer.status().as_u16();
    if status == 429 {
        return Err("ratelimited (HTTP 429)".into());
    }
    let body: Value = answer.json().await.unwrap_or(Value::Null);
    if body.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(body);
    }
    let error: String = body
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or("no answer")
        .chars()
        .take(100)
        .collect();
    Err(format!("{error} (HTTP {status})"))
}
