//! The worker: runs the task an SQS message names. This is where a task becomes
//! `processing` (a conditional write, so of two deliveries of one message only one runs the
//! action), where its config is rendered with the four namespaces, where the action runs, and
//! where the task completes (and the next one is queued) or fails (and stops its request).
//!
//! Nothing is retried here: a failed action fails its task and request until a human acts.
//! Only infrastructure errors (DynamoDB, SQS unreachable) leave the message unacknowledged so
//! that SQS delivers it again; the state checks make that redelivery harmless.

use crate::action::jira::{JiraClient, JiraInstances, task_label};
use crate::action::{ActionError, ActionResult};
use crate::catalog::ActionType;
use crate::clock;
use crate::queue::{Queue, QueueError, TaskMessage};
use crate::request::RequestState;
use crate::secrets::{SecretCache, SecretError};
use crate::store::{Event, RequestDetail, Store, StoreError, TaskRecord};
use crate::task::TaskState;
use crate::template::{Engine, SystemVars, Vars};
use serde_json::{Map, Value, json};
use std::time::Duration;
use tracing::Instrument;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Failed(String),
    Skipped,
    /// Acknowledged without doing anything, and why.
    Ignored(String),
}

/// Settings the worker needs beyond its clients.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub jira_secret_id: String,
    pub environment: String,
    pub region: String,
    pub action_timeout: Duration,
}

/// One SQS record: its message id and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub message_id: String,
    pub body: String,
}

pub struct Worker {
    pub store: Store,
    pub queue: Queue,
    pub secrets: SecretCache,
    pub jira: JiraClient,
    pub settings: WorkerSettings,
}

fn now_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Worker {
    /// Processes a FIFO batch in order. At the first record that fails, it and every later
    /// record are reported as failures, so SQS redelivers them in order (a FIFO queue must
    /// never see a later message of a group succeed before an earlier one).
    pub async fn process_batch(&self, records: &[Record]) -> Vec<String> {
        for (i, record) in records.iter().enumerate() {
            let result = match TaskMessage::parse(&record.body) {
                // A body that is not ours can never succeed: acknowledge it, loudly.
                Err(e) => {
                    tracing::error!(message_id = %record.message_id, error = %e, "dropping malformed message");
                    continue;
                }
                Ok(message) => {
                    // Every log line of this task carries the request's correlation id.
                    let span = tracing::info_span!(
                        "task",
                        correlation_id = %message.correlation_id,
                        request_id = %message.request_id,
                        seq = message.seq
                    );
                    self.handle(&message).instrument(span).await
                }
            };
            match result {
                Ok(outcome) => {
                    tracing::info!(message_id = %record.message_id, ?outcome, "message handled")
                }
                Err(e) => {
                    tracing::error!(message_id = %record.message_id, error = %e, "message failed; it and the rest of the batch go back to the queue");
                    return records[i..].iter().map(|r| r.message_id.clone()).collect();
                }
            }
        }
        Vec::new()
    }

    /// Receives one batch from the task queue, processes it and deletes what succeeded, as an
    /// SQS event source mapping does. Returns how many messages arrived.
    pub async fn poll_once(&self, wait_seconds: i32) -> Result<usize, WorkerError> {
        let messages = self.queue.receive(wait_seconds).await?;
        let records: Vec<Record> = messages
            .iter()
            .map(|m| Record {
                message_id: m.message_id.clone().unwrap_or_default(),
                body: m.body.clone().unwrap_or_default(),
            })
            .collect();
        let failed = self.process_batch(&records).await;
        self.queue.acknowledge(&messages, &failed).await?;
        Ok(messages.len())
    }

    /// Runs the task a message names, if it still should run.
    pub async fn handle(&self, message: &TaskMessage) -> Result<Outcome, WorkerError> {
        let Some(detail) = self
            .store
            .get_request(&message.request_id, now_epoch())
            .await?
        else {
            return Ok(Outcome::Ignored("request not found".into()));
        };
        let Some(task) = detail.tasks.iter().find(|t| t.seq == message.seq).cloned() else {
            return Ok(Outcome::Ignored("task not found".into()));
        };
        if task.attempt != message.attempt {
            return Ok(Outcome::Ignored(format!(
                "message of attempt {}, task is at {}",
                message.attempt, task.attempt
            )));
        }
        let request_state = detail.request.state;
        if matches!(
            request_state,
            RequestState::Aborted | RequestState::Escalated
        ) {
            if matches!(task.state, TaskState::Queued | TaskState::Pending) {
                self.skip(&task).await?;
                return Ok(Outcome::Skipped);
            }
            return Ok(Outcome::Ignored(format!("request is {request_state}")));
        }
        match task.state {
            TaskState::Queued => {}
            // An earlier delivery started and never finished: do not blindly run it again.
            TaskState::Processing => return self.recover(&detail, &task).await,
            other => return Ok(Outcome::Ignored(format!("task is {other}"))),
        }
        let now = clock::now_rfc3339();
        match self
            .store
            .transition_task(
                &task.request_id,
                task.seq,
                TaskState::Queued,
                TaskState::Processing,
                &now,
                vec![("startedAt", json!(now))],
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Ok(Outcome::Ignored("claimed by another delivery".into()));
            }
            Err(e) => return Err(e.into()),
        }
        self.ensure_processing(&detail).await?;
        self.event(
            &task,
            "task-started",
            format!(
                "task {} ({}) started, attempt {}",
                task.seq, task.item.id, task.attempt
            ),
        )
        .await?;
        let result = self.run(&detail, &task, false).await;
        self.finish(&detail, &task, result).await
    }

    /// A task found `processing`: its action may or may not have run. A JIRA ticket can be
    /// found by the task's label; anything else fails as "outcome unknown" for a human.
    async fn recover(
        &self,
        detail: &RequestDetail,
        task: &TaskRecord,
    ) -> Result<Outcome, WorkerError> {
        // The earlier attempt may have stopped before it moved the request on.
        self.ensure_processing(detail).await?;
        let result = match task.item.action {
            ActionType::JiraTicket => match self.run(detail, task, true).await {
                Ok(found) => Ok(found),
                Err(ActionError::Rejected(m)) if m == NOT_FOUND => {
                    Err(ActionError::Rejected(INTERRUPTED.into()))
                }
                Err(e) => Err(e),
            },
            _ => Err(ActionError::Rejected(INTERRUPTED.into())),
        };
        self.finish(detail, task, result).await
    }

    /// Renders the task's config and runs its action (or, with `find_only`, looks for what an
    /// earlier attempt created).
    async fn run(
        &self,
        detail: &RequestDetail,
        task: &TaskRecord,
        find_only: bool,
    ) -> Result<ActionResult, ActionError> {
        let config = self.render(detail, task)?;
        let timeout = task
            .item
            .timeout_seconds
            .map(|s| Duration::from_secs(u64::from(s)))
            .unwrap_or(self.settings.action_timeout);
        match task.item.action {
            ActionType::JiraTicket => {
                let secret = self
                    .secrets
                    .get(&self.settings.jira_secret_id)
                    .await
                    .map_err(secret_error)?;
                let instances = JiraInstances::parse(&secret)?;
                let name = config
                    .get("instance")
                    .and_then(Value::as_str)
                    .unwrap_or("default");
                let instance = instances.get(name)?;
                let label = task_label(task.request_id.as_str(), task.seq);
                if find_only {
                    return self
                        .jira
                        .find_by_label(instance, &label, timeout)
                        .await?
                        .ok_or_else(|| ActionError::Rejected(NOT_FOUND.into()));
                }
                self.jira
                    .create_issue(instance, &config, &label, timeout)
                    .await
            }
            other => Err(ActionError::Unsupported(other.to_string())),
        }
    }

    fn render(&self, detail: &RequestDetail, task: &TaskRecord) -> Result<Value, ActionError> {
        let request = &detail.request;
        // `.output`: every earlier completed task's outputs, in order.
        let mut output = Map::new();
        for earlier in detail
            .tasks
            .iter()
            .filter(|t| t.seq < task.seq && t.state == TaskState::Completed)
        {
            output.extend(earlier.outputs.clone());
        }
        let vars = Vars {
            current: task.current.clone(),
            output,
            metadata: task.metadata.clone(),
            system: SystemVars {
                request_id: request.request_id.to_string(),
                correlation_id: request.correlation_id.clone(),
                timestamp: clock::now_rfc3339(),
                user_email: request.user.email.clone().unwrap_or_default(),
                user_arn: request.user.arn.clone(),
                region: self.settings.region.clone(),
                environment: self.settings.environment.clone(),
            }
            .to_value(),
        };
        let mut engine = Engine::new();
        let tree = engine
            .parse_tree(&task.item.config, task.item.action.json_body_key())
            .map_err(|errors| {
                ActionError::Config(
                    errors
                        .iter()
                        .map(|(p, e)| format!("{p}: {e}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                )
            })?;
        engine
            .render_tree(&tree, &vars)
            .map_err(|(p, e)| ActionError::Config(format!("{p}: {e}")))
    }

    async fn finish(
        &self,
        detail: &RequestDetail,
        task: &TaskRecord,
        result: Result<ActionResult, ActionError>,
    ) -> Result<Outcome, WorkerError> {
        let now = clock::now_rfc3339();
        let epoch = now_epoch();
        match result {
            Ok(done) => {
                let outputs: Map<String, Value> = task
                    .item
                    .outputs
                    .iter()
                    .filter_map(|(key, pointer)| {
                        Some((key.clone(), done.result.pointer(pointer.as_str()?)?.clone()))
                    })
                    .collect();
                let last = task.seq + 1 >= detail.request.total_tasks;
                let mut changes = vec![
                    ("outputs", Value::Object(outputs)),
                    ("finishedAt", json!(now)),
                ];
                if let Some(r) = &done.external_ref {
                    changes.push(("externalRef", json!({"key": r.key, "url": r.url})));
                }
                match self
                    .store
                    .complete_task(task, RequestState::Processing, last, &now, epoch, changes)
                    .await
                {
                    Ok(()) => {}
                    Err(StoreError::Conflict(_)) => {
                        return Ok(Outcome::Ignored("task changed while it ran".into()));
                    }
                    Err(e) => return Err(e.into()),
                }
                let what = done
                    .external_ref
                    .as_ref()
                    .map(|r| format!(": {} {}", r.key, r.url))
                    .unwrap_or_default();
                self.event(
                    task,
                    "task-completed",
                    format!("task {} ({}) completed{what}", task.seq, task.item.id),
                )
                .await?;
                if last {
                    self.event(task, "request-completed", "request completed".into())
                        .await?;
                } else if let Some(next) = detail.tasks.iter().find(|t| t.seq == task.seq + 1) {
                    self.queue_next(next, &detail.request.correlation_id, &now)
                        .await?;
                }
                Ok(Outcome::Completed)
            }
            Err(e) => {
                let message = e.to_string();
                match self
                    .store
                    .transition_task(
                        &task.request_id,
                        task.seq,
                        TaskState::Processing,
                        TaskState::Failed,
                        &now,
                        vec![("error", json!(message)), ("finishedAt", json!(now))],
                    )
                    .await
                {
                    Ok(()) => {}
                    Err(StoreError::Conflict(_)) => {
                        return Ok(Outcome::Ignored("task changed while it ran".into()));
                    }
                    Err(e) => return Err(e.into()),
                }
                let request_error =
                    format!("task {} ({}) failed: {message}", task.seq, task.item.id);
                settled(
                    self.store
                        .transition_request(
                            &task.request_id,
                            RequestState::Processing,
                            RequestState::Failed,
                            &now,
                            epoch,
                            vec![("error", json!(request_error))],
                        )
                        .await,
                )?;
                self.event(task, "task-failed", request_error).await?;
                Ok(Outcome::Failed(message))
            }
        }
    }

    /// A request whose task starts running is `processing`.
    async fn ensure_processing(&self, detail: &RequestDetail) -> Result<(), WorkerError> {
        let state = detail.request.state;
        if !matches!(state, RequestState::Submitted | RequestState::Retrying) {
            return Ok(());
        }
        let now = clock::now_rfc3339();
        settled(
            self.store
                .transition_request(
                    &detail.request.request_id,
                    state,
                    RequestState::Processing,
                    &now,
                    now_epoch(),
                    vec![],
                )
                .await,
        )
    }

    /// Moves the next task to `queued` and puts it on the queue.
    async fn queue_next(
        &self,
        next: &TaskRecord,
        correlation_id: &str,
        now: &str,
    ) -> Result<(), WorkerError> {
        settled(
            self.store
                .transition_task(
                    &next.request_id,
                    next.seq,
                    TaskState::Pending,
                    TaskState::Queued,
                    now,
                    vec![],
                )
                .await,
        )?;
        self.queue
            .enqueue(&TaskMessage {
                request_id: next.request_id.clone(),
                seq: next.seq,
                attempt: next.attempt,
                correlation_id: correlation_id.to_string(),
            })
            .await?;
        Ok(())
    }

    async fn skip(&self, task: &TaskRecord) -> Result<(), WorkerError> {
        let now = clock::now_rfc3339();
        settled(
            self.store
                .transition_task(
                    &task.request_id,
                    task.seq,
                    task.state,
                    TaskState::Skipped,
                    &now,
                    vec![],
                )
                .await,
        )?;
        self.event(
            task,
            "task-skipped",
            format!(
                "task {} ({}) skipped: the request was stopped",
                task.seq, task.item.id
            ),
        )
        .await
    }

    async fn event(
        &self,
        task: &TaskRecord,
        kind: &str,
        message: String,
    ) -> Result<(), WorkerError> {
        let event = Event {
            at: clock::now_rfc3339(),
            kind: kind.into(),
            message,
            task_seq: Some(task.seq),
        };
        self.store.append_event(&task.request_id, &event).await?;
        Ok(())
    }
}

/// A conditional write that lost to another delivery changed nothing that matters here.
fn settled(result: Result<(), StoreError>) -> Result<(), WorkerError> {
    match result {
        Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

const NOT_FOUND: &str = "no ticket carries this task's label";
const INTERRUPTED: &str = "interrupted, outcome unknown: an earlier attempt stopped while running this task; check the target system, then retry or abort";

fn secret_error(e: SecretError) -> ActionError {
    ActionError::Config(e.to_string())
}
