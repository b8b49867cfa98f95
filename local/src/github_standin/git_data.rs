//! The Git Data API over the working directory: reads (branches, refs, commits, trees, blobs)
//! and writes (blobs, trees, commits, refs), with GitHub's shapes and `422` refusals.

use super::{git, git_bytes, is_object_id};
use crate::jira_standin::base64;
use hyper::StatusCode;
use serde_json::{Value, json};
use std::path::Path;

fn unprocessable(message: &str) -> (StatusCode, Value) {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": "422"}),
    )
}

/// Git Data API writes: blobs, trees, commits and refs.
pub(super) fn write(
    dir: &Path,
    repository: &str,
    api: &str,
    method: &hyper::Method,
    rest: &[String],
    body: &Value,
) -> Option<(StatusCode, Value)> {
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match (method.as_str(), rest) {
        ("POST", [g, blobs]) if g == "git" && blobs == "blobs" => {
            let content = text("content");
            let sha = git_stdin(dir, &["hash-object", "-w", "--stdin"], content.as_bytes())?;
            Some((
                StatusCode::CREATED,
                json!({"sha": sha, "url": format!("{api}/repos/{repository}/git/blobs/{sha}")}),
            ))
        }
        ("POST", [g, trees]) if g == "git" && trees == "trees" => {
            let index = dir.join(format!(".git/pao-index-{}", uuid::Uuid::new_v4().simple()));
            let env = [("GIT_INDEX_FILE", index.as_os_str())];
            if let Some(base) = body.get("base_tree").and_then(Value::as_str) {
                git_env(dir, &["read-tree", base], &env)?;
            }
            for entry in body
                .get("tree")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let path = entry.get("path").and_then(Value::as_str)?;
                let mode = entry
                    .get("mode")
                    .and_then(Value::as_str)
                    .unwrap_or("100644");
                let sha = match entry.get("sha").and_then(Value::as_str) {
                    Some(sha) => sha.to_string(),
                    None => {
                        let content = entry.get("content").and_then(Value::as_str)?;
                        git_stdin(dir, &["hash-object", "-w", "--stdin"], content.as_bytes())?
                    }
                };
                git_env(
                    dir,
                    &[
                        "update-index",
                        "--add",
                        "--cacheinfo",
                        &format!("{mode},{sha},{path}"),
                    ],
                    &env,
                )?;
            }
            let tree = git_env(dir, &["write-tree"], &env)?;
            let _ = std::fs::remove_file(&index);
            Some((
                StatusCode::CREATED,
                json!({"sha": tree.trim(), "truncated": false}),
            ))
        }
        ("POST", [g, commits]) if g == "git" && commits == "commits" => {
            let tree = text("tree");
            let message = text("message");
            let mut args = vec![
                "commit-tree".to_string(),
                tree.clone(),
                "-m".into(),
                message.clone(),
            ];
            for parent in body
                .get("parents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                args.push("-p".into());
                args.push(parent.as_str()?.to_string());
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let sha = git(dir, &args).ok()?.trim().to_string();
            Some((
                StatusCode::CREATED,
                commit_json(repository, &sha, &message, &tree),
            ))
        }
        ("POST", [g, refs]) if g == "git" && refs == "refs" => {
            let name = text("ref");
            let sha = text("sha");
            if !name.starts_with("refs/heads/") || name.contains("..") {
                return Some(unprocessable("Reference name is not valid"));
            }
            if git(dir, &["rev-parse", "--verify", "--quiet", &name]).is_ok() {
                return Some(unprocessable("Reference already exists"));
            }
            git(dir, &["update-ref", &name, &sha]).ok()?;
            Some((
                StatusCode::CREATED,
                json!({"ref": name, "object": {"sha": sha, "type": "commit"}}),
            ))
        }
        ("PATCH", [g, refs, heads, branch @ ..])
            if g == "git" && refs == "refs" && heads == "heads" =>
        {
            let name = format!("refs/heads/{}", branch.join("/"));
            let sha = text("sha");
            let old = git(dir, &["rev-parse", "--verify", "--quiet", &name]).ok()?;
            let force = body.get("force").and_then(Value::as_bool).unwrap_or(false);
            if !force && git(dir, &["merge-base", "--is-ancestor", old.trim(), &sha]).is_err() {
                return Some(unprocessable("Update is not a fast forward"));
            }
            git(dir, &["update-ref", &name, &sha, old.trim()]).ok()?;
            Some((
                StatusCode::OK,
                json!({"ref": name, "object": {"sha": sha, "type": "commit"}}),
            ))
        }
        _ => None,
    }
}

fn commit_json(repository: &str, sha: &str, message: &str, tree: &str) -> Value {
    json!({
        "sha": sha, "message": message, "tree": {"sha": tree},
        "html_url": format!("https://github.com/{repository}/commit/{sha}"),
    })
}

fn git_stdin(dir: &Path, args: &[&str], input: &[u8]) -> Option<String> {
    use std::io::Write;
    let mut child = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(input).ok()?;
    let out = child.wait_with_output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn git_env(dir: &Path, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .envs(env.iter().copied())
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(super) fn route(dir: &Path, parts: &[String], recursive: bool) -> Option<Value> {
    match parts {
        [branches, branch @ ..] if branches == "branches" && !branch.is_empty() => {
            let name = branch.join("/");
            if name.starts_with('-') || name.contains("..") {
                return None;
            }
            let sha = git(
                dir,
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("refs/heads/{name}^{{commit}}"),
                ],
            )
            .ok()?;
            let sha = sha.trim();
            Some(
                json!({"name": name, "commit": {"sha": sha, "url": format!("/commits/{sha}")}, "protected": false}),
            )
        }
        [g, r, heads, branch @ ..]
            if g == "git" && r == "ref" && heads == "heads" && !branch.is_empty() =>
        {
            let name = format!("refs/heads/{}", branch.join("/"));
            if name.contains("..") {
                return None;
            }
            let sha = git(
                dir,
                &[
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    &format!("{name}^{{commit}}"),
                ],
            )
            .ok()?;
            Some(json!({"ref": name, "object": {"sha": sha.trim(), "type": "commit"}}))
        }
        [g, commits, sha] if g == "git" && commits == "commits" && is_object_id(sha) => {
            let message = git(dir, &["log", "-1", "--format=%B", sha]).ok()?;
            let tree = git(dir, &["rev-parse", &format!("{sha}^{{tree}}")]).ok()?;
            Some(json!({"sha": sha, "message": message.trim_end(), "tree": {"sha": tree.trim()}}))
        }
        [g, trees, sha] if g == "git" && trees == "trees" && is_object_id(sha) => {
            let mut args = vec!["ls-tree", "--full-tree"];
            if recursive {
                args.extend(["-r", "-t"]);
            }
            args.push(sha);
            let listing = git(dir, &args).ok()?;
            let tree: Vec<Value> = listing
                .lines()
                .filter_map(|line| {
                    let (meta, path) = line.split_once('\t')?;
                    let mut meta = meta.split_whitespace();
                    let (mode, kind, object) = (meta.next()?, meta.next()?, meta.next()?);
                    Some(json!({"path": path, "mode": mode, "type": kind, "sha": object}))
                })
                .collect();
            Some(json!({"sha": sha, "tree": tree, "truncated": false}))
        }
        [g, blobs, sha] if g == "git" && blobs == "blobs" && is_object_id(sha) => {
            let kind = git(dir, &["cat-file", "-t", sha]).ok()?;
            if kind.trim() != "blob" {
                return None;
            }
            let bytes = git_bytes(dir, &["cat-file", "blob", sha])?;
            // GitHub wraps base64 content at 60 columns.
            let encoded = base64(&bytes);
            let wrapped: Vec<&str> = encoded
                .as_bytes()
                .chunks(60)
                .filter_map(|c| std::str::from_utf8(c).ok())
                .collect();
            Some(
                json!({"sha": sha, "size": bytes.len(), "content": wrapped.join("\n"), "encoding": "base64"}),
            )
        }
        _ => None,
    }
}
