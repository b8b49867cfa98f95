//! Escalation: a failed request's remaining work handed to people. One JIRA ticket for the
//! failed task and one for each task not yet run, in order, each saying what the request is,
//! how it failed, what was already done (outputs and links), which tickets this escalation
//! made before it, and the task's own rendered configuration (password inputs are stored
//! redacted; secrets are only ever named). Consecutive tickets are linked "blocks / is blocked
//! by". The target is the catalog item's `metadata.escalation` (`instance`, `project`,
//! `issueType`) or the deployment's default.
//!
//! One call at a time: escalation first claims the request (`failed → escalating`, a
//! conditional write with a lease), so a retry or abort cannot interleave with it and a second
//! escalation answers 409 instead of making every ticket again. A call that stops on an error
//! releases the lease and the next call resumes; one that dies holds it for [`LEASE`] at most.
//!
//! Exactly once: each ticket carries the label `pao-esc-<requestId>-<task>`; a task is marked
//! `escalated` with its ticket as soon as the ticket exists, and a repeated or resumed call
//! skips escalated tasks and finds a ticket made just before a crash by its label.

use crate::action::ActionError;
use crate::action::jira::{JiraClient, JiraInstances};
use crate::catalog::Catalog;
use crate::catalog::parsed::ParsedConfigs;
use crate::clock::Now;
use crate::record::{Event, ExternalRef, Principal, RequestDetail, TaskRecord};
use crate::request::RequestState;
use crate::secrets::SecretCache;
use crate::store::requests::Read;
use crate::store::{Change, Store, StoreError};
use crate::task::TaskState;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::time::Duration;

/// How long one escalation call holds the request: longer than the API function may run
/// (29 s), so a call that dies without releasing it is taken over soon after.
pub const LEASE: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum EscalationError {
    #[error("request {id} is {state}: only a failed request can be escalated")]
    NotFailed { id: String, state: RequestState },
    /// Another call holds the request (it is making the tickets), or the request changed
    /// between this call's read and its claim.
    #[error(
        "request {id} is being escalated by another call or changed meanwhile: read it again (its tickets are made once either way)"
    )]
    Busy { id: String },
    #[error(
        "no escalation target: the catalog item names no metadata.escalation and the deployment sets no EscalationProject"
    )]
    NoTarget,
    #[error("JIRA: {0}")]
    Jira(#[from] ActionError),
    /// The call's time ran out first; what was made stays (tickets are found again by their
    /// labels), so the same call again goes on from there.
    #[error(
        "escalation made {made} of {total} tickets before its time ran out: call escalate again to finish (nothing is made twice)"
    )]
    OutOfTime { made: usize, total: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The deployment's default target and what the tickets render with.
#[derive(Debug, Clone)]
pub struct EscalationSettings {
    pub jira_secret_id: String,
    pub instance: String,
    pub project: String,
    pub issue_type: String,
    pub region: String,
    pub environment: String,
}

impl EscalationSettings {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            jira_secret_id: config.jira_secret_id.clone(),
            instance: config.escalation_instance.clone(),
            project: config.escalation_project.clone(),
            issue_type: config.escalation_issue_type.clone(),
            region: config.region.clone(),
            environment: config.environment.clone(),
        }
    }
}

/// Where one task's ticket goes.
struct Target {
    instance: String,
    project: String,
    issue_type: String,
}

/// Escalates a failed request; returns the tickets, in task order.
#[allow(clippy::too_many_arguments)]
pub async fn escalate(
    store: &Store,
    jira: &JiraClient,
    secrets: &SecretCache,
    settings: &EscalationSettings,
    catalog: &Catalog,
    detail: &RequestDetail,
    caller: &Principal,
    timeout: Duration,
    budget: Duration,
) -> Result<Vec<ExternalRef>, EscalationError> {
    let run = Run {
        store,
        jira,
        secrets,
        settings,
        catalog,
        caller,
        timeout,
        deadline: std::time::Instant::now() + budget,
    };
    let claimed = claim(store, &detail.request).await?;
    // The claim froze the request: read its tasks as they are now.
    let fresh = store
        .get_request(&detail.request.request_id, &claimed, Read::Strong)
        .await;
    let result = match fresh {
        Ok(Some(detail)) => run.tickets(&detail).await,
        Ok(None) => Err(EscalationError::Busy {
            id: detail.request.request_id.to_string(),
        }),
        Err(e) => Err(e.into()),
    };
    if result.is_err() {
        // Let the next call resume now rather than when the lease runs out.
        let released = store
            .release_escalation(
                &detail.request.request_id,
                &claimed.rfc3339,
                &Now::current(),
            )
            .await;
        if let Err(e) = released {
            tracing::warn!(error = %e, "escalation lease not released; it runs out by itself");
        }
    }
    result
}

/// Claims the request for this call; returns the claim's time.
async fn claim(
    store: &Store,
    request: &crate::record::RequestRecord,
) -> Result<Now, EscalationError> {
    let now = Now::current();
    let busy = || EscalationError::Busy {
        id: request.request_id.to_string(),
    };
    match request.state {
        RequestState::Failed => {}
        RequestState::Escalating if request.escalation_until.unwrap_or(0) <= now.epoch => {}
        RequestState::Escalating => return Err(busy()),
        state => {
            return Err(EscalationError::NotFailed {
                id: request.request_id.to_string(),
                state,
            });
        }
    }
    match store
        .claim_escalation(request, now.epoch + LEASE.as_secs(), &now)
        .await
    {
        Ok(()) => Ok(now),
        Err(StoreError::Conflict(_)) => Err(busy()),
        Err(e) => Err(e.into()),
    }
}

/// One escalation call: what it reads and writes with, who asked, and its time.
struct Run<'a> {
    store: &'a Store,
    jira: &'a JiraClient,
    secrets: &'a SecretCache,
    settings: &'a EscalationSettings,
    catalog: &'a Catalog,
    caller: &'a Principal,
    /// Per JIRA call.
    timeout: Duration,
    /// For the whole call.
    deadline: std::time::Instant,
}

impl Run<'_> {
    /// Makes the tickets of a claimed request, then marks it `escalated`.
    async fn tickets(&self, detail: &RequestDetail) -> Result<Vec<ExternalRef>, EscalationError> {
        let Run {
            store,
            jira,
            secrets,
            settings,
            catalog,
            caller,
            timeout,
            deadline,
        } = *self;
        let request = &detail.request;
        let secret = secrets
            .get(&settings.jira_secret_id)
            .await
            .map_err(|e| ActionError::Config(e.to_string()))?;
        let instances = JiraInstances::parse(&secret)?;
        let configs = ParsedConfigs::default();
        let remaining: Vec<&TaskRecord> = detail
            .tasks
            .iter()
            .filter(|t| {
                matches!(
                    t.state,
                    TaskState::Failed
                        | TaskState::Stuck
                        | TaskState::Pending
                        | TaskState::Queued
                        | TaskState::Escalated
                )
            })
            .collect();
        let mut made: Vec<ExternalRef> = Vec::new();
        let total = remaining.len();
        for task in remaining {
            // Each ticket takes up to three JIRA calls: start one only with time for all three.
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if task.state != TaskState::Escalated && left < timeout.saturating_mul(3) {
                return Err(EscalationError::OutOfTime {
                    made: made.len(),
                    total,
                });
            }
            if task.state == TaskState::Escalated {
                if let Some(r) = &task.external_ref {
                    made.push(r.clone());
                }
                continue;
            }
            let target = target_of(catalog, task, settings).ok_or(EscalationError::NoTarget)?;
            let instance = instances.get(&target.instance)?;
            let label = format!("pao-esc-{}-{}", request.request_id, task.seq);
            let found = jira.find_by_label(instance, &label, &[], timeout).await?;
            let ticket = match found {
                Some(t) => t,
                None => {
                    let description = describe(detail, task, &made, &configs, settings);
                    let summary = format!(
                        "Escalated: {} of request {} ({})",
                        task.item
                            .name
                            .clone()
                            .unwrap_or_else(|| task.item.id.clone()),
                        request.name,
                        request.request_id
                    );
                    let config = json!({
                        "project": target.project,
                        "issueType": target.issue_type,
                        "summary": summary,
                        "description": description,
                        "labels": ["pao-escalation"],
                    });
                    jira.create_issue(instance, &config, &label, timeout)
                        .await?
                }
            };
            let Some(link) = ticket.external_ref else {
                return Err(ActionError::Rejected("JIRA's answer has no issue key".into()).into());
            };
            if let Some(previous) = made.last() {
                jira.link_blocks(instance, &previous.key, &link.key, timeout)
                    .await?;
            }
            let changed = store
                .transition_task(
                    &task.request_id,
                    task.seq,
                    task.state,
                    TaskState::Escalated,
                    &Now::current(),
                    vec![Change::ExternalRef(link.clone())],
                )
                .await;
            match changed {
                Ok(()) | Err(StoreError::Conflict(_)) => {}
                Err(e) => return Err(e.into()),
            }
            made.push(link);
        }
        let now = Now::current();
        match store
            .transition_request(
                &request.request_id,
                (RequestState::Escalating, RequestState::Escalated),
                &now,
                vec![],
                !request.sealed_fields.is_empty(),
            )
            .await
        {
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
        let keys: Vec<&str> = made.iter().map(|r| r.key.as_str()).collect();
        store
            .append_event(
                &request.request_id,
                &Event {
                    at: now.rfc3339.clone(),
                    kind: "request-escalated".into(),
                    message: if caller.is(&request.user) {
                        format!("escalated by {}: {}", caller.arn, keys.join(", "))
                    } else {
                        format!(
                            "escalated by {} (support, for the owner {}): {}",
                            caller.arn,
                            request.user.arn,
                            keys.join(", ")
                        )
                    },
                    task_seq: None,
                },
            )
            .await?;
        Ok(made)
    }
}

/// The item's `metadata.escalation`, else the deployment's default (none without a project).
fn target_of(
    catalog: &Catalog,
    task: &TaskRecord,
    settings: &EscalationSettings,
) -> Option<Target> {
    let named = catalog
        .get(&task.catalog_item_id)
        .and_then(|e| e.document.metadata().extra.get("escalation").cloned())
        .unwrap_or(Value::Null);
    let text = |k: &str| named.get(k).and_then(Value::as_str).map(str::to_string);
    let project = text("project").unwrap_or_else(|| settings.project.clone());
    if project.is_empty() {
        return None;
    }
    Some(Target {
        instance: text("instance").unwrap_or_else(|| settings.instance.clone()),
        project,
        issue_type: text("issueType").unwrap_or_else(|| settings.issue_type.clone()),
    })
}

/// The ticket's description: everything a person needs to take the task over.
fn describe(
    detail: &RequestDetail,
    task: &TaskRecord,
    made: &[ExternalRef],
    configs: &ParsedConfigs,
    settings: &EscalationSettings,
) -> String {
    let r = &detail.request;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "PAO request {} \"{}\" needs people to finish it.",
        r.request_id, r.name
    );
    let _ = writeln!(
        text,
        "Catalog: {} (version {}); requested by {}; correlation id {}.",
        r.target.id(),
        r.catalog_version,
        r.user.email.as_deref().unwrap_or(&r.user.arn),
        r.correlation_id
    );
    let _ = writeln!(
        text,
        "\nFailure: {}",
        r.error.as_deref().unwrap_or("unknown")
    );
    if let Some(e) = &task.error {
        let _ = writeln!(text, "This task's error: {e}");
    }
    let _ = writeln!(text, "\nDone already:");
    for done in detail
        .tasks
        .iter()
        .filter(|t| t.state == TaskState::Completed)
    {
        let link = done
            .external_ref
            .as_ref()
            .map(|l| format!(" [{} {}]", l.key, l.url))
            .unwrap_or_default();
        let _ = writeln!(
            text,
            "- task {} ({}){link}: outputs {}",
            done.seq,
            done.item.id,
            Value::Object(done.outputs.clone())
        );
    }
    if !made.is_empty() {
        let keys: Vec<&str> = made.iter().map(|m| m.key.as_str()).collect();
        let _ = writeln!(text, "\nEscalated before this ticket: {}", keys.join(", "));
    }
    let config = crate::worker::render_task(
        configs,
        detail,
        task,
        (&settings.region, &settings.environment),
    )
    .map(|c| serde_json::to_string_pretty(&c).unwrap_or_default())
    .unwrap_or_else(|e| format!("(does not render: {e})"));
    let _ = writeln!(
        text,
        "\nThis task: {} ({}), a {} item. Its configuration (password inputs redacted, secrets named only):\n{config}",
        task.seq, task.item.id, task.item.action
    );
    text
}
