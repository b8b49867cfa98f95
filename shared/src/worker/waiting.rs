//! Tasks waiting outside PAO, on a workflow run or on a JIRA ticket someone works: concluded
//! when the run ends or the ticket is resolved, as a webhook reports it or the sweeper's poll
//! finds it. Both ways end in [`Worker::conclude`], which acts once: on a task that still
//! waits on that key.

use super::{Outcome, Worker, WorkerError};
use crate::action::jira::{JiraInstances, Resolved, Waiting, resolved};
use crate::action::{ActionError, ActionResult};
use crate::catalog::ActionType;
use crate::clock::Now;
use crate::record::{RequestDetail, TaskRecord};
use crate::store::Read;
use std::time::Duration;

/// How long JIRA may take to say how a ticket is: well inside API Gateway's 29 s for the
/// webhook, and short enough for the sweeper to poll its share within its run.
pub const TICKET_READ_TIMEOUT: Duration = Duration::from_secs(5);

impl Worker {
    /// A task waiting on `key` (a workflow run) learns how it ended: it completes or fails
    /// and the request moves on, as if its action had just returned. A key no task waits on
    /// (any more) is ignored.
    pub async fn conclude(
        &self,
        key: &str,
        result: Result<ActionResult, ActionError>,
    ) -> Result<Outcome, WorkerError> {
        let (detail, seq) = match self.waiting_on(key).await? {
            Ok(found) => found,
            Err(ignored) => return Ok(ignored),
        };
        let Some(task) = detail.tasks.iter().find(|t| t.seq == seq) else {
            return Ok(Outcome::Ignored("task not found".into()));
        };
        self.finish(&detail, task, result, None, None).await
    }

    /// The request and the task (its number) still waiting on `key`, or why there is none.
    async fn waiting_on(
        &self,
        key: &str,
    ) -> Result<Result<(RequestDetail, u32), Outcome>, WorkerError> {
        let Some((request_id, seq)) = self.store.task_of_external(key).await? else {
            return Ok(Err(Outcome::Ignored(format!("no task waits for {key}"))));
        };
        let Some(detail) = self
            .store
            .get_request(&request_id, &Now::current(), Read::Strong)
            .await?
        else {
            return Ok(Err(Outcome::Ignored("request not found".into())));
        };
        let Some(task) = detail.tasks.iter().find(|t| t.seq == seq) else {
            return Ok(Err(Outcome::Ignored("task not found".into())));
        };
        if task.waits_on() != Some(key) {
            return Ok(Err(Outcome::Ignored(format!("task is {}", task.state))));
        }
        Ok(Ok((detail, seq)))
    }

    /// For the sweeper: asks GitHub or JIRA how what a waiting task follows is doing, and
    /// concludes the task when it has ended.
    pub async fn poll(&self, task: &TaskRecord) -> Result<Outcome, WorkerError> {
        match task.item.action {
            ActionType::JiraTicket => {
                let Some(url) = task.waits_on() else {
                    return Ok(Outcome::Ignored("no ticket".into()));
                };
                self.check_ticket(url).await
            }
            _ => self.poll_run(task).await,
        }
    }

    /// A waiting task's ticket (found by its URL) may have been resolved: reads it from JIRA
    /// and concludes the task when it has (the webhook and the sweeper both come here, so what
    /// a webhook says is checked against JIRA itself). A ticket no task waits on is ignored.
    pub async fn check_ticket(&self, url: &str) -> Result<Outcome, WorkerError> {
        let (detail, seq) = match self.waiting_on(url).await? {
            Ok(found) => found,
            Err(ignored) => return Ok(ignored),
        };
        let Some(task) = detail.tasks.iter().find(|t| t.seq == seq) else {
            return Ok(Outcome::Ignored("task not found".into()));
        };
        let Some(key) = task.external_ref.as_ref().map(|r| r.key.clone()) else {
            return Ok(Outcome::Ignored("no ticket".into()));
        };
        let secret = self
            .secrets
            .get(&self.settings.jira_secret_id)
            .await
            .map_err(|e| WorkerError::Action(super::secret_error(e)))?;
        let instances = JiraInstances::parse(&secret)?;
        let Some(instance) = instances.by_url(url) else {
            return Err(WorkerError::Action(ActionError::Config(format!(
                "{url} is on no JIRA instance of the JIRA secret"
            ))));
        };
        let ticket = self
            .jira
            .ticket(instance, &key, TICKET_READ_TIMEOUT)
            .await?;
        let waiting = Waiting::of(&task.item.config).unwrap_or_default();
        match resolved(&ticket, &waiting.success) {
            Resolved::Open => Ok(Outcome::Ignored(format!("{key} is {}", ticket.status))),
            // Every write that ends the task is conditional on it still waiting: the request
            // read above needs no second read after JIRA answered.
            Resolved::Done => {
                self.finish(&detail, task, Ok(ticket.into_result()), None, None)
                    .await
            }
            Resolved::Failed(error) => {
                self.finish(&detail, task, Err(ActionError::Rejected(error)), None, None)
                    .await
            }
        }
    }

    /// [`Worker::poll`] of a workflow run.
    async fn poll_run(&self, task: &TaskRecord) -> Result<Outcome, WorkerError> {
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
