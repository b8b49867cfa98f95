//! The store at scale: what a sweep reads does not grow with history. Finished tasks and tasks
//! waiting on a workflow run live under `byState` keys the sweeper never queries (or, for
//! waits, queries only for those due a poll), so 10,000 finished tasks and 500 waiting ones
//! leave a sweep's calls exactly as they were.

use pao::record::RequestId;
use pao::store::keys;
use pao::task::TaskState;
use pao_system_tests::{Faults, setup, submit, sweeper_for};
use serde_json::json;

/// Writes `n` task items of requests that are not there (the sweeper must never read them).
async fn write_tasks(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    n: usize,
    state: TaskState,
    index: impl Fn(&RequestId) -> (String, String),
) {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    let s = |v: &str| AttributeValue::S(v.into());
    let mut batch = Vec::new();
    for i in 0..n {
        let id = RequestId::generate();
        let (gpk, gsk) = index(&id);
        let item = [
            ("pk", s(&format!("REQ#{id}"))),
            ("sk", s("TASK#0000")),
            ("itemType", s("task")),
            ("state", s(state.as_str())),
            ("gsi2pk", s(&gpk)),
            ("gsi2sk", s(&gsk)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        batch.push(
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .expect("put"),
                )
                .build(),
        );
        if batch.len() == 25 || i + 1 == n {
            let mut pending = Some(std::mem::take(&mut batch));
            while let Some(writes) = pending.take().filter(|w| !w.is_empty()) {
                let out = dynamo
                    .batch_write_item()
                    .request_items(table, writes)
                    .send()
                    .await
                    .expect("batch write");
                pending = out.unprocessed_items.and_then(|mut u| u.remove(table));
            }
        }
    }
}

/// JSON with every map's keys in order.
fn canonical(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Object(m) => {
            let mut entries: Vec<_> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{k:?}:{}", canonical(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        serde_json::Value::Array(a) => {
            format!(
                "[{}]",
                a.iter().map(canonical).collect::<Vec<_>>().join(",")
            )
        }
        other => other.to_string(),
    }
}

/// The sweep's calls, as sent (the same `now` gives the same bodies; maps in key order).
fn reads(faults: &Faults) -> Vec<(String, String)> {
    let mut calls: Vec<(String, String)> = faults
        .calls()
        .into_iter()
        .map(|(op, body)| {
            let body = serde_json::from_str::<serde_json::Value>(&body)
                .map(|v| canonical(&v))
                .unwrap_or(body);
            (op, body)
        })
        .collect();
    calls.sort();
    calls
}

#[tokio::test]
async fn finished_and_waiting_tasks_do_not_change_what_a_sweep_reads() {
    let s = setup().await;
    // Three requests in flight: their first tasks are queued, not yet due anything.
    for name in ["orders-db", "billing-db", "search-db"] {
        submit(&s, json!({"name": name, "basic": {"instanceName": name}})).await;
    }
    let now = pao::clock::now_epoch();
    let sweep = |faults: Faults| {
        let mut sweeper = sweeper_for(&s.env, 900, 60);
        sweeper.store = pao::store::Store::new(faults.dynamo(&s.env), &s.env.table);
        async move { sweeper.sweep(now).await.expect("sweep") }
    };
    let before = Faults::default();
    let first = sweep(before.clone()).await;

    let dynamo = aws_sdk_dynamodb::Client::new(&s.env.sdk);
    let finished_at = pao::clock::rfc3339(now - 120);
    write_tasks(&dynamo, &s.env.table, 10_000, TaskState::Completed, |id| {
        keys::task_index(id, TaskState::Completed, &finished_at).expect("ended key")
    })
    .await;
    let polled = pao::clock::rfc3339(now - 5);
    write_tasks(&dynamo, &s.env.table, 500, TaskState::Processing, |id| {
        keys::waiting_index(id, &polled)
    })
    .await;

    let after = Faults::default();
    let second = sweep(after.clone()).await;
    assert_eq!(first, second, "the sweep acted the same");
    let (was, is) = (reads(&before), reads(&after));
    assert!(!was.is_empty());
    assert_eq!(
        was.len(),
        is.len(),
        "the same number of calls: {:?}",
        is.iter().map(|c| &c.0).collect::<Vec<_>>()
    );
    let differ: Vec<_> = was.iter().zip(&is).filter(|(a, b)| a != b).collect();
    assert!(
        differ.is_empty(),
        "the same calls, key for key and limit for limit: {differ:?}"
    );
    // Every query has a bound, and none reaches the finished tasks' keys.
    for (op, body) in &is {
        if op == "Query" {
            assert!(!body.contains("TASK#ended"), "{body}");
            assert!(
                body.contains("\"Limit\"") || body.contains("\"COUNT\""),
                "{body}"
            );
        }
    }
    s.env.cleanup().await;
}
