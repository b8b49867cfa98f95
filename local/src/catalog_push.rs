//! What `make catalog-push` does on the local stack: commit what changed in the catalog
//! repository's working directory (the one the GitHub stand-in serves) and deliver the signed
//! `push` webhook GitHub would send to `POST /api/v1/webhooks/github`.

use crate::github_standin::commit_all;
use crate::runner::{LOCAL_REPOSITORY, LOCAL_WEBHOOK_SECRET};
use serde_json::{Value, json};
use std::path::Path;

/// Commits everything in `git_dir` with `message` and delivers the push to the API at `api`
/// (`http://127.0.0.1:3000/api/v1`): the webhook's status and answer.
pub async fn push(git_dir: &Path, api: &str, message: &str) -> Result<(u16, Value), String> {
    let after = commit_all(git_dir, message).map_err(|e| format!("{}: {e}", git_dir.display()))?;
    let body = json!({
        "ref": "refs/heads/main",
        "before": "0000000000000000000000000000000000000000",
        "after": after,
        "repository": {"full_name": LOCAL_REPOSITORY, "default_branch": "main"},
        "pusher": {"name": "local"},
        "head_commit": {"id": after, "message": message},
        "commits": [{"id": after, "message": message}],
    })
    .to_string();
    let delivery = uuid::Uuid::new_v4().to_string();
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks/github", api.trim_end_matches('/')))
        .header("Content-Type", "application/json")
        .header("User-Agent", "GitHub-Hookshot/pao-local")
        .header("X-GitHub-Event", "push")
        .header("X-GitHub-Delivery", &delivery)
        .header(
            "X-Hub-Signature-256",
            pao::webhook::sign(LOCAL_WEBHOOK_SECRET.as_bytes(), body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .map_err(|e| format!("delivering the push to {api}: {e}"))?;
    let status = response.status().as_u16();
    let answer = response.json().await.unwrap_or(Value::Null);
    Ok((status, answer))
}
