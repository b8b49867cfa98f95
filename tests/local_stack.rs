//! The local stack as a developer uses it: SigV4-signed HTTP calls to the API, requests run
//! by the polling worker against the JIRA stand-in.

use pao_local::runner::start;
use pao_system_tests::{
    TWO_TICKETS, github_of, jira_of, local_options, signed_call as call, stop_local, write_repo,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant, SystemTime};

/// Submits the two-tickets item signed as `key`; returns the request id.
async fn submit_two_tickets(base: &str, key: (&str, &str), name: &str) -> String {
    let submission = json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "two-tickets",
                                       "input": {"name": name, "basic": {"instanceName": "orders-db"}}}]});
    let (status, body) = call(
        base,
        "POST",
        "/api/v1/requests",
        Some(submission),
        key,
        SystemTime::now(),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    body["data"]["requests"][0]["requestId"]
        .as_str()
        .expect("id")
        .to_string()
}

/// Polls the request's status (60 s at most) until it is `state`; returns that answer.
async fn wait_for_state(base: &str, key: (&str, &str), id: &str, state: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, status) = call(
            base,
            "GET",
            &format!("/api/v1/requests/{id}/status"),
            None,
            key,
            SystemTime::now(),
        )
        .await;
        if status["data"]["state"] == json!(state) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "request did not become {state}: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn signed_calls_run_a_request_to_completion() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "run with make test"
    );
    let repo = write_repo(&[("catalog/two.yaml", TWO_TICKETS)]);
    let opts = local_options(repo.path());
    let running = start(opts.clone()).await.expect("local stack starts");
    let base = format!("http://{}", running.api_addr);
    let dev = ("AKIAPAOLOCALDEV00001", "pao-local-dev-secret");
    let now = SystemTime::now();

    // Unsigned, wrongly signed and stale calls are refused like API Gateway does.
    let unsigned = reqwest::get(format!("{base}/api/v1/catalog"))
        .await
        .expect("answer");
    assert_eq!(unsigned.status().as_u16(), 403);
    let (status, body) = call(
        &base,
        "GET",
        "/api/v1/catalog",
        None,
        ("AKIAPAOLOCALDEV00001", "wrong"),
        now,
    )
    .await;
    assert_eq!(
        (
            status,
            body["message"]
                .as_str()
                .unwrap_or_default()
                .contains("does not match")
        ),
        (403, true)
    );
    let (status, _) = call(
        &base,
        "GET",
        "/api/v1/catalog",
        None,
        ("AKIAUNKNOWN000000000", "x"),
        now,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = call(
        &base,
        "GET",
        "/api/v1/catalog",
        None,
        dev,
        now - Duration::from_secs(3600),
    )
    .await;
    assert_eq!(status, 403);

    let (status, body) = call(&base, "GET", "/api/v1/catalog?q=two", None, dev, now).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["id"], json!("two-tickets"));

    let id = submit_two_tickets(&base, dev, "local").await;
    let status = wait_for_state(&base, dev, &id, "completed").await;
    assert_eq!(
        status["data"]["progress"]["text"],
        json!("2 of 2 completed")
    );
    // Listing needs the cursor key, read from the stack's secret on first use.
    let (status, list) = call(
        &base,
        "GET",
        "/api/v1/requests?limit=1",
        None,
        dev,
        SystemTime::now(),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"][0]["requestId"], json!(id));
    let issues = jira_of(&running).issues();
    assert_eq!(issues.len(), 2);
    assert_eq!(
        issues[1].fields["summary"],
        json!(format!("Follow-up of {}", issues[0].key))
    );

    stop_local(running).await;
}

/// The local stack fires the sweeper on its schedule: a request written ten minutes ago whose
/// first message never left is sent by it and runs to completion.
#[tokio::test]
async fn the_local_sweeper_sends_what_was_never_sent() {
    let repo = write_repo(&[("catalog/two.yaml", TWO_TICKETS)]);
    let mut opts = local_options(repo.path());
    opts.sweep_interval = Duration::from_secs(1);
    let running = start(opts.clone()).await.expect("local stack starts");
    let catalog = pao::catalog::load_dir(repo.path())
        .expect("catalog")
        .catalog;
    let ten_minutes_ago = pao::clock::rfc3339(pao::clock::now_epoch() - 600);
    let item = pao::request::SubmissionItem {
        schema_version: "catalog/v1".into(),
        target: pao::catalog::Target::CatalogItem("two-tickets".into()),
        input: json!({"name": "db", "basic": {"instanceName": "orders-db"}}),
    };
    let ctx = pao::submission::Context {
        user: pao::record::Principal {
            arn: "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com".into(),
            email: None,
            id: None,
        },
        correlation_id: "corr-sweep".into(),
        submission_id: "sub-sweep".into(),
        now: ten_minutes_ago,
        region: "us-east-1".into(),
        environment: "local".into(),
        idempotency_seed: None,
        catalog_commit: String::new(),
        team: None,
    };
    let (request, tasks) = pao::submission::build(&catalog, &item, 0, &ctx).expect("valid");
    let sdk = pao::aws::load_sdk_config().await;
    let store = pao::store::Store::new(aws_sdk_dynamodb::Client::new(&sdk), &opts.names.table);
    // Written, never sent: what a crash between the transaction and the send leaves.
    store
        .create_request(&request, &tasks, None)
        .await
        .expect("written");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d = store
            .get_request(
                &request.request_id,
                &pao::clock::Now::current(),
                pao::store::Read::Strong,
            )
            .await
            .expect("read")
            .expect("exists");
        if d.request.state == pao::request::RequestState::Completed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never completed: {:?} {:?}",
            d.request.state,
            d.tasks.iter().map(|t| t.state).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(jira_of(&running).issues().len(), 2);
    stop_local(running).await;
}

/// The local stack follows its catalog repository like a deployment follows GitHub: a change
/// committed in the working directory and pushed (`make catalog-push`) reaches the catalog
/// through the signed webhook; an unsigned delivery changes nothing.
#[tokio::test]
async fn a_catalog_push_reaches_the_catalog() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "run with make test"
    );
    let repo = write_repo(&[("catalog/two.yaml", TWO_TICKETS)]);
    let opts = local_options(repo.path());
    let running = start(opts.clone()).await.expect("local stack starts");
    assert_eq!(running.first_sync.added, ["catalog/two.yaml"]);
    let base = format!("http://{}", running.api_addr);
    let dev = ("AKIAPAOLOCALDEV00001", "pao-local-dev-secret");

    // Unsigned deliveries are refused by the webhook itself (the route has no IAM).
    let unsigned = reqwest::Client::new()
        .post(format!("{base}/api/v1/webhooks/github"))
        .header("X-GitHub-Event", "push")
        .body(r#"{"ref":"refs/heads/main"}"#)
        .send()
        .await
        .expect("answer");
    assert_eq!(unsigned.status().as_u16(), 401);

    let file = github_of(&running).dir.join("catalog/two.yaml");
    let renamed = std::fs::read_to_string(&file)
        .expect("document")
        .replace("name: Two tickets", "name: Two chained tickets");
    std::fs::write(&file, renamed).expect("write");
    let (status, answer) = pao_local::catalog_push::push(
        &github_of(&running).dir,
        &format!("{base}/api/v1"),
        "Rename the item",
    )
    .await
    .expect("pushed");
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["changed"], json!(["catalog/two.yaml"]));
    // The API caches the catalog for a minute in each container: wait for it, with a deadline.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, body) = call(
            &base,
            "GET",
            "/api/v1/catalog/two-tickets",
            None,
            dev,
            SystemTime::now(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        if body["data"]["name"] == json!("Two chained tickets") {
            break;
        }
        assert!(Instant::now() < deadline, "the change never showed: {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (_, sync) = call(
        &base,
        "GET",
        "/api/v1/catalog/sync",
        None,
        dev,
        SystemTime::now(),
    )
    .await;
    assert_eq!(sync["data"]["commit"], answer["data"]["commit"]);
    stop_local(running).await;
}

/// Sample input for every example document a developer can request (service-registration
/// reads other components' outputs: it runs inside full-application-stack).
fn example_inputs() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "catalogItemId",
            "database-aurora-postgresql",
            json!({"name": "orders-db",
            "basic": {"instanceName": "orders-db", "instanceClass": "db.r5.large", "engineVersion": "16.2"},
            "storage": {"masterPassword": "correct-horse-battery"}}),
        ),
        (
            "catalogItemId",
            "cache-redis",
            json!({"name": "hot", "cluster": {"clusterName": "hot-cache"}}),
        ),
        (
            "catalogItemId",
            "container-service",
            json!({"name": "web",
            "application": {"appName": "web", "containerImage": "myapp:1.0"}, "deployment": {"namespace": "web"}}),
        ),
        (
            "catalogItemId",
            "kubernetes-namespace",
            json!({"name": "team-a",
            "basic": {"namespace": "team-a", "team": "team-a@example.com"}, "quota": {"labels": {"cost": "a"}}}),
        ),
        (
            "catalogItemId",
            "monitoring-dashboard",
            json!({"name": "dash",
            "dashboard": {"title": "Web", "alertEmail": "ops@example.com"}}),
        ),
        (
            "catalogItemId",
            "storage-s3-bucket",
            json!({"name": "logs",
            "bucket": {"bucketName": "team-logs", "accessTeams": ["analytics"]}}),
        ),
        (
            "bundleId",
            "data-platform-starter",
            json!({"name": "data",
            "project": {"projectName": "analytics", "ownerEmail": "owner@example.com"}}),
        ),
        (
            "bundleId",
            "full-application-stack",
            json!({"name": "my-app-stack",
            "application": {"appName": "frontend", "containerImage": "myapp:latest"},
            "database": {"instanceName": "app-db"}}),
        ),
    ]
}

/// Every example item and bundle runs to completion on the local stack: JIRA, REST, webhook,
/// GitHub commit and workflow items against their stand-ins.
#[tokio::test]
async fn every_example_completes_on_the_local_stack() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "run with make test"
    );
    let examples = pao_system_tests::example_catalog_dir();
    let opts = local_options(&examples);
    let running = start(opts.clone()).await.expect("local stack starts");
    let base = format!("http://{}", running.api_addr);
    let dev = ("AKIAPAOLOCALDEV00001", "pao-local-dev-secret");
    let mut ids = Vec::new();
    for (key, id, input) in example_inputs() {
        let body = json!({"items": [{"schemaVersion": "catalog/v1", key: id, "input": input}]});
        let (status, answer) = call(
            &base,
            "POST",
            "/api/v1/requests",
            Some(body),
            dev,
            SystemTime::now(),
        )
        .await;
        assert_eq!(status, 202, "{id}: {answer}");
        let request = answer["data"]["requests"][0]["requestId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        ids.push((id, request));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for (id, request) in &ids {
        loop {
            let (_, status) = call(
                &base,
                "GET",
                &format!("/api/v1/requests/{request}/status"),
                None,
                dev,
                SystemTime::now(),
            )
            .await;
            let state = status["data"]["state"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if state == "completed" {
                break;
            }
            assert!(state != "failed", "{id} failed: {status}");
            assert!(Instant::now() < deadline, "{id} did not complete: {status}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    assert!(running.http.created() > 0);
    assert!(!github_of(&running).runs().is_empty());
    // Every ticket was worked (by the stand-in, as on `make dev`) and JIRA's signed webhook
    // concluded its task: the sweeper's poll (every 300 s) never had to.
    let jira = jira_of(&running);
    let deliveries = jira.deliveries();
    assert_eq!(deliveries.len(), jira.issues().len(), "{deliveries:?}");
    assert!(
        deliveries.iter().all(|d| d.answered == Some(200)),
        "{deliveries:?}"
    );
    stop_local(running).await;
}

/// Escalation works out of the box on the local stack: a failed request of an item that
/// names no `metadata.escalation` goes to the local escalation project.
#[tokio::test]
async fn a_failed_request_can_be_escalated_on_the_local_stack() {
    let repo = write_repo(&[("catalog/two.yaml", TWO_TICKETS)]);
    let running = start(local_options(repo.path()))
        .await
        .expect("local stack starts");
    assert_eq!(running.stack.config.escalation_project, "OPS");
    let base = format!("http://{}", running.api_addr);
    let dev = ("AKIAPAOLOCALDEV00001", "pao-local-dev-secret");
    jira_of(&running).fail_with(Some(503));
    let id = submit_two_tickets(&base, dev, "esc").await;
    wait_for_state(&base, dev, &id, "failed").await;
    jira_of(&running).fail_with(None);
    let (status, body) = call(
        &base,
        "POST",
        &format!("/api/v1/requests/{id}/escalate"),
        None,
        dev,
        SystemTime::now(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let issues = jira_of(&running).issues();
    assert!(!issues.is_empty(), "no escalation ticket");
    assert!(
        issues.iter().all(|i| i.key.starts_with("OPS-")),
        "{:?}",
        issues.iter().map(|i| &i.key).collect::<Vec<_>>()
    );
    stop_local(running).await;
}

/// `make smoke` (scripts/smoke.py) against the local stack, signed with the local developer's
/// keys through botocore's credential chain, as it signs against a deployed stack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smoke_script_submits_and_follows_a_request() {
    let running = start(local_options(&pao_system_tests::example_catalog_dir()))
        .await
        .expect("local stack starts");
    let api = format!("http://{}/api/v1", running.api_addr);
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(root.join(".venv/bin/python"))
            .arg(root.join("scripts/smoke.py"))
            .env("API", api)
            .env("AWS_ACCESS_KEY_ID", "AKIAPAOLOCALDEV00001")
            .env("AWS_SECRET_ACCESS_KEY", "pao-local-dev-secret")
            .env("AWS_REGION", "us-east-1")
            .env("TIMEOUT", "90")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .output()
            .expect("run scripts/smoke.py (make test creates .venv)")
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("smoke: the request completed"), "{stdout}");
    stop_local(running).await;
}
