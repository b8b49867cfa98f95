//! The local stack: provisions template.yaml's resources on the local AWS endpoint, loads
//! the catalog, starts the JIRA stand-in, serves the API with SigV4 checks (handing the
//! Lambda handler the same API Gateway event a deployed REST API would), and runs the worker
//! the way an SQS event source mapping does (long-poll, batches, partial batch response).

use crate::github_standin::GitHubStandIn;
use crate::http_standin::HttpStandIn;
use crate::jira_standin::JiraStandIn;
use crate::provision::{self, Names};
use crate::sigv4::{self, Identity, SignedRequest};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use pao::api::App;
use pao::worker::Worker;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Where everything goes; every field has an environment variable (see README).
#[derive(Debug, Clone)]
pub struct Options {
    pub catalog_dir: PathBuf,
    pub api_port: u16,
    pub jira_port: u16,
    pub github_port: u16,
    /// The HTTP stand-in `rest-api` and `webhook` items call (`PAO_HTTP_PORT`, default 8083).
    pub http_port: u16,
    /// The git working directory the GitHub stand-in serves (made afresh at every start from
    /// `catalog_dir`; `make catalog-push` commits what you change there and delivers the push).
    pub catalog_git_dir: PathBuf,
    pub identities: Vec<Identity>,
    pub region: String,
    /// The stack's resources, under the variable names a deployed function reads
    /// (`PAO_TABLE_NAME`, `PAO_TASK_QUEUE_URL`, …; a queue URL's last segment is its name).
    pub names: Names,
    /// How often the sweeper runs (`PAO_SWEEP_INTERVAL_SECONDS`, default 30).
    pub sweep_interval: Duration,
    /// Event source mapping pollers running batches at once (`PAO_LOCAL_POLLERS`, default 1;
    /// Lambda runs one per active message group, up to its concurrency).
    pub pollers: usize,
    /// A real GitHub (or GitHub Enterprise Server) to use instead of the stand-in.
    pub real_github: Option<RealGitHub>,
    /// The JIRA secret's value for real JIRA instances, instead of the stand-in.
    pub real_jira: Option<String>,
}

/// A platform team's own GitHub, named by `PAO_GITHUB_API_URL` (`https://api.github.com`, or
/// `https://HOST/api/v3`), with the token from `GITHUB_TOKEN` and the catalog repository from
/// `PAO_CATALOG_REPOSITORY` / `PAO_CATALOG_BRANCH`.
#[derive(Clone)]
pub struct RealGitHub {
    pub api_url: String,
    pub token: String,
    pub repository: String,
    pub branch: String,
}

impl std::fmt::Debug for RealGitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealGitHub")
            .field("api_url", &self.api_url)
            .field("repository", &self.repository)
            .field("branch", &self.branch)
            .finish_non_exhaustive()
    }
}

/// The real services the environment names (see README, "Trying PAO against your own
/// GitHub and JIRA"); a stand-in plays each service no real one is named for.
fn real_services(
    var: impl Fn(&str) -> Option<String>,
) -> Result<(Option<RealGitHub>, Option<String>), String> {
    let github = match var("PAO_GITHUB_API_URL") {
        None => None,
        Some(api_url) => {
            if !api_url.starts_with("https://") {
                return Err(format!(
                    "PAO_GITHUB_API_URL={api_url} is not an https:// URL"
                ));
            }
            let token = var("GITHUB_TOKEN")
                .ok_or("PAO_GITHUB_API_URL is set: GITHUB_TOKEN must hold a token for it")?;
            let repository = var("PAO_CATALOG_REPOSITORY").ok_or(
                "PAO_GITHUB_API_URL is set: PAO_CATALOG_REPOSITORY must name the catalog repository (owner/name)",
            )?;
            Some(RealGitHub {
                api_url: api_url.trim_end_matches('/').to_string(),
                token,
                repository,
                branch: var("PAO_CATALOG_BRANCH").unwrap_or_else(|| "main".into()),
            })
        }
    };
    let jira = if let Some(file) = var("PAO_JIRA_SECRET_FILE") {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("PAO_JIRA_SECRET_FILE={file}: {e}"))?;
        pao::action::jira::JiraInstances::parse(&text)
            .map_err(|e| format!("PAO_JIRA_SECRET_FILE={file}: {e}"))?;
        Some(text)
    } else if let Some(base_url) = var("PAO_JIRA_BASE_URL") {
        let token = var("PAO_JIRA_API_TOKEN")
            .ok_or("PAO_JIRA_BASE_URL is set: PAO_JIRA_API_TOKEN must hold its token")?;
        let mut instance = json!({"baseUrl": base_url, "apiToken": token,
            "deployment": var("PAO_JIRA_DEPLOYMENT").unwrap_or_else(|| "cloud".into())});
        if let Some(email) = var("PAO_JIRA_EMAIL") {
            instance["email"] = json!(email);
        }
        let text = json!({"instances": {"default": instance}}).to_string();
        pao::action::jira::JiraInstances::parse(&text).map_err(|e| format!("PAO_JIRA_*: {e}"))?;
        Some(text)
    } else {
        None
    };
    Ok((github, jira))
}

impl Options {
    pub fn from_env() -> Result<Self, String> {
        let var = |k: &str, d: &str| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| d.to_string())
        };
        let port = |k: &str, d: u16| -> Result<u16, String> {
            std::env::var(k)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| {
                    v.parse()
                        .map_err(|_| format!("{k}={v} is not a port number"))
                })
                .unwrap_or(Ok(d))
        };
        let identities_file = var(
            "PAO_IDENTITIES_FILE",
            concat!(env!("CARGO_MANIFEST_DIR"), "/identities.json"),
        );
        let identities = sigv4::load_identities(std::path::Path::new(&identities_file))?;
        let (real_github, real_jira) =
            real_services(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))?;
        Ok(Self {
            catalog_dir: PathBuf::from(var(
                "PAO_CATALOG_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/catalog"),
            )),
            api_port: port("PAO_API_PORT", 3000)?,
            jira_port: port("PAO_JIRA_PORT", 8081)?,
            github_port: port("PAO_GITHUB_PORT", 8082)?,
            http_port: port("PAO_HTTP_PORT", 8083)?,
            catalog_git_dir: PathBuf::from(var(
                "PAO_CATALOG_GIT_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/../.local/catalog-repo"),
            )),
            identities,
            region: var("AWS_REGION", "us-east-1"),
            names: Names {
                table: var("PAO_TABLE_NAME", "pao-local"),
                queue: queue_name(&var("PAO_TASK_QUEUE_URL", "pao-tasks-local.fifo")),
                dlq: queue_name(&var("PAO_DLQ_URL", "pao-tasks-dlq-local.fifo")),
                jira_secret: var("PAO_JIRA_SECRET_ID", "pao/jira"),
                cursor_secret: var("PAO_CURSOR_SECRET_ID", "pao/cursor-key"),
                github_token_secret: var("PAO_GITHUB_TOKEN_SECRET_ID", "pao/github-token"),
                github_webhook_secret: var("PAO_GITHUB_WEBHOOK_SECRET_ID", "pao/github-webhook"),
                environment: var("PAO_ENVIRONMENT", "local"),
            },
            sweep_interval: Duration::from_secs(
                var("PAO_SWEEP_INTERVAL_SECONDS", "30")
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("PAO_SWEEP_INTERVAL_SECONDS is not a positive number of seconds")?,
            ),
            pollers: var("PAO_LOCAL_POLLERS", "1")
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=50).contains(n))
                .ok_or("PAO_LOCAL_POLLERS is not a number from 1 to 50")?,
            real_github,
            real_jira,
        })
    }
}

/// A queue's name from its URL (or the name itself).
fn queue_name(url_or_name: &str) -> String {
    url_or_name
        .rsplit('/')
        .next()
        .unwrap_or(url_or_name)
        .to_string()
}

/// Where `make dev` sends escalation tickets (PAO_ESCALATION_PROJECT overrides it).
pub const LOCAL_ESCALATION_PROJECT: &str = "OPS";

/// The repository the GitHub stand-in serves.
pub const LOCAL_REPOSITORY: &str = "pao-local/catalog";
/// The local webhook secret (a deployment generates one).
pub const LOCAL_WEBHOOK_SECRET: &str = "local-webhook-secret";

/// A running local stack; dropping it stops the servers.
pub struct Running {
    pub api_addr: SocketAddr,
    /// `None` when a real JIRA was named (`PAO_JIRA_SECRET_FILE`, `PAO_JIRA_BASE_URL`).
    pub jira: Option<JiraStandIn>,
    /// Serves the catalog repository (a git working directory) as GitHub would.
    /// `None` when a real GitHub was named (`PAO_GITHUB_API_URL`).
    pub github: Option<GitHubStandIn>,
    /// Answers the catalog's `rest-api` and `webhook` items.
    pub http: HttpStandIn,
    /// What the first sync loaded.
    pub first_sync: pao::catalog::sync::SyncReport,
    /// The provisioned resources and the config the functions run with.
    pub stack: provision::Stack,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// The JIRA stand-in (tests and the benchmark run with one).
    pub fn jira_standin(&self) -> &JiraStandIn {
        self.jira
            .as_ref()
            .expect("this stack runs against a real JIRA, not the stand-in")
    }

    /// The GitHub stand-in (tests and the benchmark run with one).
    pub fn github_standin(&self) -> &GitHubStandIn {
        self.github
            .as_ref()
            .expect("this stack runs against a real GitHub, not the stand-in")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts everything and returns once it all listens.
pub async fn start(opts: Options) -> Result<Running, String> {
    let sdk = pao::aws::load_sdk_config().await;
    let stack = provision::stack(&sdk, &opts.names)
        .await
        .map_err(|e| e.to_string())?;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);

    let (jira, jira_secret) = match &opts.real_jira {
        Some(secret) => (None, secret.clone()),
        None => {
            let jira = JiraStandIn::start(opts.jira_port, "pao@example.com", "local-jira-token")
                .await
                .map_err(|e| format!("JIRA stand-in on port {}: {e}", opts.jira_port))?;
            let secret = jira.secret("default");
            (Some(jira), secret)
        }
    };
    provision::put_secret(&secrets, &opts.names.jira_secret, &jira_secret)
        .await
        .map_err(|e| e.to_string())?;

    // The catalog repository: a git working directory made afresh from the catalog
    // directory, served by the GitHub stand-in; the stack follows it as a deployment does.
    if opts.catalog_git_dir.exists() {
        std::fs::remove_dir_all(&opts.catalog_git_dir)
            .map_err(|e| format!("{}: {e}", opts.catalog_git_dir.display()))?;
    }
    crate::github_standin::init_repo(&opts.catalog_git_dir, &opts.catalog_dir).map_err(|e| {
        format!(
            "catalog repository in {}: {e}",
            opts.catalog_git_dir.display()
        )
    })?;
    // The services the catalog's items call, played by the HTTP stand-in.
    let http = HttpStandIn::start(opts.http_port)
        .await
        .map_err(|e| format!("HTTP stand-in on port {}: {e}", opts.http_port))?;
    let secret_names =
        point_at_stand_ins(&opts.catalog_git_dir, &http.base_url()).map_err(|e| {
            format!(
                "catalog repository in {}: {e}",
                opts.catalog_git_dir.display()
            )
        })?;
    for name in &secret_names {
        // Relative names, read under the stack's catalog prefix (pao/local/catalog/).
        let id = format!("{}{name}", stack.config.catalog_secret_prefix);
        provision::put_secret(&secrets, &id, &format!("local-{}", name.replace('/', "-")))
            .await
            .map_err(|e| e.to_string())?;
    }
    let (github, github_api, repository, branch, token) = match &opts.real_github {
        Some(real) => (
            None,
            real.api_url.clone(),
            real.repository.clone(),
            real.branch.clone(),
            real.token.clone(),
        ),
        None => {
            let github = GitHubStandIn::start(
                opts.github_port,
                &opts.catalog_git_dir,
                LOCAL_REPOSITORY,
                "local-github-token",
            )
            .await
            .map_err(|e| format!("GitHub stand-in on port {}: {e}", opts.github_port))?;
            let api = github.api_url();
            let token = github.token.clone();
            (
                Some(github),
                api,
                LOCAL_REPOSITORY.to_string(),
                "main".to_string(),
                token,
            )
        }
    };
    provision::put_secret(&secrets, &opts.names.github_token_secret, &token)
        .await
        .map_err(|e| e.to_string())?;
    provision::put_secret(
        &secrets,
        &opts.names.github_webhook_secret,
        LOCAL_WEBHOOK_SECRET,
    )
    .await
    .map_err(|e| e.to_string())?;

    // The same settings and constructors a deployed function uses.
    let mut config = stack.config.clone();
    config.catalog_repository = repository;
    config.catalog_branch = branch;
    config.github_api_url = github_api;
    config.http_allow_hosts = "127.0.0.1".into();
    // Metrics lines would drown the local stack's log: on only when asked (PAO_METRICS=on).
    config.metrics = std::env::var("PAO_METRICS").is_ok_and(|v| v == "on");
    if config.escalation_project.is_empty() {
        // A deploy must name one (template parameter EscalationProject); locally every
        // request can be escalated into the JIRA stand-in's OPS project.
        config.escalation_project = LOCAL_ESCALATION_PROJECT.into();
    }
    if config.operator_tag.is_empty() {
        // The template's default: principals tagged pao-role=operator are operators.
        config.operator_tag = "pao-role=operator".into();
    }
    let config = &config;
    // Each function under its own IAM identity, as deployed (crate::identity).
    use crate::identity::{Function, sdk_for};
    let app = Arc::new(App::from_config(config, &sdk_for(&sdk, Function::Api)));
    let worker = Arc::new(Worker::from_config(
        config,
        &sdk_for(&sdk, Function::Worker),
    ));
    let sweeper = Arc::new(pao::sweeper::Sweeper::from_config(
        config,
        &sdk_for(&sdk, Function::Sweeper),
    ));
    let webhook = Arc::new(pao::webhook::Webhook::from_config(
        config,
        &sdk_for(&sdk, Function::GithubWebhook),
    ));
    let first_sync = app
        .sync
        .sync_head()
        .await
        .map_err(|e| format!("loading the catalog from the GitHub stand-in: {e}"))?;
    for r in &first_sync.rejected {
        tracing::warn!(file = %r.file, path = %r.path, message = %r.message, "catalog problem; the document is left out");
    }

    let listener = TcpListener::bind(("127.0.0.1", opts.api_port))
        .await
        .map_err(|e| format!("API on port {}: {e}", opts.api_port))?;
    let api_addr = listener.local_addr().map_err(|e| e.to_string())?;
    // Workflow runs end by themselves after a few seconds and say so through the webhook.
    if let Some(github) = &github {
        github.notify(
            &format!("http://{api_addr}{WEBHOOK_PATH}"),
            LOCAL_WEBHOOK_SECRET,
        );
        github.auto_complete(Duration::from_secs(3), "success");
    }
    let identities = Arc::new(opts.identities.clone());
    let region = opts.region.clone();
    let server = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (app, webhook, identities, region) = (
                app.clone(),
                webhook.clone(),
                identities.clone(),
                region.clone(),
            );
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let (app, webhook, identities, region) = (
                        app.clone(),
                        webhook.clone(),
                        identities.clone(),
                        region.clone(),
                    );
                    async move {
                        Ok::<_, Infallible>(serve(&app, &webhook, &identities, &region, req).await)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let pollers: Vec<_> = (0..opts.pollers.max(1))
        .map(|_| tokio::spawn(poll_queue(worker.queue.clone(), worker.clone())))
        .collect();
    let sweeping = tokio::spawn(sweep_every(sweeper, opts.sweep_interval));
    Ok(Running {
        api_addr,
        jira,
        github,
        http,
        first_sync,
        // The config the functions run with (the stand-ins' addresses and local defaults).
        stack: provision::Stack {
            config: config.clone(),
            ..stack
        },
        tasks: [server, sweeping].into_iter().chain(pollers).collect(),
    })
}

use pao::clock::now_epoch;

/// What the EventBridge schedule does: fire the sweeper's Lambda handler every `interval`.
async fn sweep_every(sweeper: Arc<pao::sweeper::Sweeper>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let mut context = lambda_runtime::Context::default();
        context.request_id = format!("local-sweep-{}", now_epoch());
        let event = lambda_runtime::LambdaEvent::new(
            json!({"id": context.request_id, "detail-type": "Scheduled Event", "source": "aws.events"}),
            context,
        );
        if let Err(e) = sweeper::handle(&sweeper, event).await {
            tracing::error!(error = %e, "sweep failed");
        }
    }
}

fn json_response(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// Paths the resource policy keeps for operators.
/// The routes the template's resource policy keeps for operators.
const QUEUE_PATHS: [&str; 3] = ["api", "v1", "queue"];
const REFRESH_PATH: [&str; 4] = ["api", "v1", "catalog", "refresh"];

/// The one route API Gateway sends to the webhook function, without IAM.
const WEBHOOK_PATH: &str = "/api/v1/webhooks/github";

/// One HTTP call: the webhook route goes to the webhook function's handler (it checks its
/// HMAC signature itself); every other call is checked for SigV4 like API Gateway's AWS_IAM
/// authorizer does, then goes to the API handler.
async fn serve(
    app: &App,
    webhook: &pao::webhook::Webhook,
    identities: &[Identity],
    region: &str,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    // Read a little past the API's limit so that it can answer 413 itself.
    let body = match Limited::new(body, pao::api::MAX_BODY + 1024)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"message": "Request Too Long"}),
            );
        }
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    if parts.method == hyper::Method::POST && path == WEBHOOK_PATH {
        let event = apigw_event(parts.method.as_str(), &path, &query, &headers, &body, None);
        return match lambda_http::request::from_str(&event.to_string()) {
            Ok(request) => http_response(github_webhook::handle(webhook, request).await),
            Err(e) => json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"message": format!("local runner: {e}")}),
            ),
        };
    }
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: &path,
        query: &query,
        headers: &headers,
        body: &body,
    };
    let identity = match sigv4::verify(&signed, identities, region, now_epoch()) {
        Ok(i) => i,
        // API Gateway's own shape for authorizer refusals.
        Err(e) => return json_response(StatusCode::FORBIDDEN, json!({"message": e.to_string()})),
    };
    // The template's resource policy: the queue routes and the catalog refresh only for
    // operators (by ARN or tag).
    let segments: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if segments.starts_with(&QUEUE_PATHS) || segments == REFRESH_PATH {
        let tags: Vec<(String, String)> = identity
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !app.operators.admit(&identity.arn, &tags) {
            return json_response(
                StatusCode::FORBIDDEN,
                json!({"Message": format!(
                    "User: {} is not authorized to perform: execute-api:Invoke on resource: {} {path} with an explicit deny",
                    identity.arn, parts.method
                )}),
            );
        }
    }
    let event = apigw_event(
        parts.method.as_str(),
        &path,
        &query,
        &headers,
        &body,
        Some(identity),
    );
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(r) => r,
        Err(e) => {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"message": format!("local runner: {e}")}),
            );
        }
    };
    http_response(api::handle(app, request).await)
}

/// A handler's Lambda response as the HTTP response API Gateway would give.
fn http_response(
    answer: Result<lambda_http::Response<lambda_http::Body>, lambda_http::Error>,
) -> Response<Full<Bytes>> {
    match answer {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let mut out = Response::new(Full::new(Bytes::from(body.as_ref().to_vec())));
            *out.status_mut() = parts.status;
            *out.headers_mut() = parts.headers;
            out
        }
        Err(e) => json_response(
            StatusCode::BAD_GATEWAY,
            json!({"message": format!("handler error: {e}")}),
        ),
    }
}

/// The API Gateway REST API (v1) proxy event a deployed API would send, stage `local`.
fn apigw_event(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
    identity: Option<&Identity>,
) -> Value {
    let mut single = serde_json::Map::new();
    let mut multi = serde_json::Map::new();
    for (k, v) in headers {
        single.insert(k.clone(), json!(v));
        if let Some(a) = multi
            .entry(k.clone())
            .or_insert_with(|| json!([]))
            .as_array_mut()
        {
            a.push(json!(v));
        }
    }
    let mut qs = serde_json::Map::new();
    let mut mqs = serde_json::Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k), decode(v));
        qs.insert(k.clone(), json!(v));
        if let Some(a) = mqs.entry(k).or_insert_with(|| json!([])).as_array_mut() {
            a.push(json!(v));
        }
    }
    let text = std::str::from_utf8(body).ok();
    json!({
        "resource": path, "path": path, "httpMethod": method,
        "headers": single, "multiValueHeaders": multi,
        "queryStringParameters": if qs.is_empty() { Value::Null } else { Value::Object(qs) },
        "multiValueQueryStringParameters": if mqs.is_empty() { Value::Null } else { Value::Object(mqs) },
        "pathParameters": null, "stageVariables": null,
        "requestContext": {
            "accountId": "000000000000", "resourceId": "local", "stage": "local",
            "requestId": uuid_like(), "httpMethod": method, "path": format!("/local{path}"), "resourcePath": path,
            "protocol": "HTTP/1.1", "apiId": "local", "domainName": "127.0.0.1",
            "identity": match identity {
                Some(i) => json!({"userArn": i.arn, "accessKey": i.access_key_id, "caller": i.arn, "sourceIp": "127.0.0.1"}),
                None => json!({"sourceIp": "127.0.0.1"}),
            },
        },
        "body": if body.is_empty() { Value::Null } else { json!(text.map(str::to_string).unwrap_or_else(|| crate::jira_standin::base64(body))) },
        "isBase64Encoded": !body.is_empty() && text.is_none(),
    })
}

/// A query-string component: `+` is a space, then `%XX` escapes.
fn decode(s: &str) -> String {
    sigv4::percent_decode(&s.replace('+', " "))
}

fn uuid_like() -> String {
    format!("local-{}", now_epoch())
}

/// What an SQS event source mapping does, for as long as the stack runs (see [`crate::esm`]).
async fn poll_queue(queue: pao::queue::Queue, worker: Arc<Worker>) {
    loop {
        if let Err(e) = crate::esm::poll_once(&queue, &worker, 20).await {
            tracing::error!(error = %e, "polling the task queue failed");
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

/// Points the catalog's `https://<name>.example.com/...` services at the HTTP stand-in
/// (`http://127.0.0.1:<port>/<name>.example.com/...`), commits that, and returns the secret
/// names its items use (auth and signing secrets), which the local stack fills.
fn point_at_stand_ins(dir: &std::path::Path, stand_in: &str) -> std::io::Result<Vec<String>> {
    let url =
        regex::Regex::new(r"https://([a-z0-9.-]+\.example\.com)").map_err(std::io::Error::other)?;
    let secret = regex::Regex::new(r"(?:\bsecret|signingSecret):\s*([A-Za-z0-9/_+=.@-]+)")
        .map_err(std::io::Error::other)?;
    let mut names = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let path = entry?.path();
            if path.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if !path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                continue;
            }
            let text = std::fs::read_to_string(&path)?;
            let pointed = url.replace_all(&text, format!("{stand_in}/$1").as_str());
            for found in secret.captures_iter(&pointed) {
                if let Some(name) = found.get(1) {
                    names.push(name.as_str().to_string());
                }
            }
            if pointed != text {
                std::fs::write(&path, pointed.as_bytes())?;
            }
        }
    }
    crate::github_standin::commit_all(dir, "Point the example services at the local stand-ins")?;
    names.sort();
    names.dedup();
    Ok(names)
}

#[cfg(test)]
mod real_service_tests {
    use super::real_services;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<(bool, Option<String>), String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        real_services(|k| map.get(k).cloned()).map(|(g, j)| (g.is_some(), j))
    }

    #[test]
    fn a_stand_in_plays_every_service_no_real_one_is_named_for() {
        assert_eq!(from(&[]), Ok((false, None)));
        let github = [
            ("PAO_GITHUB_API_URL", "https://ghe.example.com/api/v3"),
            ("GITHUB_TOKEN", "ghp_x"),
            ("PAO_CATALOG_REPOSITORY", "platform/catalog"),
        ];
        assert_eq!(from(&github), Ok((true, None)));
        let err = from(&github[..2]).expect_err("no repository");
        assert!(err.contains("PAO_CATALOG_REPOSITORY"), "{err}");
        let err = from(&[("PAO_GITHUB_API_URL", "https://api.github.com")]).expect_err("no token");
        assert!(err.contains("GITHUB_TOKEN"), "{err}");
        let (_, jira) = from(&[
            ("PAO_JIRA_BASE_URL", "https://acme.atlassian.net"),
            ("PAO_JIRA_EMAIL", "bot@acme.com"),
            ("PAO_JIRA_API_TOKEN", "t"),
        ])
        .expect("jira");
        let jira = jira.expect("a JIRA secret");
        assert!(
            pao::action::jira::JiraInstances::parse(&jira).is_ok(),
            "{jira}"
        );
        let err = from(&[("PAO_JIRA_BASE_URL", "https://acme.atlassian.net")]).expect_err("token");
        assert!(err.contains("PAO_JIRA_API_TOKEN"), "{err}");
    }
}
