//! The SQS FIFO task queue. One message per task run: the message group is the request id
//! (a request's tasks run strictly in order, different requests in parallel), and the
//! deduplication id is derived from the task and its attempt (a resend of the same attempt
//! is dropped by SQS, a human retry is a new attempt). Only a request's next task is ever on
//! the queue: the worker enqueues the following one when a task completes.
//!
//! [`dead_letters`] reads the dead-letter queue for operators without losing or reordering it.

pub mod dead_letters;

use crate::record::{RequestId, TaskRecord};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("SQS: {0}")]
    Sqs(String),
    #[error("message body is not a task message: {0}")]
    BadMessage(String),
}

pub(crate) fn sqs<E: std::error::Error + 'static>(
    e: aws_sdk_sqs::error::SdkError<E>,
) -> QueueError {
    QueueError::Sqs(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
}

/// A queue's message counts (SQS attributes, approximate by nature).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueCounts {
    /// Waiting to be received.
    pub visible: u64,
    /// Received and not yet deleted (being worked on).
    pub in_flight: u64,
    pub delayed: u64,
}

/// Reads a queue's counts.
pub async fn counts(client: &aws_sdk_sqs::Client, url: &str) -> Result<QueueCounts, QueueError> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(A::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .map_err(sqs)?;
    let get = |name: A| {
        out.attributes()
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok(QueueCounts {
        visible: get(A::ApproximateNumberOfMessages),
        in_flight: get(A::ApproximateNumberOfMessagesNotVisible),
        delayed: get(A::ApproximateNumberOfMessagesDelayed),
    })
}

/// What a queue message carries: which task to run, and which attempt this is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskMessage {
    pub request_id: RequestId,
    pub seq: u32,
    pub attempt: u32,
    pub correlation_id: String,
}

impl TaskMessage {
    /// The message that runs `task`'s current attempt.
    pub fn for_task(task: &TaskRecord, correlation_id: &str) -> Self {
        Self {
            request_id: task.request_id.clone(),
            seq: task.seq,
            attempt: task.attempt,
            correlation_id: correlation_id.to_string(),
        }
    }

    pub fn deduplication_id(&self) -> String {
        format!("{}-{}-{}", self.request_id, self.seq, self.attempt)
    }

    /// The deduplication id of an operator's redrive of dead letter `dead_letter_id`: new to
    /// SQS (the original id may still be in its five-minute window), yet the same if the
    /// redrive is repeated after a crash, so the task is sent back once.
    pub fn redrive_deduplication_id(&self, dead_letter_id: &str) -> String {
        format!("{}-r-{dead_letter_id}", self.deduplication_id())
    }

    pub fn parse(body: &str) -> Result<Self, QueueError> {
        serde_json::from_str(body).map_err(|e| QueueError::BadMessage(e.to_string()))
    }
}

#[derive(Debug, Clone)]
pub struct Queue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl Queue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.client
    }

    /// Makes received messages visible again at once (a batch handed back unstarted), one
    /// call each. Not `ChangeMessageVisibilityBatch`: the worker links no other batch
    /// visibility call, and the single one keeps its binary under 8 MiB (`make bench`); a
    /// batch is ten messages at most, and the deadline check leaves seconds for them.
    /// Every receipt is tried; the first failure is returned (a message whose change failed
    /// becomes visible when its visibility timeout ends anyway).
    pub async fn release(&self, receipts: &[String]) -> Result<(), QueueError> {
        let mut first_error = None;
        for r in receipts {
            let sent = self
                .client
                .change_message_visibility()
                .queue_url(&self.url)
                .receipt_handle(r)
                .visibility_timeout(0)
                .send()
                .await;
            if let Err(e) = sent {
                first_error.get_or_insert(sqs(e));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Whether the queue answers (for `/health/ready`).
    pub async fn ready(&self) -> Result<(), QueueError> {
        self.client
            .get_queue_attributes()
            .queue_url(&self.url)
            .send()
            .await
            .map_err(sqs)?;
        Ok(())
    }

    /// Long-polls one batch (up to 10 messages, all system attributes).
    pub async fn receive(
        &self,
        wait_seconds: i32,
    ) -> Result<Vec<aws_sdk_sqs::types::Message>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(sqs)?;
        Ok(out.messages.unwrap_or_default())
    }

    /// Deletes every message of `messages` whose id is not in `failed`, ten per call: what an
    /// event source mapping does with a partial batch response.
    pub async fn acknowledge(
        &self,
        messages: &[aws_sdk_sqs::types::Message],
        failed: &[String],
    ) -> Result<(), QueueError> {
        let done: Vec<&str> = messages
            .iter()
            .filter(|m| {
                !failed
                    .iter()
                    .any(|f| Some(f.as_str()) == m.message_id.as_deref())
            })
            .filter_map(|m| m.receipt_handle.as_deref())
            .collect();
        for chunk in done.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, handle)| {
                    aws_sdk_sqs::types::DeleteMessageBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .receipt_handle(*handle)
                        .build()
                        .ok()
                })
                .collect();
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(sqs)?;
            if let Some(f) = out.failed().first() {
                return Err(QueueError::Sqs(format!(
                    "a message could not be deleted: {} {}",
                    f.code(),
                    f.message().unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    /// Puts a task on the queue; returns the SQS message id.
    pub async fn enqueue(&self, message: &TaskMessage) -> Result<String, QueueError> {
        self.enqueue_as(message, &message.deduplication_id()).await
    }

    /// Puts a task on the queue under the deduplication id `dedup`.
    pub async fn enqueue_as(
        &self,
        message: &TaskMessage,
        dedup: &str,
    ) -> Result<String, QueueError> {
        let body =
            serde_json::to_string(message).map_err(|e| QueueError::BadMessage(e.to_string()))?;
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .message_group_id(message.request_id.as_str())
            .message_deduplication_id(dedup)
            .send()
            .await
            .map_err(sqs)?;
        Ok(out.message_id.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_id_names_task_and_attempt() {
        let m = TaskMessage {
            request_id: RequestId("req-1".into()),
            seq: 2,
            attempt: 3,
            correlation_id: "c".into(),
        };
        assert_eq!(m.deduplication_id(), "req-1-2-3");
        assert_eq!(m.redrive_deduplication_id("m-9"), "req-1-2-3-r-m-9");
        assert_eq!(
            TaskMessage::parse(&serde_json::to_string(&m).unwrap_or_default()).ok(),
            Some(m)
        );
        assert!(TaskMessage::parse("{}").is_err());
    }
}
