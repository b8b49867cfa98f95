//! The SQS event source mapping, emulated in one place for the local stack, the tests and the
//! benchmark: receive a batch (long-polling up to `wait_seconds`), hand it to the worker
//! function's own Lambda handler as the SQS event Lambda would build, and delete the records
//! it did not report as failed. Failed records come back after the visibility timeout and go
//! to the dead-letter queue after three receives, as in AWS.

use aws_lambda_events::event::sqs::SqsEvent;
use pao::queue::{Queue, QueueError};
use pao::worker::Worker;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How long one invocation may run (the worker function's timeout in template.yaml is 60 s).
const INVOCATION: Duration = Duration::from_secs(60);

/// One receive, one invocation, one delete: returns how many messages arrived.
pub async fn poll_once(
    queue: &Queue,
    worker: &Worker,
    wait_seconds: i32,
) -> Result<usize, QueueError> {
    let messages = queue.receive(wait_seconds).await?;
    if messages.is_empty() {
        return Ok(0);
    }
    let Some(event) = sqs_event(&messages, queue_region()) else {
        // Nothing is deleted: the messages come back after the visibility timeout.
        tracing::error!("could not build the SQS event for a batch");
        return Ok(messages.len());
    };
    let response = worker::handle_batch(worker, &event, Some(Instant::now() + INVOCATION)).await;
    let failed: Vec<String> = response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    queue.acknowledge(&messages, &failed).await?;
    Ok(messages.len())
}

fn queue_region() -> String {
    std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into())
}

/// The event Lambda hands the function for these messages.
fn sqs_event(messages: &[aws_sdk_sqs::types::Message], region: String) -> Option<SqsEvent> {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: serde_json::Map<String, Value> = m
                .attributes
                .iter()
                .flatten()
                .map(|(k, v)| (k.as_str().to_string(), json!(v)))
                .collect();
            json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                   "attributes": attributes, "messageAttributes": {}, "eventSource": "aws:sqs",
                   "awsRegion": region})
        })
        .collect();
    serde_json::from_value(json!({"Records": records})).ok()
}
