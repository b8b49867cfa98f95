//! A message delivered again, or a task found part-way: what an earlier delivery did is looked
//! for before anything runs. A completed task makes sure what follows it is on its way; a task
//! found `processing` (not waiting outside PAO) is recovered: a JIRA ticket is found by the
//! task's label, a commit by its trailer, anything else fails as "outcome unknown".

use super::{INTERRUPTED, NOT_FOUND, Outcome, Worker, WorkerError, settled};
use crate::action::ActionError;
use crate::catalog::ActionType;
use crate::clock::Now;
use crate::record::{RequestDetail, TaskRecord};
use crate::task::TaskState;
use std::time::Instant;

impl Worker {
    /// A delivery for a completed task: the first task after it that has not completed must
    /// be on its way. An earlier delivery may have stopped after the completion was written
    /// (its successor is queued, perhaps never sent), or may have run the next tasks itself
    /// and stopped in one of them ([`Worker::follow`]: that task never had a message, so it is
    /// recovered here as its own redelivery would be).
    pub(super) async fn advance(
        &self,
        detail: &RequestDetail,
        task: &TaskRecord,
        deadline: Option<Instant>,
    ) -> Result<Outcome, WorkerError> {
        let next = detail
            .tasks
            .iter()
            .filter(|t| t.seq > task.seq)
            .find(|t| t.state != TaskState::Completed);
        let Some(next) = next.filter(|_| detail.request.state.is_running()) else {
            return Ok(Outcome::Ignored("task is completed".into()));
        };
        match next.state {
            TaskState::Pending => {
                settled(
                    self.store
                        .transition_task(
                            &next.request_id,
                            next.seq,
                            TaskState::Pending,
                            TaskState::Queued,
                            &Now::current(),
                            vec![],
                        )
                        .await,
                )?;
                self.send(next, &detail.request.correlation_id).await?;
            }
            // SQS drops the copy if the first send went through (same deduplication id).
            TaskState::Queued => self.send(next, &detail.request.correlation_id).await?,
            // While this message was undelivered nothing else of its group could be: a task
            // found running was run by the invocation that stopped.
            TaskState::Processing if !next.waits_outside() => {
                return self.recover(detail, next, deadline).await;
            }
            _ => {}
        }
        Ok(Outcome::Ignored(format!(
            "task is completed; task {} is on its way",
            next.seq
        )))
    }

    /// A task found `processing`: its action may or may not have run. A JIRA ticket can be
    /// found by the task's label; anything else fails as "outcome unknown" for a human.
    pub(super) async fn recover(
        &self,
        detail: &RequestDetail,
        task: &TaskRecord,
        deadline: Option<Instant>,
    ) -> Result<Outcome, WorkerError> {
        let started = Instant::now();
        let result = match task.item.action {
            ActionType::JiraTicket => match self.run(detail, task, true, deadline, None).await {
                Ok(found) => Ok(found),
                Err(ActionError::Rejected(m)) if m == NOT_FOUND => {
                    Err(ActionError::Rejected(INTERRUPTED.into()))
                }
                Err(e) => Err(e),
            },
            // The commit carries the task's trailer: running again finds it, creates nothing.
            ActionType::GithubCommit => self.run(detail, task, false, deadline, None).await,
            _ => Err(ActionError::Rejected(INTERRUPTED.into())),
        };
        self.finish(detail, task, result, Some(started.elapsed()), None)
            .await
    }
}
