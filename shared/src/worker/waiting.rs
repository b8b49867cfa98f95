//! Tasks waiting on a workflow run: concluded when the run ends, reported by the webhook or
//! polled by the sweeper.

use super::{Outcome, Worker, WorkerError};
use crate::action::{ActionError, ActionResult};
use crate::clock::Now;
use crate::record::TaskRecord;
use crate::store::Read;
use crate::task::TaskState;

impl Worker {
    /// A task waiting on `key` (a workflow run) learns how it ended: it completes or fails
    /// and the request moves on, as if its action had just returned. A key no task waits on
    /// (any more) is ignored.
    pub async fn conclude(
        &self,
        key: &str,
        result: Result<ActionResult, ActionError>,
    ) -> Result<Outcome, WorkerError> {
        let Some((request_id, seq)) = self.store.task_of_external(key).await? else {
            return Ok(Outcome::Ignored(format!("no task waits for {key}")));
        };
        let Some(detail) = self
            .store
            .get_request(&request_id, &Now::current(), Read::Strong)
            .await?
        else {
            return Ok(Outcome::Ignored("request not found".into()));
        };
        let Some(task) = detail.tasks.iter().find(|t| t.seq == seq) else {
            return Ok(Outcome::Ignored("task not found".into()));
        };
        let waiting = task.state == TaskState::Processing
            && task.external_ref.as_ref().is_some_and(|r| r.key == key);
        if !waiting {
            return Ok(Outcome::Ignored(format!("task is {}", task.state)));
        }
        self.finish(&detail, task, result, None, None).await
    }

    /// For the sweeper: asks GitHub how the run a waiting task follows is doing, and
    /// concludes the task when the run has concluded.
    pub async fn poll_run(&self, task: &TaskRecord) -> Result<Outcome, WorkerError> {
        let Some(key) = task.external_ref.as_ref().map(|r| r.key.clone()) else {
            return Ok(Outcome::Ignored("no run".into()));
        };
        let Some(id) = key.strip_prefix("run-").and_then(|i| i.parse::<u64>().ok()) else {
            return Ok(Outcome::Ignored(format!("{key} is not a workflow run")));
        };
        let Some(detail) = self
            .store
            .get_request(&task.request_id, &Now::current(), Read::Strong)
            .await?
        else {
            return Ok(Outcome::Ignored("request not found".into()));
        };
        let config = self.render(&detail, task).map_err(WorkerError::Action)?;
        let repo = crate::action::github_workflow::repository_of(&config).unwrap_or_default();
        let token = self.github_token().await.map_err(WorkerError::Action)?;
        let run = crate::action::github_workflow::run_state(&self.github, &token, &repo, id)
            .await
            .map_err(WorkerError::Action)?;
        match run.outcome() {
            Some(result) => self.conclude(&key, result).await,
            None => Ok(Outcome::Ignored(format!(
                "run {} is {}",
                run.id, run.status
            ))),
        }
    }
}
