//! Operators see and mend the queue (`/queue` routes) on the real protocol: a message the
//! worker could not handle three times lands in the dead-letter queue, is listed in place,
//! redriven once, and its request completes; statistics agree with what was queued; the
//! routes are for operators only; metrics lines are EMF.

use pao::api::App;
use pao::operations::Operators;
use pao::request::RequestState;
use pao::task::TaskState;
use pao_system_tests::{
    Faults, TestEnv, api_request, api_send, detail, drain_until, faulty_worker, setup, submit,
    sweeper_for,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const DEV: &str = "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com";
const OPS: &str = "arn:aws:sts::000000000000:assumed-role/PlatformOperator/ops@example.com";

fn input(name: &str) -> Value {
    json!({"name": name, "basic": {"instanceName": name}})
}

/// The API on the test's resources, with the operator role listed by ARN (no tag: the API
/// itself decides) and metrics kept in memory.
fn operator_app(env: &TestEnv) -> App {
    let mut app = App::from_config(
        &env.stack.config,
        &env.sdk_of(pao_local::identity::Function::Api),
    );
    app.operators = Operators::new("arn:aws:iam::000000000000:role/PlatformOperator", "");
    app.metrics = pao::metrics::Metrics::in_memory("api", "test");
    app
}

async fn get(app: &App, caller: &str, path: &str) -> (u16, Value) {
    api_send(app, api_request(caller, "GET", path, None)).await
}

async fn post(app: &App, caller: &str, path: &str) -> (u16, Value) {
    api_send(app, api_request(caller, "POST", path, None)).await
}

async fn dead_letter_count(env: &TestEnv) -> u64 {
    pao::queue::counts(&env.sqs, &env.queues.dlq)
        .await
        .expect("DLQ attributes")
        .visible
}

/// Runs a worker that fails infrastructure-side (its DynamoDB reads refused) on every
/// delivery until `count` messages are in the dead-letter queue: after three receives SQS
/// moves a message there. Failed deliveries come back after a second rather than the
/// template's six minutes.
async fn force_into_dead_letters(s: &pao_system_tests::Setup, count: u64) {
    s.env
        .sqs
        .set_queue_attributes()
        .queue_url(&s.env.queues.queue)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "1",
        )
        .send()
        .await
        .expect("visibility timeout");
    let faults = Faults::default();
    faults.fail(&["Query"], &[], 0);
    let broken = faulty_worker(&s.env, &s.jira.secret("default"), &faults).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while dead_letter_count(&s.env).await < count {
        assert!(
            Instant::now() < deadline,
            "the messages never reached the DLQ"
        );
        pao_local::esm::poll_once(&broken.queue, &broken, 2)
            .await
            .expect("poll");
    }
}

#[tokio::test]
async fn a_dead_letter_is_listed_in_place_redriven_once_and_its_request_completes() {
    let mut s = setup().await;
    let app = operator_app(&s.env);
    let id = submit(&s, input("orders-db")).await;
    force_into_dead_letters(&s, 1).await;
    assert_eq!(detail(&s, &id).await.tasks[0].state, TaskState::Queued);

    // Listed with its task, twice: same message, same order, still there and visible.
    let (status, first) = get(&app, OPS, "/api/v1/queue/dlq/messages").await;
    assert_eq!(status, 200, "{first}");
    let letters = first["data"].as_array().expect("list").clone();
    assert_eq!(letters.len(), 1, "{first}");
    assert_eq!(letters[0]["task"]["requestId"], json!(id.as_str()));
    assert_eq!(letters[0]["task"]["seq"], 0);
    assert!(
        letters[0]["receiveCount"].as_u64().unwrap_or(0) >= 3,
        "{first}"
    );
    assert!(letters[0]["firstReceivedAt"].is_string(), "{first}");
    let message_id = letters[0]["messageId"].as_str().expect("id").to_string();
    let (_, second) = get(&app, OPS, "/api/v1/queue/dlq/messages").await;
    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["messageId"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(ids(&second), vec![message_id.clone()]);
    assert_eq!(dead_letter_count(&s.env).await, 1, "visible again at once");

    // Stats see it; the request's view shows the waiting task.
    let (_, stats) = get(&app, OPS, "/api/v1/queue/stats").await;
    assert_eq!(stats["data"]["deadLetterQueue"]["visible"], 1, "{stats}");
    assert_eq!(stats["data"]["taskQueue"]["visible"], 0, "{stats}");
    assert_eq!(stats["data"]["tasks"]["queued"], 1, "{stats}");
    let (status, mine) = get(&app, OPS, &format!("/api/v1/queue/messages/{id}")).await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["data"]["tasks"][0]["state"], "queued", "{mine}");

    // The sweeper gives the task up meanwhile: stuck, request failed.
    let sweeper = sweeper_for(&s.env, 120, 60);
    let mut sweeper = sweeper;
    sweeper.settings.stuck_after = Duration::from_secs(1);
    sweeper.metrics = pao::metrics::Metrics::in_memory("sweeper", "test");
    let report = sweeper
        .sweep(pao::clock::now_epoch() + 5)
        .await
        .expect("sweep");
    assert_eq!(report.stuck.len(), 1, "{report:?}");
    let failed = detail(&s, &id).await;
    assert_eq!(failed.request.state, RequestState::Failed);
    assert_eq!(failed.tasks[0].state, TaskState::Stuck);

    // Redrive: the task is back on the queue, its request processing, the dead letter gone.
    let (status, redriven) = post(
        &app,
        OPS,
        &format!("/api/v1/queue/dlq/{message_id}/redrive"),
    )
    .await;
    assert_eq!(status, 200, "{redriven}");
    assert_eq!(redriven["data"]["taskState"], "queued", "{redriven}");
    let back = detail(&s, &id).await;
    assert_eq!(back.request.state, RequestState::Processing);
    assert!(
        back.events
            .iter()
            .any(|e| e.kind == "dead-letter-redriven" && e.message.contains(OPS)),
        "{:?}",
        back.events
    );
    assert_eq!(dead_letter_count(&s.env).await, 0);

    // A healthy worker finishes it: every ticket made once.
    s.worker.metrics = pao::metrics::Metrics::in_memory("worker", "test");
    let done = drain_until(&s.env, &s.worker, &id, |d| {
        d.request.state == RequestState::Completed
    })
    .await;
    assert_eq!(done.request.completed_tasks, 2);
    assert_eq!(s.jira.create_calls(), 2);

    // Already redriven: 404; others than operators: 403.
    let (status, again) = post(
        &app,
        OPS,
        &format!("/api/v1/queue/dlq/{message_id}/redrive"),
    )
    .await;
    assert_eq!(status, 404, "{again}");
    for (method, path) in [
        ("GET", "/api/v1/queue/stats".to_string()),
        ("GET", "/api/v1/queue/dlq/messages".to_string()),
        ("GET", format!("/api/v1/queue/messages/{id}")),
        ("POST", format!("/api/v1/queue/dlq/{message_id}/redrive")),
        ("POST", "/api/v1/queue/dlq/redrive".to_string()),
    ] {
        let (status, body) = api_send(&app, api_request(DEV, method, &path, None)).await;
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "FORBIDDEN");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("PlatformOperator"),
            "{body}"
        );
    }

    // Every metric line is EMF; each function said what it measured.
    let names = |lines: Vec<String>| -> Vec<String> {
        lines
            .iter()
            .flat_map(|l| pao::metrics::parse_emf(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    };
    let api_lines = app.metrics.lines();
    assert!(
        api_lines
            .iter()
            .any(|l| l.contains(r#""Route":"GET /queue/dlq/messages""#))
    );
    assert!(
        api_lines
            .iter()
            .any(|l| l.contains(r#""Route":"POST /queue/dlq/{messageId}/redrive""#))
    );
    assert!(names(api_lines).contains(&"Latency".to_string()));
    let worker_lines = s.worker.metrics.lines();
    assert!(
        worker_lines
            .iter()
            .any(|l| l.contains(r#""ActionType":"jira-ticket""#)
                && l.contains(r#""Outcome":"completed""#))
    );
    let worker_names = names(worker_lines);
    assert!(
        worker_names.contains(&"TaskDuration".to_string()),
        "{worker_names:?}"
    );
    assert!(
        worker_names.contains(&"RequestsCompleted".to_string()),
        "{worker_names:?}"
    );
    let sweeper_lines = sweeper.metrics.lines();
    assert!(
        sweeper_lines
            .iter()
            .any(|l| l.contains(r#""DeadLetters":1"#)),
        "{sweeper_lines:?}"
    );
    let sweeper_names = names(sweeper_lines);
    for gauge in ["StuckTasks", "OldestQueuedTaskAge", "DeadLetters"] {
        assert!(
            sweeper_names.contains(&gauge.to_string()),
            "{sweeper_names:?}"
        );
    }
    s.env.cleanup().await;
}

#[tokio::test]
async fn stats_and_waiting_tasks_agree_with_what_was_queued() {
    let s = setup().await;
    let app = operator_app(&s.env);
    let mut ids = Vec::new();
    for name in ["a-db", "b-db", "c-db"] {
        ids.push(submit(&s, input(name)).await);
    }
    let (status, stats) = get(&app, OPS, "/api/v1/queue/stats").await;
    assert_eq!(status, 200, "{stats}");
    let data = &stats["data"];
    assert_eq!(data["taskQueue"]["visible"], 3, "{stats}");
    assert_eq!(data["tasks"]["queued"], 3, "{stats}");
    assert_eq!(data["tasks"]["processing"], 0, "{stats}");
    assert!(data["tasks"]["oldestQueuedSince"].is_string(), "{stats}");
    assert!(
        data["tasks"]["oldestQueuedAgeSeconds"].as_u64().is_some(),
        "{stats}"
    );
    assert_eq!(data["last60Minutes"]["completed"], 0, "{stats}");

    // Waiting tasks, two pages, oldest first, without touching the queue.
    let (status, page1) = get(&app, OPS, "/api/v1/queue/messages?limit=2").await;
    assert_eq!(status, 200, "{page1}");
    assert_eq!(page1["data"].as_array().map(Vec::len), Some(2), "{page1}");
    let cursor = page1["meta"]["nextCursor"]
        .as_str()
        .expect("more")
        .to_string();
    let (_, page2) = get(
        &app,
        OPS,
        &format!("/api/v1/queue/messages?limit=2&cursor={cursor}"),
    )
    .await;
    let mut listed: Vec<String> = page1["data"]
        .as_array()
        .into_iter()
        .chain(page2["data"].as_array())
        .flatten()
        .filter_map(|t| t["requestId"].as_str().map(str::to_string))
        .collect();
    listed.sort();
    let mut wanted: Vec<String> = ids.iter().map(|i| i.as_str().to_string()).collect();
    wanted.sort();
    assert_eq!(listed, wanted);
    // A page position is sealed: a forged one, or one of another list, is refused.
    let (status, forged) = get(&app, OPS, "/api/v1/queue/messages?cursor=forged").await;
    assert_eq!(status, 400, "{forged}");
    let (status, other) = get(
        &app,
        OPS,
        &format!("/api/v1/queue/messages?state=stuck&cursor={cursor}"),
    )
    .await;
    assert_eq!(status, 400, "{other}");
    let after = pao::queue::counts(&s.env.sqs, &s.env.queues.queue)
        .await
        .expect("counts");
    assert_eq!(
        after.visible, 3,
        "listing received nothing from the task queue"
    );
    let (status, bad) = get(&app, OPS, "/api/v1/queue/messages?state=completed").await;
    assert_eq!(status, 400, "{bad}");
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("state:")
    );
    let (status, _) = get(&app, OPS, "/api/v1/queue/messages/no-such-request").await;
    assert_eq!(status, 404);

    for id in &ids {
        drain_until(&s.env, &s.worker, id, |d| {
            d.request.state == RequestState::Completed
        })
        .await;
    }
    let (_, stats) = get(&app, OPS, "/api/v1/queue/stats").await;
    let data = &stats["data"];
    assert_eq!(data["tasks"]["queued"], 0, "{stats}");
    assert_eq!(data["last5Minutes"]["completed"], 6, "{stats}");
    assert_eq!(data["last60Minutes"]["completed"], 6, "{stats}");
    assert_eq!(data["last5Minutes"]["failed"], 0, "{stats}");
    assert!(data["tasks"]["oldestQueuedSince"].is_null(), "{stats}");
    // Nothing dead: the redrive of everything redrives nothing.
    let (status, all) = post(&app, OPS, "/api/v1/queue/dlq/redrive").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["data"]["redriven"], json!([]));
    s.env.cleanup().await;
}

#[tokio::test]
async fn every_dead_letter_is_redriven_in_order_and_listed_a_page_at_a_time() {
    let s = setup().await;
    let app = operator_app(&s.env);
    let first = submit(&s, input("first-db")).await;
    let second = submit(&s, input("second-db")).await;
    force_into_dead_letters(&s, 2).await;

    let (status, page1) = get(&app, OPS, "/api/v1/queue/dlq/messages?limit=1").await;
    assert_eq!(status, 200, "{page1}");
    assert_eq!(page1["data"].as_array().map(Vec::len), Some(1), "{page1}");
    let cursor = page1["meta"]["nextCursor"].as_str().expect("a second page");
    let (_, page2) = get(
        &app,
        OPS,
        &format!("/api/v1/queue/dlq/messages?limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(page2["data"].as_array().map(Vec::len), Some(1), "{page2}");
    assert!(page2["meta"]["nextCursor"].is_null(), "{page2}");
    assert_ne!(page1["data"][0]["messageId"], page2["data"][0]["messageId"]);
    let (status, bad) = get(&app, OPS, "/api/v1/queue/dlq/messages?cursor=forged").await;
    assert_eq!(status, 400, "{bad}");

    // A call whose time budget is spent redrives nothing and leaves every dead letter where
    // it was, counted for the next call.
    let spent = pao::operations::redrive_all(
        &app.store,
        &app.queue,
        &app.dead_letters,
        "arn:aws:iam::000000000000:role/PlatformOperator",
        std::time::Duration::ZERO,
    )
    .await
    .expect("redrive with no time");
    assert_eq!((spent.redriven.len(), spent.remaining), (0, 2));
    assert_eq!(dead_letter_count(&s.env).await, 2);

    let (status, all) = post(&app, OPS, "/api/v1/queue/dlq/redrive").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["data"]["remaining"], json!(0), "{all}");
    assert_eq!(
        all["data"]["redriven"].as_array().map(Vec::len),
        Some(2),
        "{all}"
    );
    assert_eq!(all["data"]["failed"], json!([]), "{all}");
    assert_eq!(dead_letter_count(&s.env).await, 0);
    for id in [&first, &second] {
        let done = drain_until(&s.env, &s.worker, id, |d| {
            d.request.state == RequestState::Completed
        })
        .await;
        assert_eq!(done.request.completed_tasks, 2);
    }
    assert_eq!(s.jira.create_calls(), 4, "every ticket once");
    s.env.cleanup().await;
}

/// With operators admitted by tag, the function still draws the line itself: a path the
/// gateway's deny rule would not have matched (`//queue`) has no route, and a principal of
/// another account is no operator whatever its tags.
#[tokio::test]
async fn the_operator_line_holds_in_the_function_too() {
    let env = TestEnv::new().await;
    let mut app = operator_app(&env);
    app.operators = Operators::new("", "pao-role=operator");
    for path in [
        "/api/v1//queue/stats",
        "/api/v1/./queue/stats",
        "/api/v1/catalog/../queue/stats",
        "/api/v1/queue%2Fstats",
    ] {
        let (status, body) = get(&app, DEV, path).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let elsewhere = "arn:aws:sts::999999999999:assumed-role/PlatformOperator/eve@example.com";
    let (status, body) = get(&app, elsewhere, "/api/v1/queue/stats").await;
    assert_eq!(status, 403, "{body}");
    // A caller of the API's own account whom the gateway let through (it checked the tag).
    let (status, body) = get(&app, OPS, "/api/v1/queue/stats").await;
    assert_eq!(status, 200, "{body}");
    env.cleanup().await;
}
