//! A person's decisions on a request through the API, against the local AWS endpoint and the
//! JIRA stand-in: retry from the failed task, abort, the states each is allowed from.

use pao::request::RequestState;
use pao::task::TaskState;
use pao_system_tests::{
    TWO_TICKETS, TestEnv, api_request, api_send, app_for, detail_of, drain_until, worker_for,
    write_repo,
};
use serde_json::{Value, json};

const DEV: &str = "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com";
const OTHER: &str = "arn:aws:sts::000000000000:assumed-role/Developer/other@example.com";

struct Decide {
    env: TestEnv,
    jira: pao_local::jira_standin::JiraStandIn,
    app: pao::api::App,
    worker: pao::worker::Worker,
    _repo: tempfile::TempDir,
}

async fn setup() -> Decide {
    let env = TestEnv::new().await;
    let jira = pao_local::jira_standin::JiraStandIn::start(0, "pao@example.com", "jira-token")
        .await
        .expect("JIRA stand-in");
    let mut worker = worker_for(&env, &jira.secret("default")).await;
    // These tests change JIRA between a request's two tasks: each task waits for its message.
    worker.settings.follow_next_task = false;
    let repo = write_repo(&[("catalog/two.yaml", TWO_TICKETS)]);
    let app = app_for(&env, repo.path()).await;
    Decide {
        env,
        jira,
        app,
        worker,
        _repo: repo,
    }
}

async fn call(
    d: &Decide,
    who: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    api_send(&d.app, api_request(who, method, path, body)).await
}

async fn submit(d: &Decide) -> pao::record::RequestId {
    let (status, body) = call(
        d,
        DEV,
        "POST",
        "/api/v1/requests",
        Some(
            json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "two-tickets",
            "input": {"name": "orders", "basic": {"instanceName": "orders-db"}}}]}),
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    pao_system_tests::request_id_of(&body)
}

/// A request whose first ticket JIRA refused: `failed`, JIRA well again.
async fn failed_request(d: &Decide) -> pao::record::RequestDetail {
    let id = submit(d).await;
    d.jira.fail_with(Some(500));
    let failed = drain_until(&d.env, &d.worker, &id, ended).await;
    d.jira.fail_with(None);
    assert_eq!(failed.request.state, RequestState::Failed);
    failed
}

/// The owner's decision on a request: `retry`, `abort` or `escalate`.
async fn decide(d: &Decide, id: &pao::record::RequestId, decision: &str) -> (u16, Value) {
    call(
        d,
        DEV,
        "POST",
        &format!("/api/v1/requests/{id}/{decision}"),
        None,
    )
    .await
}

/// Runs the request's first task, then lets JIRA fail its second: the request is failed.
async fn fail_second_task(d: &Decide, id: &pao::record::RequestId) {
    drain_until(&d.env, &d.worker, id, |r| {
        r.tasks[0].state == TaskState::Completed
    })
    .await;
    d.jira.fail_with(Some(503));
    let failed = drain_until(&d.env, &d.worker, id, ended).await;
    assert_eq!(failed.request.state, RequestState::Failed);
}

fn ended(d: &pao::record::RequestDetail) -> bool {
    matches!(
        d.request.state,
        RequestState::Completed | RequestState::Failed
    )
}

#[tokio::test]
async fn a_retry_runs_the_failed_task_again_and_nothing_before_it() {
    let d = setup().await;
    let id = submit(&d).await;
    fail_second_task(&d, &id).await;
    assert_eq!(d.jira.issues().len(), 1);
    // Someone else's request does not exist for them.
    let (status, _) = call(
        &d,
        OTHER,
        "POST",
        &format!("/api/v1/requests/{id}/retry"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    d.jira.fail_with(None);
    let (status, body) = decide(&d, &id, "retry").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["data"]["attempt"], json!(2));
    let done = drain_until(&d.env, &d.worker, &id, ended).await;
    assert_eq!(
        done.request.state,
        RequestState::Completed,
        "{:?}",
        done.request.error
    );
    // The first ticket was not made again; the second exists once.
    assert_eq!(d.jira.issues().len(), 2);
    assert_eq!(done.tasks[0].attempt, 1);
    assert_eq!(done.tasks[1].attempt, 2);
    let history = &done.tasks[1].attempts;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].state, TaskState::Failed);
    assert!(
        history[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("503"),
        "{history:?}"
    );
    // The details show the counts and each task's earlier attempts.
    let (_, detail) = call(&d, DEV, "GET", &format!("/api/v1/requests/{id}"), None).await;
    assert_eq!(detail["data"]["counts"]["completed"], json!(2), "{detail}");
    assert_eq!(detail["data"]["counts"]["failed"], json!(0));
    assert_eq!(
        detail["data"]["tasks"][1]["attempts"][0]["attempt"],
        json!(1)
    );
    assert_eq!(
        detail["data"]["tasks"][1]["attempts"][0]["state"],
        json!("failed")
    );
    // The decision is in the logs, with who made it.
    let (_, logs) = call(&d, DEV, "GET", &format!("/api/v1/requests/{id}/logs"), None).await;
    let retried = logs["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["kind"] == json!("request-retried"))
        .cloned()
        .unwrap_or(Value::Null);
    assert!(
        retried["message"]
            .as_str()
            .unwrap_or_default()
            .contains(DEV),
        "{logs}"
    );
    // A completed request cannot be retried or aborted: 409 naming its state.
    for decision in ["retry", "abort"] {
        let (status, body) = decide(&d, &id, decision).await;
        assert_eq!(status, 409, "{decision}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("is completed"),
            "{body}"
        );
    }
    d.env.cleanup().await;
}

#[tokio::test]
async fn an_abort_while_queued_runs_nothing() {
    let d = setup().await;
    let id = submit(&d).await;
    // A processing or submitted request cannot be retried.
    let (status, body) = decide(&d, &id, "retry").await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("is submitted")
    );
    // Nor escalated: only a failed request can be.
    let (status, body) = decide(&d, &id, "escalate").await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = decide(&d, &id, "abort").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["skippedTasks"], json!(2));
    // The queued message finds the request aborted and runs nothing.
    while pao_local::esm::poll_once(&d.worker.queue, &d.worker, 0)
        .await
        .expect("poll")
        > 0
    {}
    let after = detail_of(&d.env, &id).await;
    assert_eq!(after.request.state, RequestState::Aborted);
    let (_, status) = call(
        &d,
        DEV,
        "GET",
        &format!("/api/v1/requests/{id}/status"),
        None,
    )
    .await;
    assert_eq!(status["data"]["counts"]["skipped"], json!(2), "{status}");
    assert!(after.tasks.iter().all(|t| t.state == TaskState::Skipped));
    assert_eq!(d.jira.create_calls(), 0);
    // Aborted is final.
    let (status, _) = decide(&d, &id, "abort").await;
    assert_eq!(status, 409);
    d.env.cleanup().await;
}

#[tokio::test]
async fn two_retries_at_once_queue_the_task_once() {
    let d = setup().await;
    let failed = failed_request(&d).await;
    let id = failed.request.request_id.clone();
    let path = format!("/api/v1/requests/{id}/retry");
    let (one, two) = tokio::join!(
        call(&d, DEV, "POST", &path, None),
        call(&d, DEV, "POST", &path, None)
    );
    let mut statuses = [one.0, two.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [202, 409], "{one:?} {two:?}");
    let done = drain_until(&d.env, &d.worker, &id, ended).await;
    assert_eq!(done.request.state, RequestState::Completed);
    assert_eq!(done.tasks[0].attempt, 2);
    assert_eq!(d.jira.issues().len(), 2, "each ticket once");
    d.env.cleanup().await;
}

/// Escalation: one ticket per remaining task, linked, with what people need and no password;
/// repeated or resumed after a failure halfway, it makes no ticket twice.
#[tokio::test]
async fn escalation_hands_the_rest_to_people_once() {
    let mut d = setup().await;
    d.app.escalation.project = "ESC".into();
    let (status, body) = call(
        &d,
        DEV,
        "POST",
        "/api/v1/requests",
        Some(json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "two-tickets",
            "input": {"name": "orders", "basic": {"instanceName": "orders-db", "secret": "hunter2-hunter2"}}}]})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = pao_system_tests::request_id_of(&body);
    d.jira.fail_with(Some(500));
    let failed = drain_until(&d.env, &d.worker, &id, ended).await;
    assert_eq!(failed.request.state, RequestState::Failed);
    d.jira.fail_with(None);
    // JIRA dies after the first ticket: the call fails, the first task is escalated already.
    d.jira.fail_after_creates(Some(1));
    let path = format!("/api/v1/requests/{id}/escalate");
    let (status, body) = call(&d, DEV, "POST", &path, None).await;
    assert_eq!(status, 502, "{body}");
    let halfway = detail_of(&d.env, &id).await;
    assert_eq!(halfway.tasks[0].state, TaskState::Escalated);
    // The request stays claimed by escalation: no retry or abort lands between its tickets.
    assert_eq!(halfway.request.state, RequestState::Escalating);
    for decision in ["retry", "abort"] {
        let (status, body) = decide(&d, &id, decision).await;
        assert_eq!(status, 409, "{decision}: {body}");
    }
    d.jira.fail_after_creates(None);
    let (status, body) = call(&d, DEV, "POST", &path, None).await;
    assert_eq!(status, 200, "{body}");
    let keys: Vec<String> = body["data"]["tickets"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["key"].as_str().map(str::to_string))
        .collect();
    assert_eq!(keys, ["ESC-1", "ESC-2"]);
    assert_eq!(d.jira.issues().len(), 2, "no ticket twice");
    assert_eq!(d.jira.links(), [("ESC-1".to_string(), "ESC-2".to_string())]);
    let done = detail_of(&d.env, &id).await;
    assert_eq!(done.request.state, RequestState::Escalated);
    assert!(done.tasks.iter().all(|t| t.state == TaskState::Escalated));
    assert_eq!(
        done.tasks[1].external_ref.as_ref().map(|r| r.key.as_str()),
        Some("ESC-2")
    );
    // What the tickets say: the request, the failure, the earlier ticket, the config; never
    // the password.
    let second = d.jira.issues()[1].fields.to_string();
    assert!(second.contains(id.as_str()), "{second}");
    assert!(second.contains("500"), "{second}");
    assert!(second.contains("ESC-1"), "{second}");
    for issue in d.jira.issues() {
        assert!(
            !issue.fields.to_string().contains("hunter2-hunter2"),
            "{}",
            issue.fields
        );
    }
    // Escalated is final.
    let (status, body) = call(&d, DEV, "POST", &path, None).await;
    assert_eq!(status, 409, "{body}");
    d.env.cleanup().await;
}

/// Issue 23 point 5: a retry racing an escalation. Exactly one decision lands; the request
/// ends in that decision's state (never `processing` with nothing queued), and the other
/// call answers 409.
#[tokio::test]
async fn retry_and_escalate_race_and_one_wins() {
    let mut d = setup().await;
    d.app.escalation.project = "ESC".into();
    let failed = failed_request(&d).await;
    let id = failed.request.request_id.clone();
    let before = d.jira.issues().len();
    // JIRA answers slowly: the escalation is in the middle of its tickets when the retry lands.
    d.jira.delay(std::time::Duration::from_millis(300));
    // The pause only makes the retry likely to land mid-escalation (the case that used to
    // leave the request `processing` with nothing queued); either order is asserted below.
    let (escalated, retried) = tokio::join!(decide(&d, &id, "escalate"), async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        decide(&d, &id, "retry").await
    });
    d.jira.delay(std::time::Duration::ZERO);
    let mut statuses = [escalated.0, retried.0];
    statuses.sort_unstable();
    assert!(
        statuses == [200, 409] || statuses == [202, 409],
        "escalate {escalated:?}, retry {retried:?}"
    );
    if escalated.0 == 200 {
        let done = detail_of(&d.env, &id).await;
        assert_eq!(done.request.state, RequestState::Escalated);
        assert_eq!(
            d.jira.issues().len(),
            before + 2,
            "one ticket per remaining task"
        );
    } else {
        let done = drain_until(&d.env, &d.worker, &id, ended).await;
        assert_eq!(done.request.state, RequestState::Completed);
    }
    d.env.cleanup().await;
}

/// Issue 23 point 5: two escalations at once make each ticket once: the first claims the
/// request, the second answers 409 without calling JIRA.
#[tokio::test]
async fn two_escalations_make_each_ticket_once() {
    let mut d = setup().await;
    d.app.escalation.project = "ESC".into();
    let failed = failed_request(&d).await;
    let id = failed.request.request_id.clone();
    let before = d.jira.issues().len();
    d.jira.delay(std::time::Duration::from_millis(300));
    let (one, two) = tokio::join!(decide(&d, &id, "escalate"), decide(&d, &id, "escalate"));
    d.jira.delay(std::time::Duration::ZERO);
    let mut statuses = [one.0, two.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{one:?} {two:?}");
    let busy = if one.0 == 409 { &one.1 } else { &two.1 };
    assert!(
        busy["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("being escalated")),
        "{busy}"
    );
    assert_eq!(d.jira.issues().len(), before + 2, "each ticket once");
    let done = detail_of(&d.env, &id).await;
    assert_eq!(done.request.state, RequestState::Escalated);
    d.env.cleanup().await;
}

/// Issue 23 point 5: a call that dies after its claim (its lease never released) holds the
/// request until the lease runs out, and no longer: before, escalate answers 409; after, it
/// takes the request over and makes the tickets.
#[tokio::test]
async fn a_dead_escalation_is_taken_over_when_its_lease_runs_out() {
    let mut d = setup().await;
    d.app.escalation.project = "ESC".into();
    let failed = failed_request(&d).await;
    let id = failed.request.request_id.clone();
    let store = d.env.store();
    // The dead call claimed the request a moment ago.
    let now = pao::clock::Now::current();
    store
        .claim_escalation(&failed.request, now.epoch + 60, &now)
        .await
        .expect("claimed");
    let (status, body) = decide(&d, &id, "escalate").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(
        d.jira.issues().len(),
        0,
        "nothing made while the lease holds"
    );
    // Its lease ran out (written as if claimed 61 s ago).
    let held = detail_of(&d.env, &id).await;
    store
        .claim_escalation(&held.request, now.epoch.saturating_sub(1), &now)
        .await
        .expect("lease out");
    let (status, body) = decide(&d, &id, "escalate").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        detail_of(&d.env, &id).await.request.state,
        RequestState::Escalated
    );
    assert_eq!(d.jira.issues().len(), 2, "each ticket once");
    d.env.cleanup().await;
}

const BUNDLE: &str = r#"
schemaVersion: catalog/v1
kind: CatalogBundle
metadata: { id: two-pairs, name: Two pairs, version: 1.0.0, category: testing, owner: team-test, description: Two components of two tickets. }
form:
  groups:
    - id: basic
      fields:
        - { id: instanceName, type: string, required: true }
components:
  - id: primary
    catalogItemId: two-tickets
    input:
      basic: { instanceName: "{{.current.basic.instanceName}}-a" }
  - id: audit
    catalogItemId: one-ticket
    input:
      basic: { instanceName: "{{.current.basic.instanceName}}-b" }
"#;

const ONE_TICKET: &str = r#"
schemaVersion: catalog/v1
kind: CatalogItem
metadata: { id: one-ticket, name: One ticket, version: 1.0.0, category: testing, owner: team-test, description: One ticket. }
form:
  groups:
    - id: basic
      fields:
        - { id: instanceName, type: string, required: true }
fulfillment:
  items:
    - id: audit
      type: jira-ticket
      config: { project: AUD, issueType: Task, summary: "Audit {{.current.basic.instanceName}}", waitForResolution: false }
      outputs:
        auditKey: /key
    - id: close
      type: jira-ticket
      config: { project: AUD, issueType: Task, summary: "Close {{.output.auditKey}}", waitForResolution: false }
      outputs:
        closeKey: /key
"#;

/// A bundle that fails in its second component stops there; a retry finishes it without
/// making any ticket twice, and consecutive tickets are linked "blocks / is blocked by".
#[tokio::test]
async fn a_bundle_stops_at_its_failure_and_its_tickets_are_linked() {
    let env = TestEnv::new().await;
    let jira = pao_local::jira_standin::JiraStandIn::start(0, "pao@example.com", "jira-token")
        .await
        .expect("JIRA stand-in");
    let worker = worker_for(&env, &jira.secret("default")).await;
    let repo = write_repo(&[
        ("catalog/two.yaml", TWO_TICKETS),
        ("catalog/one.yaml", ONE_TICKET),
        ("bundles/pairs.yaml", BUNDLE),
    ]);
    let app = app_for(&env, repo.path()).await;
    let d = Decide {
        env,
        jira,
        app,
        worker,
        _repo: repo,
    };
    let (status, body) = call(
        &d,
        DEV,
        "POST",
        "/api/v1/requests",
        Some(
            json!({"items": [{"schemaVersion": "catalog/v1", "bundleId": "two-pairs",
            "input": {"name": "pairs", "basic": {"instanceName": "db"}}}]}),
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = pao_system_tests::request_id_of(&body);
    // The second component's ticket fails after the first component's two.
    d.jira.fail_after_creates(Some(2));
    let failed = drain_until(&d.env, &d.worker, &id, ended).await;
    assert_eq!(failed.request.state, RequestState::Failed);
    let states: Vec<TaskState> = failed.tasks.iter().map(|t| t.state).collect();
    assert_eq!(
        states,
        [
            TaskState::Completed,
            TaskState::Completed,
            TaskState::Failed,
            TaskState::Pending
        ]
    );
    assert_eq!(d.jira.issues().len(), 2);
    d.jira.fail_after_creates(None);
    let (status, body) = decide(&d, &id, "retry").await;
    assert_eq!(status, 202, "{body}");
    let done = drain_until(&d.env, &d.worker, &id, ended).await;
    assert_eq!(
        done.request.state,
        RequestState::Completed,
        "{:?}",
        done.request.error
    );
    let keys: Vec<String> = d.jira.issues().iter().map(|i| i.key.clone()).collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
    let links: Vec<(String, String)> = keys
        .windows(2)
        .map(|w| (w[0].clone(), w[1].clone()))
        .collect();
    assert_eq!(d.jira.links(), links);
    d.env.cleanup().await;
}

/// `fromTask` restarts from an earlier task, only when the caller names it: the tasks from
/// there run again as new attempts, their last attempts kept.
#[tokio::test]
async fn a_retry_from_an_earlier_task_runs_it_again() {
    let d = setup().await;
    let id = submit(&d).await;
    fail_second_task(&d, &id).await;
    d.jira.fail_with(None);
    let path = format!("/api/v1/requests/{id}/retry");
    let (status, body) = call(&d, DEV, "POST", &path, Some(json!({"fromTask": "nope"}))).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], json!("fromTask"));
    let (status, body) = call(&d, DEV, "POST", &path, Some(json!({"fromTask": "first"}))).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["data"]["task"], json!(0));
    let done = drain_until(&d.env, &d.worker, &id, ended).await;
    assert_eq!(
        done.request.state,
        RequestState::Completed,
        "{:?}",
        done.request.error
    );
    assert_eq!(done.request.completed_tasks, 2);
    assert_eq!(done.tasks[0].attempt, 2);
    assert_eq!(done.tasks[0].attempts[0].state, TaskState::Completed);
    assert_eq!(done.tasks[1].attempt, 2);
    // The first ticket was made again, as asked; the second once.
    assert_eq!(d.jira.issues().len(), 3);
    d.env.cleanup().await;
}

/// `expiresAt` of every item in a request's partition (None where absent).
async fn expiries(d: &Decide, id: &pao::record::RequestId) -> Vec<(String, Option<u64>)> {
    let out = d
        .env
        .dynamo
        .query()
        .table_name(&d.env.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("REQ#{id}")),
        )
        .consistent_read(true)
        .send()
        .await
        .expect("query the partition");
    out.items
        .unwrap_or_default()
        .iter()
        .map(|item| {
            let sk = item
                .get("sk")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let at = item
                .get("expiresAt")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok());
            (sk, at)
        })
        .collect()
}

/// Nothing is kept forever: a failed request keeps 180 days, and so does everything under it
/// (tasks, events); retried, the request no longer expires while it runs; completed, it keeps
/// 90 days and nothing under it goes before it.
#[tokio::test]
async fn every_item_of_a_request_expires_and_a_retried_request_is_kept_while_it_runs() {
    let d = setup().await;
    let id = submit(&d).await;
    fail_second_task(&d, &id).await;
    let now = pao::clock::Now::current().epoch;
    let day = 86_400;
    let failed = expiries(&d, &id).await;
    // The request and its two tasks (the events ride inside them).
    assert!(failed.len() >= 3, "{failed:?}");
    for (sk, at) in &failed {
        let at = at.unwrap_or_else(|| panic!("{sk} has no expiresAt: {failed:?}"));
        assert!(
            at >= now + 179 * day && at <= now + 181 * day,
            "{sk} expires at {at}, now {now}"
        );
    }
    d.jira.fail_with(None);
    let (status, body) = decide(&d, &id, "retry").await;
    assert_eq!(status, 202, "{body}");
    let retrying = expiries(&d, &id).await;
    let request = retrying.iter().find(|(sk, _)| sk == "#REQUEST");
    assert_eq!(
        request.map(|(_, at)| *at),
        Some(None),
        "a retried request must not expire while it runs: {retrying:?}"
    );
    let done = drain_until(&d.env, &d.worker, &id, ended).await;
    assert_eq!(done.request.state, RequestState::Completed);
    let completed = expiries(&d, &id).await;
    let request_at = completed
        .iter()
        .find(|(sk, _)| sk == "#REQUEST")
        .and_then(|(_, at)| *at)
        .expect("a completed request expires");
    assert!(request_at >= now + 89 * day && request_at <= now + 91 * day);
    for (sk, at) in &completed {
        let at = at.unwrap_or_else(|| panic!("{sk} has no expiresAt"));
        assert!(at >= request_at, "{sk} would go before its request");
    }
    d.env.cleanup().await;
}

/// Issue 23 point 14: a create JIRA made but whose answer was lost fails the task; the retry
/// finds that ticket by the task's label and makes none twice.
#[tokio::test]
async fn a_retry_finds_the_ticket_whose_answer_was_lost() {
    let d = setup().await;
    let id = submit(&d).await;
    drain_until(&d.env, &d.worker, &id, |r| {
        r.tasks[0].state == TaskState::Completed
    })
    .await;
    d.jira.lose_next_create_answer();
    let failed = drain_until(&d.env, &d.worker, &id, ended).await;
    assert_eq!(failed.request.state, RequestState::Failed);
    assert_eq!(d.jira.issues().len(), 2, "JIRA made the second ticket");
    let (status, body) = decide(&d, &id, "retry").await;
    assert_eq!(status, 202, "{body}");
    let done = drain_until(&d.env, &d.worker, &id, ended).await;
    assert_eq!(done.request.state, RequestState::Completed);
    let issues = d.jira.issues();
    assert_eq!(issues.len(), 2, "a second copy of the ticket was made");
    assert_eq!(
        done.tasks[1].external_ref.as_ref().map(|r| r.key.as_str()),
        Some(issues[1].key.as_str())
    );
    d.env.cleanup().await;
}
