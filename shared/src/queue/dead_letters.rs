//! The dead-letter queue as operators read it. SQS has no way to look at a message without
//! receiving it, so a listing receives every message (hidden for a short while), then makes
//! them all visible again at once: nothing is deleted, and since a FIFO queue keeps the order
//! of a message group through receives, nothing is reordered. Only this module receives
//! from the dead-letter queue (it has no redrive policy of its own, so receiving there moves
//! nothing further).
//!
//! A FIFO queue hands out one batch of a message group at a time: a group with more than ten
//! dead letters shows its first ten until those are redriven. PAO sends a request's tasks
//! one at a time, so a group holds one dead letter unless the same task died repeatedly.

use super::{QueueError, TaskMessage, sqs};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageSystemAttributeName,
};
use serde::Serialize;

/// Seconds a message stays hidden while a listing or redrive holds it. Every path makes it
/// visible again sooner; this bounds how long a crash in between could hide it.
const HOLD_SECONDS: i32 = 30;
/// The most messages one listing reads.
pub const MAX_SCAN: usize = 1000;

/// One dead letter, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub message_id: String,
    /// The task it would run (`None`: the body is not a task message).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// Receives so far, including the task queue's and operators' listings.
    pub receive_count: u64,
    /// When the message was first received (RFC 3339), on the task queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_received_at: Option<String>,
    /// When it was first sent (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    /// The body when it is not a task message (shown as it is, for a person to judge).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Position in the queue: sent time (ms), then FIFO sequence number.
    #[serde(skip)]
    pub position: (u64, u128),
}

/// A dead letter received and held, with the receipt that deletes it.
#[derive(Debug, Clone)]
pub struct Held {
    pub letter: DeadLetter,
    receipt: String,
}

/// The dead-letter queue of the task queue.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl DeadLetters {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every dead letter (at most [`MAX_SCAN`]) in queue order; each is visible again when
    /// this returns.
    pub async fn list(&self) -> Result<Vec<DeadLetter>, QueueError> {
        let held = self.receive_all(None).await?;
        let receipts: Vec<String> = held.iter().map(|h| h.receipt.clone()).collect();
        self.release(&receipts).await?;
        Ok(held.into_iter().map(|h| h.letter).collect())
    }

    /// Receives until dead letter `message_id` turns up, makes every other visible again,
    /// and returns that one held (hidden for a short while), or `None` if it is not there
    /// (already redriven, or gone).
    pub async fn take(&self, message_id: &str) -> Result<Option<Held>, QueueError> {
        let held = self.receive_all(Some(message_id)).await?;
        let (wanted, others): (Vec<Held>, Vec<Held>) = held
            .into_iter()
            .partition(|h| h.letter.message_id == message_id);
        let receipts: Vec<String> = others.into_iter().map(|h| h.receipt).collect();
        self.release(&receipts).await?;
        Ok(wanted.into_iter().next())
    }

    /// Every dead letter held at once (at most [`MAX_SCAN`]), in queue order: for redriving
    /// them all. The caller deletes or releases each.
    pub async fn take_all(&self) -> Result<Vec<Held>, QueueError> {
        self.receive_all(None).await
    }

    /// Deletes a held dead letter (it went back to the task queue).
    pub async fn delete(&self, held: &Held) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(&held.receipt)
            .send()
            .await
            .map_err(sqs)?;
        Ok(())
    }

    /// Makes held dead letters visible again.
    pub async fn release_held(&self, held: &[Held]) -> Result<(), QueueError> {
        let receipts: Vec<String> = held.iter().map(|h| h.receipt.clone()).collect();
        self.release(&receipts).await
    }

    /// Receives (and hides) messages until the queue has none visible, `stop_at` is among
    /// them, or [`MAX_SCAN`] are held. Sorted by queue position.
    async fn receive_all(&self, stop_at: Option<&str>) -> Result<Vec<Held>, QueueError> {
        let expected = super::counts(&self.client, &self.url).await?.visible as usize;
        let mut held: Vec<Held> = Vec::new();
        // A short poll can come back empty while messages remain (SQS samples its servers):
        // when fewer than the queue's count arrived, one long poll of a second settles it.
        let mut wait = 0;
        while held.len() < MAX_SCAN {
            let out = self
                .client
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(10)
                .visibility_timeout(HOLD_SECONDS)
                .wait_time_seconds(wait)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .map_err(sqs)?;
            let batch = out.messages.unwrap_or_default();
            if batch.is_empty() {
                if wait > 0 || held.len() >= expected {
                    break;
                }
                wait = 1;
                continue;
            }
            wait = 0;
            let mut found = false;
            for m in batch {
                if let Some(h) = held_of(m) {
                    found |= Some(h.letter.message_id.as_str()) == stop_at;
                    held.push(h);
                }
            }
            if found {
                break;
            }
        }
        held.sort_by(|a, b| {
            (a.letter.position, &a.letter.message_id)
                .cmp(&(b.letter.position, &b.letter.message_id))
        });
        Ok(held)
    }

    /// Visibility back to zero, ten at a time (a listing holds up to a thousand). A message
    /// whose change fails is only logged: it becomes visible when its hold ends anyway.
    async fn release(&self, receipts: &[String]) -> Result<(), QueueError> {
        for chunk in receipts.chunks(10) {
            let entries: Vec<ChangeMessageVisibilityBatchRequestEntry> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, r)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .receipt_handle(r)
                        .visibility_timeout(0)
                        .build()
                        .ok()
                })
                .collect();
            let out = self
                .client
                .change_message_visibility_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(sqs)?;
            if let Some(f) = out.failed().first() {
                tracing::warn!(
                    code = f.code(),
                    "a message could not be made visible at once; it will be when its timeout ends"
                );
            }
        }
        Ok(())
    }
}

fn held_of(m: Message) -> Option<Held> {
    let attr = |name: MessageSystemAttributeName| {
        m.attributes()
            .and_then(|a| a.get(&name))
            .map(String::as_str)
    };
    let millis = |name| attr(name).and_then(|v| v.parse::<u64>().ok());
    let sent = millis(MessageSystemAttributeName::SentTimestamp);
    let body = m.body().unwrap_or_default();
    let task = TaskMessage::parse(body).ok();
    let letter = DeadLetter {
        message_id: m.message_id()?.to_string(),
        group_id: attr(MessageSystemAttributeName::MessageGroupId).map(str::to_string),
        receive_count: attr(MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        first_received_at: millis(MessageSystemAttributeName::ApproximateFirstReceiveTimestamp)
            .map(rfc3339_millis),
        sent_at: sent.map(rfc3339_millis),
        body: task.is_none().then(|| body.chars().take(1024).collect()),
        task,
        position: (
            sent.unwrap_or(0),
            attr(MessageSystemAttributeName::SequenceNumber)
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        ),
    };
    Some(Held {
        letter,
        receipt: m.receipt_handle()?.to_string(),
    })
}

fn rfc3339_millis(ms: u64) -> String {
    crate::clock::rfc3339(ms / 1000)
}
