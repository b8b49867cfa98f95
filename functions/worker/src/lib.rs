//! The worker function's handler: an SQS FIFO batch in, a partial batch response out
//! (`ReportBatchItemFailures`): a failed record and the later records of its message group
//! are reported, and so is whatever is left when the invocation's deadline comes near.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use pao::worker::{Record, Worker};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// What Lambda (and the local runner) calls for every batch.
pub async fn handle(
    worker: &Worker,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let deadline = deadline_of(event.context.deadline);
    Ok(handle_batch(worker, &event.payload, deadline).await)
}

/// The invocation's deadline (epoch milliseconds, as Lambda gives it) as an `Instant`.
pub fn deadline_of(deadline_ms: u64) -> Option<Instant> {
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    Some(Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms)))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lambda_deadline_becomes_an_instant() {
        assert_eq!(deadline_of(0), None, "no deadline given");
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let left = deadline_of(now_ms + 50_000)
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        assert!(
            left > Duration::from_secs(45) && left <= Duration::from_secs(50),
            "{left:?}"
        );
        let passed = deadline_of(now_ms.saturating_sub(1_000))
            .map(|d| d.saturating_duration_since(Instant::now()));
        assert_eq!(passed, Some(Duration::ZERO));
    }
}
