//! Running a task's action: its config rendered, then the fulfillment type's call.

use super::{DEADLINE_MARGIN, NOT_FOUND, Worker, secret_error};
use crate::action::jira::{JiraInstances, Waiting, task_label};
use crate::action::{ActionError, ActionResult};
use crate::catalog::ActionType;
use crate::catalog::parsed::ParsedConfigs;
use crate::clock;
use crate::record::{RequestDetail, TaskRecord};
use crate::task::TaskState;
use crate::template::Vars;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A task's config rendered as it runs now: `.current` of the task (passwords redacted as
/// stored), `.output` of every earlier completed task, its pinned `.metadata`, and `.system`.
pub fn render_task(
    configs: &ParsedConfigs,
    detail: &RequestDetail,
    task: &TaskRecord,
    env: (&str, &str),
) -> Result<Value, ActionError> {
    render_with(configs, detail, task, env, &BTreeMap::new())
}

/// [`render_task`] with the typed values of password fields (by the task's `group.field`) in
/// `.current` instead of `********`: only for the action that sends them.
fn render_with(
    configs: &ParsedConfigs,
    detail: &RequestDetail,
    task: &TaskRecord,
    (region, environment): (&str, &str),
    typed: &BTreeMap<String, String>,
) -> Result<Value, ActionError> {
    let request = &detail.request;
    let mut current = task.current.clone();
    for (path, value) in typed {
        if let Some((g, f)) = path.split_once('.') {
            if let Some(group) = current.get_mut(g).and_then(Value::as_object_mut) {
                group.insert(f.to_string(), Value::String(value.clone()));
            }
        }
    }
    let mut output = Map::new();
    for earlier in detail
        .tasks
        .iter()
        .filter(|t| t.seq < task.seq && t.state == TaskState::Completed)
    {
        output.extend(earlier.outputs.clone());
    }
    let vars = Vars {
        current,
        output,
        metadata: task.metadata.clone(),
        system: request
            .system_vars(clock::now_rfc3339(), region, environment)
            .to_value(),
    };
    let tree = configs
        .get(&request.catalog_version, &task.catalog_item_id, &task.item)
        .map_err(ActionError::Config)?;
    tree.render(&vars)
        .map_err(|(p, e)| ActionError::Config(format!("{p}: {e}")))
}

/// The JIRA ticket of the latest earlier task of the same request that made one.
fn previous_ticket<'a>(
    detail: &'a RequestDetail,
    task: &TaskRecord,
) -> Option<&'a crate::record::ExternalRef> {
    detail
        .tasks
        .iter()
        .rev()
        .filter(|t| t.seq < task.seq && t.item.action == ActionType::JiraTicket)
        .find_map(|t| t.external_ref.as_ref())
}

/// `<requestId>-<task>-<attempt>`: the same for a redelivery, new for a person's retry.
fn idempotency_key(task: &TaskRecord) -> String {
    format!("{}-{}-{}", task.request_id, task.seq, task.attempt)
}

impl Worker {
    /// Renders the task's config and runs its action (or, with `find_only`, looks for what an
    /// earlier attempt created). The item's timeout bounds the whole action, however many
    /// calls it makes (a commit makes one per file and six more), not each call.
    pub(super) async fn run(
        &self,
        detail: &RequestDetail,
        task: &TaskRecord,
        find_only: bool,
        deadline: Option<Instant>,
        sealed: Option<crate::sealed::Sealed>,
    ) -> Result<ActionResult, ActionError> {
        let typed = self.unseal(detail, task, sealed).await?;
        let sent: Vec<String> = typed.values().cloned().collect();
        let result = self
            .run_with(detail, task, find_only, deadline, &typed)
            .await;
        // What the target answered may echo a typed value: blanked wherever it is kept.
        if sent.is_empty() {
            return result;
        }
        let secrets: Vec<&str> = sent.iter().map(String::as_str).collect();
        match result {
            Ok(mut done) => {
                // Outputs are picked from the result: a picked echo shows `********`.
                done.result = crate::form::redact_values(&done.result, &sent);
                Ok(done)
            }
            Err(ActionError::Rejected(m)) => {
                Err(ActionError::Rejected(crate::redact::blank(&m, &secrets)))
            }
            Err(ActionError::Config(m)) => {
                Err(ActionError::Config(crate::redact::blank(&m, &secrets)))
            }
            Err(ActionError::Unreachable(m)) => {
                Err(ActionError::Unreachable(crate::redact::blank(&m, &secrets)))
            }
            Err(other) => Err(other),
        }
    }

    /// The task's password fields its config reads, each with the request field whose sealed
    /// value it is; empty unless it is a `rest-api` or `webhook` item (no other kind may read
    /// one: catalog validation refuses it).
    fn wanted_passwords<'a>(
        &self,
        detail: &RequestDetail,
        task: &'a TaskRecord,
    ) -> Result<Vec<(&'a String, &'a String)>, ActionError> {
        if task.password_sources.is_empty()
            || !matches!(task.item.action, ActionType::RestApi | ActionType::Webhook)
        {
            return Ok(Vec::new());
        }
        let tree = self
            .configs
            .get(
                &detail.request.catalog_version,
                &task.catalog_item_id,
                &task.item,
            )
            .map_err(ActionError::Config)?;
        let read: Vec<Vec<String>> = tree
            .templates()
            .into_iter()
            .flat_map(|(_, t)| t.references().into_iter().cloned().collect::<Vec<_>>())
            .filter(|r| r.namespace == crate::template::Namespace::Current)
            .map(|r| r.path)
            .collect();
        Ok(task
            .password_sources
            .iter()
            .filter(|(path, _)| {
                let parts: Vec<&str> = path.split('.').collect();
                read.iter()
                    .any(|r| r.len() <= parts.len() && r.iter().zip(&parts).all(|(a, b)| a == b))
            })
            .collect())
    }

    /// The request's sealed values, read before the task is claimed when its action will
    /// send one: a store that cannot be read leaves the message for SQS to deliver again,
    /// instead of failing a task that never ran.
    pub(super) async fn sealed_before_claim(
        &self,
        detail: &RequestDetail,
        task: &TaskRecord,
    ) -> Result<Option<crate::sealed::Sealed>, crate::store::StoreError> {
        match self.wanted_passwords(detail, task) {
            Ok(wanted) if !wanted.is_empty() => Ok(Some(
                self.store
                    .sealed_of(&task.request_id)
                    .await?
                    .unwrap_or_default(),
            )),
            // A config that cannot be read fails in the run, saying so.
            _ => Ok(None),
        }
    }

    /// The typed values of the password fields the task's config reads, decrypted now (from
    /// `sealed` when read before the claim, else read here). Empty when it reads none.
    async fn unseal(
        &self,
        detail: &RequestDetail,
        task: &TaskRecord,
        sealed: Option<crate::sealed::Sealed>,
    ) -> Result<BTreeMap<String, String>, ActionError> {
        let wanted = self.wanted_passwords(detail, task)?;
        if wanted.is_empty() {
            return Ok(BTreeMap::new());
        }
        let sealed = match sealed {
            Some(s) => s,
            None => self
                .store
                .sealed_of(&task.request_id)
                .await
                .map_err(|e| ActionError::Unreachable(format!("the sealed password values: {e}")))?
                .unwrap_or_default(),
        };
        let fields: Vec<&str> = wanted.iter().map(|(_, from)| from.as_str()).collect();
        let open = crate::sealed::open(&self.kms, task.request_id.as_str(), &sealed, &fields)
            .await
            .map_err(|e| ActionError::Rejected(e.to_string()))?;
        Ok(wanted
            .into_iter()
            .filter_map(|(path, from)| Some((path.clone(), open.get(from)?.clone())))
            .collect())
    }

    async fn run_with(
        &self,
        detail: &RequestDetail,
        task: &TaskRecord,
        find_only: bool,
        deadline: Option<Instant>,
        typed: &BTreeMap<String, String>,
    ) -> Result<ActionResult, ActionError> {
        let config = render_with(
            &self.configs,
            detail,
            task,
            (&self.settings.region, &self.settings.environment),
            typed,
        )?;
        let mut timeout = task
            .item
            .timeout_seconds
            .map(|s| Duration::from_secs(u64::from(s)))
            .unwrap_or(self.settings.action_timeout);
        if let Some(deadline) = deadline {
            // Never outlive the invocation: the outcome must still be written.
            let left = deadline
                .saturating_duration_since(Instant::now())
                .saturating_sub(DEADLINE_MARGIN);
            timeout = timeout.min(left.max(Duration::from_secs(1)));
        }
        let sent: Vec<String> = typed.values().cloned().collect();
        tokio::time::timeout(
            timeout,
            self.act(detail, task, &config, find_only, timeout, &sent),
        )
        .await
        .unwrap_or(Err(ActionError::Timeout(timeout.as_secs())))
    }

    /// The action itself, each call limited to `timeout`.
    async fn act(
        &self,
        detail: &RequestDetail,
        task: &TaskRecord,
        config: &Value,
        find_only: bool,
        timeout: Duration,
        typed: &[String],
    ) -> Result<ActionResult, ActionError> {
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
                // An earlier attempt may have made the ticket though its answer never came
                // (a timeout after JIRA acted): the retry of a failed attempt, like a crash
                // recovery, looks for the task's label first. A first attempt never ran before
                // its claim, and a completed task run again was asked for a new ticket.
                let retrying_a_failure = task
                    .attempts
                    .last()
                    .is_some_and(|a| !matches!(a.state, crate::task::TaskState::Completed));
                // The tickets earlier attempts recorded are theirs (one resolved Won't Do, say):
                // the retry asks for a new one.
                let known: Vec<&str> = task
                    .attempts
                    .iter()
                    .filter_map(|a| a.external_ref.as_ref().map(|r| r.key.as_str()))
                    .collect();
                let found = if find_only || retrying_a_failure {
                    self.jira
                        .find_by_label(instance, &label, &known, timeout)
                        .await?
                } else {
                    None
                };
                let waiting = Waiting::of(config)
                    .map_err(|(key, e)| ActionError::Config(format!("{key} {e}")))?;
                let mut created = match found {
                    Some(ticket) => ticket,
                    None if find_only => return Err(ActionError::Rejected(NOT_FOUND.into())),
                    None => {
                        self.jira
                            .create_issue(instance, config, &label, timeout)
                            .await?
                    }
                };
                // In a bundle, each ticket is blocked by the ticket of the task before it (on a
                // recovery too: JIRA keeps one link of a type between two issues).
                if task.component.is_some() {
                    if let (Some(previous), Some(new)) =
                        (previous_ticket(detail, task), created.external_ref.as_ref())
                    {
                        if let Err(e) = self
                            .jira
                            .link_blocks(instance, &previous.key, &new.key, timeout)
                            .await
                        {
                            tracing::warn!(request_id = %task.request_id, seq = task.seq, error = %e, "linking the bundle's tickets failed");
                        }
                    }
                }
                // The task goes on while someone works the ticket: the webhook or the
                // sweeper's poll concludes it when the ticket is resolved.
                created.waiting = waiting.wait;
                Ok(created)
            }
            ActionType::RestApi => {
                crate::action::rest::call(
                    &self.outbound,
                    &self.secrets,
                    &self.settings.catalog_secrets,
                    config,
                    &idempotency_key(task),
                    timeout,
                    typed,
                )
                .await
            }
            ActionType::Webhook => {
                crate::action::webhook::deliver(
                    &self.outbound,
                    &self.secrets,
                    &self.settings.catalog_secrets,
                    config,
                    &idempotency_key(task),
                    timeout,
                    typed,
                )
                .await
            }
            ActionType::GithubCommit => {
                let token = self.github_token().await?;
                crate::action::github_commit::commit(
                    &self.github.with_timeout(timeout),
                    &token,
                    config,
                    &idempotency_key(task),
                )
                .await
            }
            ActionType::GithubWorkflow => {
                let token = self.github_token().await?;
                crate::action::github_workflow::dispatch(
                    &self.github.with_timeout(timeout),
                    &token,
                    config,
                    &idempotency_key(task),
                )
                .await
            }
        }
    }

    pub(super) fn render(
        &self,
        detail: &RequestDetail,
        task: &TaskRecord,
    ) -> Result<Value, ActionError> {
        render_task(
            &self.configs,
            detail,
            task,
            (&self.settings.region, &self.settings.environment),
        )
    }

    pub(super) async fn github_token(&self) -> Result<String, ActionError> {
        self.secrets
            .get(&self.settings.github_token_secret_id)
            .await
            .map_err(secret_error)
    }
}
