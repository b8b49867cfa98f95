//! A stand-in for JIRA that speaks the slice of its REST API that PAO uses (create issue,
//! get issue with its status, resolution and comments, transitions, comments, search by
//! label), with JIRA-shaped errors, a switch to make it fail and a delay to make it slow. A
//! person working a ticket is [`JiraStandIn::resolve`] (or the transitions route). Used by the
//! tests and the local stack; never in a deployment.
//!
//! It is Jira Cloud by default (basic auth; search at `GET /rest/api/3/search/jql`, token
//! paged; the removed `/rest/api/2/search` answers 410 as Cloud does since 2025), or Jira Data
//! Center ([`JiraStandIn::start_data_center`]: a personal access token as Bearer; search at
//! `GET /rest/api/2/search`).

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
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

mod encoding;
mod issue;
mod webhook;
pub use encoding::base64;
use encoding::{base64_decode, percent_decode};
pub use issue::Issue;
use issue::{TRANSITIONS, now_jira};
pub use webhook::Delivery;
use webhook::{deliver, resolve_in};

#[derive(Debug, Default)]
struct State {
    issues: Vec<Issue>,
    counters: HashMap<String, u32>,
    fail_with: Option<u16>,
    /// Creates that succeed before every call fails (a crash halfway, as PAO sees it).
    fail_after_creates: Option<u32>,
    create_calls: u32,
    /// (blocker, blocked) of every "Blocks" link.
    links: Vec<(String, String)>,
    delay: std::time::Duration,
    /// The next create is made, but its answer is lost (a timeout after JIRA acted).
    lose_next_create_answer: bool,
    /// Injected failures quote the credentials they were sent (a broken or hostile server).
    echo_credentials: bool,
    /// Where `jira:issue_updated` webhooks go, and the secret they are signed with (None:
    /// a Data Center webhook, unsigned, its token in the URL).
    notify: Option<(String, Option<String>)>,
    /// Every webhook delivered (or attempted), oldest first.
    deliveries: Vec<Delivery>,
    /// Tickets resolve by themselves this long after they are created, with this resolution
    /// and these fields (the local stack's person working tickets).
    auto_resolve: Option<(std::time::Duration, String, Value)>,
}

/// A running stand-in; it stops when the handle is dropped.
pub struct JiraStandIn {
    pub addr: SocketAddr,
    pub email: String,
    pub api_token: String,
    pub data_center: bool,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JiraStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl JiraStandIn {
    /// Starts on `127.0.0.1:<port>` (0: any free port), accepting `email` / `api_token`.
    pub async fn start(port: u16, email: &str, api_token: &str) -> std::io::Result<Self> {
        let expected = format!(
            "Basic {}",
            base64(format!("{email}:{api_token}").as_bytes())
        );
        Self::serve(port, email, api_token, expected, false).await
    }

    /// Starts a Jira Data Center stand-in accepting the personal access token `token`.
    pub async fn start_data_center(port: u16, token: &str) -> std::io::Result<Self> {
        Self::serve(port, "", token, format!("Bearer {token}"), true).await
    }

    async fn serve(
        port: u16,
        email: &str,
        api_token: &str,
        expected: String,
        data_center: bool,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let base = format!("http://{addr}");
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                let expected = expected.clone();
                let base = base.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        let expected = expected.clone();
                        let base = base.clone();
                        async move {
                            Ok::<_, Infallible>(
                                handle(req, &state, &expected, &base, data_center).await,
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            email: email.into(),
            api_token: api_token.into(),
            data_center,
            state,
            task,
        })
    }

    /// From now on, every change of an issue's status delivers a `jira:issue_updated` webhook
    /// to `url`, signed with `secret` as Jira Cloud signs admin webhooks (`X-Hub-Signature:
    /// sha256=<hex>`), or unsigned (None) as Data Center sends them.
    pub fn notify(&self, url: &str, secret: Option<&str>) {
        if let Ok(mut s) = self.state.lock() {
            s.notify = Some((url.to_string(), secret.map(str::to_string)));
        }
    }

    /// The webhooks delivered so far, oldest first (answered once each has been).
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state
            .lock()
            .map(|s| s.deliveries.clone())
            .unwrap_or_default()
    }

    /// From now on, a new ticket resolves by itself `after` its creation with `resolution`
    /// and `fields` set, as if a person worked it (the local stack's default).
    pub fn auto_resolve(&self, after: std::time::Duration, resolution: &str, fields: Value) {
        if let Ok(mut s) = self.state.lock() {
            s.auto_resolve = Some((after, resolution.to_string(), fields));
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `pao/jira` secret value that points at this stand-in as instance `name`.
    pub fn secret(&self, name: &str) -> String {
        let deployment = if self.data_center {
            "datacenter"
        } else {
            "cloud"
        };
        json!({"instances": {name: {"baseUrl": self.base_url(), "email": self.email, "apiToken": self.api_token, "deployment": deployment}}}).to_string()
    }

    /// From now on, answer every call only after `delay` (a slow JIRA).
    pub fn delay(&self, delay: std::time::Duration) {
        if let Ok(mut s) = self.state.lock() {
            s.delay = delay;
        }
    }

    /// Every issue created so far, oldest first.
    pub fn issues(&self) -> Vec<Issue> {
        self.state
            .lock()
            .map(|s| s.issues.clone())
            .unwrap_or_default()
    }

    /// How many create-issue calls arrived (including failed ones).
    pub fn create_calls(&self) -> u32 {
        self.state.lock().map(|s| s.create_calls).unwrap_or(0)
    }

    /// "Blocks" links made so far, as (blocker, blocked).
    pub fn links(&self) -> Vec<(String, String)> {
        self.state
            .lock()
            .map(|s| s.links.clone())
            .unwrap_or_default()
    }

    /// The next issue is created, but the caller gets a 504 instead of its answer: JIRA acted
    /// and the answer was lost on the way (a gateway or client timeout).
    pub fn lose_next_create_answer(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.lose_next_create_answer = true;
        }
    }

    /// After `n` more issues are created, answer every create with 503 (None: behave).
    pub fn fail_after_creates(&self, n: Option<u32>) {
        if let Ok(mut s) = self.state.lock() {
            s.fail_after_creates = n.map(|n| n + s.issues.len() as u32);
        }
    }

    /// Injected failures quote the Authorization header they received, as it came and
    /// decoded (what a broken or hostile server might do).
    pub fn echo_credentials(&self, on: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.echo_credentials = on;
        }
    }

    /// A person resolves `key`: its status becomes done with `resolution`, `fields` (an
    /// object) are set on it (what an engineer types into the ticket), and `comment`, if any,
    /// is added; the webhook is delivered where [`JiraStandIn::notify`] said. False when
    /// there is no such issue.
    pub fn resolve(
        &self,
        key: &str,
        resolution: &str,
        fields: Value,
        comment: Option<&str>,
    ) -> bool {
        resolve_in(
            &self.state,
            &self.base_url(),
            key,
            resolution,
            fields,
            comment,
        )
    }

    /// A person moves `key` to a status that is not done (`In Progress`, or back to `To Do`):
    /// any resolution is cleared, as JIRA's workflows do.
    pub fn reopen(&self, key: &str, status: &str) -> bool {
        let Ok(mut s) = self.state.lock() else {
            return false;
        };
        let Some(issue) = s.issues.iter_mut().find(|i| i.key == key) else {
            return false;
        };
        let category = if status == "To Do" {
            "new"
        } else {
            "indeterminate"
        };
        issue.status = (status.to_string(), category.to_string());
        issue.resolution = None;
        issue.updated = now_jira();
        true
    }

    /// From now on, answer every call with this status (None: behave).
    pub fn fail_with(&self, status: Option<u16>) {
        if let Ok(mut s) = self.state.lock() {
            s.fail_with = status;
        }
    }
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn jira_error(status: StatusCode, messages: &[&str], errors: Value) -> Response<Full<Bytes>> {
    reply(status, json!({"errorMessages": messages, "errors": errors}))
}

async fn handle(
    req: Request<Incoming>,
    state: &Arc<Mutex<State>>,
    expected_auth: &str,
    base: &str,
    data_center: bool,
) -> Response<Full<Bytes>> {
    let delay = state.lock().map(|s| s.delay).unwrap_or_default();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let received = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let authorized = received == expected_auth;
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if !authorized {
        return jira_error(
            StatusCode::UNAUTHORIZED,
            &["You are not authenticated."],
            json!({}),
        );
    }
    let Ok(mut s) = state.lock() else {
        return jira_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &["stand-in state poisoned"],
            json!({}),
        );
    };
    if method == hyper::Method::POST && path == "/rest/api/2/issue" {
        s.create_calls += 1;
    }
    let creating = method == hyper::Method::POST && path == "/rest/api/2/issue";
    if creating
        && s.fail_after_creates
            .is_some_and(|n| s.issues.len() as u32 >= n)
    {
        return jira_error(
            StatusCode::SERVICE_UNAVAILABLE,
            &["Service unavailable (stand-in failure injected)"],
            json!({}),
        );
    }
    if let Some(code) = s.fail_with {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if s.echo_credentials {
            let decoded = received
                .strip_prefix("Basic ")
                .and_then(|b| base64_decode(b.trim()))
                .unwrap_or_default();
            let echoed = format!("request with {received} ({decoded}) refused");
            return jira_error(status, &[&echoed], json!({"auth": received}));
        }
        return jira_error(
            status,
            &["Internal server error (stand-in failure injected)"],
            json!({}),
        );
    }
    match (method.as_str(), path.as_str()) {
        ("POST", "/rest/api/2/issue") => {
            let Ok(doc) = serde_json::from_slice::<Value>(&body) else {
                return jira_error(
                    StatusCode::BAD_REQUEST,
                    &["Unexpected character in request body"],
                    json!({}),
                );
            };
            let fields = doc.get("fields").cloned().unwrap_or(Value::Null);
            let mut errors = serde_json::Map::new();
            let project = fields
                .pointer("/project/key")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if project.is_empty() {
                errors.insert("project".into(), json!("project is required"));
            }
            if fields
                .pointer("/issuetype/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .is_empty()
            {
                errors.insert("issuetype".into(), json!("issue type is required"));
            }
            if fields
                .get("summary")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .is_empty()
            {
                errors.insert(
                    "summary".into(),
                    json!("You must specify a summary of the issue."),
                );
            }
            // Jira Cloud identifies users by accountId only (the GDPR migration removed
            // user names from its API); Data Center by name.
            if let Some(assignee) = fields.get("assignee") {
                let by = if data_center { "name" } else { "accountId" };
                if assignee.get(by).and_then(Value::as_str).is_none() {
                    errors.insert(
                        "assignee".into(),
                        json!(format!("Specify the assignee by {by}")),
                    );
                }
            }
            if !errors.is_empty() {
                return jira_error(StatusCode::BAD_REQUEST, &[], Value::Object(errors));
            }
            let n = {
                let c = s.counters.entry(project.clone()).or_insert(0);
                *c += 1;
                *c
            };
            let id = (10_000 + s.issues.len() + 1).to_string();
            let key = format!("{project}-{n}");
            s.issues.push(Issue {
                id: id.clone(),
                key: key.clone(),
                fields,
                status: ("To Do".into(), "new".into()),
                resolution: None,
                comments: Vec::new(),
                updated: now_jira(),
            });
            if std::mem::take(&mut s.lose_next_create_answer) {
                return jira_error(
                    StatusCode::GATEWAY_TIMEOUT,
                    &["Gateway timeout (stand-in: the issue was created, the answer lost)"],
                    json!({}),
                );
            }
            if let Some((after, resolution, fields)) = s.auto_resolve.clone() {
                let (state, base, key) = (state.clone(), base.to_string(), key.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    resolve_in(&state, &base, &key, &resolution, fields, None);
                });
            }
            reply(
                StatusCode::CREATED,
                json!({"id": id, "key": key, "self": format!("{base}/rest/api/2/issue/{id}")}),
            )
        }
        ("POST", "/rest/api/2/issueLink") => {
            let doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let blocker = doc.pointer("/outwardIssue/key").and_then(Value::as_str);
            let blocked = doc.pointer("/inwardIssue/key").and_then(Value::as_str);
            let known = |k: &str| s.issues.iter().any(|i| i.key == k);
            match (blocker, blocked) {
                (Some(a), Some(b)) if known(a) && known(b) => {
                    let link = (a.to_string(), b.to_string());
                    // JIRA keeps one link of a type between two issues.
                    if !s.links.contains(&link) {
                        s.links.push(link);
                    }
                    reply(StatusCode::CREATED, Value::Null)
                }
                _ => jira_error(StatusCode::NOT_FOUND, &["Issue Does Not Exist"], json!({})),
            }
        }
        ("GET", "/rest/api/2/search") if !data_center => jira_error(
            StatusCode::GONE,
            &[
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.",
            ],
            json!({}),
        ),
        ("GET", "/rest/api/2/search" | "/rest/api/3/search/jql")
            if data_center == path.starts_with("/rest/api/2/") =>
        {
            let jql = query
                .split('&')
                .find_map(|p| p.strip_prefix("jql="))
                .map(percent_decode)
                .unwrap_or_default();
            let label = jql.split('"').nth(1).unwrap_or_default().to_string();
            let found: Vec<Value> = s
                .issues
                .iter()
                .filter(|i| {
                    i.fields
                        .get("labels")
                        .and_then(Value::as_array)
                        .is_some_and(|l| l.iter().any(|x| x.as_str() == Some(label.as_str())))
                })
                .map(|i| json!({"id": i.id, "key": i.key}))
                .collect();
            if data_center {
                reply(
                    StatusCode::OK,
                    json!({"startAt": 0, "maxResults": 50, "total": found.len(), "issues": found}),
                )
            } else {
                reply(StatusCode::OK, json!({"issues": found, "isLast": true}))
            }
        }
        ("GET", p) if p.starts_with("/rest/api/2/issue/") && p.ends_with("/transitions") => {
            let key =
                percent_decode(&p["/rest/api/2/issue/".len()..p.len() - "/transitions".len()]);
            if !s.issues.iter().any(|i| i.key == key || i.id == key) {
                return jira_error(StatusCode::NOT_FOUND, &["Issue Does Not Exist"], json!({}));
            }
            let transitions: Vec<Value> = TRANSITIONS
                .iter()
                .map(|(id, name, to, category)| {
                    json!({"id": id, "name": name,
                    "to": {"name": to, "statusCategory": {"key": category, "name": to}}})
                })
                .collect();
            reply(StatusCode::OK, json!({"transitions": transitions}))
        }
        ("POST", p) if p.starts_with("/rest/api/2/issue/") && p.ends_with("/transitions") => {
            let key =
                percent_decode(&p["/rest/api/2/issue/".len()..p.len() - "/transitions".len()]);
            let doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let wanted = doc.pointer("/transition/id").and_then(Value::as_str);
            let Some(&(_, _, to, category)) = TRANSITIONS.iter().find(|t| Some(t.0) == wanted)
            else {
                return jira_error(
                    StatusCode::BAD_REQUEST,
                    &[],
                    json!({"transition": "Transition id is not valid"}),
                );
            };
            let resolution = doc
                .pointer("/fields/resolution/name")
                .and_then(Value::as_str)
                .map(str::to_string);
            let Some(i) = s.issues.iter_mut().find(|i| i.key == key || i.id == key) else {
                return jira_error(StatusCode::NOT_FOUND, &["Issue Does Not Exist"], json!({}));
            };
            let before = i.status.0.clone();
            i.status = (to.into(), category.into());
            i.resolution =
                (category == "done").then(|| resolution.unwrap_or_else(|| "Done".into()));
            // A transition screen may set fields too (what the engineer typed).
            if let (Some(f), Some(set)) = (
                i.fields.as_object_mut(),
                doc.get("fields").and_then(Value::as_object),
            ) {
                f.extend(
                    set.iter()
                        .filter(|(k, _)| *k != "resolution")
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
            }
            if let Some(text) = doc
                .pointer("/update/comment/0/add/body")
                .and_then(Value::as_str)
            {
                i.comments.push(text.to_string());
            }
            i.updated = now_jira();
            let issue = i.clone();
            drop(s);
            deliver(state, base, &issue, &before);
            reply(StatusCode::NO_CONTENT, Value::Null)
        }
        ("POST", p) if p.starts_with("/rest/api/2/issue/") && p.ends_with("/comment") => {
            let key = percent_decode(&p["/rest/api/2/issue/".len()..p.len() - "/comment".len()]);
            let doc: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let Some(text) = doc.get("body").and_then(Value::as_str) else {
                return jira_error(
                    StatusCode::BAD_REQUEST,
                    &[],
                    json!({"comment": "Comment body can not be empty!"}),
                );
            };
            match s.issues.iter_mut().find(|i| i.key == key || i.id == key) {
                Some(i) => {
                    i.comments.push(text.to_string());
                    i.updated = now_jira();
                    let n = i.comments.len();
                    reply(
                        StatusCode::CREATED,
                        json!({"id": n.to_string(), "body": text}),
                    )
                }
                None => jira_error(StatusCode::NOT_FOUND, &["Issue Does Not Exist"], json!({})),
            }
        }
        ("GET", p) if p.starts_with("/rest/api/2/issue/") => {
            let key = percent_decode(&p["/rest/api/2/issue/".len()..]);
            match s.issues.iter().find(|i| i.key == key || i.id == key) {
                Some(i) => reply(StatusCode::OK, i.answer(base)),
                None => jira_error(StatusCode::NOT_FOUND, &["Issue Does Not Exist"], json!({})),
            }
        }
        _ => jira_error(
            StatusCode::NOT_FOUND,
            &["No such resource in the JIRA stand-in"],
            json!({}),
        ),
    }
}
