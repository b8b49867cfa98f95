//! `make bench`: submission latency and task throughput through the local stack's own
//! handlers (API and worker) against the local AWS endpoint and the JIRA stand-in, with the
//! number of DynamoDB and SQS calls per submission and per task. Times are reported beside a
//! floor measured in the same run (one DynamoDB GetItem round trip), never as absolute
//! targets: moto's cost grows with what it stores.
//!
//! Settings: `PAO_BENCH_REQUESTS` (default 100), `PAO_BENCH_CONCURRENCY` (default 8).

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use pao::api::{ApiRequest, App};
use pao::worker::Worker;
use pao_local::jira_standin::JiraStandIn;
use pao_local::provision;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counts the calls a client sends.
#[derive(Debug, Clone, Default)]
struct Counter(Arc<AtomicU64>);

impl Counter {
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "call-counter"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

const ITEM: &str = r#"
schemaVersion: catalog/v1
kind: CatalogItem
metadata: { id: bench-item, name: Bench, version: 1.0.0, category: bench, owner: pao, description: Two JIRA tickets. }
form:
  groups:
    - id: basic
      fields:
        - { id: instanceName, type: string, required: true, pattern: '^[a-z][a-z0-9-]{2,30}$' }
fulfillment:
  items:
    - { id: first, type: jira-ticket, config: { project: DBA, issueType: Task, summary: "Provision {{.current.basic.instanceName}}" }, outputs: { firstKey: /key } }
    - { id: second, type: jira-ticket, config: { project: OPS, issueType: Task, summary: "After {{.output.firstKey}}" } }
"#;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var("AWS_ENDPOINT_URL")
        .map(|v| v.is_empty())
        .unwrap_or(true)
    {
        return Err("AWS_ENDPOINT_URL is not set: run `make bench`".into());
    }
    pao::logging::init();
    let n: usize = std::env::var("PAO_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let concurrency: usize = std::env::var("PAO_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8)
        .max(1);
    let sdk = pao::aws::load_sdk_config().await;
    let (dynamo_calls, sqs_calls) = (Counter::default(), Counter::default());
    let dynamo = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(dynamo_calls.clone())
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk)
            .interceptor(sqs_calls.clone())
            .build(),
    );
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);

    let mut names = provision::Names::unique("pao-bench");
    names.environment = "bench".into();
    let stack = provision::stack(&sdk, &names).await?;
    let jira = JiraStandIn::start(0, "bench@example.com", "bench-token").await?;
    provision::put_secret(&secrets, &names.jira_secret, &jira.secret("default")).await?;
    let store = pao::store::Store::new(dynamo.clone(), &names.table);
    let (catalog, problems) =
        pao::catalog::validate::validate_sources(vec![pao::catalog::SourceDoc {
            file: "catalog/bench.yaml".into(),
            text: ITEM.into(),
            owners: vec![],
        }]);
    assert!(
        problems.is_empty() && catalog.get("bench-item").is_some(),
        "bench item invalid: {problems:?}"
    );
    store
        .put_catalog(
            "bench",
            &[pao::catalog::SourceDoc {
                file: "catalog/bench.yaml".into(),
                text: ITEM.into(),
                owners: vec![],
            }],
            &pao::clock::Now::current(),
        )
        .await?;
    // The functions' own constructors, with the clients that count calls.
    let queue = pao::queue::Queue::new(sqs.clone(), &stack.queues.queue);
    let mut app = App::from_config(&stack.config, &sdk);
    app.store = store.clone();
    app.queue = queue.clone();
    let app = Arc::new(app);
    let mut worker = Worker::from_config(&stack.config, &sdk);
    worker.store = store.clone();
    worker.queue = queue;

    // Warm the catalog cache, then measure the floor: one GetItem round trip.
    app.catalog().await?;
    let mut floor = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        store
            .get_task(&pao::record::RequestId("req-none".into()), 0)
            .await?;
        floor.push(t.elapsed());
    }
    floor.sort();

    // Submissions, `concurrency` at a time.
    let (d0, s0) = (dynamo_calls.get(), sqs_calls.get());
    let started = Instant::now();
    let latencies = Arc::new(tokio::sync::Mutex::new(Vec::with_capacity(n)));
    let next = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::new();
    for _ in 0..concurrency {
        let (app, latencies, next) = (app.clone(), latencies.clone(), next.clone());
        clients.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                if i >= n {
                    break;
                }
                let body = json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "bench-item",
                                              "input": {"name": format!("bench-{i}"), "basic": {"instanceName": format!("db-{i}")}}}]});
                let req = ApiRequest {
                    method: "POST".into(),
                    path: "/api/v1/requests".into(),
                    body: body.to_string().into_bytes(),
                    caller_arn: Some("arn:aws:sts::000000000000:assumed-role/Developer/bench@example.com".into()),
                    ..ApiRequest::default()
                };
                let t = Instant::now();
                let answer = app.handle(&req).await;
                let elapsed = t.elapsed();
                assert_eq!(answer.status, 202, "{}", answer.body);
                latencies.lock().await.push(elapsed);
            }
        }));
    }
    for c in clients {
        c.await?;
    }
    let submit_wall = started.elapsed();
    let (d1, s1) = (dynamo_calls.get(), sqs_calls.get());
    let mut lat = latencies.lock().await.clone();
    lat.sort();

    // Tasks: the worker drains the queue as an event source mapping would.
    let tasks = 2 * n as u64;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(600);
    while jira.issues().len() < tasks as usize && Instant::now() < deadline {
        pao_local::esm::poll_once(&worker.queue, &worker, 1).await?;
    }
    let task_wall = started.elapsed();
    let done = jira.issues().len() as u64;
    let (d2, s2) = (dynamo_calls.get(), sqs_calls.get());

    println!(
        "PAO benchmark: {n} submissions ({concurrency} at a time), {tasks} JIRA tasks, local AWS endpoint"
    );
    println!();
    println!(
        "floor (one DynamoDB GetItem)    p50 {}   p95 {}",
        ms(percentile(&floor, 0.5)),
        ms(percentile(&floor, 0.95))
    );
    println!(
        "submission latency              p50 {}   p95 {}   p99 {}   ({:.1}x floor at p50)",
        ms(percentile(&lat, 0.5)),
        ms(percentile(&lat, 0.95)),
        ms(percentile(&lat, 0.99)),
        percentile(&lat, 0.5).as_secs_f64() / percentile(&floor, 0.5).as_secs_f64().max(1e-9)
    );
    println!(
        "submissions per second          {:.1}",
        n as f64 / submit_wall.as_secs_f64()
    );
    println!(
        "tasks per second                {:.1}   ({done} of {tasks} done)",
        done as f64 / task_wall.as_secs_f64()
    );
    println!(
        "DynamoDB calls per submission   {:.1}",
        (d1 - d0) as f64 / n as f64
    );
    println!(
        "SQS calls per submission        {:.1}",
        (s1 - s0) as f64 / n as f64
    );
    println!(
        "DynamoDB calls per task         {:.1}",
        (d2 - d1) as f64 / tasks as f64
    );
    println!(
        "SQS calls per task              {:.1}   (receives and deletes included)",
        (s2 - s1) as f64 / tasks as f64
    );

    // Catalog sync: a refresh of 200 documents from the GitHub stand-in, then one change.
    let (full, one) = bench_refresh(&stack, &sdk, &secrets).await?;
    println!(
        "catalog refresh, 200 documents  {}   (then one changed document: {})",
        ms(full),
        ms(one)
    );

    stack.delete(&sdk).await;
    if done < tasks {
        return Err(format!("only {done} of {tasks} tasks completed").into());
    }
    Ok(())
}

/// How long a sync takes for a repository of 200 documents (all new), and for one change.
async fn bench_refresh(
    stack: &provision::Stack,
    sdk: &pao::aws::SdkConfig,
    secrets: &aws_sdk_secretsmanager::Client,
) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    let source = std::env::temp_dir().join(format!("{}-catalog", stack.names.table));
    let git_dir = std::env::temp_dir().join(format!("{}-git", stack.names.table));
    for n in 0..200 {
        let dir = source.join("catalog/generated");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join(format!("item-{n:03}.yaml")),
            ITEM.replace("bench-item", &format!("generated-{n:03}")),
        )?;
    }
    pao_local::github_standin::init_repo(&git_dir, &source)?;
    let github = pao_local::github_standin::GitHubStandIn::start(
        0,
        &git_dir,
        "bench/catalog",
        "bench-token",
    )
    .await?;
    provision::put_secret(secrets, &stack.config.github_token_secret_id, &github.token).await?;
    let mut config = stack.config.clone();
    config.catalog_repository = "bench/catalog".into();
    config.github_api_url = github.api_url();
    let syncer = pao::sync::Syncer::from_config(&config, sdk);
    let started = Instant::now();
    let report = syncer.sync_head().await?;
    let full = started.elapsed();
    if report.added.len() != 200 {
        return Err(format!(
            "the refresh added {} documents, not 200",
            report.added.len()
        )
        .into());
    }
    let file = git_dir.join("catalog/generated/item-007.yaml");
    let text = std::fs::read_to_string(&file)?.replace("description:", "description: changed,");
    std::fs::write(&file, text)?;
    pao_local::github_standin::commit_all(&git_dir, "one change")?;
    let started = Instant::now();
    syncer.sync_head().await?;
    let one = started.elapsed();
    let _ = std::fs::remove_dir_all(&source);
    let _ = std::fs::remove_dir_all(&git_dir);
    Ok((full, one))
}
