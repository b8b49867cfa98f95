//! The events function's handler: a DynamoDB Stream batch in, a partial batch response out
//! (`ReportBatchItemFailures`): the record publishing stopped at, from which the event source
//! mapping retries in order (see `pao::events::publish`).

use lambda_runtime::LambdaEvent;
use pao::events::publish::Publisher;
use pao::events::stream::{StreamEvent, StreamResponse};
use std::time::Instant;
use tracing::Instrument;

/// What Lambda (and the local runner) calls for every batch.
pub async fn handle(
    publisher: &Publisher,
    event: LambdaEvent<StreamEvent>,
) -> Result<StreamResponse, lambda_runtime::Error> {
    let deadline = pao::clock::deadline_of(event.context.deadline);
    // Every line of the batch carries the invocation's id (a batch spans many requests).
    let span = tracing::info_span!("stream", correlation_id = %event.context.request_id);
    Ok(handle_batch(publisher, &event.payload, deadline)
        .instrument(span)
        .await)
}

pub async fn handle_batch(
    publisher: &Publisher,
    batch: &StreamEvent,
    deadline: Option<Instant>,
) -> StreamResponse {
    let published = publisher.handle(batch, deadline).await;
    tracing::info!(
        records = batch.records.len(),
        published = published.events.len(),
        skipped = published.skipped,
        "stream batch"
    );
    published.response
}
