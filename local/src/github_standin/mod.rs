//! A stand-in for GitHub that serves real git repositories (working directories on this
//! machine, read and written with the `git` command) through the slice of GitHub's REST API
//! PAO uses, with GitHub's JSON shapes and errors (`{"message": "Bad credentials"}` 401,
//! `{"message": "Not Found"}` 404, `422` with `errors`):
//!
//! - catalog sync: `GET branches/{branch}`, `GET git/trees/{sha}?recursive=1`, `GET git/blobs/{sha}`;
//! - `github-commit`: `GET|POST|PATCH git/ref(s)`, `GET git/commits/{sha}`, `POST git/blobs`,
//!   `POST git/trees`, `POST git/commits`, `GET|POST pulls`;
//! - `github-workflow`: `POST actions/workflows/{id}/dispatches` (with `return_run_details`,
//!   which can be refused as older servers do), `GET actions/workflows/{id}/runs`,
//!   `GET actions/runs/{id}`; a run is completed by the test (or after a delay in the local
//!   stack), and then a signed `workflow_run` webhook is delivered where PAO listens.
//!
//! Repositories other than the first are created empty (one commit on `main`) when first
//! named. Used by the tests and the local stack; never in a deployment.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

mod actions;
mod git_data;

use actions::{actions, complete, pulls};
use git_data::{route, write};

/// The API versions GitHub accepts in `X-GitHub-Api-Version`.
const API_VERSIONS: [&str; 2] = ["2022-11-28", "2026-03-10"];

/// A running stand-in; it stops when the handle is dropped.
pub struct GitHubStandIn {
    pub addr: SocketAddr,
    /// `owner/name` of the repository it was started with.
    pub repository: String,
    pub token: String,
    /// The git working directory behind it.
    pub dir: PathBuf,
    calls: Arc<AtomicUsize>,
    extra: Arc<Mutex<Extra>>,
    task: tokio::task::JoinHandle<()>,
}

/// A workflow run.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: u64,
    pub repository: String,
    pub workflow: String,
    pub head_branch: String,
    pub inputs: Value,
    pub status: String,
    pub conclusion: Option<String>,
    pub display_title: String,
}

impl Run {
    fn json(&self, api: &str) -> Value {
        json!({
            "id": self.id, "name": self.workflow, "display_title": self.display_title,
            "status": self.status, "conclusion": self.conclusion, "event": "workflow_dispatch",
            "head_branch": self.head_branch, "run_attempt": 1, "path": format!(".github/workflows/{}", self.workflow),
            "html_url": format!("https://github.com/{}/actions/runs/{}", self.repository, self.id),
            "url": format!("{api}/repos/{}/actions/runs/{}", self.repository, self.id),
        })
    }
}

#[derive(Debug, Default)]
struct Extra {
    repos: HashMap<String, PathBuf>,
    pulls: Vec<Value>,
    runs: Vec<Run>,
    refuse_run_details: bool,
    /// Where a `workflow_run` webhook goes, and the secret it is signed with.
    notify: Option<(String, String)>,
    /// Runs complete by themselves after this long, with this conclusion.
    auto_complete: Option<(Duration, String)>,
    /// How long every answer takes.
    delay: Duration,
    /// A refused token is quoted in the answer (a broken or hostile server).
    echo_token: bool,
}

impl Drop for GitHubStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Served {
    token: String,
    /// Where repositories created on first use live.
    root: PathBuf,
    api: String,
    calls: Arc<AtomicUsize>,
    extra: Arc<Mutex<Extra>>,
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
        let extra = Arc::new(Mutex::new(Extra {
            repos: HashMap::from([(repository.to_string(), dir.to_path_buf())]),
            ..Extra::default()
        }));
        let root = dir.with_extension("repos");
        let served = Arc::new(Served {
            token: token.to_string(),
            root,
            api: format!("http://{addr}"),
            calls: calls.clone(),
            extra: extra.clone(),
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
            extra,
            task,
        })
    }

    fn extra(&self) -> std::sync::MutexGuard<'_, Extra> {
        self.extra.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The workflow runs dispatched so far.
    pub fn runs(&self) -> Vec<Run> {
        self.extra().runs.clone()
    }

    /// The pull requests opened so far.
    pub fn pulls(&self) -> Vec<Value> {
        self.extra().pulls.clone()
    }

    /// The working directory of `repository`, if it exists.
    pub fn repository_dir(&self, repository: &str) -> Option<PathBuf> {
        self.extra().repos.get(repository).cloned()
    }

    /// Answers `return_run_details` as servers from before February 2026 do (422).
    pub fn refuse_run_details(&self, refuse: bool) {
        self.extra().refuse_run_details = refuse;
    }

    /// Delivers a signed `workflow_run` webhook to `url` when a run completes.
    pub fn notify(&self, url: &str, secret: &str) {
        self.extra().notify = Some((url.to_string(), secret.to_string()));
    }

    /// A refused call's answer quotes the Authorization header it came with.
    pub fn echo_token(&self, on: bool) {
        self.extra().echo_token = on;
    }

    /// Every answer takes `delay` (a slow server).
    pub fn delay(&self, delay: Duration) {
        self.extra().delay = delay;
    }

    /// Runs complete by themselves `after` their dispatch, with `conclusion`.
    pub fn auto_complete(&self, after: Duration, conclusion: &str) {
        self.extra().auto_complete = Some((after, conclusion.to_string()));
    }

    /// Completes a run with `conclusion` (`success`, `failure`, …) and delivers the webhook.
    pub async fn complete_run(&self, id: u64, conclusion: &str) {
        complete(&self.extra, &self.api_url(), id, conclusion).await;
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
    let delay = served.extra.lock().map(|e| e.delay).unwrap_or_default();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
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
        let echo = served.extra.lock().map(|e| e.echo_token).unwrap_or(false);
        let message = if echo {
            format!("Bad credentials: {authorization}")
        } else {
            "Bad credentials".to_string()
        };
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": "401"}),
        );
    }
    let version = header("x-github-api-version");
    if !version.is_empty() && !API_VERSIONS.contains(&version.as_str()) {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"message": format!("API version '{version}' is not supported.")}),
        );
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), crate::sigv4::percent_decode(v)))
        .collect();
    let body: Value = req
        .into_body()
        .collect()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b.to_bytes()).ok())
        .unwrap_or(Value::Null);
    let parts: Vec<String> = path
        .strip_prefix("/repos/")
        .unwrap_or_default()
        .split('/')
        .filter(|p| !p.is_empty())
        // As GitHub does: a ref's components arrive percent-encoded.
        .map(crate::sigv4::percent_decode)
        .collect();
    if parts.len() < 3 {
        return not_found();
    }
    let repository = format!("{}/{}", parts[0], parts[1]);
    let Some(dir) = repository_dir(served, &repository) else {
        return not_found();
    };
    let rest: Vec<String> = parts[2..].to_vec();
    // Workflows and pull requests live in memory; everything else is git.
    if rest.first().map(String::as_str) == Some("actions") {
        return actions(served, &repository, &method, &rest, &body).await;
    }
    if rest.first().map(String::as_str) == Some("pulls") {
        return pulls(served, &repository, &method, &query, &body);
    }
    let api = served.api.clone();
    let found = tokio::task::spawn_blocking(move || {
        if method == hyper::Method::GET {
            let recursive = matches!(
                query.get("recursive").map(String::as_str),
                Some("1" | "true")
            );
            route(&dir, &rest, recursive).map(|b| (StatusCode::OK, b))
        } else {
            write(&dir, &repository, &api, &method, &rest, &body)
        }
    })
    .await
    .ok()
    .flatten();
    match found {
        Some((status, body)) => answer(status, body),
        None => not_found(),
    }
}

/// The working directory of `repository`, made (empty, one commit on `main`) on first use.
fn repository_dir(served: &Served, repository: &str) -> Option<PathBuf> {
    let mut extra = served.extra.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = extra.repos.get(repository) {
        return Some(dir.clone());
    }
    let valid = |p: &str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !p.starts_with('.')
    };
    let (owner, name) = repository.split_once('/')?;
    if !valid(owner) || !valid(name) {
        return None;
    }
    let dir = served.root.join(owner).join(name);
    std::fs::create_dir_all(&dir).ok()?;
    git(&dir, &["init", "--quiet", "--initial-branch=main"]).ok()?;
    std::fs::write(dir.join("README.md"), format!("# {repository}\n")).ok()?;
    commit_all(&dir, "Initial commit").ok()?;
    extra.repos.insert(repository.to_string(), dir.clone());
    Some(dir)
}
