//! A stand-in for GitHub that serves a real git repository (a working directory on this
//! machine, read with the `git` command) through the slice of GitHub's REST API that PAO's
//! catalog sync uses: `GET /repos/{owner}/{repo}/branches/{branch}`,
//! `GET /repos/{owner}/{repo}/git/trees/{sha}?recursive=1` and
//! `GET /repos/{owner}/{repo}/git/blobs/{sha}`, with GitHub's JSON shapes and errors
//! (`{"message": "Bad credentials"}` 401, `{"message": "Not Found"}` 404). Used by the tests
//! and the local stack; never in a deployment.

use crate::jira_standin::base64;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::TcpListener;

/// The API versions GitHub accepts in `X-GitHub-Api-Version`.
const API_VERSIONS: [&str; 2] = ["2022-11-28", "2026-03-10"];

/// A running stand-in; it stops when the handle is dropped.
pub struct GitHubStandIn {
    pub addr: SocketAddr,
    /// `owner/name` it serves.
    pub repository: String,
    pub token: String,
    /// The git working directory behind it.
    pub dir: PathBuf,
    calls: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for GitHubStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Served {
    repository: String,
    token: String,
    dir: PathBuf,
    calls: Arc<AtomicUsize>,
}

impl GitHubStandIn {
    /// Serves the git repository in `dir` as `repository` on `127.0.0.1:<port>` (0: any free
    /// port), accepting `token`.
    pub async fn start(
        port: u16,
        dir: &Path,
        repository: &str,
        token: &str,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let calls = Arc::new(AtomicUsize::new(0));
        let served = Arc::new(Served {
            repository: repository.to_string(),
            token: token.to_string(),
            dir: dir.to_path_buf(),
            calls: calls.clone(),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let served = served.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let served = served.clone();
                        async move { Ok::<_, Infallible>(handle(req, &served).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            repository: repository.to_string(),
            token: token.to_string(),
            dir: dir.to_path_buf(),
            calls,
            task,
        })
    }

    /// The API's base URL (PAO's `PAO_GITHUB_API_URL`).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many API calls it has answered.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}

/// Makes `dir` a git repository whose `main` holds a copy of the catalog repository at
/// `catalog_dir` (documents and CODEOWNERS) in one commit; returns the commit.
pub fn init_repo(dir: &Path, catalog_dir: &Path) -> std::io::Result<String> {
    std::fs::create_dir_all(dir)?;
    copy_tree(catalog_dir, dir)?;
    git(dir, &["init", "--quiet", "--initial-branch=main"])?;
    commit_all(dir, "Catalog from the local stack")
}

/// Commits everything in `dir` (additions, changes, deletions) on its current branch and
/// returns the new head.
pub fn commit_all(dir: &Path, message: &str) -> std::io::Result<String> {
    git(dir, &["add", "--all"])?;
    git(dir, &["commit", "--quiet", "--allow-empty", "-m", message])?;
    git(dir, &["rev-parse", "HEAD"]).map(|s| s.trim().to_string())
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if src.is_dir() {
            std::fs::create_dir_all(&dst)?;
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// Runs git in `dir` and returns its standard output.
fn git(dir: &Path, args: &[&str]) -> std::io::Result<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=PAO local stack",
            "-c",
            "user.email=pao@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()?;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    String::from_utf8(out.stdout).map_err(std::io::Error::other)
}

fn git_bytes(dir: &Path, args: &[&str]) -> Option<Vec<u8>> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

fn answer(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

fn not_found() -> Response<Full<Bytes>> {
    answer(
        StatusCode::NOT_FOUND,
        json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"}),
    )
}

/// Only what a git object id looks like reaches the git command.
fn is_object_id(s: &str) -> bool {
    (4..=64).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit())
}

async fn handle(req: Request<Incoming>, served: &Served) -> Response<Full<Bytes>> {
    served.calls.fetch_add(1, Ordering::Relaxed);
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let authorization = header("authorization");
    let token = authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("token "));
    if token != Some(served.token.as_str()) {
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}),
        );
    }
    let version = header("x-github-api-version");
    if !version.is_empty() && !API_VERSIONS.contains(&version.as_str()) {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"message": format!("API version '{version}' is not supported.")}),
        );
    }
    if req.method() != hyper::Method::GET {
        return not_found();
    }
    let path = req.uri().path().to_string();
    let recursive = req
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .any(|p| p == "recursive=1" || p == "recursive=true");
    let Some(rest) = path
        .strip_prefix("/repos/")
        .and_then(|r| r.strip_prefix(served.repository.as_str()))
    else {
        return not_found();
    };
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    let dir = served.dir.clone();
    let parts: Vec<String> = parts.into_iter().map(str::to_string).collect();
    let found = tokio::task::spawn_blocking(move || route(&dir, &parts, recursive))
        .await
        .ok()
        .flatten();
    match found {
        Some(body) => answer(StatusCode::OK, body),
        None => not_found(),
    }
}

fn route(dir: &Path, parts: &[String], recursive: bool) -> Option<Value> {
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
