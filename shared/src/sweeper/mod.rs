//! The sweeper, run on a schedule: nothing stalls unseen.
//!
//! - A task `queued` for longer than `resend_after` that has not run gets its message sent
//!   again: the submission or the worker wrote it `queued` and then could not send (or the
//!   message was lost). SQS drops the copy if the first message is still there (same
//!   deduplication id), and the worker ignores a message for a task that already ran.
//! - A task `queued` or `processing` for longer than `stuck_after` becomes `stuck` and its
//!   request `failed` with the reason, so a human can retry, abort or escalate it.
//!
//! - A task waiting on a workflow run is never stuck: it is found through its own `byState`
//!   key, least recently polled first, and at most [`POLL_LIMIT`] runs are asked about per
//!   run, so however many runs wait (on an environment approval, say), every one is polled in
//!   turn and stuck detection is not slowed by them.
//!
//! - A request awaiting approval whose stage's `timeout` passed is rejected or escalated, and
//!   one whose `remindAfter` passed gets its reminder recorded ([`approvals`]).
//!
//! Every change is conditional on what the sweeper saw (state and `updatedAt`), so two
//! sweepers running at once act on a task once: one wins each conditional write, the other
//! skips. Tasks are found through the `byState` index, oldest first.

mod approvals;

use crate::clock::{Now, rfc3339};
use crate::queue::{Queue, QueueError, TaskMessage};
use crate::record::{RequestDetail, TaskRecord};
use crate::store::{Read, Store, StoreError};
use crate::task::TaskState;
use serde::Serialize;
use std::time::Duration;

/// At most this many tasks of each kind are looked at per run; the next run takes the rest.
pub const BATCH_LIMIT: usize = 200;
/// At most this many workflow runs and tickets are asked about per run (one call each).
pub const POLL_LIMIT: usize = 25;
/// Polls stop once a run has spent this long on them (a slow GitHub or JIRA): the sweeper's
/// Lambda has 60 s, and the rest wait for the next run, still oldest first.
pub const POLL_BUDGET: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepSettings {
    pub stuck_after: Duration,
    pub resend_after: Duration,
    /// Tasks of each kind looked at per run ([`BATCH_LIMIT`]).
    pub batch_limit: usize,
    /// Workflow runs and tickets polled per run ([`POLL_LIMIT`]).
    pub poll_limit: usize,
    /// A waiting task is polled when its last check is older than this.
    pub poll_after: Duration,
}

/// What one run did: `<requestId>#<seq>` of every task it acted on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub resent: Vec<String>,
    pub stuck: Vec<String>,
    /// Tasks that moved on between the index read and the write (or another sweeper won).
    pub skipped: u32,
    /// Tasks waiting on a workflow run that had concluded (the webhook did not say so).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub concluded: Vec<String>,
    /// Tasks whose workflow run or ticket was asked about, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub polled: Vec<String>,
    /// Tasks waiting on a ticket that passed their item's `maxWait` in this run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overdue: Vec<String>,
    /// Requests whose approval stage timed out and rejected them in this run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals_timed_out: Vec<String>,
    /// Requests whose approval stage timed out to its escalation group in this run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals_escalated: Vec<String>,
    /// Requests whose approval reminder was recorded in this run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approvals_reminded: Vec<String>,
}

pub struct Sweeper {
    pub store: Store,
    pub queue: Queue,
    pub settings: SweepSettings,
    /// Concludes tasks whose workflow run has ended.
    pub worker: crate::worker::Worker,
    /// The dead-letter queue, whose depth each run reports.
    pub dlq_url: String,
    /// Oldest queued task, stuck tasks, dead-letter depth: after every run.
    pub metrics: crate::metrics::Metrics,
}

/// What the sweeper measures after each run (and emits as metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gauges {
    pub queued_tasks: u64,
    pub oldest_queued_age_seconds: u64,
    pub stuck_tasks: u64,
    pub dead_letters: u64,
}

/// The event of a task waiting on a ticket that has just passed its item's `maxWait`
/// (counted from when the task started), unless it was marked before. It goes on waiting.
fn overdue(task: &TaskRecord, now_epoch: u64) -> Option<crate::record::Event> {
    if task.overdue_since.is_some() || task.item.action != crate::catalog::ActionType::JiraTicket {
        return None;
    }
    let max_wait = crate::action::jira::Waiting::of(&task.item.config)
        .ok()?
        .max_wait?;
    let started = crate::clock::epoch_of(task.started_at.as_deref()?)?;
    if now_epoch < started.saturating_add(max_wait.as_secs()) {
        return None;
    }
    let key = task
        .external_ref
        .as_ref()
        .map(|r| r.key.as_str())
        .unwrap_or("its ticket");
    let max = task
        .item
        .config
        .get("maxWait")
        .and_then(|m| m.as_str())
        .unwrap_or_default();
    let message = format!(
        "task {} ({}) overdue: {key} is still open {max} (maxWait) after the task started; it goes on waiting",
        task.seq, task.item.id
    );
    tracing::warn!(request_id = %task.request_id, seq = task.seq, ticket = key, "waiting ticket overdue");
    Some(crate::record::Event::about(task, "task-overdue", message))
}

fn name(task: &TaskRecord) -> String {
    format!("{}#{}", task.request_id, task.seq)
}

impl Sweeper {
    pub fn from_config(config: &crate::config::Config, sdk: &crate::aws::SdkConfig) -> Self {
        Self {
            store: Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name)
                .with_retention(crate::store::Retention {
                    completed: config.completed_retention,
                    failed: config.failed_retention,
                    secrets: config.secret_keep,
                }),
            queue: Queue::new(aws_sdk_sqs::Client::new(sdk), &config.task_queue_url),
            settings: SweepSettings {
                stuck_after: config.stuck_after,
                resend_after: config.resend_after,
                batch_limit: BATCH_LIMIT,
                poll_limit: POLL_LIMIT,
                poll_after: config.poll_after,
            },
            worker: crate::worker::Worker {
                metrics: crate::metrics::Metrics::from_config("sweeper", config),
                ..crate::worker::Worker::from_config(config, sdk)
            },
            dlq_url: config.dlq_url.clone(),
            metrics: crate::metrics::Metrics::from_config("sweeper", config),
        }
    }

    /// Reads the gauges (index counts, the oldest queued task, the dead-letter queue's depth).
    pub async fn gauges(&self, now_epoch: u64) -> Result<Gauges, SweepError> {
        let (queued, stuck, oldest, dead) = tokio::try_join!(
            async { Ok::<_, SweepError>(self.store.count_tasks(TaskState::Queued).await?) },
            async { Ok(self.store.count_tasks(TaskState::Stuck).await?) },
            async { Ok(self.store.oldest_task(TaskState::Queued).await?) },
            async { Ok(crate::queue::counts(self.queue.client(), &self.dlq_url).await?) },
        )?;
        let age = oldest
            .and_then(|t| crate::clock::epoch_of(&t.updated_at))
            .map(|t| now_epoch.saturating_sub(t))
            .unwrap_or(0);
        Ok(Gauges {
            queued_tasks: queued,
            oldest_queued_age_seconds: age,
            stuck_tasks: stuck,
            dead_letters: dead.visible + dead.in_flight,
        })
    }

    /// Reads the gauges and emits them; a failure is logged, never fails the run.
    pub async fn measure(&self, now_epoch: u64) -> Option<Gauges> {
        use crate::metrics::Unit;
        match self.gauges(now_epoch).await {
            Ok(g) => {
                self.metrics.emit(
                    &[],
                    &[
                        ("QueuedTasks", g.queued_tasks as f64, Unit::Count),
                        (
                            "OldestQueuedTaskAge",
                            g.oldest_queued_age_seconds as f64,
                            Unit::Seconds,
                        ),
                        ("StuckTasks", g.stuck_tasks as f64, Unit::Count),
                        ("DeadLetters", g.dead_letters as f64, Unit::Count),
                    ],
                );
                Some(g)
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the queue gauges");
                None
            }
        }
    }

    /// One run, as of `now_epoch`.
    pub async fn sweep(&self, now_epoch: u64) -> Result<SweepReport, SweepError> {
        let now = Now::at(now_epoch);
        let stuck_before = rfc3339(now_epoch.saturating_sub(self.settings.stuck_after.as_secs()));
        let resend_before = rfc3339(now_epoch.saturating_sub(self.settings.resend_after.as_secs()));
        let mut report = SweepReport::default();
        let limit = self.settings.batch_limit;
        for state in [TaskState::Queued, TaskState::Processing] {
            for seen in self
                .store
                .tasks_in_state(state, &stuck_before, limit)
                .await?
            {
                if seen.waits_outside() {
                    // Written before waiting tasks had a key of their own: move it there.
                    self.store.polled(&seen, &now, None).await?;
                    continue;
                }
                match self.mark_stuck(&seen, &now).await? {
                    true => report.stuck.push(name(&seen)),
                    false => report.skipped += 1,
                }
            }
        }
        for seen in self
            .store
            .tasks_in_state(TaskState::Queued, &resend_before, limit)
            .await?
        {
            if seen.updated_at < stuck_before {
                continue;
            }
            match self.resend(&seen, &now, &resend_before).await? {
                true => report.resent.push(name(&seen)),
                false => report.skipped += 1,
            }
        }
        // The webhooks report a run's end or a ticket's resolution; polling covers a delivery
        // that never came. Least recently polled first, each polled one goes to the back:
        // every run and ticket gets its turn.
        let poll_before = rfc3339(now_epoch.saturating_sub(self.settings.poll_after.as_secs()));
        let polling = std::time::Instant::now();
        for seen in self
            .store
            .waiting_tasks(&poll_before, self.settings.poll_limit)
            .await?
        {
            if polling.elapsed() > POLL_BUDGET {
                tracing::warn!(
                    polled = report.polled.len(),
                    "polling stopped for this run: GitHub or JIRA answer slowly"
                );
                break;
            }
            report.polled.push(name(&seen));
            match self.worker.poll(&seen).await {
                Ok(crate::worker::Outcome::Completed | crate::worker::Outcome::Failed(_)) => {
                    report.concluded.push(name(&seen));
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(request_id = %seen.request_id, seq = seen.seq, error = %e, "polling what a waiting task waits on failed");
                }
            }
            let overdue = overdue(&seen, now_epoch);
            if overdue.is_some() {
                report.overdue.push(name(&seen));
            }
            self.store.polled(&seen, &now, overdue.as_ref()).await?;
        }
        self.approvals(&now, &mut report).await?;
        if report != SweepReport::default() {
            tracing::info!(
                resent = ?report.resent,
                stuck = ?report.stuck,
                overdue = ?report.overdue,
                approvals_timed_out = ?report.approvals_timed_out,
                approvals_escalated = ?report.approvals_escalated,
                approvals_reminded = ?report.approvals_reminded,
                skipped = report.skipped,
                "sweep acted"
            );
        }
        self.measure(now_epoch).await;
        Ok(report)
    }

    /// The request and the task as they are now, if the task is still as the index showed it
    /// and its request is still running.
    async fn current(&self, seen: &TaskRecord) -> Result<Option<RequestDetail>, SweepError> {
        let Some(detail) = self
            .store
            .get_request(&seen.request_id, &Now::current(), Read::Strong)
            .await?
        else {
            return Ok(None);
        };
        let unchanged = detail
            .tasks
            .iter()
            .any(|t| t.seq == seen.seq && t.state == seen.state && t.updated_at == seen.updated_at);
        let running = detail.request.state.is_running();
        Ok((unchanged && running).then_some(detail))
    }

    async fn mark_stuck(&self, seen: &TaskRecord, now: &Now) -> Result<bool, SweepError> {
        let Some(detail) = self.current(seen).await? else {
            return Ok(false);
        };
        let minutes = self.settings.stuck_after.as_secs() / 60;
        let reason = format!(
            "task {} ({}) stuck: {} since {} (more than {minutes} min); retry or escalate",
            seen.seq, seen.item.id, seen.state, seen.updated_at
        );
        let event = crate::record::Event::about(seen, "task-stuck", reason.clone());
        match self
            .store
            .mark_stuck(&detail.request, seen, &reason, now, &event)
            .await
        {
            Ok(()) => {
                tracing::warn!(request_id = %seen.request_id, seq = seen.seq, correlation_id = %detail.request.correlation_id, "task marked stuck; its request failed");
                Ok(true)
            }
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn resend(
        &self,
        seen: &TaskRecord,
        now: &Now,
        resend_before: &str,
    ) -> Result<bool, SweepError> {
        let Some(detail) = self.current(seen).await? else {
            return Ok(false);
        };
        match self.store.claim_resend(seen, now, resend_before).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        self.queue
            .enqueue(&TaskMessage::for_task(seen, &detail.request.correlation_id))
            .await?;
        tracing::info!(request_id = %seen.request_id, seq = seen.seq, correlation_id = %detail.request.correlation_id, "queued task's message sent again");
        Ok(true)
    }
}
