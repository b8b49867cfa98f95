//! Nothing stalls: every request reaches a terminal state (or is visibly stuck and
//! retryable) whatever fails between two steps. Each test injects the fault where it
//! happens (a failing send, a failing write, a worker killed mid-task, a slow JIRA, a second
//! sweeper) on the real protocol, then checks what a user would see.

use pao::queue::TaskMessage;
use pao::record::RequestId;
use pao::request::RequestState;
use pao::task::TaskState;
use pao::worker::{Outcome, Record};
use pao_system_tests::{
    Faults, WRITES, api_request, api_send, app_for, detail, drain_until, faulty_worker, setup,
    submit, sweeper_for,
};
use serde_json::json;
use std::time::{Duration, Instant};

const DEV: &str = "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com";

fn input() -> serde_json::Value {
    json!({"name": "db", "basic": {"instanceName": "orders-db"}})
}

fn message(id: &RequestId, seq: u32) -> TaskMessage {
    TaskMessage {
        request_id: id.clone(),
        seq,
        attempt: 1,
        correlation_id: "corr-test".into(),
    }
}

fn completed(d: &pao::record::RequestDetail) -> bool {
    d.request.state == RequestState::Completed
}

/// Item 1: the task completes, then sending the next task's message fails. The redelivered
/// message finds the task completed and puts its successor on the queue.
#[tokio::test]
async fn a_lost_send_of_the_next_task_is_repaired_by_the_redelivery() {
    let s = setup().await;
    let id = submit(&s, input()).await;
    let faults = Faults::default();
    let worker = faulty_worker(&s.env, &s.jira.secret("default"), &faults).await;
    faults.fail(&["SendMessage"], &[], 0);
    assert!(
        worker.handle(&message(&id, 0)).await.is_err(),
        "the send failed"
    );
    assert_eq!(detail(&s, &id).await.tasks[0].state, TaskState::Completed);
    faults.clear();
    // SQS delivers the first message again.
    let again = worker.handle(&message(&id, 0)).await.expect("redelivery");
    assert!(matches!(again, Outcome::Ignored(_)), "{again:?}");
    let done = drain_until(&s.env, &s.worker, &id, completed).await;
    assert_eq!(done.request.completed_tasks, 2);
    assert_eq!(s.jira.create_calls(), 2, "no ticket twice");
    s.env.cleanup().await;
}

/// Item 1: writing the completion's event fails; the redelivery finds the ticket by its label
/// and moves on, creating nothing twice.
#[tokio::test]
async fn a_failed_event_write_does_not_strand_the_request() {
    let s = setup().await;
    let id = submit(&s, input()).await;
    let faults = Faults::default();
    let worker = faulty_worker(&s.env, &s.jira.secret("default"), &faults).await;
    faults.fail(&WRITES, &["task-completed"], 0);
    assert!(worker.handle(&message(&id, 0)).await.is_err());
    faults.clear();
    assert_eq!(
        worker.handle(&message(&id, 0)).await.expect("redelivery"),
        Outcome::Completed
    );
    let done = drain_until(&s.env, &s.worker, &id, completed).await;
    assert_eq!(
        s.jira.create_calls(),
        2,
        "the first ticket was found, not made again"
    );
    let kinds: Vec<&str> = done.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "task-completed").count(),
        2,
        "{kinds:?}"
    );
    s.env.cleanup().await;
}

/// Item 2: a failure is one write: the task never ends `failed` under a `processing` request.
#[tokio::test]
async fn a_task_and_its_request_fail_together() {
    let s = setup().await;
    s.jira.fail_with(Some(500));
    let id = submit(&s, input()).await;
    let faults = Faults::default();
    let worker = faulty_worker(&s.env, &s.jira.secret("default"), &faults).await;
    // The write that fails the request is refused (as a crash right before it would).
    faults.fail(&WRITES, &["#REQUEST", "JIRA answered 500"], 0);
    assert!(worker.handle(&message(&id, 0)).await.is_err());
    let d = detail(&s, &id).await;
    assert!(
        !(d.tasks[0].state == TaskState::Failed && d.request.state == RequestState::Processing),
        "task failed but request still processing"
    );
    faults.clear();
    worker.handle(&message(&id, 0)).await.expect("redelivery");
    let d = detail(&s, &id).await;
    assert_eq!(d.tasks[0].state, TaskState::Failed);
    assert_eq!(d.request.state, RequestState::Failed);
    s.env.cleanup().await;
}

/// Item 4: the reads that decide what runs are strongly consistent.
#[tokio::test]
async fn the_worker_reads_strongly() {
    let s = setup().await;
    let id = submit(&s, input()).await;
    let faults = Faults::default();
    let worker = faulty_worker(&s.env, &s.jira.secret("default"), &faults).await;
    assert_eq!(
        worker.handle(&message(&id, 0)).await.expect("ran"),
        Outcome::Completed
    );
    let reads: Vec<(String, String)> = faults
        .calls()
        .into_iter()
        .filter(|(op, _)| op == "Query" || op == "GetItem")
        .collect();
    assert!(!reads.is_empty());
    for (op, body) in reads {
        assert!(body.contains("\"ConsistentRead\":true"), "{op}: {body}");
    }
    s.env.cleanup().await;
}

/// Item 5: a transient failure writing the claim leaves the task to run on redelivery, not
/// failed as "outcome unknown".
#[tokio::test]
async fn a_failed_claim_write_is_not_an_unknown_outcome() {
    let s = setup().await;
    let id = submit(&s, input()).await;
    let faults = Faults::default();
    let worker = faulty_worker(&s.env, &s.jira.secret("default"), &faults).await;
    faults.fail(&WRITES, &["task-started"], 0);
    assert!(worker.handle(&message(&id, 0)).await.is_err());
    faults.clear();
    assert_eq!(
        worker.handle(&message(&id, 0)).await.expect("redelivery"),
        Outcome::Completed
    );
    assert_eq!(s.jira.create_calls(), 1);
    s.env.cleanup().await;
}

/// Item 7: near the invocation's deadline the rest of the batch is handed back unrun, and
/// made visible again at once (not after the queue's visibility timeout, while a FIFO group
/// would wait).
#[tokio::test]
async fn the_batch_stops_before_the_deadline() {
    let s = setup().await;
    let ids = [
        submit(&s, input()).await,
        submit(&s, input()).await,
        submit(&s, input()).await,
    ];
    let handed_back = run_out_of_time(&s, &ids).await;
    // The two handed back are there to receive again now (the queue's visibility timeout is
    // minutes).
    let mut again = receivable(&s, 2, Duration::from_secs(10)).await;
    again.sort();
    assert_eq!(
        again, handed_back,
        "handed-back messages are visible at once"
    );
    s.env.cleanup().await;
}

/// Item 7 with the visibility change refused (a throttled call): the rest of the batch is
/// still handed back unrun, and stays hidden until its visibility timeout, as before.
#[tokio::test]
async fn a_refused_release_still_hands_the_batch_back() {
    let mut s = setup().await;
    let ids = [
        submit(&s, input()).await,
        submit(&s, input()).await,
        submit(&s, input()).await,
    ];
    let faults = Faults::default();
    let url = s.worker.queue.url().to_string();
    s.worker.queue = pao::queue::Queue::new(faults.sqs(&s.env), url);
    faults.fail(&["ChangeMessageVisibility"], &[], 0);
    run_out_of_time(&s, &ids).await;
    assert!(
        faults
            .calls()
            .iter()
            .any(|(op, _)| op == "ChangeMessageVisibility"),
        "the release was tried"
    );
    assert_eq!(
        receivable(&s, 1, Duration::from_secs(3)).await,
        Vec::<String>::new()
    );
    s.env.cleanup().await;
}

/// Receives the three requests' messages as the event source mapping does and runs them
/// with room for one action only: the first completes, the other two are handed back unrun.
/// Returns the handed-back message ids, sorted.
async fn run_out_of_time(s: &pao_system_tests::Setup, ids: &[RequestId; 3]) -> Vec<String> {
    s.jira.delay(Duration::from_millis(1500));
    let mut received = Vec::new();
    let until = Instant::now() + Duration::from_secs(20);
    while received.len() < 3 {
        assert!(
            Instant::now() < until,
            "the three messages were not received"
        );
        received.extend(s.worker.queue.receive(1).await.expect("receive"));
    }
    let of = |m: &aws_sdk_sqs::types::Message| {
        serde_json::from_str::<TaskMessage>(m.body().unwrap_or_default())
            .map(|t| t.request_id)
            .ok()
    };
    received.sort_by_key(|m| ids.iter().position(|id| of(m).as_ref() == Some(id)));
    let records: Vec<Record> = received
        .iter()
        .map(|m| Record {
            message_id: m.message_id().unwrap_or_default().to_string(),
            body: m.body().unwrap_or_default().to_string(),
            group_id: of(m).map(|id| id.to_string()),
            receipt_handle: m.receipt_handle().map(str::to_string),
        })
        .collect();
    // Room for one action (10 s timeout + margin) and not for a second.
    let deadline = Instant::now() + s.worker.settings.action_timeout + Duration::from_secs(6);
    let failed = s.worker.process_batch(&records, Some(deadline)).await;
    let mut handed_back: Vec<String> = records[1..].iter().map(|r| r.message_id.clone()).collect();
    assert_eq!(failed, handed_back);
    assert_eq!(
        detail(s, &ids[0]).await.tasks[0].state,
        TaskState::Completed
    );
    for id in &ids[1..] {
        assert_eq!(detail(s, id).await.tasks[0].state, TaskState::Queued);
    }
    handed_back.sort();
    handed_back
}

/// The ids of the messages received from the task queue within `wait` (up to `n`).
async fn receivable(s: &pao_system_tests::Setup, n: usize, wait: Duration) -> Vec<String> {
    let mut ids = Vec::new();
    let until = Instant::now() + wait;
    while ids.len() < n && Instant::now() < until {
        ids.extend(
            s.worker
                .queue
                .receive(1)
                .await
                .expect("receive")
                .into_iter()
                .filter_map(|m| m.message_id().map(str::to_string)),
        );
    }
    ids
}

/// Item 7: a failing record holds back only the later records of its own request.
#[tokio::test]
async fn a_failure_holds_back_only_its_own_message_group() {
    let s = setup().await;
    let (a, b) = (submit(&s, input()).await, submit(&s, input()).await);
    let faults = Faults::default();
    let worker = faulty_worker(&s.env, &s.jira.secret("default"), &faults).await;
    faults.fail(&WRITES, &[a.as_str()], 0);
    let record = |n: &str, id: &RequestId| Record {
        message_id: n.into(),
        body: serde_json::to_string(&message(id, 0)).unwrap_or_default(),
        group_id: Some(id.to_string()),
        receipt_handle: None,
    };
    let failed = worker
        .process_batch(
            &[record("a1", &a), record("b1", &b), record("a2", &a)],
            None,
        )
        .await;
    assert_eq!(failed, ["a1", "a2"]);
    assert_eq!(detail(&s, &b).await.tasks[0].state, TaskState::Completed);
    s.env.cleanup().await;
}

/// Items 3 and 8: a submission whose first message never left is sent by the sweeper, once,
/// even with two sweepers running at the same time.
#[tokio::test]
async fn the_sweeper_sends_what_was_written_but_never_sent() {
    let s = setup().await;
    let mut app = app_for(&s.env, s._repo.path()).await;
    let faults = Faults::default();
    app.queue = pao::queue::Queue::new(faults.sqs(&s.env), &s.env.queues.queue);
    faults.fail(&["SendMessage"], &[], 0);
    let body = json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "two-tickets", "input": input()}]});
    let (status, answer) = api_send(
        &app,
        api_request(DEV, "POST", "/api/v1/requests", Some(body)),
    )
    .await;
    // The request is stored: the caller is told so, not asked to submit it again.
    assert_eq!(status, 202, "{answer}");
    let id = RequestId(
        answer["data"]["requests"][0]["requestId"]
            .as_str()
            .unwrap_or_default()
            .into(),
    );
    assert_eq!(detail(&s, &id).await.tasks[0].state, TaskState::Queued);
    assert_eq!(
        pao_local::esm::poll_once(&s.worker.queue, &s.worker, 0)
            .await
            .expect("poll"),
        0,
        "nothing was sent"
    );

    let (one, two) = (sweeper_for(&s.env, 900, 60), sweeper_for(&s.env, 900, 60));
    let later = pao::clock::now_epoch() + 61;
    let (r1, r2) = tokio::join!(one.sweep(later), two.sweep(later));
    let (r1, r2) = (r1.expect("sweep 1"), r2.expect("sweep 2"));
    assert_eq!(
        r1.resent.len() + r2.resent.len(),
        1,
        "sent exactly once: {r1:?} {r2:?}"
    );
    let done = drain_until(&s.env, &s.worker, &id, completed).await;
    assert_eq!(done.request.completed_tasks, 2);
    s.env.cleanup().await;
}

/// Item 8: a worker killed mid-task leaves the task `processing`; past the threshold the
/// sweeper marks it stuck and fails the request with the reason, exactly once.
#[tokio::test]
async fn a_task_left_running_is_marked_stuck_once() {
    let s = setup().await;
    let id = submit(&s, input()).await;
    s.jira.delay(Duration::from_secs(30));
    let run = {
        let worker = faulty_worker(&s.env, &s.jira.secret("default"), &Faults::default()).await;
        let m = message(&id, 0);
        tokio::spawn(async move {
            worker
                .handle(&m)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    };
    // Wait (with a deadline) until the claim is written (the task and its event, one write),
    // then kill the worker.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let d = detail(&s, &id).await;
        let claimed = d.tasks[0].state == TaskState::Processing
            && d.clone().shown().request.state == RequestState::Processing
            && d.events.iter().any(|e| e.kind == "task-started");
        if claimed {
            break;
        }
        assert!(Instant::now() < deadline, "never claimed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    run.abort();
    // Before the threshold nothing happens.
    let early = sweeper_for(&s.env, 900, 60)
        .sweep(pao::clock::now_epoch() + 10)
        .await
        .expect("sweep");
    assert!(early.stuck.is_empty(), "{early:?}");
    let later = pao::clock::now_epoch() + 901;
    let (one, two) = (sweeper_for(&s.env, 900, 60), sweeper_for(&s.env, 900, 60));
    let (r1, r2) = tokio::join!(one.sweep(later), two.sweep(later));
    let (r1, r2) = (r1.expect("sweep 1"), r2.expect("sweep 2"));
    assert_eq!(r1.stuck.len() + r2.stuck.len(), 1, "{r1:?} {r2:?}");
    let d = detail(&s, &id).await;
    assert_eq!(d.tasks[0].state, TaskState::Stuck);
    assert_eq!(d.request.state, RequestState::Failed);
    let error = d.request.error.clone().unwrap_or_default();
    assert!(error.contains("stuck: processing since"), "{error}");
    let stuck_events = d.events.iter().filter(|e| e.kind == "task-stuck").count();
    assert_eq!(stuck_events, 1);
    s.env.cleanup().await;
}

/// Item 5 of the first-deploy issue: near the deadline only a record that would really run is
/// handed back. A duplicate of a finished task is settled however little time is left (a
/// hand-back would spend one of the message's receives for nothing), and a task whose own
/// timeout fits the time left runs.
#[tokio::test]
async fn only_a_task_that_would_run_is_handed_back() {
    let s = setup().await;
    let id = submit(&s, input()).await;
    drain_until(&s.env, &s.worker, &id, completed).await;
    let duplicate = Record {
        message_id: "dup-1".into(),
        body: serde_json::to_string(&message(&id, 0)).expect("body"),
        group_id: Some(id.to_string()),
        receipt_handle: None,
    };
    // Less than an action's timeout (10 s) is left, but more than the margin.
    let deadline = Instant::now() + Duration::from_secs(7);
    assert!(s.worker.settings.action_timeout + Duration::from_secs(5) > Duration::from_secs(7));
    let failed = s.worker.process_batch(&[duplicate], Some(deadline)).await;
    assert_eq!(failed, Vec::<String>::new(), "a duplicate was handed back");

    // A fresh task with that little time left is handed back, untouched.
    let next = submit(&s, input()).await;
    let fresh = Record {
        message_id: "fresh-1".into(),
        body: serde_json::to_string(&message(&next, 0)).expect("body"),
        group_id: Some(next.to_string()),
        receipt_handle: None,
    };
    let deadline = Instant::now() + Duration::from_secs(7);
    let failed = s.worker.process_batch(&[fresh], Some(deadline)).await;
    assert_eq!(failed, ["fresh-1".to_string()]);
    assert_eq!(detail(&s, &next).await.tasks[0].state, TaskState::Queued);
    s.env.cleanup().await;
}
