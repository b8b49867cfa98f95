//! The GitHub REST API, as far as PAO reads a catalog repository: a branch's head commit, the
//! commit's tree (recursive) and blobs. Every call sends `Accept: application/vnd.github+json`,
//! `X-GitHub-Api-Version: 2022-11-28` and the token from Secrets Manager as a bearer token.
//! The base URL is configurable (GitHub Enterprise Server, the local stand-in).

pub mod names;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// The REST API version PAO is written against.
pub const API_VERSION: &str = "2022-11-28";

#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("GitHub answered {status} to {what}: {message}")]
    Status {
        status: u16,
        what: String,
        message: String,
    },
    #[error("GitHub could not be reached for {what}: {message}")]
    Transport { what: String, message: String },
    #[error("GitHub's answer to {what} is not what PAO reads: {message}")]
    Malformed { what: String, message: String },
}

/// GitHub's error for an answer: its status and `message` (and the first validation error).
pub fn status_error(status: u16, answer: &Value, what: &str) -> GitHubError {
    let mut message = answer
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message")
        .to_string();
    if let Some(first) = answer.pointer("/errors/0") {
        let detail = first
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| first.to_string());
        message = format!("{message} ({detail})");
    }
    GitHubError::Status {
        status,
        what: what.to_string(),
        message: crate::redact::quote(&message, &[]),
    }
}

/// One entry of a recursive tree.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TreeEntry {
    pub path: String,
    /// `blob`, `tree` or `commit` (a submodule).
    #[serde(rename = "type")]
    pub kind: String,
    pub sha: String,
}

#[derive(Debug, Clone)]
pub struct GitHub {
    http: crate::https::Https,
    api: String,
    /// How long one call may take.
    timeout: Duration,
}

impl GitHub {
    /// A client of the API at `api_url` (`https://api.github.com`).
    pub fn new(http: impl Into<crate::https::Https>, api_url: &str) -> Self {
        Self {
            http: http.into(),
            api: api_url.trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(10),
        }
    }

    /// The same client with every call limited to `timeout` (a fulfillment item's).
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout,
            ..self.clone()
        }
    }

    /// One call: the status and JSON body of any answer (callers decide what a 404 means).
    pub async fn call(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<(u16, Value), GitHubError> {
        let mut request = self
            .http
            .client()
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(token)
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION)
            .header("User-Agent", "pao")
            .timeout(self.timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| GitHubError::Transport {
            what: what.to_string(),
            message: e.without_url().to_string(),
        })?;
        let status = response.status().as_u16();
        let mut body: Value = response.json().await.unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            // An error answer may be quoted to people: a server that echoes the token (broken
            // or hostile) has every form of it blanked first.
            let text = crate::redact::blank(&body.to_string(), &[token]);
            body = serde_json::from_str(&text).unwrap_or(Value::Null);
        }
        Ok((status, body))
    }

    /// A call that must succeed (2xx): its JSON body.
    pub async fn call_ok(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Value, GitHubError> {
        let (status, answer) = self.call(method, token, path, body, what).await?;
        if (200..300).contains(&status) {
            Ok(answer)
        } else {
            Err(status_error(status, &answer, what))
        }
    }

    async fn get(&self, token: &str, path: &str, what: &str) -> Result<Value, GitHubError> {
        self.call_ok(reqwest::Method::GET, token, path, None, what)
            .await
    }

    /// The commit a branch points at.
    pub async fn branch_head(
        &self,
        token: &str,
        repository: &str,
        branch: &str,
    ) -> Result<String, GitHubError> {
        let what = format!("branch {branch} of {repository}");
        let body = self
            .get(
                token,
                // The branch is the deployer's setting; a ref's characters (`#`, `%`) stay data.
                &format!("/repos/{repository}/branches/{}", names::ref_path(branch)),
                &what,
            )
            .await?;
        body.pointer("/commit/sha")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(GitHubError::Malformed {
                what,
                message: "no commit.sha".into(),
            })
    }

    /// Every entry of a commit's tree. A tree GitHub truncates is an error: a partial tree
    /// would read as deleted documents.
    pub async fn tree(
        &self,
        token: &str,
        repository: &str,
        commit: &str,
    ) -> Result<Vec<TreeEntry>, GitHubError> {
        let what = format!("the tree of {repository}@{commit}");
        let body = self
            .get(
                token,
                &format!("/repos/{repository}/git/trees/{commit}?recursive=1"),
                &what,
            )
            .await?;
        if body.get("truncated").and_then(Value::as_bool) == Some(true) {
            return Err(GitHubError::Malformed {
                what,
                message: "the tree is truncated (over 100,000 entries)".into(),
            });
        }
        serde_json::from_value(body.get("tree").cloned().unwrap_or(Value::Null)).map_err(|e| {
            GitHubError::Malformed {
                what,
                message: e.to_string(),
            }
        })
    }

    /// A blob's content as text.
    pub async fn blob(
        &self,
        token: &str,
        repository: &str,
        sha: &str,
    ) -> Result<String, GitHubError> {
        let what = format!("blob {sha} of {repository}");
        let body = self
            .get(
                token,
                &format!("/repos/{repository}/git/blobs/{sha}"),
                &what,
            )
            .await?;
        let malformed = |message: &str| GitHubError::Malformed {
            what: what.clone(),
            message: message.to_string(),
        };
        let content = body
            .get("content")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("no content"))?;
        match body.get("encoding").and_then(Value::as_str) {
            Some("base64") => {
                // GitHub wraps base64 content at 60 columns.
                let packed: String = content.chars().filter(|c| !c.is_whitespace()).collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(packed)
                    .map_err(|_| malformed("content is not base64"))?;
                String::from_utf8(bytes).map_err(|_| malformed("content is not UTF-8 text"))
            }
            Some("utf-8") | None => Ok(content.to_string()),
            Some(other) => Err(malformed(&format!("unknown encoding {other}"))),
        }
    }
}
