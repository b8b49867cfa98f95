//! The worker: runs the task an SQS message names. This is where a task becomes
//! `processing` ([`Worker::handle`] claims it: one conditional write with its event, so of two
//! deliveries of one message only one runs the action), where its config is rendered with the
//! four namespaces, where the action runs, and where the task completes (its successor becomes
//! `queued` in the same transaction, then its message is sent, or the successor runs in the
//! same invocation, [`Worker::follow`]) or fails (its request fails in the same transaction).
//!
//! Nothing is retried here: a failed action fails its task and request until a human acts.
//! Only infrastructure errors (DynamoDB, SQS unreachable) leave the message unacknowledged so
//! that SQS delivers it again, and every step is safe to repeat: a delivery for a completed
//! task makes sure its successor is on the queue, a delivery for a task found `processing`
//! looks for what the earlier attempt did before calling it unknown.
//!
//! Reads that decide what runs are strongly consistent. How each fulfillment type runs is in
//! `run`; what a redelivery finds an earlier delivery did is in `redelivery`; how a task waiting
//! on a workflow run or a ticket learns its end is in `waiting`; how a batch is walked in FIFO
//! order and handed back near the deadline is in `batch`.

use crate::action::jira::JiraClient;
use crate::action::{ActionError, ActionResult};
use crate::clock::Now;
use crate::queue::{Queue, QueueError, TaskMessage};
use crate::record::{Event, RequestDetail, TaskRecord};

use crate::catalog::parsed::ParsedConfigs;
use crate::request::RequestState;
use crate::secrets::{SecretCache, SecretError};
use crate::store::tasks::Completion;
use crate::store::{Read, Store, StoreError};
use crate::task::TaskState;
use std::time::{Duration, Instant};
use tracing::Instrument;

mod batch;
mod redelivery;
mod run;
mod waiting;

pub use run::render_task;

/// Time kept in hand at the end of an invocation: to write the outcome of the last task and
/// answer Lambda before it is cut off.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// An action could not be asked (the sweeper polling a run).
    #[error(transparent)]
    Action(#[from] ActionError),
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    /// The action goes on outside PAO (a workflow run); the task stays `processing`.
    Waiting,
    Failed(String),
    Skipped,
    /// Acknowledged without running anything, and why.
    Ignored(String),
    /// Not started: the invocation has less time left than the task's action may take. The
    /// record goes back to the queue (visible at once) with the rest of the batch.
    HandedBack,
}

/// Settings the worker needs beyond its clients.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub jira_secret_id: String,
    /// The GitHub token of `github-commit` and `github-workflow` items.
    pub github_token_secret_id: String,
    /// Where the secrets catalog items name live.
    pub catalog_secrets: crate::secrets::CatalogSecrets,
    pub environment: String,
    pub region: String,
    pub action_timeout: Duration,
    /// Whether a batch's last record has its request's next task run in the same invocation
    /// ([`Worker::follow`]; `PAO_FOLLOW_NEXT_TASK`).
    pub follow_next_task: bool,
}

/// One SQS record: its message id, body and FIFO message group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub message_id: String,
    pub body: String,
    /// `MessageGroupId` (the request id); `None` holds back every later record on failure.
    pub group_id: Option<String>,
    /// The receipt handle, to make a record handed back unstarted visible again at once.
    pub receipt_handle: Option<String>,
}

/// Runs tasks: built once per container by [`Worker::from_config`].
#[derive(Debug)]
pub struct Worker {
    pub store: Store,
    pub queue: Queue,
    pub secrets: SecretCache,
    pub jira: JiraClient,
    pub settings: WorkerSettings,
    /// Fulfillment configs parsed once per catalog snapshot.
    pub configs: ParsedConfigs,
    /// Outbound HTTP of `rest-api` and `webhook` items (URL rules, circuit breakers).
    pub outbound: crate::action::http::Outbound,
    /// GitHub's REST API for `github-commit` and `github-workflow` items.
    pub github: crate::github::GitHub,
    /// Task duration and outcome per fulfillment type; requests ended per catalog item.
    pub metrics: crate::metrics::Metrics,
    /// Opens the sealed password values an action sends (Decrypt only).
    pub kms: crate::kms::Kms,
}

impl Worker {
    /// Builds the worker a deployment runs from its config and SDK clients.
    pub fn from_config(config: &crate::config::Config, sdk: &crate::aws::SdkConfig) -> Self {
        Self {
            store: Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name)
                .with_retention(crate::store::Retention {
                    completed: config.completed_retention,
                    failed: config.failed_retention,
                    secrets: config.secret_keep,
                }),
            queue: Queue::new(aws_sdk_sqs::Client::new(sdk), &config.task_queue_url),
            secrets: SecretCache::new(
                aws_sdk_secretsmanager::Client::new(sdk),
                config.secret_cache,
            ),
            jira: JiraClient::new(crate::https::Https::shared()),
            settings: WorkerSettings {
                jira_secret_id: config.jira_secret_id.clone(),
                github_token_secret_id: config.github_token_secret_id.clone(),
                catalog_secrets: crate::secrets::CatalogSecrets {
                    prefix: config.catalog_secret_prefix.clone(),
                },
                environment: config.environment.clone(),
                region: config.region.clone(),
                action_timeout: config.action_timeout,
                follow_next_task: config.follow_next_task,
            },
            configs: ParsedConfigs::default(),
            outbound: crate::action::http::Outbound::new(crate::action::http::Allowed::parse(
                &config.http_allow_hosts,
            )),
            github: crate::github::GitHub::new(
                crate::https::Https::shared(),
                &config.github_api_url,
            ),
            metrics: crate::metrics::Metrics::from_config("worker", config),
            kms: crate::kms::Kms::new(sdk, &config.secrets_key_id),
        }
    }

    /// Runs the task a message names, if it still should run.
    pub async fn handle(&self, message: &TaskMessage) -> Result<Outcome, WorkerError> {
        self.handle_until(message, None).await
    }

    /// [`Worker::handle`], with the action's timeout cut to end before `deadline`.
    pub async fn handle_until(
        &self,
        message: &TaskMessage,
        deadline: Option<Instant>,
    ) -> Result<Outcome, WorkerError> {
        self.handle_step(message, deadline, None).await
    }

    /// Handles a message; with `follow`, a task that completes leaves the next task's message
    /// there instead of sending it (the caller runs the next task itself, [`Worker::follow`]).
    async fn handle_step(
        &self,
        message: &TaskMessage,
        deadline: Option<Instant>,
        follow: Option<&mut Option<TaskMessage>>,
    ) -> Result<Outcome, WorkerError> {
        let Some(detail) = self
            .store
            .get_request(&message.request_id, &Now::current(), Read::Strong)
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
        // Escalation is making tickets for the remaining tasks: leave them to it.
        if request_state == RequestState::Escalating {
            return Ok(Outcome::Ignored("request is escalating".into()));
        }
        if matches!(
            request_state,
            RequestState::Aborted | RequestState::Escalated | RequestState::Rejected
        ) {
            if matches!(task.state, TaskState::Queued | TaskState::Pending) {
                self.skip(&task).await?;
                return Ok(Outcome::Skipped);
            }
            return Ok(Outcome::Ignored(format!("request is {request_state}")));
        }
        match task.state {
            TaskState::Queued => {}
            // An earlier delivery ran it: make sure what follows is on its way.
            TaskState::Completed => return self.advance(&detail, &task, deadline).await,
            // A redelivery of a task that waits on its workflow run: it goes on waiting (the
            // webhook or the sweeper concludes it).
            TaskState::Processing if task.waits_outside() => {
                return Ok(Outcome::Ignored("task waits for its workflow run".into()));
            }
            // An earlier delivery claimed it and stopped: do not blindly run it again.
            TaskState::Processing => return self.recover(&detail, &task, deadline).await,
            other => return Ok(Outcome::Ignored(format!("task is {other}"))),
        }
        if !request_state.is_running() {
            return Ok(Outcome::Ignored(format!("request is {request_state}")));
        }
        if let Some(earlier) = detail
            .tasks
            .iter()
            .find(|t| t.seq < task.seq && t.state != TaskState::Completed)
        {
            return Ok(Outcome::Ignored(format!(
                "task {} before it is {}",
                earlier.seq, earlier.state
            )));
        }
        if let Some(deadline) = deadline {
            // The task would start now: only with the time its action may take.
            let needs = task
                .item
                .timeout_seconds
                .map(|s| Duration::from_secs(u64::from(s)))
                .unwrap_or(self.settings.action_timeout)
                + DEADLINE_MARGIN;
            if deadline.saturating_duration_since(Instant::now()) < needs {
                return Ok(Outcome::HandedBack);
            }
        }
        let now = Now::current();
        let started = Event::about(
            &task,
            "task-started",
            format!(
                "task {} ({}) started, attempt {}",
                task.seq, task.item.id, task.attempt
            ),
        );
        let sealed = self.sealed_before_claim(&detail, &task).await?;
        match self.store.claim_task(&task, &now, &started).await {
            Ok(()) => {}
            // Another delivery claimed it, or the request moved on (aborted): nothing to run.
            Err(StoreError::Conflict(m)) => return Ok(Outcome::Ignored(m)),
            Err(e) => return Err(e.into()),
        }
        let started = Instant::now();
        let result = self.run(&detail, &task, false, deadline, sealed).await;
        self.finish(&detail, &task, result, Some(started.elapsed()), follow)
            .await
    }

    /// Writes how the action ended; on success sends the next task's message (or, with
    /// `follow`, leaves it there for the caller to run). `ran` is how long the action took
    /// here (`None`: it ended elsewhere, a workflow run).
    async fn finish(
        &self,
        detail: &RequestDetail,
        task: &TaskRecord,
        result: Result<ActionResult, ActionError>,
        ran: Option<Duration>,
        follow: Option<&mut Option<TaskMessage>>,
    ) -> Result<Outcome, WorkerError> {
        let outcome = self.write_outcome(detail, task, result, follow).await?;
        self.measure(detail, task, &outcome, ran);
        Ok(outcome)
    }

    /// Emits the metrics of a task that ended: its duration and outcome per fulfillment
    /// type, and its request's end per catalog item if it ended the request.
    fn measure(
        &self,
        detail: &RequestDetail,
        task: &TaskRecord,
        outcome: &Outcome,
        ran: Option<Duration>,
    ) {
        let (name, request_ended) = match outcome {
            Outcome::Completed => (
                "completed",
                (!detail.tasks.iter().any(|t| t.seq > task.seq)).then_some("RequestsCompleted"),
            ),
            Outcome::Failed(_) => ("failed", Some("RequestsFailed")),
            _ => return,
        };
        let took = ran.map(|d| d.as_secs_f64() * 1000.0).or_else(|| {
            let start = crate::clock::epoch_of(task.started_at.as_deref()?)?;
            Some(crate::clock::now_epoch().saturating_sub(start) as f64 * 1000.0)
        });
        use crate::metrics::Unit;
        let mut values = vec![("Tasks", 1.0, Unit::Count)];
        if let Some(took) = took {
            values.push(("TaskDuration", took, Unit::Milliseconds));
        }
        self.metrics.emit(
            &[("ActionType", task.item.action.as_str()), ("Outcome", name)],
            &values,
        );
        if let Some(ended) = request_ended {
            self.metrics
                .count(&[("CatalogItem", detail.request.target.id())], ended);
        }
    }

    async fn write_outcome(
        &self,
        detail: &RequestDetail,
        task: &TaskRecord,
        result: Result<ActionResult, ActionError>,
        follow: Option<&mut Option<TaskMessage>>,
    ) -> Result<Outcome, WorkerError> {
        let now = Now::current();
        // A result whose outputs cannot be stored fails the task saying so (the write would
        // fail, and the task end as interrupted).
        let result = result.and_then(|done| {
            if done.waiting {
                return Ok((done, serde_json::Map::new()));
            }
            let outputs = outputs_of(task, &done);
            match crate::store::requests::check_completed(task, &outputs) {
                Ok(()) => Ok((done, outputs)),
                Err(e) => Err(ActionError::Rejected(format!(
                    "the action succeeded, but {e}: select less with the item's `outputs` pointers"
                ))),
            }
        });
        match result {
            Ok((done, _)) if done.waiting => {
                let Some(external) = &done.external_ref else {
                    return Err(WorkerError::Action(ActionError::Config(
                        "a waiting action must name what it waits for".into(),
                    )));
                };
                let event = Event::about(
                    task,
                    "task-waiting",
                    format!(
                        "task {} ({}) waits for {} {}",
                        task.seq, task.item.id, external.key, external.url
                    ),
                );
                match self.store.wait_task(task, external, &now, &event).await {
                    Ok(()) | Err(StoreError::Conflict(_)) => Ok(Outcome::Waiting),
                    Err(e) => Err(e.into()),
                }
            }
            Ok((done, outputs)) => {
                let completion = Completion {
                    outputs,
                    external_ref: done.external_ref.clone(),
                };
                let next = detail.tasks.iter().find(|t| t.seq == task.seq + 1);
                let what = done
                    .external_ref
                    .as_ref()
                    .map(|r| format!(": {} {}", r.key, r.url))
                    .unwrap_or_default();
                let completed = Event::about(
                    task,
                    "task-completed",
                    format!("task {} ({}) completed{what}", task.seq, task.item.id),
                );
                let mut events = vec![completed.clone()];
                if next.is_none() {
                    events.push(Event::about(
                        task,
                        "request-completed",
                        "request completed".into(),
                    ));
                }
                match self
                    .store
                    .complete_task(
                        task,
                        &completion,
                        next,
                        &now,
                        &events,
                        !detail.request.sealed_fields.is_empty(),
                    )
                    .await
                {
                    Ok(()) => {}
                    Err(StoreError::Conflict(_)) => {
                        return self
                            .settle_alone(task, Ok(&completion), &now, completed)
                            .await;
                    }
                    Err(e) => return Err(e.into()),
                }
                match (next, follow) {
                    (Some(next), Some(slot)) => {
                        *slot = Some(TaskMessage::for_task(next, &detail.request.correlation_id));
                    }
                    (Some(next), None) => self.send(next, &detail.request.correlation_id).await?,
                    (None, _) => {}
                }
                Ok(Outcome::Completed)
            }
            Err(e) => {
                let message = e.to_string();
                let request_error =
                    format!("task {} ({}) failed: {message}", task.seq, task.item.id);
                let failed = Event::about(task, "task-failed", request_error.clone());
                match self
                    .store
                    .fail_task(
                        task,
                        &message,
                        &request_error,
                        &now,
                        &failed,
                        !detail.request.sealed_fields.is_empty(),
                    )
                    .await
                {
                    Ok(()) => Ok(Outcome::Failed(message)),
                    Err(StoreError::Conflict(_)) => {
                        self.settle_alone(task, Err(&message), &now, failed).await
                    }
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// The request moved while the task ran (aborted, or failed by the sweeper): the task's
    /// result is still recorded, and nothing after it is queued.
    async fn settle_alone(
        &self,
        task: &TaskRecord,
        result: Result<&Completion, &str>,
        now: &Now,
        mut ended: Event,
    ) -> Result<Outcome, WorkerError> {
        ended
            .message
            .push_str(" (the request had moved on; nothing after it is queued)");
        match self
            .store
            .settle_task_alone(task, result, now, &ended)
            .await
        {
            Ok(()) => Ok(match result {
                Ok(_) => Outcome::Completed,
                Err(m) => Outcome::Failed(m.to_string()),
            }),
            Err(StoreError::Conflict(_)) => {
                Ok(Outcome::Ignored("task changed while it ran".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Runs the next tasks of a request in this invocation, one after another, as long as
    /// each completes and the invocation has the time: the hop between two tasks is then a
    /// read and a claim, not a send, a delete and a receive. The message of the task that
    /// began it is deleted only when the batch ends, and until then no other message of its
    /// group can be delivered; if this invocation stops, that message comes back and finds
    /// the task to go on with ([`Worker::advance`]). A task not run here (no time left, moved
    /// on, a failed read) gets its message after all.
    pub(crate) async fn follow(&self, mut next: TaskMessage, deadline: Option<Instant>) {
        loop {
            let mut after = None;
            let span = tracing::info_span!(
                "task",
                correlation_id = %next.correlation_id,
                request_id = %next.request_id,
                seq = next.seq
            );
            let step = self
                .handle_step(&next, deadline, Some(&mut after))
                .instrument(span)
                .await;
            tracing::info!(seq = next.seq, outcome = ?step, "next task run in this invocation");
            match step {
                Ok(Outcome::Completed) => match after {
                    Some(a) => next = a,
                    None => return,
                },
                Ok(Outcome::HandedBack | Outcome::Ignored(_)) | Err(_) => {
                    if let Err(e) = self.queue.enqueue(&next).await {
                        // The sweeper re-sends a task left queued.
                        tracing::warn!(seq = next.seq, error = %e, "could not send the next task's message");
                    }
                    return;
                }
                Ok(_) => return,
            }
        }
    }

    /// Puts a task's message on the queue.
    async fn send(&self, task: &TaskRecord, correlation_id: &str) -> Result<(), WorkerError> {
        self.queue
            .enqueue(&TaskMessage::for_task(task, correlation_id))
            .await?;
        Ok(())
    }

    async fn skip(&self, task: &TaskRecord) -> Result<(), WorkerError> {
        let now = Now::current();
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
        self.store
            .append_event(
                &task.request_id,
                &Event::about(
                    task,
                    "task-skipped",
                    format!(
                        "task {} ({}) skipped: the request was stopped",
                        task.seq, task.item.id
                    ),
                ),
            )
            .await?;
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

/// The task's outputs: each of the item's `outputs` pointers into the action's result.
fn outputs_of(
    task: &TaskRecord,
    done: &ActionResult,
) -> serde_json::Map<String, serde_json::Value> {
    task.item
        .outputs
        .iter()
        .filter_map(|(key, pointer)| {
            Some((key.clone(), done.result.pointer(pointer.as_str()?)?.clone()))
        })
        .collect()
}
