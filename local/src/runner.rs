//! The local stack: provisions template.yaml's resources on the local AWS endpoint, loads
//! the catalog, starts the JIRA stand-in, serves the API with SigV4 checks (handing the
//! Lambda handler the same API Gateway event a deployed REST API would), runs the worker
//! the way an SQS event source mapping does (long-poll, batches, partial batch response) and
//! the events function the way a DynamoDB Stream mapping does (`stream_esm`).

use crate::gateway::{JIRA_WEBHOOK_PATH, WEBHOOK_PATH, serve};
use crate::github_standin::GitHubStandIn;
use crate::http_standin::HttpStandIn;
use crate::jira_standin::JiraStandIn;
use crate::provision::{self, Names};
use crate::sigv4::{self, Identity};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use pao::api::App;
use pao::worker::Worker;
use serde_json::json;
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
    /// The Slack stand-in notices go to (`PAO_SLACK_PORT`, default 8084).
    pub slack_port: u16,
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
    pub real_github: Option<crate::real_services::RealGitHub>,
    /// The JIRA secret's value for real JIRA instances, instead of the stand-in.
    pub real_jira: Option<String>,
    /// The JIRA stand-in's tickets resolve by themselves this long after they are made (zero:
    /// never; `make jira-resolve` resolves one by hand).
    pub jira_auto_resolve: Duration,
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
        let (real_github, real_jira) = crate::real_services::from_env(|k| {
            std::env::var(k).ok().filter(|v| !v.trim().is_empty())
        })?;
        Ok(Self {
            catalog_dir: PathBuf::from(var(
                "PAO_CATALOG_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/catalog"),
            )),
            api_port: port("PAO_API_PORT", 3000)?,
            jira_port: port("PAO_JIRA_PORT", 8081)?,
            github_port: port("PAO_GITHUB_PORT", 8082)?,
            http_port: port("PAO_HTTP_PORT", 8083)?,
            slack_port: port("PAO_SLACK_PORT", 8084)?,
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
                jira_webhook_secret: var("PAO_JIRA_WEBHOOK_SECRET_ID", "pao/jira-webhook"),
                secrets_key: var("PAO_SECRETS_KEY_ID", "alias/pao-local-secrets"),
                environment: var("PAO_ENVIRONMENT", "local"),
                event_bus: var("PAO_EVENT_BUS_NAME", "pao-local"),
                events_dlq: queue_name(&var("PAO_EVENTS_DLQ_URL", "pao-events-dlq-local")),
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
            jira_auto_resolve: var("PAO_JIRA_AUTO_RESOLVE_SECONDS", "5")
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| "PAO_JIRA_AUTO_RESOLVE_SECONDS is not a number of seconds (0: off)")?,
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

/// The SES sender of the local stack's notices (scripts/deploy_check.py `LOCAL_SENDER`).
pub const LOCAL_SENDER: &str = "pao@example.com";

/// Where `make dev` sends escalation tickets (PAO_ESCALATION_PROJECT overrides it).
pub const LOCAL_ESCALATION_PROJECT: &str = "OPS";

/// The repository the GitHub stand-in serves.
pub const LOCAL_REPOSITORY: &str = "pao-local/catalog";
/// The local webhook secret (a deployment generates one).
pub const LOCAL_WEBHOOK_SECRET: &str = "local-webhook-secret";
/// The JIRA webhook's signing secret on the local stack.
pub const LOCAL_JIRA_WEBHOOK_SECRET: &str = "local-jira-webhook-secret";

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
    /// Receives the notices meant for Slack.
    pub slack: crate::slack_standin::SlackStandIn,
    /// What the first sync loaded.
    pub first_sync: pao::catalog::sync::SyncReport,
    /// The provisioned resources and the config the functions run with.
    pub stack: provision::Stack,
    tasks: Vec<tokio::task::JoinHandle<()>>,
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
    // The identities' tags live in IAM, where PAO reads them as in AWS.
    provision::tag_identities(&sdk, &opts.identities).await?;

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
    provision::put_secret(
        &secrets,
        &opts.names.jira_webhook_secret,
        &serde_json::json!({"signingSecret": LOCAL_JIRA_WEBHOOK_SECRET}).to_string(),
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
    // Notices: Slack is the stand-in, email goes to SES on the local endpoint from a
    // verified sender (a deployment names its own, template parameter NotifyFromEmail).
    let slack = crate::slack_standin::SlackStandIn::start(opts.slack_port, "xoxb-local-token")
        .await
        .map_err(|e| format!("Slack stand-in on port {}: {e}", opts.slack_port))?;
    provision::put_secret(&secrets, &config.slack_secret_id, &slack.secret())
        .await
        .map_err(|e| e.to_string())?;
    config.slack_api_url = slack.api_url();
    if config.notify_from.is_empty() {
        config.notify_from = LOCAL_SENDER.into();
    }
    provision::verify_sender(&sdk, &config.notify_from)
        .await
        .map_err(|e| e.to_string())?;
    if config.support_tag.is_empty() {
        // The template's default: principals tagged pao-role=support are support staff.
        config.support_tag = "pao-role=support".into();
    }
    let config = &config;
    // Each function under its own IAM identity, as deployed (crate::identity).
    use crate::identity::{Function, sdk_for};
    let app = Arc::new(App::from_config(config, &sdk_for(&sdk, Function::Api)?));
    let worker = Arc::new(Worker::from_config(
        config,
        &sdk_for(&sdk, Function::Worker)?,
    ));
    let sweeper = Arc::new(pao::sweeper::Sweeper::from_config(
        config,
        &sdk_for(&sdk, Function::Sweeper)?,
    ));
    let webhook = Arc::new(pao::webhook::Webhook::from_config(
        config,
        &sdk_for(&sdk, Function::GithubWebhook)?,
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
    // Tickets are worked by themselves too, unless told otherwise, and JIRA says so through
    // its signed webhook.
    if let Some(jira) = &jira {
        jira.notify(
            &format!("http://{api_addr}{JIRA_WEBHOOK_PATH}?instance=default"),
            Some(LOCAL_JIRA_WEBHOOK_SECRET),
        );
        if !opts.jira_auto_resolve.is_zero() {
            jira.auto_resolve(opts.jira_auto_resolve, "Done", serde_json::json!({}));
        }
    }
    let identities = Arc::new(opts.identities.clone());
    let region = opts.region.clone();
    let live = Arc::new(crate::live::Management {
        sockets: crate::live::Sockets::default(),
        pushers: crate::live::pushers(),
    });
    let server = {
        let live = live.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (app, webhook, identities, region, live) = (
                    app.clone(),
                    webhook.clone(),
                    identities.clone(),
                    region.clone(),
                    live.clone(),
                );
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let (app, webhook, identities, region, live) = (
                            app.clone(),
                            webhook.clone(),
                            identities.clone(),
                            region.clone(),
                            live.clone(),
                        );
                        async move {
                            if crate::live::is_upgrade(&req) {
                                let sockets = live.sockets.clone();
                                return Ok::<_, Infallible>(
                                    crate::live::upgrade(app, sockets, &identities, &region, req)
                                        .await,
                                );
                            }
                            Ok::<_, Infallible>(
                                serve(&app, &webhook, (&identities, &live), &region, req).await,
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        })
    };
    let pollers: Vec<_> = (0..opts.pollers.max(1))
        .map(|_| tokio::spawn(poll_queue(worker.queue.clone(), worker.clone())))
        .collect();
    let sweeping = tokio::spawn(sweep_every(sweeper, opts.sweep_interval));
    // The table's stream, read as Lambda's event source mapping reads it for the events
    // function (as that function's role).
    let events_sdk = sdk_for(&sdk, Function::Events)?;
    // The events function pushes to live connections through the local WebSocket API.
    let mut events_config = config.clone();
    events_config.live_endpoint = format!("http://{api_addr}{}", crate::live::LIVE_PATH);
    let handler = Arc::new(events::Handler::from_config(&events_config, &events_sdk));
    let mapping = provision::SamTemplate::repository()
        .and_then(|t| t.stream_mapping())
        .map_err(|e| e.to_string())?;
    let poller = crate::stream_esm::StreamPoller::new(
        &events_sdk,
        &config.table_name,
        &stack.events_dlq,
        mapping,
    )
    .await?;
    let streaming = tokio::spawn(crate::stream_esm::follow(poller, handler));
    Ok(Running {
        api_addr,
        jira,
        github,
        http,
        slack,
        first_sync,
        // The config the functions run with (the stand-ins' addresses and local defaults).
        stack: provision::Stack {
            config: config.clone(),
            ..stack
        },
        tasks: [server, sweeping, streaming]
            .into_iter()
            .chain(pollers)
            .collect(),
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
