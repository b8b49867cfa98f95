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

use crate::jira_standin::base64;
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
        .map(str::to_string)
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

fn unprocessable(message: &str) -> (StatusCode, Value) {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": "422"}),
    )
}

/// Git Data API writes: blobs, trees, commits and refs.
fn write(
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

fn pulls(
    served: &Served,
    repository: &str,
    method: &hyper::Method,
    query: &HashMap<String, String>,
    body: &Value,
) -> Response<Full<Bytes>> {
    let mut extra = served.extra.lock().unwrap_or_else(|e| e.into_inner());
    if method == hyper::Method::GET {
        let head = query
            .get("head")
            .map(|h| h.split_once(':').map_or(h.as_str(), |(_, b)| b).to_string());
        let open: Vec<Value> = extra
            .pulls
            .iter()
            .filter(|p| p["base"]["repo"]["full_name"] == json!(repository))
            .filter(|p| head.as_ref().is_none_or(|h| p["head"]["ref"] == json!(h)))
            .cloned()
            .collect();
        return answer(StatusCode::OK, Value::Array(open));
    }
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let number = extra.pulls.len() + 1;
    let pull = json!({
        "number": number, "state": "open", "title": text("title"), "body": body.get("body"),
        "html_url": format!("https://github.com/{repository}/pull/{number}"),
        "head": {"ref": text("head")}, "base": {"ref": text("base"), "repo": {"full_name": repository}},
    });
    extra.pulls.push(pull.clone());
    answer(StatusCode::CREATED, pull)
}

async fn actions(
    served: &Served,
    repository: &str,
    method: &hyper::Method,
    rest: &[String],
    body: &Value,
) -> Response<Full<Bytes>> {
    let api = served.api.clone();
    match (method.as_str(), rest) {
        ("POST", [_, workflows, workflow, dispatches])
            if workflows == "workflows" && dispatches == "dispatches" =>
        {
            let details = body
                .get("return_run_details")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let (id, auto) = {
                let mut extra = served.extra.lock().unwrap_or_else(|e| e.into_inner());
                if details && extra.refuse_run_details {
                    return answer(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        json!({"message": "Invalid request.\n\n\"return_run_details\" is not a permitted key.", "status": "422"}),
                    );
                }
                let inputs = body.get("inputs").cloned().unwrap_or(json!({}));
                let id = 9_000_000 + extra.runs.len() as u64 + 1;
                let display_title = inputs
                    .get("pao_task_id")
                    .and_then(Value::as_str)
                    .map_or_else(|| workflow.clone(), str::to_string);
                extra.runs.push(Run {
                    id,
                    repository: repository.to_string(),
                    workflow: workflow.clone(),
                    head_branch: body
                        .get("ref")
                        .and_then(Value::as_str)
                        .unwrap_or("main")
                        .to_string(),
                    inputs,
                    status: "queued".into(),
                    conclusion: None,
                    display_title,
                });
                (id, extra.auto_complete.clone())
            };
            if let Some((after, conclusion)) = auto {
                let (extra, api) = (served.extra.clone(), api.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    complete(&extra, &api, id, &conclusion).await;
                });
            }
            if details {
                answer(
                    StatusCode::OK,
                    json!({
                        "workflow_run_id": id,
                        "run_url": format!("{api}/repos/{repository}/actions/runs/{id}"),
                        "html_url": format!("https://github.com/{repository}/actions/runs/{id}"),
                    }),
                )
            } else {
                let mut r = answer(StatusCode::NO_CONTENT, Value::Null);
                *r.body_mut() = Full::new(Bytes::new());
                r
            }
        }
        ("GET", [_, workflows, workflow, runs]) if workflows == "workflows" && runs == "runs" => {
            let extra = served.extra.lock().unwrap_or_else(|e| e.into_inner());
            let found: Vec<Value> = extra
                .runs
                .iter()
                .rev()
                .filter(|r| r.repository == repository && r.workflow == *workflow)
                .map(|r| r.json(&api))
                .collect();
            answer(
                StatusCode::OK,
                json!({"total_count": found.len(), "workflow_runs": found}),
            )
        }
        ("GET", [_, runs, id]) if runs == "runs" => {
            let extra = served.extra.lock().unwrap_or_else(|e| e.into_inner());
            match extra
                .runs
                .iter()
                .find(|r| r.repository == repository && r.id.to_string() == *id)
            {
                Some(run) => answer(StatusCode::OK, run.json(&api)),
                None => not_found(),
            }
        }
        _ => not_found(),
    }
}

/// Completes a run and, when PAO listens, delivers the signed `workflow_run` webhook.
async fn complete(extra: &Mutex<Extra>, api: &str, id: u64, conclusion: &str) {
    let (run, notify) = {
        let mut extra = extra.lock().unwrap_or_else(|e| e.into_inner());
        let Some(run) = extra.runs.iter_mut().find(|r| r.id == id) else {
            return;
        };
        run.status = "completed".into();
        run.conclusion = Some(conclusion.to_string());
        (run.clone(), extra.notify.clone())
    };
    let Some((url, secret)) = notify else {
        return;
    };
    let body = json!({
        "action": "completed",
        "workflow_run": run.json(api),
        "repository": {"full_name": run.repository},
    })
    .to_string();
    let _ = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-GitHub-Event", "workflow_run")
        .header("X-GitHub-Delivery", uuid::Uuid::new_v4().to_string())
        .header(
            "X-Hub-Signature-256",
            pao::webhook::sign(secret.as_bytes(), body.as_bytes()),
        )
        .body(body)
        .send()
        .await;
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
