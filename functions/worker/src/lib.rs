//! The worker function's handler: an SQS FIFO batch in, a partial batch response out
//! (`ReportBatchItemFailures`): the first failed record and every later one are reported.

// The worker future is deep (SDK calls inside tracing spans inside the batch loop).
#![recursion_limit = "256"]

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use pao::worker::{Record, Worker};

/// What Lambda (and the local runner) calls for every batch.
pub async fn handle(
    worker: &Worker,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    Ok(handle_batch(worker, &event.payload).await)
}

pub async fn handle_batch(worker: &Worker, event: &SqsEvent) -> SqsBatchResponse {
    let records: Vec<Record> = event
        .records
        .iter()
        .map(|m| Record {
            message_id: m.message_id.clone().unwrap_or_default(),
            body: m.body.clone().unwrap_or_default(),
        })
        .collect();
    let failed = worker.process_batch(&records).await;
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
