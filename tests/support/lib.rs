//! Helpers shared by the system tests: where the example catalog is, and throwaway catalog
//! repositories on disk.

use std::path::PathBuf;

/// The repository's `examples/catalog/`.
pub fn example_catalog_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog")
}

/// A temporary catalog repository holding `files` (path relative to its root, content);
/// removed when dropped.
pub fn write_repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (path, content) in files {
        let full = dir.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("create folders");
        }
        std::fs::write(&full, content).expect("write file");
    }
    dir
}

/// AWS resources of one test on the local endpoint: its own table and queues (uniquely
/// named, so tests run in parallel), removed by [`TestEnv::cleanup`].
pub struct TestEnv {
    pub sdk: pao::aws::SdkConfig,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub table: String,
    pub queues: pao_local::provision::QueueUrls,
    /// Everything provisioned, with the config a deployed function would read.
    pub stack: pao_local::provision::Stack,
}

impl TestEnv {
    /// Creates a table and FIFO queue pair as template.yaml declares them. Needs
    /// `AWS_ENDPOINT_URL` (`make test` starts moto_server and sets it).
    pub async fn new() -> Self {
        assert!(
            std::env::var("AWS_ENDPOINT_URL").is_ok_and(|v| !v.is_empty()),
            "AWS_ENDPOINT_URL is not set: run the tests with `make test` (it starts moto_server) or scripts/with-local-aws.sh cargo test"
        );
        let sdk = pao::aws::load_sdk_config().await;
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let names = pao_local::provision::Names::unique("test");
        let stack = pao_local::provision::stack(&sdk, &names)
            .await
            .expect("provision table, queues and cursor key");
        Self {
            sdk,
            dynamo,
            sqs,
            secrets,
            table: names.table,
            queues: stack.queues.clone(),
            stack,
        }
    }

    /// The SDK configuration a function signs with (its own IAM identity when the local
    /// endpoint enforces IAM, see pao_local::identity).
    pub fn sdk_of(&self, function: pao_local::identity::Function) -> pao::aws::SdkConfig {
        pao_local::identity::sdk_for(&self.sdk, function).expect("the function's IAM keys")
    }

    pub fn store(&self) -> pao::store::Store {
        pao::store::Store::new(self.dynamo.clone(), &self.table)
    }

    pub fn queue(&self) -> pao::queue::Queue {
        pao::queue::Queue::new(self.sqs.clone(), &self.queues.queue)
    }

    /// Removes the test's table and queues.
    pub async fn cleanup(self) {
        self.stack.delete(&self.sdk).await;
    }
}

/// A worker wired to the test's table and queue, reading its JIRA instances from a secret of
/// its own that holds `jira_secret`.
pub async fn worker_for(env: &TestEnv, jira_secret: &str) -> pao::worker::Worker {
    pao_local::provision::put_secret(&env.secrets, &env.stack.config.jira_secret_id, jira_secret)
        .await
        .expect("JIRA secret");
    let mut worker = pao::worker::Worker::from_config(
        &env.stack.config,
        &env.sdk_of(pao_local::identity::Function::Worker),
    );
    worker.settings.action_timeout = std::time::Duration::from_secs(10);
    worker
}

/// Runs the worker on the test's queue as an SQS event source mapping would (receive a
/// batch, process it, delete what succeeded) until `done` holds for the request, or fails
/// after 60 seconds showing where the request got stuck.
pub async fn drain_until(
    env: &TestEnv,
    worker: &pao::worker::Worker,
    id: &pao::record::RequestId,
    done: impl Fn(&pao::record::RequestDetail) -> bool,
) -> pao::record::RequestDetail {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let detail = env
            .store()
            .get_request(id, &pao::clock::Now::current(), pao::store::Read::Strong)
            .await
            .expect("query")
            .expect("request exists");
        if done(&detail) {
            return detail;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "request {id} did not get there in time: {:?} / tasks {:?}",
            detail.request.state,
            detail.tasks.iter().map(|t| t.state).collect::<Vec<_>>()
        );
        pao_local::esm::poll_once(&worker.queue, worker, 1)
            .await
            .expect("poll the task queue");
    }
}

/// A catalog item with two JIRA tickets that only inform (`waitForResolution: false`: each
/// task completes when its ticket is made), the second naming the first through `.output`.
pub const TWO_TICKETS: &str = r#"
schemaVersion: catalog/v1
kind: CatalogItem
metadata: { id: two-tickets, name: Two tickets, version: 1.0.0, category: testing, owner: team-test, description: Two chained tickets. }
form:
  groups:
    - id: basic
      fields:
        - { id: instanceName, type: string, required: true }
        - { id: secret, type: password }
fulfillment:
  items:
    - id: first
      type: jira-ticket
      config:
        project: DBA
        issueType: Task
        summary: "Provision {{.current.basic.instanceName}}"
        description: "for {{.system.user.email}}"
        labels: [pao]
        waitForResolution: false
      outputs:
        firstKey: /key
    - id: second
      type: jira-ticket
      config:
        project: OPS
        issueType: Task
        summary: "Follow-up of {{.output.firstKey}}"
        assignee: 5b10ac8d82e05b22cc7d4ef5
        waitForResolution: false
      outputs:
        secondKey: /key
"#;

/// Signs a call with AWS SigV4 (service `execute-api`), as devctl does; returns the headers
/// to send.
pub fn sign(
    method: &str,
    url: &str,
    body: &[u8],
    access_key: &str,
    secret: &str,
    at: std::time::SystemTime,
) -> Vec<(String, String)> {
    let credentials = pao::signing::Credentials {
        access_key_id: access_key.into(),
        secret_access_key: secret.into(),
        session_token: None,
    };
    pao::signing::sign(method, url, body, &credentials, "us-east-1", at).expect("signed")
}

/// The API with the catalog repository at `catalog_dir` loaded into the test's table, as
/// the Lambda function builds it.
pub async fn app_for(env: &TestEnv, catalog_dir: &std::path::Path) -> pao::api::App {
    let loaded = pao::catalog::load::load_dir(catalog_dir).expect("catalog");
    env.store()
        .put_catalog("v1", &loaded.sources, &pao::clock::Now::current())
        .await
        .expect("catalog stored");
    pao::api::App::from_config(
        &env.stack.config,
        &env.sdk_of(pao_local::identity::Function::Api),
    )
}

/// Local stack options with uniquely named resources and free ports, serving `catalog_dir`.
pub fn local_options(catalog_dir: &std::path::Path) -> pao_local::runner::Options {
    let names = pao_local::provision::Names::unique("local");
    pao_local::runner::Options {
        catalog_dir: catalog_dir.to_path_buf(),
        api_port: 0,
        jira_port: 0,
        github_port: 0,
        http_port: 0,
        slack_port: 0,
        catalog_git_dir: std::env::temp_dir().join(format!("{}-git", names.table)),
        identities: vec![
            pao_local::sigv4::default_identity(),
            pao_local::sigv4::operator_identity(),
        ],
        region: "us-east-1".into(),
        names,
        sweep_interval: std::time::Duration::from_secs(2),
        pollers: 1,
        real_github: None,
        real_jira: None,
        // As on `make dev`, tickets are worked by themselves (and JIRA's webhook says so), a
        // few seconds after they are made, as a person would: by then the worker has long
        // recorded the task as waiting on its ticket, however busy the machine.
        jira_auto_resolve: std::time::Duration::from_secs(3),
    }
}

/// The JIRA stand-in of a local stack the tests started (they never name a real JIRA).
pub fn jira_of(running: &pao_local::runner::Running) -> &pao_local::jira_standin::JiraStandIn {
    running
        .jira
        .as_ref()
        .expect("the tests' local stack runs the JIRA stand-in")
}

/// The GitHub stand-in of a local stack the tests started.
pub fn github_of(
    running: &pao_local::runner::Running,
) -> &pao_local::github_standin::GitHubStandIn {
    running
        .github
        .as_ref()
        .expect("the tests' local stack runs the GitHub stand-in")
}

/// Stops a local stack started with `opts` and removes its table and queues.
pub async fn stop_local(running: pao_local::runner::Running) {
    let stack = running.stack.clone();
    let git_dir = github_of(&running).dir.clone();
    drop(running);
    let _ = std::fs::remove_dir_all(git_dir);
    stack.delete(&pao::aws::load_sdk_config().await).await;
}

/// Fault injection at the wire: an SDK interceptor that fails chosen calls before they are
/// sent (as a dropped connection or a throttled service would), and records every call it
/// sees. DynamoDB and SQS speak JSON, so a call is its operation (`X-Amz-Target`) and body.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    rules: std::sync::Arc<std::sync::Mutex<Vec<FaultRule>>>,
    calls: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

#[derive(Debug, Clone)]
struct FaultRule {
    operations: Vec<String>,
    body_contains: Vec<String>,
    skip: u32,
}

/// DynamoDB operations that write.
pub const WRITES: [&str; 4] = ["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"];

impl Faults {
    /// From now on fail every call to one of `operations` whose body contains all of
    /// `body_contains`, after letting the first `skip` such calls through; until [`Faults::clear`].
    pub fn fail(&self, operations: &[&str], body_contains: &[&str], skip: u32) {
        if let Ok(mut rules) = self.rules.lock() {
            rules.push(FaultRule {
                operations: operations.iter().map(|s| s.to_string()).collect(),
                body_contains: body_contains.iter().map(|s| s.to_string()).collect(),
                skip,
            });
        }
    }

    pub fn clear(&self) {
        if let Ok(mut rules) = self.rules.lock() {
            rules.clear();
        }
    }

    /// Forgets the last call to `operation` (an idle poll that is no one's cost).
    pub fn forget_last(&self, operation: &str) {
        if let Ok(mut calls) = self.calls.lock() {
            if let Some(i) = calls.iter().rposition(|(op, _)| op == operation) {
                calls.remove(i);
            }
        }
    }

    /// Every call seen so far: (operation, body).
    pub fn calls(&self) -> Vec<(String, String)> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn dynamo(&self, env: &TestEnv) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&env.sdk)
                .interceptor(self.clone())
                .build(),
        )
    }

    pub fn sqs(&self, env: &TestEnv) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(&env.sdk)
                .interceptor(self.clone())
                .build(),
        )
    }
}

impl aws_sdk_dynamodb::config::Intercept for Faults {
    fn name(&self) -> &'static str {
        "fault-injection"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or_default()
            .to_string();
        let body = request
            .body()
            .bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        if let Ok(mut calls) = self.calls.lock() {
            calls.push((operation.clone(), body.clone()));
        }
        let Ok(mut rules) = self.rules.lock() else {
            return Ok(());
        };
        for rule in rules.iter_mut() {
            let matches = rule.operations.contains(&operation)
                && rule.body_contains.iter().all(|s| body.contains(s.as_str()));
            if !matches {
                continue;
            }
            if rule.skip > 0 {
                rule.skip -= 1;
                continue;
            }
            return Err(format!("injected fault: {operation} refused").into());
        }
        Ok(())
    }
}

/// A worker like [`worker_for`]'s whose DynamoDB and SQS calls go through `faults`.
pub async fn faulty_worker(
    env: &TestEnv,
    jira_secret: &str,
    faults: &Faults,
) -> pao::worker::Worker {
    let mut worker = worker_for(env, jira_secret).await;
    worker.store = pao::store::Store::new(faults.dynamo(env), &env.table);
    worker.queue = pao::queue::Queue::new(faults.sqs(env), &env.queues.queue);
    worker
}

/// A sweeper on the test's table and queue.
pub fn sweeper_for(
    env: &TestEnv,
    stuck_after_secs: u64,
    resend_after_secs: u64,
) -> pao::sweeper::Sweeper {
    let mut sweeper = pao::sweeper::Sweeper::from_config(
        &env.stack.config,
        &env.sdk_of(pao_local::identity::Function::Sweeper),
    );
    sweeper.settings = pao::sweeper::SweepSettings {
        stuck_after: std::time::Duration::from_secs(stuck_after_secs),
        resend_after: std::time::Duration::from_secs(resend_after_secs),
        poll_after: std::time::Duration::from_secs(resend_after_secs),
        ..sweeper.settings.clone()
    };
    sweeper
}

/// Every item of the test's table, as JSON text (for scans that look for leaks).
pub async fn dump_table(env: &TestEnv) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = env
            .dynamo
            .scan()
            .table_name(&env.table)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        for item in page.items() {
            let map: serde_json::Map<String, serde_json::Value> = item
                .iter()
                .map(|(k, v)| (k.clone(), pao::store::from_attr(v)))
                .collect();
            out.push(serde_json::Value::Object(map).to_string());
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return out;
        }
    }
}

/// A worker, a JIRA stand-in and the [`TWO_TICKETS`] catalog on the test's own resources.
pub struct Setup {
    pub env: TestEnv,
    pub jira: pao_local::jira_standin::JiraStandIn,
    pub worker: pao::worker::Worker,
    pub catalog: pao::catalog::Catalog,
    pub _repo: tempfile::TempDir,
}

pub async fn setup() -> Setup {
    let env = TestEnv::new().await;
    let jira = pao_local::jira_standin::JiraStandIn::start(0, "pao@example.com", "jira-token-123")
        .await
        .expect("JIRA stand-in");
    let worker = worker_for(&env, &jira.secret("default")).await;
    let repo = write_repo(&[("catalog/two.yaml", TWO_TICKETS)]);
    let loaded = pao::catalog::load::load_dir(repo.path()).expect("catalog");
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    Setup {
        env,
        jira,
        worker,
        catalog: loaded.catalog,
        _repo: repo,
    }
}

/// Submits a TWO_TICKETS request with `input` (written and its first task sent).
pub async fn submit(s: &Setup, input: serde_json::Value) -> pao::record::RequestId {
    submit_item(
        &s.env,
        &s.catalog,
        pao::catalog::Target::CatalogItem("two-tickets".into()),
        input,
    )
    .await
}

/// Submits `target` with `input` as the developer, as the API does: built, written, and its
/// first task sent.
pub async fn submit_item(
    env: &TestEnv,
    catalog: &pao::catalog::Catalog,
    target: pao::catalog::Target,
    input: serde_json::Value,
) -> pao::record::RequestId {
    let item = pao::request::SubmissionItem {
        schema_version: "catalog/v1".into(),
        target,
        input,
    };
    let ctx = pao::submission::Context {
        user: pao::record::Principal {
            arn: "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com".into(),
            email: Some("dev@example.com".into()),
            id: None,
        },
        correlation_id: "corr-test".into(),
        submission_id: "sub-test".into(),
        now: pao::clock::now_rfc3339(),
        region: "us-east-1".into(),
        environment: "test".into(),
        idempotency_seed: None,
        catalog_commit: String::new(),
        team: None,
    };
    let (request, tasks) =
        pao::submission::build(catalog, &item, 0, &ctx).expect("valid submission");
    pao::submission::write(
        &env.store(),
        &env.queue(),
        (&request, &tasks),
        &Default::default(),
        None,
    )
    .await
    .expect("written");
    request.request_id
}

pub async fn detail(s: &Setup, id: &pao::record::RequestId) -> pao::record::RequestDetail {
    s.env
        .store()
        .get_request(id, &pao::clock::Now::current(), pao::store::Read::Strong)
        .await
        .expect("query")
        .expect("request exists")
}

/// An API call by `caller` (the IAM principal API Gateway would have authenticated).
pub fn api_request(
    caller: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> pao::api::ApiRequest {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    pao::api::ApiRequest {
        method: method.into(),
        path: path.into(),
        query: query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
        headers: vec![],
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        caller_arn: Some(caller.into()),
        caller_id: Some(pao_local::sigv4::principal_id(caller)),
        request_id: None,
        // The account the local identities and the API belong to.
        home_account: Some("000000000000".into()),
    }
}

/// Sends a call to the API; every answer must carry a correlation id.
pub async fn api_send(app: &pao::api::App, req: pao::api::ApiRequest) -> (u16, serde_json::Value) {
    let r = app.handle(&req).await;
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k == "X-Correlation-Id" && !v.is_empty()),
        "no correlation id"
    );
    (r.status, r.body)
}

/// A catalog repository on the GitHub stand-in (a git working directory made from
/// `catalog_dir`), and the API and webhook following it, as a deployment would.
pub struct Followed {
    pub env: TestEnv,
    pub repo: tempfile::TempDir,
    pub github: pao_local::github_standin::GitHubStandIn,
    pub app: pao::api::App,
    pub webhook: pao::webhook::Webhook,
    pub webhook_secret: String,
}

pub const FOLLOWED_REPOSITORY: &str = "acme/platform-catalog";
/// The operators of a followed catalog's API (by ARN).
pub const FOLLOWED_OPERATOR_ROLE: &str = "arn:aws:iam::000000000000:role/PlatformOperator";

/// Starts a GitHub stand-in for a copy of `catalog_dir` and builds the API and the webhook
/// with their settings pointing at it; nothing is synced yet.
pub async fn follow(catalog_dir: &std::path::Path) -> Followed {
    let env = TestEnv::new().await;
    let repo = tempfile::tempdir().expect("temporary directory");
    pao_local::github_standin::init_repo(repo.path(), catalog_dir).expect("git repository");
    let token = format!("ghp_{}", env.table);
    let github = pao_local::github_standin::GitHubStandIn::start(
        0,
        repo.path(),
        FOLLOWED_REPOSITORY,
        &token,
    )
    .await
    .expect("GitHub stand-in");
    let mut config = env.stack.config.clone();
    config.catalog_repository = FOLLOWED_REPOSITORY.into();
    config.catalog_branch = "main".into();
    config.github_api_url = github.api_url();
    let webhook_secret = format!("whsec-{}", env.table);
    pao_local::provision::put_secret(&env.secrets, &config.github_token_secret_id, &token)
        .await
        .expect("token secret");
    pao_local::provision::put_secret(
        &env.secrets,
        &config.github_webhook_secret_id,
        &webhook_secret,
    )
    .await
    .expect("webhook secret");
    let mut app =
        pao::api::App::from_config(&config, &env.sdk_of(pao_local::identity::Function::Api));
    app.operators = pao::operations::Operators::new(FOLLOWED_OPERATOR_ROLE, "");
    let webhook = pao::webhook::Webhook::from_config(
        &config,
        &env.sdk_of(pao_local::identity::Function::GithubWebhook),
    );
    Followed {
        env,
        repo,
        github,
        app,
        webhook,
        webhook_secret,
    }
}

impl Followed {
    /// Writes (Some) or deletes (None) files in the working directory and commits them.
    pub fn commit(&self, changes: &[(&str, Option<&str>)], message: &str) -> String {
        for (path, content) in changes {
            let full = self.repo.path().join(path);
            match content {
                Some(text) => {
                    if let Some(parent) = full.parent() {
                        std::fs::create_dir_all(parent).expect("create folders");
                    }
                    std::fs::write(&full, text).expect("write file");
                }
                None => std::fs::remove_file(&full).expect("remove file"),
            }
        }
        pao_local::github_standin::commit_all(self.repo.path(), message).expect("commit")
    }

    /// A push delivery as GitHub sends it: body and headers, signed with the webhook secret.
    pub fn push(
        &self,
        git_ref: &str,
        after: &str,
        delivery: &str,
    ) -> (Vec<(String, String)>, Vec<u8>) {
        let body = serde_json::json!({
            "ref": git_ref, "before": "0000000000000000000000000000000000000000", "after": after,
            "repository": {"full_name": FOLLOWED_REPOSITORY, "default_branch": "main"},
            "pusher": {"name": "dev"}, "commits": [], "head_commit": {"id": after},
        })
        .to_string()
        .into_bytes();
        let headers = vec![
            ("X-GitHub-Event".to_string(), "push".to_string()),
            ("X-GitHub-Delivery".to_string(), delivery.to_string()),
            (
                "X-Hub-Signature-256".to_string(),
                pao::webhook::sign(self.webhook_secret.as_bytes(), &body),
            ),
            ("Content-Type".to_string(), "application/json".to_string()),
        ];
        (headers, body)
    }

    /// Delivers `headers` and `body` to the webhook: status and JSON body.
    pub async fn deliver(
        &self,
        headers: &[(String, String)],
        body: &[u8],
    ) -> (u16, serde_json::Value) {
        let r = self.webhook.handle(headers, body).await;
        (r.status, r.body)
    }

    /// The API's answer to `method path` by the developer, with a fresh view of the catalog.
    pub async fn api(&self, method: &str, path: &str) -> (u16, serde_json::Value) {
        self.api_as(
            "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com",
            method,
            path,
        )
        .await
    }

    /// A call as an operator (a session of the role [`FOLLOWED_OPERATOR_ROLE`]).
    pub async fn operator_api(&self, method: &str, path: &str) -> (u16, serde_json::Value) {
        self.api_as(
            "arn:aws:sts::000000000000:assumed-role/PlatformOperator/ops@example.com",
            method,
            path,
        )
        .await
    }

    pub async fn api_as(&self, caller: &str, method: &str, path: &str) -> (u16, serde_json::Value) {
        self.app.forget_catalog().await;
        api_send(&self.app, api_request(caller, method, path, None)).await
    }
}

/// A request with everything under it, read strongly.
pub async fn detail_of(env: &TestEnv, id: &pao::record::RequestId) -> pao::record::RequestDetail {
    env.store()
        .get_request(id, &pao::clock::Now::current(), pao::store::Read::Strong)
        .await
        .expect("query")
        .expect("request exists")
}

/// The id of the first request a submission's 202 answer made (empty when it made none: the
/// caller's next read then finds nothing and says so).
pub fn request_id_of(answer: &serde_json::Value) -> pao::record::RequestId {
    pao::record::RequestId(
        answer["data"]["requests"][0]["requestId"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// Creates the roles of `callers` (session ARNs) in the local endpoint's IAM with their tags,
/// as a deployment's roles carry them (what PAO reads for `access`, approvals, support, teams).
pub async fn tag_roles(env: &TestEnv, callers: &[(&str, &[(&str, &str)])]) {
    let identities: Vec<pao_local::sigv4::Identity> = callers
        .iter()
        .map(|(arn, tags)| pao_local::sigv4::Identity {
            access_key_id: String::new(),
            secret_access_key: String::new(),
            arn: arn.to_string(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
        .collect();
    pao_local::provision::tag_identities(&env.sdk, &identities)
        .await
        .expect("roles tagged");
}

/// What an EventBridge bus delivered, read the way a consumer reads it: a rule on the bus
/// (`source: pao`) whose target is an SQS queue of the test's own.
pub struct EventTap {
    sdk: pao::aws::SdkConfig,
    sqs: aws_sdk_sqs::Client,
    bus: String,
    rule: String,
    pub queue_url: String,
    /// Every event read so far (the whole EventBridge envelope).
    pub seen: Vec<serde_json::Value>,
}

impl EventTap {
    pub async fn new(sdk: &pao::aws::SdkConfig, bus: &str) -> Self {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let rule = format!("tap-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let queue_url = sqs
            .create_queue()
            .queue_name(&rule)
            .send()
            .await
            .expect("tap queue")
            .queue_url
            .expect("queue URL");
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue ARN")
            .attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .expect("queue ARN");
        let call = |op: &'static str, body: serde_json::Value| {
            let sdk = sdk.clone();
            async move {
                pao_local::provision::eventbridge_call(&sdk, op, body)
                    .await
                    .expect("EventBridge call")
            }
        };
        call(
            "PutRule",
            serde_json::json!({"Name": rule, "EventBusName": bus,
                               "EventPattern": serde_json::json!({"source": ["pao"]}).to_string()}),
        )
        .await;
        call(
            "PutTargets",
            serde_json::json!({"Rule": rule, "EventBusName": bus, "Targets": [{"Id": "tap", "Arn": arn}]}),
        )
        .await;
        Self {
            sdk: sdk.clone(),
            sqs,
            bus: bus.to_string(),
            rule,
            queue_url,
            seen: Vec::new(),
        }
    }

    /// Reads what arrived until `done` holds for everything seen (60 s at most).
    pub async fn read_until(
        &mut self,
        what: &str,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> &[serde_json::Value] {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !done(&self.seen) {
            assert!(
                std::time::Instant::now() < deadline,
                "waited 60 s for {what}; the bus delivered:\n{}",
                self.seen
                    .iter()
                    .map(|e| format!("{} {}", e["detail-type"], e["detail"]))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            self.drain(1).await;
        }
        &self.seen
    }

    /// One receive (waiting up to `wait_seconds`), everything it got kept and deleted.
    pub async fn drain(&mut self, wait_seconds: i32) -> usize {
        let got = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .send()
            .await
            .expect("receive from the tap")
            .messages
            .unwrap_or_default();
        for m in &got {
            let body: serde_json::Value =
                serde_json::from_str(m.body().unwrap_or_default()).expect("an event");
            self.seen.push(body);
            self.sqs
                .delete_message()
                .queue_url(&self.queue_url)
                .receipt_handle(m.receipt_handle().unwrap_or_default())
                .send()
                .await
                .expect("delete");
        }
        got.len()
    }

    /// Reads until the queue stays empty for two receives: nothing more is on its way.
    pub async fn settle(&mut self) -> &[serde_json::Value] {
        let mut quiet = 0;
        while quiet < 2 {
            if self.drain(1).await == 0 {
                quiet += 1;
            } else {
                quiet = 0;
            }
        }
        &self.seen
    }

    pub async fn remove(self) {
        let _ = pao_local::provision::eventbridge_call(
            &self.sdk,
            "RemoveTargets",
            serde_json::json!({"Rule": self.rule, "EventBusName": self.bus, "Ids": ["tap"]}),
        )
        .await;
        let _ = pao_local::provision::eventbridge_call(
            &self.sdk,
            "DeleteRule",
            serde_json::json!({"Name": self.rule, "EventBusName": self.bus}),
        )
        .await;
        let _ = self
            .sqs
            .delete_queue()
            .queue_url(&self.queue_url)
            .send()
            .await;
    }
}

/// A call to a local stack's API at `base`, SigV4-signed with `key` at `at`: the status and
/// the JSON answer.
pub async fn signed_call(
    base: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
    key: (&str, &str),
    at: std::time::SystemTime,
) -> (u16, serde_json::Value) {
    let url = format!("{base}{path}");
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let client = reqwest::Client::new();
    let mut req = client
        .request(method.parse().expect("method"), &url)
        .body(bytes.clone());
    for (k, v) in sign(method, &url, &bytes, key.0, key.1, at) {
        if k != "host" {
            req = req.header(k, v);
        }
    }
    let response = req.send().await.expect("the local API answers");
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// A WebSocket client of a local stack's live API (`ws://<api>/live`), the upgrade request
/// SigV4-signed with `key` as API Gateway's IAM authorization on `$connect` expects.
pub struct LiveClient {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    /// Every message received so far.
    pub seen: Vec<serde_json::Value>,
}

impl LiveClient {
    /// Connects; `Err` carries the HTTP status the upgrade was refused with.
    pub async fn connect(addr: std::net::SocketAddr, key: (&str, &str)) -> Result<Self, u16> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("http://{addr}/live");
        let mut request = format!("ws://{addr}/live")
            .into_client_request()
            .expect("a WebSocket request");
        for (k, v) in sign("GET", &url, b"", key.0, key.1, std::time::SystemTime::now()) {
            if k != "host" {
                request.headers_mut().insert(
                    tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes())
                        .expect("header name"),
                    v.parse().expect("header value"),
                );
            }
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(Self {
                socket,
                seen: Vec::new(),
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
            Err(e) => panic!("could not reach the live API: {e}"),
        }
    }

    pub async fn send(&mut self, message: serde_json::Value) {
        use futures_util::SinkExt;
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::text(
                message.to_string(),
            ))
            .await
            .expect("sent");
    }

    /// Reads messages until one satisfies `done` (60 s at most); that message.
    pub async fn until(
        &mut self,
        what: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let next = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("waited 60 s for {what}; received: {:#?}", self.seen));
            let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) = next else {
                panic!("the socket closed while waiting for {what}: {next:?}");
            };
            let v: serde_json::Value = serde_json::from_str(text.as_str()).expect("JSON");
            self.seen.push(v.clone());
            if done(&v) {
                return v;
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
