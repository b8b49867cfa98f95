//! The worker function's handler: an SQS FIFO batch in, a partial batch response out
//! (`ReportBatchItemFailures`): a failed record and the later records of its message group
//! are reported, and so is whatever is left when the invocation's deadline comes near.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use pao::worker::{Record, Worker};
use std::time::Instant;

/// What Lambda (and the local runner) calls for every batch.
pub async fn handle(
    worker: &Worker,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let deadline = deadline_of(event.context.deadline);
    Ok(handle_batch(worker, &event.payload, deadline).await)
}

pub use pao::clock::deadline_of;

pub async fn handle_batch(
    worker: &Worker,
    event: &SqsEvent,
    deadline: Option<Instant>,
) -> SqsBatchResponse {
    let records: Vec<Record> = event
        .records
        .iter()
        .map(|m| Record {
            message_id: m.message_id.clone().unwrap_or_default(),
            body: m.body.clone().unwrap_or_default(),
            group_id: m.attributes.get("MessageGroupId").cloned(),
            receipt_handle: m.receipt_handle.clone(),
        })
        .collect();
    let failed = worker.process_batch(&records, deadline).await;
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            f
        })
        .collect();
    response
}
