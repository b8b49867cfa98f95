//! Issue 28, point 1: every committed change published to EventBridge once, in order per
//! request, with nothing secret in it, read the way a consumer reads the bus (a rule to an
//! SQS queue). The stream is read off the test's own table and handed to the events function
//! as Lambda's mapping does, redelivered whole and part-way as a crash would leave it.

use pao::events::publish::Publisher;
use pao_local::identity::Function;
use pao_system_tests::{
    EventTap, TestEnv, api_request, api_send, app_for, drain_until, worker_for, write_repo,
};
use serde_json::{Value, json};
use std::collections::HashMap;

const ITEM: &str = r#"schemaVersion: catalog/v1
kind: CatalogItem
metadata: { id: gated, name: Gated, version: 1.0.0, category: testing, owner: team-test, description: d }
approval:
  stages:
    - { id: owner, approvers: { arns: ["APPROVER"] } }
form:
  groups:
    - id: basic
      fields:
        - { id: secret, type: password }
fulfillment:
  items:
    - { id: first, type: jira-ticket, config: { project: OPS, issueType: Task, summary: "first {{ .current.name }}", waitForResolution: false } }
    - { id: second, type: jira-ticket, config: { project: OPS, issueType: Task, summary: "second {{ .current.name }}", waitForResolution: false } }
"#;

const SECRET: &str = "hunter2-event-secret";
const DEV: &str = "arn:aws:sts::000000000000:assumed-role/Dev/dev@example.com";
const APPROVER: &str = "arn:aws:sts::000000000000:assumed-role/Lead/lee@example.com";

struct World {
    env: TestEnv,
    app: pao::api::App,
    worker: pao::worker::Worker,
    _jira: pao_local::jira_standin::JiraStandIn,
    _repo: tempfile::TempDir,
}

async fn world() -> World {
    let env = TestEnv::new().await;
    let repo = write_repo(&[("catalog/gated.yaml", &ITEM.replace("APPROVER", APPROVER))]);
    let app = app_for(&env, repo.path()).await;
    let jira = pao_local::jira_standin::JiraStandIn::start(0, "pao@example.com", "jira-token-1")
        .await
        .expect("JIRA stand-in");
    let worker = worker_for(&env, &jira.secret("default")).await;
    World {
        env,
        app,
        worker,
        _jira: jira,
        _repo: repo,
    }
}

/// Submits the gated item, approves it and runs it to completion: its id.
async fn run_one(w: &World) -> pao::record::RequestId {
    let (status, answer) = api_send(
        &w.app,
        api_request(
            DEV,
            "POST",
            "/api/v1/requests",
            Some(
                json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "gated",
                "input": {"name": "orders", "basic": {"secret": SECRET}}}]}),
            ),
        ),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let id = pao_system_tests::request_id_of(&answer);
    let (status, answer) = api_send(
        &w.app,
        api_request(
            APPROVER,
            "POST",
            &format!("/api/v1/approvals/{id}/approve"),
            Some(json!({"comment": "go"})),
        ),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    drain_until(&w.env, &w.worker, &id, |d| {
        d.request.state == pao::request::RequestState::Completed
    })
    .await;
    id
}

fn publisher(env: &TestEnv) -> Publisher {
    Publisher::from_config(&env.stack.config, &env.sdk_of(Function::Events))
}

/// The events of one request, ordered by their `sequence` as a consumer orders them.
fn of_request<'a>(seen: &'a [Value], id: &str) -> Vec<&'a Value> {
    let mut mine: Vec<&Value> = seen
        .iter()
        .filter(|e| e["detail"]["requestId"] == id)
        .collect();
    mine.sort_by(|a, b| {
        a["detail"]["sequence"]
            .as_str()
            .cmp(&b["detail"]["sequence"].as_str())
    });
    mine
}

fn states(events: &[&Value], detail_type: &str, seq: Option<u64>) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["detail-type"] == detail_type)
        .filter(|e| seq.is_none_or(|s| e["detail"]["task"]["seq"] == s))
        .map(|e| {
            e["detail"]["state"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_change_is_published_once_in_order_and_nothing_secret_is_in_any() {
    let w = world().await;
    let id = run_one(&w).await;
    let mut tap = EventTap::new(&w.env.sdk, &w.env.stack.names.event_bus).await;
    let batch = pao_local::stream_esm::read_all(&w.env.sdk, &w.env.table)
        .await
        .expect("the table's stream");
    let derived = Publisher::derive(&batch);
    assert!(derived.len() >= 10, "{derived:?}");
    let p = publisher(&w.env);

    // A crash part-way: the first records were published (and marked) before it.
    let half = batch.records.len() / 2;
    let first = pao::events::stream::StreamEvent {
        records: batch.records[..half].to_vec(),
    };
    let published = p.handle(&first, None).await;
    assert!(published.response.batch_item_failures.is_empty());
    // Lambda hands the whole batch again, and again.
    let again = p.handle(&batch, None).await;
    assert!(again.response.batch_item_failures.is_empty());
    assert_eq!(
        again.skipped,
        published.events.len(),
        "published before the crash"
    );
    let third = p.handle(&batch, None).await;
    assert!(third.events.is_empty(), "nothing twice: {:?}", third.events);
    assert_eq!(third.skipped, derived.len());

    let seen = tap.settle().await.to_vec();
    // Exactly once per change: as many events as changes, no id twice.
    let mut ids: HashMap<String, usize> = HashMap::new();
    for e in &seen {
        assert_eq!(e["source"], "pao");
        *ids.entry(e["detail"]["eventId"].as_str().unwrap_or_default().into())
            .or_default() += 1;
    }
    assert_eq!(seen.len(), derived.len(), "one event per change");
    assert!(ids.values().all(|n| *n == 1), "{ids:?}");

    // In order per request, by `sequence`.
    let mine = of_request(&seen, id.as_str());
    assert_eq!(
        states(&mine, "Request State Changed", None),
        ["awaiting_approval", "submitted", "completed"]
    );
    let mut tasks: Vec<u64> = mine
        .iter()
        .filter_map(|e| e["detail"]["task"]["seq"].as_u64())
        .collect();
    tasks.dedup();
    tasks.sort_unstable();
    tasks.dedup();
    assert_eq!(tasks.len(), 2, "both tasks told: {tasks:?}");
    for seq in tasks {
        assert_eq!(
            states(&mine, "Task State Changed", Some(seq)),
            ["pending", "queued", "processing", "completed"],
            "task {seq}"
        );
    }
    let requested: Vec<&&Value> = mine
        .iter()
        .filter(|e| e["detail-type"] == "Approval Requested")
        .collect();
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0]["detail"]["deciders"]["arns"][0], APPROVER);
    let decided: Vec<&&Value> = mine
        .iter()
        .filter(|e| e["detail-type"] == "Approval Decided")
        .collect();
    assert_eq!(decided.len(), 1);
    assert_eq!(decided[0]["detail"]["decision"], "approved");
    assert_eq!(decided[0]["detail"]["by"], APPROVER);
    assert_eq!(decided[0]["detail"]["comment"], "go");
    // The catalog loaded for the test is an event too.
    assert_eq!(
        seen.iter()
            .filter(|e| e["detail-type"] == "Catalog Changed")
            .count(),
        1
    );

    // No secret anywhere, and every detail as its schema says.
    let text = serde_json::to_string(&seen).expect("json");
    assert!(!text.contains(SECRET), "a typed password reached an event");
    let schema: Value =
        serde_json::from_str(include_str!("../schemas/events/v1.schema.json")).expect("schema");
    for e in &seen {
        let kind = e["detail-type"]
            .as_str()
            .unwrap_or_default()
            .replace(' ', "");
        let mut one = schema.clone();
        one["allOf"] = json!([{"$ref": format!("#/$defs/{kind}")}]);
        let validator = jsonschema::validator_for(&one).expect("schema compiles");
        let errors: Vec<String> = validator
            .iter_errors(&e["detail"])
            .map(|err| format!("{} at {}", err, err.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{kind}: {errors:?}\n{}", e["detail"]);
    }
    tap.remove().await;
    w.env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_publish_comes_again_from_where_it_stopped_and_is_then_published_once() {
    let w = world().await;
    let id = run_one(&w).await;
    let mut tap = EventTap::new(&w.env.sdk, &w.env.stack.names.event_bus).await;
    let batch = pao_local::stream_esm::read_all(&w.env.sdk, &w.env.table)
        .await
        .expect("the table's stream");
    // EventBridge unreachable: nothing is published, and the whole batch is to come again.
    let unreachable = w
        .env
        .sdk_of(Function::Events)
        .to_builder()
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let down = Publisher::new(w.env.store(), &unreachable, &w.env.stack.names.event_bus);
    let failed = down.handle(&batch, None).await;
    assert!(failed.events.is_empty());
    // From the first record with anything to publish (those before it published nothing).
    let derived = Publisher::derive(&batch);
    assert_eq!(
        failed.response.batch_item_failures[0].item_identifier, derived[0].0,
        "retried from the first record not published"
    );
    assert_eq!(tap.drain(1).await, 0, "nothing reached the bus");

    // The mapping retries once EventBridge answers: everything, once.
    let p = publisher(&w.env);
    let ok = p.handle(&batch, None).await;
    assert!(ok.response.batch_item_failures.is_empty());
    assert_eq!(ok.skipped, 0);
    let seen = tap.settle().await.to_vec();
    assert_eq!(seen.len(), derived.len());
    let mine = of_request(&seen, id.as_str());
    assert_eq!(
        states(&mine, "Request State Changed", None),
        ["awaiting_approval", "submitted", "completed"]
    );
    tap.remove().await;
    w.env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_stack_publishes_each_change_as_it_commits() {
    use pao_system_tests::{TWO_TICKETS, local_options, signed_call, stop_local};
    let repo = write_repo(&[("catalog/two.yaml", TWO_TICKETS)]);
    let running = pao_local::runner::start(local_options(repo.path()))
        .await
        .expect("local stack starts");
    let sdk = pao::aws::load_sdk_config().await;
    let mut tap = EventTap::new(&sdk, &running.stack.names.event_bus).await;
    let base = format!("http://{}", running.api_addr);
    let dev = ("AKIAPAOLOCALDEV00001", "pao-local-dev-secret");
    let (status, body) = signed_call(
        &base,
        "POST",
        "/api/v1/requests",
        Some(
            json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "two-tickets",
            "input": {"name": "evented", "basic": {"instanceName": "orders-db"}}}]}),
        ),
        dev,
        std::time::SystemTime::now(),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = body["data"]["requests"][0]["requestId"]
        .as_str()
        .expect("id")
        .to_string();
    // Nobody hands the stream over by hand here: the stack's mapping does, as changes commit.
    let seen = tap
        .read_until("the request's completion on the bus", |seen| {
            seen.iter().any(|e| {
                e["detail-type"] == "Request State Changed"
                    && e["detail"]["requestId"] == id.as_str()
                    && e["detail"]["state"] == "completed"
            })
        })
        .await
        .to_vec();
    let mine = of_request(&seen, &id);
    assert_eq!(
        states(&mine, "Request State Changed", None),
        ["submitted", "completed"]
    );
    let completed = mine
        .iter()
        .filter(|e| e["detail-type"] == "Task State Changed" && e["detail"]["state"] == "completed")
        .count();
    assert_eq!(completed, 2, "both tasks");
    assert_eq!(
        mine[0]["detail"]["request"]["links"]["api"],
        format!("/api/v1/requests/{id}")
    );
    tap.remove().await;
    stop_local(running).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_that_fails_every_retry_is_described_in_the_events_dead_letter_queue() {
    let w = world().await;
    run_one(&w).await;
    // EventBridge unreachable for the events function; the mapping reads the stream as ever.
    let events_sdk = w.env.sdk_of(Function::Events);
    let down = events_sdk
        .to_builder()
        .endpoint_url("http://127.0.0.1:9")
        .build();
    let mut config = w.env.stack.config.clone();
    config.live_endpoint = String::new();
    let mut handler = events::Handler::from_config(&config, &events_sdk);
    handler.publisher = Publisher::new(w.env.store(), &down, &w.env.stack.names.event_bus);
    let mapping = pao_local::provision::StreamMapping {
        batch_size: 100,
        max_retries: 1,
        pk_filters: vec![pao_local::provision::PkFilter::Prefix("REQ#".into())],
    };
    let mut poller = pao_local::stream_esm::StreamPoller::new(
        &events_sdk,
        &w.env.table,
        &w.env.stack.events_dlq,
        mapping,
    )
    .await
    .expect("the stream");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let described = loop {
        poller.poll_once(&handler).await.expect("read the stream");
        let got = w
            .env
            .sqs
            .receive_message()
            .queue_url(&w.env.stack.events_dlq)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default();
        if let Some(m) = got.first() {
            break serde_json::from_str::<Value>(m.body().unwrap_or_default()).expect("JSON");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing reached the events dead-letter queue"
        );
    };
    assert_eq!(
        described["requestContext"]["condition"],
        "RetryAttemptsExhausted"
    );
    assert_eq!(described["requestContext"]["approximateInvokeCount"], 2);
    let info = &described["DDBStreamBatchInfo"];
    assert!(info["startSequenceNumber"].is_string() && info["batchSize"].as_u64() > Some(0));
    w.env.cleanup().await;
}
