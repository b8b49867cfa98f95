//! The events function: a DynamoDB Stream batch in, its events published to EventBridge in
//! stream order, a partial batch response out.
//!
//! Once per change in practice: events already marked published (a redelivered batch, a
//! retry after a failure part-way) are skipped, and each `PutEvents` is marked as soon as it
//! succeeded. At least once in any failure: a failed publish (or a mark that cannot be read)
//! answers with the record it stopped at, from which the event source mapping retries in
//! order; after its last retry the mapping sends the batch's description to the events
//! dead-letter queue, whose alarm tells operators. A crash between a publish and its mark
//! publishes that event again, with the same id.

use super::stream::{StreamEvent, StreamResponse, image};
use super::{Change, Event, SOURCE, events_of};
use crate::aws_json::{AwsJson, AwsJsonError};
use crate::store::Store;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// EventBridge takes at most 10 entries in one `PutEvents`.
const PUT_BATCH: usize = 10;
/// The mark of an event on EventBridge.
pub const PUBLISHED: &str = "PUBLISHED";
/// Time kept back before the invocation's deadline: a batch not finished by then answers
/// with the record it reached.
const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

/// Publishes a change's events.
#[derive(Debug, Clone)]
pub struct Publisher {
    pub store: Store,
    events: AwsJson,
    bus: String,
}

/// What one batch did (the handler logs it; tests read it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Published {
    /// Published by this call.
    pub events: Vec<Event>,
    /// Every event of the records handled (published now or by an earlier delivery), in
    /// stream order: what notices are sent for (they have marks of their own).
    pub done: Vec<(String, Event)>,
    /// Events found marked already (a redelivery).
    pub skipped: usize,
    pub response: StreamResponse,
}

impl Publisher {
    pub fn from_config(config: &crate::config::Config, sdk: &crate::aws::SdkConfig) -> Self {
        let store = Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name);
        Self::new(store, sdk, &config.event_bus_name)
    }

    pub fn new(store: Store, sdk: &crate::aws::SdkConfig, bus: &str) -> Self {
        Self {
            store,
            events: AwsJson::new(
                sdk,
                ("events", "EVENTBRIDGE", "events"),
                Duration::from_secs(5),
            ),
            bus: bus.to_string(),
        }
    }

    /// Every event of the batch's records, in stream order, with the sequence number of the
    /// record each came from.
    pub fn derive(batch: &StreamEvent) -> Vec<(String, Event)> {
        let mut out = Vec::new();
        for r in &batch.records {
            let old = r.dynamodb.old_image.as_ref().map(image);
            let new = r.dynamodb.new_image.as_ref().map(image);
            let at = r.committed_at();
            let change = Change {
                record_id: &r.event_id,
                sequence: &r.dynamodb.sequence_number,
                at: &at,
                old: old.as_ref(),
                new: new.as_ref(),
            };
            for e in events_of(&change) {
                out.push((r.dynamodb.sequence_number.clone(), e));
            }
        }
        out
    }

    /// Publishes the batch's events not published yet.
    pub async fn handle(&self, batch: &StreamEvent, deadline: Option<Instant>) -> Published {
        let derived = Self::derive(batch);
        let mut result = Published::default();
        let Some(first) = batch.records.first() else {
            return result;
        };
        let ids: Vec<String> = derived.iter().map(|(_, e)| e.id.clone()).collect();
        let done = match self.store.marked(&ids, PUBLISHED).await {
            Ok(done) => done,
            Err(e) => {
                tracing::error!(error = %e, "could not read which events are published; the batch comes again");
                result.response = StreamResponse::retry_from(&first.dynamodb.sequence_number);
                return result;
            }
        };
        let todo: Vec<&(String, Event)> = derived
            .iter()
            .filter(|(_, e)| !done.contains(&e.id))
            .collect();
        result.skipped = derived.len() - todo.len();
        for chunk in todo.chunks(PUT_BATCH) {
            let (sequence, _) = chunk[0];
            if deadline.is_some_and(|d| Instant::now() + DEADLINE_MARGIN >= d) {
                tracing::warn!(%sequence, "the invocation's time is nearly up; the rest comes again");
                result.response = StreamResponse::retry_from(sequence);
                result.done = done_before(&derived, &chunk[0].1.id);
                return result;
            }
            let events: Vec<&Event> = chunk.iter().map(|(_, e)| e).collect();
            let sent = self.put(&events).await;
            let ok = sent.as_ref().map_or(0, |n| *n);
            let published: Vec<String> = events[..ok].iter().map(|e| e.id.clone()).collect();
            if let Err(e) = self.store.mark(&published, PUBLISHED).await {
                // Published but unmarked: a redelivery would publish them again (same ids).
                tracing::warn!(error = %e, "could not mark events published");
            }
            for e in &events[..ok] {
                tracing::info!(event_id = %e.id, detail_type = e.detail_type.as_str(), request_id = e.request_id.as_deref().unwrap_or(""), "published");
            }
            result
                .events
                .extend(events[..ok].iter().map(|e| (*e).clone()));
            if ok < events.len() {
                let (sequence, failed) = chunk[ok];
                match &sent {
                    Err(e) => {
                        tracing::error!(error = %e, event_id = %failed.id, "publishing failed; from this record the batch comes again")
                    }
                    Ok(_) => {
                        tracing::error!(event_id = %failed.id, "EventBridge refused an entry; from this record the batch comes again")
                    }
                }
                result.response = StreamResponse::retry_from(sequence);
                result.done = done_before(&derived, &failed.id);
                return result;
            }
        }
        result.done = derived;
        result
    }

    /// One `PutEvents` of `events`: how many of them, from the first, EventBridge took before
    /// the first it refused.
    async fn put(&self, events: &[&Event]) -> Result<usize, AwsJsonError> {
        let entries: Vec<Value> = events.iter().map(|e| self.entry(e)).collect();
        let answer = self
            .events
            .target(
                "AWSEvents.PutEvents",
                "application/x-amz-json-1.1",
                &json!({ "Entries": entries }),
            )
            .await?;
        let results = answer
            .get("Entries")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let ok = results
            .iter()
            .take_while(|r| r.get("ErrorCode").is_none() && r.get("EventId").is_some())
            .count();
        Ok(ok.min(events.len()))
    }

    fn entry(&self, e: &Event) -> Value {
        let mut entry = json!({
            "Source": SOURCE,
            "DetailType": e.detail_type.as_str(),
            "Detail": e.detail.to_string(),
            "EventBusName": self.bus,
        });
        if let Some(at) = crate::clock::epoch_of(&e.time) {
            entry["Time"] = json!(at);
        }
        entry
    }
}

/// The events before `id` in stream order: all published (now or earlier).
fn done_before(derived: &[(String, Event)], id: &str) -> Vec<(String, Event)> {
    derived
        .iter()
        .take_while(|(_, e)| e.id != id)
        .cloned()
        .collect()
}
