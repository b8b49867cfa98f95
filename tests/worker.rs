//! Requests through the real queue and worker against the local AWS endpoint and a JIRA
//! stand-in: tickets chained through `.output`, JIRA failing, duplicate deliveries.

use pao::queue::TaskMessage;
use pao::record::RequestId;
use pao::request::RequestState;
use pao::task::TaskState;
use pao::worker::Outcome;
use pao_local::jira_standin::JiraStandIn;
use pao_system_tests::{Setup, detail, drain_until, setup, submit};
use serde_json::json;

#[tokio::test]
async fn two_tickets_complete_in_order_and_chain_outputs() {
    let s = setup().await;
    let id = submit(
        &s,
        json!({"name": "db", "basic": {"instanceName": "orders-db", "secret": "hunter2-hunter2"}}),
    )
    .await;
    let done = drain_until(&s.env, &s.worker, &id, |r| {
        r.request.state == RequestState::Completed
    })
    .await;
    assert_eq!(done.request.completed_tasks, 2);
    let issues = s.jira.issues();
    assert_eq!(issues.len(), 2);
    assert_eq!(issues[0].key, "DBA-1");
    assert_eq!(issues[0].fields["summary"], json!("Provision orders-db"));
    assert_eq!(
        issues[0].fields["description"],
        json!("for dev@example.com")
    );
    assert_eq!(issues[1].fields["summary"], json!("Follow-up of DBA-1"));
    // Jira Cloud (the stand-in's default) knows users by accountId only.
    assert_eq!(
        issues[1].fields["assignee"],
        json!({"accountId": "5b10ac8d82e05b22cc7d4ef5"})
    );
    let labels = issues[0].fields["labels"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(labels.contains(&json!(format!("pao-{id}-0"))), "{labels:?}");
    assert_eq!(done.tasks[0].outputs.get("firstKey"), Some(&json!("DBA-1")));
    let link = done.tasks[1].external_ref.clone().expect("JIRA link");
    assert_eq!(link.url, format!("{}/browse/OPS-1", s.jira.base_url()));
    // The password never reached storage.
    assert_eq!(done.request.input["basic"]["secret"], json!("********"));
    let kinds: Vec<&str> = done.events.iter().map(|e| e.kind.as_str()).collect();
    for kind in [
        "submitted",
        "task-started",
        "task-completed",
        "request-completed",
    ] {
        assert!(kinds.contains(&kind), "{kinds:?}");
    }
    s.env.cleanup().await;
}

#[tokio::test]
async fn jira_failing_fails_task_and_request_with_its_error() {
    let s = setup().await;
    s.jira.fail_with(Some(500));
    let id = submit(
        &s,
        json!({"name": "db", "basic": {"instanceName": "orders-db"}}),
    )
    .await;
    let failed = drain_until(&s.env, &s.worker, &id, |r| {
        r.request.state == RequestState::Failed
    })
    .await;
    assert_eq!(failed.tasks[0].state, TaskState::Failed);
    let error = failed.tasks[0].error.clone().unwrap_or_default();
    assert!(
        error.starts_with("JIRA answered 500: Internal server error"),
        "{error}"
    );
    assert!(!error.contains("jira-token-123"));
    assert_eq!(
        failed.tasks[1].state,
        TaskState::Pending,
        "nothing after a failure runs"
    );
    assert!(
        failed
            .request
            .error
            .clone()
            .unwrap_or_default()
            .contains("task 0 (first) failed")
    );
    assert!(
        failed
            .events
            .iter()
            .any(|e| e.kind == "task-failed" && e.message.contains("JIRA answered 500"))
    );
    assert_eq!(s.jira.create_calls(), 1, "nothing is retried automatically");
    s.env.cleanup().await;
}

#[tokio::test]
async fn the_same_message_twice_creates_one_ticket() {
    let s = setup().await;
    let id = submit(
        &s,
        json!({"name": "db", "basic": {"instanceName": "orders-db"}}),
    )
    .await;
    let message = TaskMessage {
        request_id: id.clone(),
        seq: 0,
        attempt: 1,
        correlation_id: "corr-test".into(),
    };
    assert_eq!(
        s.worker.handle(&message).await.expect("first"),
        Outcome::Completed
    );
    let again = s.worker.handle(&message).await.expect("second");
    assert!(matches!(again, Outcome::Ignored(_)), "{again:?}");
    assert_eq!(s.jira.create_calls(), 1);
    assert_eq!(detail(&s, &id).await.shown().request.completed_tasks, 1);
    s.env.cleanup().await;
}

#[tokio::test]
async fn an_interrupted_task_is_recovered_by_its_label_or_failed() {
    let s = setup().await;
    // A worker claimed task 0 and died: no ticket exists.
    let id = submit(
        &s,
        json!({"name": "db", "basic": {"instanceName": "orders-db"}}),
    )
    .await;
    claim(&s, &id).await;
    let message = TaskMessage {
        request_id: id.clone(),
        seq: 0,
        attempt: 1,
        correlation_id: "c".into(),
    };
    let outcome = s.worker.handle(&message).await.expect("handled");
    assert!(
        matches!(&outcome, Outcome::Failed(m) if m.starts_with("interrupted, outcome unknown")),
        "{outcome:?}"
    );
    assert_eq!(s.jira.create_calls(), 0);
    assert_eq!(detail(&s, &id).await.request.state, RequestState::Failed);

    // A worker created the ticket and died before recording it: the ticket is found, not made again.
    let id = submit(
        &s,
        json!({"name": "db", "basic": {"instanceName": "orders-db"}}),
    )
    .await;
    let message = TaskMessage {
        request_id: id.clone(),
        seq: 0,
        attempt: 1,
        correlation_id: "c".into(),
    };
    claim(&s, &id).await;
    let secret =
        pao::action::jira::JiraInstances::parse(&s.jira.secret("default")).expect("secret");
    let instance = secret.get("default").expect("instance");
    let created = pao::action::jira::JiraClient::new(reqwest_client())
        .create_issue(
            instance,
            &json!({"project": "DBA", "issueType": "Task", "summary": "x"}),
            &format!("pao-{id}-0"),
            std::time::Duration::from_secs(5),
        )
        .await
        .expect("created");
    assert_eq!(
        s.worker.handle(&message).await.expect("handled"),
        Outcome::Completed
    );
    assert_eq!(s.jira.create_calls(), 1);
    let d = detail(&s, &id).await;
    assert_eq!(
        d.tasks[0].outputs.get("firstKey"),
        created.result.get("key")
    );
    s.env.cleanup().await;
}

/// What a worker's claim writes, as if it died right after.
async fn claim(s: &Setup, id: &RequestId) {
    let d = detail(s, id).await;
    let started = pao::record::Event::about(&d.tasks[0], "task-started", "started".into());
    s.env
        .store()
        .claim_task(&d.tasks[0], &pao::clock::Now::current(), &started)
        .await
        .expect("claimed");
}

fn reqwest_client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn a_changed_jira_secret_is_picked_up_without_a_restart() {
    let mut s = setup().await;
    let other = JiraStandIn::start(0, "other@example.com", "other-token")
        .await
        .expect("second JIRA");
    // The cache's age limit is what makes this "within 60 s" in production; zero here.
    s.worker.secrets =
        pao::secrets::SecretCache::new(s.env.secrets.clone(), std::time::Duration::ZERO);
    let id = submit(
        &s,
        json!({"name": "db", "basic": {"instanceName": "orders-db"}}),
    )
    .await;
    let first = TaskMessage {
        request_id: id.clone(),
        seq: 0,
        attempt: 1,
        correlation_id: "c".into(),
    };
    assert_eq!(
        s.worker.handle(&first).await.expect("first"),
        Outcome::Completed
    );
    pao_local::provision::put_secret(
        &s.env.secrets,
        &s.worker.settings.jira_secret_id,
        &other.secret("default"),
    )
    .await
    .expect("secret changed");
    let second = TaskMessage {
        request_id: id.clone(),
        seq: 1,
        attempt: 1,
        correlation_id: "c".into(),
    };
    assert_eq!(
        s.worker.handle(&second).await.expect("second"),
        Outcome::Completed
    );
    assert_eq!(s.jira.issues().len(), 1);
    assert_eq!(other.issues().len(), 1);
    assert_eq!(
        other.issues()[0].fields["summary"],
        json!("Follow-up of DBA-1")
    );
    s.env.cleanup().await;
}

#[tokio::test]
async fn a_data_center_jira_is_searched_on_its_own_api() {
    let s = setup().await;
    let dc = JiraStandIn::start_data_center(0, "dc-personal-token")
        .await
        .expect("Data Center stand-in");
    let worker = pao_system_tests::worker_for(&s.env, &dc.secret("default")).await;
    let id = submit(
        &s,
        json!({"name": "db", "basic": {"instanceName": "orders-db"}}),
    )
    .await;
    claim(&s, &id).await;
    let secret = pao::action::jira::JiraInstances::parse(&dc.secret("default")).expect("secret");
    let instance = secret.get("default").expect("instance");
    // The earlier attempt created the ticket (Bearer auth) and died before recording it.
    pao::action::jira::JiraClient::new(reqwest_client())
        .create_issue(
            instance,
            &json!({"project": "DBA", "issueType": "Task", "summary": "x"}),
            &format!("pao-{id}-0"),
            std::time::Duration::from_secs(5),
        )
        .await
        .expect("created on Data Center");
    let message = TaskMessage {
        request_id: id.clone(),
        seq: 0,
        attempt: 1,
        correlation_id: "c".into(),
    };
    assert_eq!(
        worker.handle(&message).await.expect("handled"),
        Outcome::Completed
    );
    assert_eq!(dc.create_calls(), 1);
    s.env.cleanup().await;
}

/// The hop between tasks: the last record of a batch has its request's next task run in the
/// same invocation, without a message (no send, no delete, no receive between the two).
#[tokio::test]
async fn the_next_task_runs_in_the_same_invocation_without_a_message() {
    let s = setup().await;
    let id = submit(
        &s,
        json!({"name": "db", "basic": {"instanceName": "orders-db"}}),
    )
    .await;
    let messages = s.worker.queue.receive(5).await.expect("receive");
    assert_eq!(messages.len(), 1, "the first task's message");
    let faults = pao_system_tests::Faults::default();
    let mut worker =
        pao_system_tests::faulty_worker(&s.env, &s.jira.secret("default"), &faults).await;
    worker.queue = pao::queue::Queue::new(faults.sqs(&s.env), s.worker.queue.url());
    let records: Vec<pao::worker::Record> = messages
        .iter()
        .map(|m| pao::worker::Record {
            message_id: m.message_id.clone().unwrap_or_default(),
            body: m.body.clone().unwrap_or_default(),
            group_id: Some(id.to_string()),
            receipt_handle: m.receipt_handle.clone(),
        })
        .collect();
    let failed = worker.process_batch(&records, None).await;
    assert_eq!(failed, Vec::<String>::new());
    let d = detail(&s, &id).await;
    assert_eq!(d.request.state, RequestState::Completed);
    assert_eq!(s.jira.create_calls(), 2);
    let sent = faults
        .calls()
        .iter()
        .filter(|(op, _)| op == "SendMessage")
        .count();
    assert_eq!(sent, 0, "{:?}", faults.calls());
    s.env.cleanup().await;
}

/// An invocation that ran the next task itself and stopped in it left that task without a
/// message: the first task's message, delivered again, finds it and recovers it as the
/// task's own redelivery would (here: no ticket was made, so its outcome is unknown).
#[tokio::test]
async fn a_next_task_left_running_by_its_invocation_is_recovered_by_the_first_message() {
    let s = setup().await;
    let id = submit(
        &s,
        json!({"name": "db", "basic": {"instanceName": "orders-db"}}),
    )
    .await;
    let first = TaskMessage {
        request_id: id.clone(),
        seq: 0,
        attempt: 1,
        correlation_id: "c".into(),
    };
    assert_eq!(
        s.worker.handle(&first).await.expect("first"),
        Outcome::Completed
    );
    // The invocation claimed the second task and died.
    let d = detail(&s, &id).await;
    let started = pao::record::Event::about(&d.tasks[1], "task-started", "started".into());
    s.env
        .store()
        .claim_task(&d.tasks[1], &pao::clock::Now::current(), &started)
        .await
        .expect("claimed");
    let again = s.worker.handle(&first).await.expect("again");
    assert!(
        matches!(&again, Outcome::Failed(m) if m.starts_with("interrupted, outcome unknown")),
        "{again:?}"
    );
    let d = detail(&s, &id).await;
    assert_eq!(d.tasks[1].state, TaskState::Failed);
    assert_eq!(d.request.state, RequestState::Failed);
    assert_eq!(
        s.jira.create_calls(),
        1,
        "the second ticket was never made twice"
    );
    s.env.cleanup().await;
}
