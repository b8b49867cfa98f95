//! The `github-commit` fulfillment item: the rendered files committed to a branch in one
//! commit through GitHub's Git Data API (blobs, a tree on the branch's tree, a commit, the ref
//! moved), the branch created from `baseBranch` when it does not exist, and optionally a pull
//! request. The commit message carries a `PAO-Task: <requestId>-<task>-<attempt>` trailer: a
//! redelivery after a crash finds the commit on the branch (and the open pull request) and
//! creates nothing twice. Result: `{"sha", "branch", "commitUrl", "pullRequestUrl"}`.

use super::{ActionError, ActionResult};
use crate::github::names::{Repo, check_ref, ref_path};
use crate::github::{GitHub, GitHubError, status_error};
use crate::record::ExternalRef;
use crate::template::encode_component;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommitConfig {
    repository: String,
    branch: String,
    #[serde(default)]
    base_branch: Option<String>,
    message: String,
    files: Vec<File>,
    #[serde(default)]
    pull_request: Option<PullRequest>,
}

#[derive(Debug, Deserialize)]
struct File {
    path: String,
    content: String,
}

#[derive(Debug, Deserialize)]
struct PullRequest {
    title: String,
    #[serde(default)]
    body: Option<String>,
}

pub(super) fn github_error(e: GitHubError) -> ActionError {
    match e {
        GitHubError::Transport { .. } => ActionError::Unreachable(e.to_string()),
        other => ActionError::Rejected(other.to_string()),
    }
}

/// Makes the commit (and pull request) a rendered `github-commit` config describes.
pub async fn commit(
    gh: &GitHub,
    token: &str,
    config: &Value,
    task_key: &str,
) -> Result<ActionResult, ActionError> {
    let c: CommitConfig = serde_json::from_value(config.clone())
        .map_err(|e| ActionError::Config(format!("github-commit config: {e}")))?;
    // Checked before any call: each is written into an API path.
    let repo = Repo::parse("repository", &c.repository).map_err(ActionError::Config)?;
    let base = c.base_branch.as_deref().unwrap_or("main");
    check_ref("branch", &c.branch).map_err(ActionError::Config)?;
    check_ref("baseBranch", base).map_err(ActionError::Config)?;
    let owner = repo.owner().to_string();
    let repo = repo.to_string();
    let repo = repo.as_str();
    let trailer = format!("PAO-Task: {task_key}");
    let head = match branch_head(gh, token, repo, &c.branch).await? {
        Some(sha) => sha,
        None => {
            let from = branch_head(gh, token, repo, base).await?.ok_or_else(|| {
                ActionError::Rejected(format!("{repo}: base branch {base} does not exist"))
            })?;
            create_branch(gh, token, repo, &c.branch, &from).await?
        }
    };
    let head_commit = gh
        .call_ok(
            Method::GET,
            token,
            &format!("/repos/{repo}/git/commits/{head}"),
            None,
            "the branch head commit",
        )
        .await
        .map_err(github_error)?;
    let already = head_commit
        .get("message")
        .and_then(Value::as_str)
        .is_some_and(|m| m.contains(&trailer));
    let (sha, commit_url) = if already {
        (head.clone(), html_url(&head_commit, repo, &head))
    } else {
        let mut entries = Vec::with_capacity(c.files.len());
        for f in &c.files {
            let path = f.path.trim_start_matches('/');
            if path.is_empty()
                || path
                    .split('/')
                    .any(|p| p == ".." || p == "." || p.is_empty())
            {
                return Err(ActionError::Config(format!(
                    "file path {:?} is not a repository path",
                    f.path
                )));
            }
            let blob = gh
                .call_ok(
                    Method::POST,
                    token,
                    &format!("/repos/{repo}/git/blobs"),
                    Some(&json!({"content": f.content, "encoding": "utf-8"})),
                    "a blob",
                )
                .await
                .map_err(github_error)?;
            entries
                .push(json!({"path": path, "mode": "100644", "type": "blob", "sha": blob["sha"]}));
        }
        let base_tree = head_commit
            .pointer("/tree/sha")
            .cloned()
            .unwrap_or(Value::Null);
        let tree = gh
            .call_ok(
                Method::POST,
                token,
                &format!("/repos/{repo}/git/trees"),
                Some(&json!({"base_tree": base_tree, "tree": entries})),
                "a tree",
            )
            .await
            .map_err(github_error)?;
        let commit = gh
            .call_ok(
                Method::POST,
                token,
                &format!("/repos/{repo}/git/commits"),
                Some(&json!({
                    "message": format!("{}\n\n{trailer}", c.message.trim_end()),
                    "tree": tree["sha"],
                    "parents": [head],
                })),
                "a commit",
            )
            .await
            .map_err(github_error)?;
        let sha = commit["sha"].as_str().unwrap_or_default().to_string();
        gh.call_ok(
            Method::PATCH,
            token,
            &format!("/repos/{repo}/git/refs/heads/{}", ref_path(&c.branch)),
            Some(&json!({"sha": sha, "force": false})),
            &format!("moving branch {}", c.branch),
        )
        .await
        .map_err(github_error)?;
        let url = html_url(&commit, repo, &sha);
        (sha, url)
    };
    let pull_request_url = match &c.pull_request {
        None => None,
        Some(pr) => Some(open_pull_request(gh, token, repo, &owner, &c.branch, base, pr).await?),
    };
    let link = pull_request_url
        .clone()
        .unwrap_or_else(|| commit_url.clone());
    Ok(ActionResult {
        result: json!({
            "sha": sha,
            "branch": c.branch,
            "commitUrl": commit_url,
            "pullRequestUrl": pull_request_url,
        }),
        external_ref: Some(ExternalRef {
            // By characters: the sha is GitHub's answer, and a byte slice of text that is not
            // ASCII would panic.
            key: format!("{repo}@{}", short_sha(&sha)),
            url: link,
        }),
        waiting: false,
    })
}

/// The first 12 characters of a commit sha.
fn short_sha(sha: &str) -> String {
    sha.chars().take(12).collect()
}

fn html_url(commit: &Value, repo: &str, sha: &str) -> String {
    commit
        .get("html_url")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("https://github.com/{repo}/commit/{sha}"))
}

async fn branch_head(
    gh: &GitHub,
    token: &str,
    repo: &str,
    branch: &str,
) -> Result<Option<String>, ActionError> {
    let what = format!("branch {branch} of {repo}");
    let (status, answer) = gh
        .call(
            Method::GET,
            token,
            &format!("/repos/{repo}/git/ref/heads/{}", ref_path(branch)),
            None,
            &what,
        )
        .await
        .map_err(github_error)?;
    match status {
        200 => Ok(answer
            .pointer("/object/sha")
            .and_then(Value::as_str)
            .map(str::to_string)),
        404 => Ok(None),
        _ => Err(github_error(status_error(status, &answer, &what))),
    }
}

async fn create_branch(
    gh: &GitHub,
    token: &str,
    repo: &str,
    branch: &str,
    from: &str,
) -> Result<String, ActionError> {
    let what = format!("creating branch {branch} of {repo}");
    let (status, answer) = gh
        .call(
            Method::POST,
            token,
            &format!("/repos/{repo}/git/refs"),
            Some(&json!({"ref": format!("refs/heads/{branch}"), "sha": from})),
            &what,
        )
        .await
        .map_err(github_error)?;
    match status {
        201 => Ok(from.to_string()),
        // Created meanwhile (a redelivery, or someone else): use it as it is.
        422 => branch_head(gh, token, repo, branch)
            .await?
            .ok_or_else(|| github_error(status_error(status, &answer, &what))),
        _ => Err(github_error(status_error(status, &answer, &what))),
    }
}

async fn open_pull_request(
    gh: &GitHub,
    token: &str,
    repo: &str,
    owner: &str,
    branch: &str,
    base: &str,
    pr: &PullRequest,
) -> Result<String, ActionError> {
    let open = gh
        .call_ok(
            Method::GET,
            token,
            &format!(
                "/repos/{repo}/pulls?state=open&head={}&base={}",
                encode_component(&format!("{owner}:{branch}")),
                encode_component(base)
            ),
            None,
            "the open pull requests",
        )
        .await
        .map_err(github_error)?;
    if let Some(url) = open.pointer("/0/html_url").and_then(Value::as_str) {
        return Ok(url.to_string());
    }
    let created = gh
        .call_ok(
            Method::POST,
            token,
            &format!("/repos/{repo}/pulls"),
            Some(&json!({"title": pr.title, "body": pr.body, "head": branch, "base": base})),
            "a pull request",
        )
        .await
        .map_err(github_error)?;
    Ok(created["html_url"].as_str().unwrap_or_default().to_string())
}

#[cfg(test)]
mod short_sha_tests {
    #[test]
    fn a_sha_is_cut_by_characters() {
        assert_eq!(super::short_sha("0123456789abcdef0123"), "0123456789ab");
        assert_eq!(super::short_sha("abc"), "abc");
        // Not what GitHub sends, but what a hostile or broken server might: no panic.
        assert_eq!(super::short_sha("ééééééééééééé"), "éééééééééééé");
    }
}
