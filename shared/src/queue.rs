//! The SQS FIFO task queue. One message per task run: the message group is the request id
//! (a request's tasks run strictly in order, different requests in parallel), and the
//! deduplication id is derived from the task and its attempt (a resend of the same attempt
//! is dropped by SQS, a human retry is a new attempt). Only a request's next task is ever on
//! the queue: the worker enqueues the following one when a task completes.

use crate::record::{RequestId, TaskRecord};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("SQS: {0}")]
    Sqs(String),
    #[error("message body is not a task message: {0}")]
    BadMessage(String),
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

    /// Whether the queue answers (for `/health/ready`).
    pub async fn ready(&self) -> Result<(), QueueError> {
        self.client
            .get_queue_attributes()
            .queue_url(&self.url)
            .send()
            .await
            .map_err(|e| QueueError::Sqs(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
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
            .map_err(|e| QueueError::Sqs(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        Ok(out.messages.unwrap_or_default())
    }

    /// Deletes every message of `messages` whose id is not in `failed`: what an event source
    /// mapping does with a partial batch response.
    pub async fn acknowledge(
        &self,
        messages: &[aws_sdk_sqs::types::Message],
        failed: &[String],
    ) -> Result<(), QueueError> {
        for m in messages {
            if failed
                .iter()
                .any(|f| Some(f.as_str()) == m.message_id.as_deref())
            {
                continue;
            }
            if let Some(handle) = &m.receipt_handle {
                self.client
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| {
                        QueueError::Sqs(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
                    })?;
            }
        }
        Ok(())
    }

    /// Puts a task on the queue; returns the SQS message id.
    pub async fn enqueue(&self, message: &TaskMessage) -> Result<String, QueueError> {
        let body =
            serde_json::to_string(message).map_err(|e| QueueError::BadMessage(e.to_string()))?;
        let out = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .message_group_id(message.request_id.as_str())
            .message_deduplication_id(message.deduplication_id())
            .send()
            .await
            .map_err(|e| QueueError::Sqs(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
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
        assert_eq!(
            TaskMessage::parse(&serde_json::to_string(&m).unwrap_or_default()).ok(),
            Some(m)
        );
        assert!(TaskMessage::parse("{}").is_err());
    }
}
