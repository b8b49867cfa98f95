//! The worker handler fed the SQS FIFO batch in `events/`, against the local AWS endpoint.

use aws_lambda_events::event::sqs::SqsEvent;
use pao_local::jira_standin::JiraStandIn;
use pao_system_tests::{TestEnv, worker_for};

/// A test environment, a JIRA stand-in, a worker wired to both, and the batch in `events/`.
async fn setup() -> (TestEnv, JiraStandIn, pao::worker::Worker, SqsEvent) {
    let env = TestEnv::new().await;
    let jira = JiraStandIn::start(0, "pao@example.com", "token")
        .await
        .expect("JIRA");
    let w = worker_for(&env, &jira.secret("default")).await;
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/sqs-task-batch.json");
    let batch: SqsEvent =
        serde_json::from_str(&std::fs::read_to_string(path).expect("event")).expect("an SQS event");
    (env, jira, w, batch)
}

#[tokio::test]
async fn a_batch_for_an_unknown_request_is_acknowledged() {
    let (env, jira, w, batch) = setup().await;
    assert_eq!(batch.records.len(), 2);
    let response = worker::handle_batch(&w, &batch, None).await;
    // Nothing to run and nothing to retry: no failures reported, no ticket created.
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(jira.create_calls(), 0);
    env.cleanup().await;
}

#[tokio::test]
async fn after_an_infrastructure_failure_the_rest_of_the_batch_is_reported() {
    let (env, _jira, w, batch) = setup().await;
    // The table is gone: the first record fails, and so must the one after it (FIFO order).
    pao_local::provision::delete_table(&env.dynamo, &env.table)
        .await
        .expect("table deleted");
    let response = worker::handle_batch(&w, &batch, None).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        [
            "059f36b4-87a3-44ab-83d2-661975269810",
            "059f36b4-87a3-44ab-83d2-661975269811"
        ]
    );
    env.cleanup().await;
}
