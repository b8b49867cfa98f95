//! The events function's handler: a DynamoDB Stream batch in, a partial batch response out
//! (`ReportBatchItemFailures`). Its changes are published to EventBridge first
//! (`pao::events::publish`), then the people they concern are told (`pao::notify`): a notice
//! never holds publishing, and a channel that fails is logged and left.

use lambda_runtime::LambdaEvent;
use pao::broadcast::Broadcaster;
use pao::events::publish::Publisher;
use pao::events::stream::{StreamEvent, StreamResponse};
use pao::notify::Notifier;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Time kept back for answering: notices not sent by then come again with their records.
const MARGIN: Duration = Duration::from_secs(5);

/// What the function holds for its life: the publisher and the notifier.
#[derive(Debug, Clone)]
pub struct Handler {
    pub publisher: Publisher,
    pub notifier: Notifier,
    pub broadcaster: Broadcaster,
}

impl Handler {
    pub fn from_config(config: &pao::config::Config, sdk: &pao::aws::SdkConfig) -> Self {
        // One DynamoDB client for the three (marks, requests, subscriptions).
        let publisher = Publisher::from_config(config, sdk);
        let store = publisher.store.clone();
        Self {
            notifier: Notifier::from_config(config, sdk, store.clone()),
            broadcaster: Broadcaster::from_config(config, sdk, store),
            publisher,
        }
    }
}

/// What Lambda (and the local runner) calls for every batch.
pub async fn handle(
    handler: &Handler,
    event: LambdaEvent<StreamEvent>,
) -> Result<StreamResponse, lambda_runtime::Error> {
    let deadline = pao::clock::deadline_of(event.context.deadline);
    // Every line of the batch carries the invocation's id (a batch spans many requests).
    let span = tracing::info_span!("stream", correlation_id = %event.context.request_id);
    Ok(handle_batch(handler, &event.payload, deadline)
        .instrument(span)
        .await)
}

pub async fn handle_batch(
    handler: &Handler,
    batch: &StreamEvent,
    deadline: Option<Instant>,
) -> StreamResponse {
    let published = handler.publisher.handle(batch, deadline).await;
    let mut told = 0;
    let mut notices = Vec::new();
    for (sequence, event) in &published.done {
        let Some(notice) = pao::notify::notice_of(event) else {
            continue;
        };
        if deadline.is_some_and(|d| Instant::now() + MARGIN >= d) {
            // Published already (marked): only the notices come again.
            tracing::warn!(%sequence, "the invocation's time is nearly up; notices from here come again");
            return StreamResponse::retry_from(sequence);
        }
        let request = match &event.request_id {
            Some(id) => request_of(&handler.notifier.store, id).await,
            None => None,
        };
        told += handler.notifier.notify(event, request.as_ref()).await.len();
        // Pushed to live subscribers once, when the event is first published.
        if published.events.iter().any(|e| e.id == event.id) {
            let owner = request
                .as_ref()
                .and_then(|r| r.pointer("/user/arn"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_string);
            notices.push((event.clone(), notice, owner));
        }
    }
    let pushed = handler.broadcaster.push(&published.events, &notices).await;
    tracing::info!(
        records = batch.records.len(),
        published = published.events.len(),
        skipped = published.skipped,
        notices = told,
        pushed = pushed.messages,
        "stream batch"
    );
    published.response
}

/// The request an event is about, as stored (its `notify` and the requester's email).
async fn request_of(store: &pao::store::Store, id: &str) -> Option<serde_json::Value> {
    let id = pao::record::RequestId(id.to_string());
    match store
        .get_request(&id, &pao::clock::Now::current(), pao::store::Read::Eventual)
        .await
    {
        Ok(Some(d)) => serde_json::to_value(&d.request).ok(),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(request_id = %id, error = %e, "could not read the request to tell its people");
            None
        }
    }
}
