//! AWS calls, counted at the wire by an SDK interceptor (exact, so asserted): a submission
//! is one transaction and one send, with or without an `Idempotency-Key`; a JIRA task makes
//! at most five calls, its events, receives and deletes included, and only one of them is a
//! transaction.

use pao::request::RequestState;
use pao_system_tests::{
    Faults, TWO_TICKETS, TestEnv, api_request, api_send, app_for, faulty_worker, write_repo,
};
use serde_json::json;

const DEV: &str = "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com";

fn operations(faults: &Faults) -> Vec<String> {
    faults.calls().into_iter().map(|(op, _)| op).collect()
}

#[tokio::test]
async fn a_submission_is_one_transaction_and_one_send_and_a_task_at_most_five_calls() {
    let env = TestEnv::new().await;
    let repo = write_repo(&[("catalog/two.yaml", TWO_TICKETS)]);
    let mut app = app_for(&env, repo.path()).await;
    let faults = Faults::default();
    app.store = pao::store::Store::new(faults.dynamo(&env), &env.table);
    app.queue = pao::queue::Queue::new(faults.sqs(&env), &env.queues.queue);
    app.catalog()
        .await
        .expect("catalog loaded (cached from now on)");
    let submit = |name: &str, key: &str| {
        let mut r = api_request(
            DEV,
            "POST",
            "/api/v1/requests",
            Some(
                json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "two-tickets",
                                   "input": {"name": name, "basic": {"instanceName": name}}}]}),
            ),
        );
        r.headers.push(("idempotency-key".into(), key.into()));
        r
    };

    let before = faults.calls().len();
    let (status, first) = api_send(&app, submit("orders-db", "k-1")).await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(
        operations(&faults)[before..],
        ["TransactWriteItems", "SendMessage"],
        "a submission under a key: the key is answered in the request's transaction"
    );

    // The same key and body: the first answer, nothing written or sent.
    let before = faults.calls().len();
    let r = app.handle(&submit("orders-db", "k-1")).await;
    assert_eq!(r.status, 202);
    assert_eq!(r.body["data"], first["data"]);
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k == "Idempotent-Replayed" && v == "true")
    );
    assert!(
        !operations(&faults)[before..].contains(&"SendMessage".to_string()),
        "a replay sends nothing"
    );
    // The same key, another body: 422, nothing written.
    let (status, other) = api_send(&app, submit("other-db", "k-1")).await;
    assert_eq!(status, 422, "{other}");
    assert_eq!(other["error"]["details"][0]["field"], "Idempotency-Key");
    let (_, list) = api_send(&app, api_request(DEV, "GET", "/api/v1/requests", None)).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{list}");

    // Two more requests, then their six tasks run as the event source mapping runs them
    // (receives and deletes shared by a batch).
    let mut ids = vec![first["data"]["requests"][0]["requestId"].clone()];
    for (name, key) in [("billing-db", "k-2"), ("search-db", "k-3")] {
        let (status, answer) = api_send(&app, submit(name, key)).await;
        assert_eq!(status, 202, "{answer}");
        ids.push(answer["data"]["requests"][0]["requestId"].clone());
    }
    let jira = pao_local::jira_standin::JiraStandIn::start(0, "pao@example.com", "token")
        .await
        .expect("JIRA");
    let worker = faulty_worker(&env, &jira.secret("default"), &faults).await;
    let before = faults.calls().len();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let mut open = 0;
        for id in &ids {
            let id = pao::record::RequestId(id.as_str().unwrap_or_default().into());
            let detail = env
                .store()
                .get_request(&id, &pao::clock::Now::current(), pao::store::Read::Strong)
                .await
                .expect("read")
                .expect("request");
            open += usize::from(detail.request.state != RequestState::Completed);
        }
        if open == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not completed");
        let got = pao_local::esm::poll_once(&worker.queue, &worker, 1)
            .await
            .expect("poll");
        // An empty poll is the event source mapping's idle cost, not a task's.
        if got == 0 {
            faults.forget_last("ReceiveMessage");
        }
    }
    let calls = operations(&faults)[before..].to_vec();
    let count = |op: &str| calls.iter().filter(|c| *c == op).count();
    assert!(
        calls.len() <= 5 * 6,
        "six JIRA tasks made {} AWS calls: {calls:?}",
        calls.len()
    );
    // Per task: one read, the claim (one conditional update of the task, its event inside)
    // and the completion (a transaction with the next task or the request's end); one send
    // per task that has a successor, but for the batch's last record, whose successor runs
    // in the same invocation (the first receive takes the three first tasks: two sends).
    // Nothing that grows with how long a task runs.
    assert_eq!(count("Query"), 6, "{calls:?}");
    assert_eq!(count("UpdateItem"), 6, "{calls:?}");
    assert_eq!(count("TransactWriteItems"), 6, "{calls:?}");
    assert_eq!(count("SendMessage"), 2, "{calls:?}");
    assert_eq!(
        count("ReceiveMessage"),
        count("DeleteMessageBatch"),
        "{calls:?}"
    );
    assert_eq!(jira.create_calls(), 6);
    env.cleanup().await;
}

/// The key plan `make bench` and the hot-key test reason from (`pao::store::keys::load`) is
/// what the store writes: a two-task request under an `Idempotency-Key`, submitted and run,
/// priced from the writes as sent (`pao_local::bench::units`), costs exactly the plan's
/// write units on the table, in `byUser` and in `byState`.
#[tokio::test]
async fn a_two_task_request_writes_what_the_key_plan_says() {
    use pao::store::keys::load::{ItemUnits, KeyClass, two_task_request_of};
    let env = TestEnv::new().await;
    let repo = write_repo(&[("catalog/two.yaml", TWO_TICKETS)]);
    let mut app = app_for(&env, repo.path()).await;
    let counted = pao_local::bench::calls::Calls::default();
    let store = pao::store::Store::new(counted.dynamo(&env.sdk), &env.table);
    app.store = store.clone();
    app.catalog().await.expect("catalog");
    let from = counted.writes_so_far();
    let mut submit = api_request(
        DEV,
        "POST",
        "/api/v1/requests",
        Some(
            json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "two-tickets",
                               "input": {"name": "db", "basic": {"instanceName": "orders-db"}}}]}),
        ),
    );
    submit
        .headers
        .push(("idempotency-key".into(), "plan-1".into()));
    let (status, answer) = api_send(&app, submit).await;
    assert_eq!(status, 202, "{answer}");
    let id = pao::record::RequestId(
        answer["data"]["requests"][0]["requestId"]
            .as_str()
            .unwrap_or_default()
            .into(),
    );
    let jira = pao_local::jira_standin::JiraStandIn::start(0, "pao@example.com", "token")
        .await
        .expect("JIRA");
    let mut worker = pao_system_tests::worker_for(&env, &jira.secret("default")).await;
    worker.store = store.clone();
    let done = pao_system_tests::drain_until(&env, &worker, &id, |d| {
        d.request.state == RequestState::Completed
    })
    .await;
    assert_eq!(done.tasks.len(), 2);

    let sizes = pao_local::bench::cost::item_sizes(&counted.dynamo(&env.sdk), &env.table)
        .await
        .expect("sizes");
    // The plan priced with the items' sizes (1 KB units).
    let kb = |bytes: usize| bytes.div_ceil(1024).max(1) as f64;
    let of = |prefix: &str, sk: &str| {
        sizes
            .iter()
            .filter(|((p, s), _)| p.starts_with(prefix) && s == sk)
            .map(|(_, b)| kb(*b))
            .fold(0.0, f64::max)
    };
    let units = ItemUnits {
        request: of("REQ#", "#REQUEST"),
        tasks: [of("REQ#", "TASK#0000"), of("REQ#", "TASK#0001")],
        key: of("IDEMP#", "IDEMP"),
    };
    let measured = pao_local::bench::units::measure(&counted.writes(from), &sizes);
    let plan = |classes: &[fn(KeyClass) -> bool]| -> f64 {
        two_task_request_of(units)
            .iter()
            .filter(|w| classes.iter().any(|c| c(w.key)))
            .map(|w| w.units)
            .sum()
    };
    assert_eq!(
        measured.table,
        plan(&[|k| matches!(k, KeyClass::Request | KeyClass::Idempotency)]),
        "{measured:?}"
    );
    assert_eq!(
        measured.by_user,
        plan(&[|k| k == KeyClass::User]),
        "{measured:?}"
    );
    assert_eq!(
        measured.by_state,
        plan(&[|k| matches!(k, KeyClass::State(_) | KeyClass::Ended)]),
        "{measured:?}"
    );
    env.cleanup().await;
}
