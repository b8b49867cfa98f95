//! The records PAO keeps of a request: the request itself, its fulfillment tasks, their links
//! to the outside world and the request's audit events. Domain types: the store maps them to
//! DynamoDB items, the API to JSON, the worker reads and changes them.

use crate::catalog::FulfillmentItem;
use crate::catalog::Target;
use crate::request::RequestState;
use crate::task::TaskState;
use crate::template::SystemVars;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// A request id (`req-<uuid>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn generate() -> Self {
        Self(format!("req-{}", uuid::Uuid::new_v4()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The IAM principal that made a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Principal {
    pub arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The principal's unique id (`AROA…:<session>` for a role session, `AIDA…` for a user;
    /// API Gateway's `identity.caller`). A role deleted and made again under the same name
    /// has a new id, so it does not inherit the old role's requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

impl Principal {
    /// Whether this caller is `owner`: the same ARN and, where the owner's unique id was
    /// recorded, the same id (requests written before ids were recorded go by ARN).
    pub fn is(&self, owner: &Principal) -> bool {
        self.arn == owner.arn && (owner.id.is_none() || self.id == owner.id)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    pub request_id: RequestId,
    pub submission_id: String,
    pub state: RequestState,
    #[serde(flatten)]
    pub target: Target,
    /// Version of the catalog document the request is pinned to.
    pub catalog_version: String,
    /// The commit of the catalog snapshot it was submitted against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_commit: Option<String>,
    pub name: String,
    pub user: Principal,
    /// The validated input, passwords redacted.
    pub input: Value,
    pub correlation_id: String,
    pub total_tasks: u32,
    pub completed_tasks: u32,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Under an `Idempotency-Key`: the fingerprint of the call that wrote it (as the key's
    /// record stores it), so a later call under the same key, after that record expired, is
    /// told apart from a repeat. Never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_print: Option<String>,
    /// While `escalating`: until when (epoch seconds) the call making the tickets holds the
    /// request (0 once it stopped). Never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_until: Option<u64>,
    /// The password fields (`group.field` of its form) whose typed values are held encrypted
    /// apart from every record ([`crate::sealed`]); the names only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sealed_fields: Vec<String>,
    /// The approval stages that applied at submission and where they stand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<crate::approval::Approval>,
    /// The requester's `team` IAM tag when it was submitted: `GET /requests?scope=team`
    /// lists it to the principals of that team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Where its notices go: its catalog item's (or bundle's) `metadata.notify` when it was
    /// submitted (as its approval stages, decided then). Never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<Value>,
}

impl RequestRecord {
    /// The `.system` namespace for this request, at `timestamp`.
    pub fn system_vars(&self, timestamp: String, region: &str, environment: &str) -> SystemVars {
        system_vars(
            &self.request_id,
            &self.correlation_id,
            &self.user,
            timestamp,
            (region, environment),
        )
    }
}

/// The `.system` namespace of a request by `user`, at `timestamp`, on a platform
/// (`region`, `environment`).
pub fn system_vars(
    request_id: &RequestId,
    correlation_id: &str,
    user: &Principal,
    timestamp: String,
    (region, environment): (&str, &str),
) -> SystemVars {
    SystemVars {
        request_id: request_id.to_string(),
        correlation_id: correlation_id.to_string(),
        timestamp,
        user_email: user.email.clone().unwrap_or_default(),
        user_arn: user.arn.clone(),
        region: region.to_string(),
        environment: environment.to_string(),
    }
}

/// A task's link to the outside world (a JIRA issue, a workflow run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalRef {
    pub key: String,
    pub url: String,
}

impl ExternalRef {
    /// The key a task waiting on this is found by: a JIRA ticket by its URL (two instances
    /// may both have a DBA-1), a workflow run by its `run-<id>` (unique on GitHub).
    pub fn lookup(&self, action: crate::catalog::ActionType) -> &str {
        match action {
            crate::catalog::ActionType::JiraTicket => &self.url,
            _ => &self.key,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRecord {
    pub request_id: RequestId,
    pub seq: u32,
    pub state: TaskState,
    pub catalog_item_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// The fulfillment item as it was when the request was submitted.
    pub item: FulfillmentItem,
    /// `.current` for this task, passwords redacted.
    pub current: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub password_paths: Vec<String>,
    /// For each password field of `.current` that holds a typed value: the request's field
    /// whose sealed value it is (a bundle maps its fields into its components').
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub password_sources: std::collections::BTreeMap<String, String>,
    /// The `.metadata` namespace as it was at submission (pinned like the config).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    pub attempt: u32,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub outputs: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<ExternalRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// When a task waiting on a ticket passed its item's `maxWait` (it goes on waiting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue_since: Option<String>,
    /// Earlier attempts, oldest first (a person retried the task).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
}

/// How an earlier attempt of a task ended: kept when a person retries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub attempt: u32,
    pub state: TaskState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub outputs: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<ExternalRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

impl TaskRecord {
    /// What a task waits on outside PAO, as the key the webhook and the sweeper find it by:
    /// a `github-workflow` task that dispatched its run and waits for it to end (`run-<id>`),
    /// or a `jira-ticket` task that waits for its ticket's resolution (the ticket's URL). Such
    /// a task is `processing` by design, not interrupted.
    pub fn waits_on(&self) -> Option<&str> {
        if self.state != crate::task::TaskState::Processing {
            return None;
        }
        let external = self.external_ref.as_ref()?;
        let key = external.lookup(self.item.action);
        match self.item.action {
            crate::catalog::ActionType::GithubWorkflow if key.starts_with("run-") => Some(key),
            crate::catalog::ActionType::JiraTicket => Some(key),
            _ => None,
        }
    }

    /// Whether the task waits on a workflow run or a ticket ([`TaskRecord::waits_on`]).
    pub fn waits_outside(&self) -> bool {
        self.waits_on().is_some()
    }

    /// This attempt as history.
    pub fn as_attempt(&self) -> Attempt {
        Attempt {
            attempt: self.attempt,
            state: self.state,
            error: self.error.clone(),
            outputs: self.outputs.clone(),
            external_ref: self.external_ref.clone(),
            started_at: self.started_at.clone(),
            finished_at: self.finished_at.clone(),
        }
    }
}

/// One line of a request's audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub at: String,
    pub kind: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_seq: Option<u32>,
}

impl Event {
    /// An audit event about a task, now.
    pub fn about(task: &TaskRecord, kind: &str, message: String) -> Self {
        Self {
            at: crate::clock::now_rfc3339(),
            kind: kind.into(),
            message,
            task_seq: Some(task.seq),
        }
    }
}

/// A request with everything under it, from one Query.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestDetail {
    pub request: RequestRecord,
    pub tasks: Vec<TaskRecord>,
    pub events: Vec<Event>,
}

impl RequestDetail {
    /// The request as people are shown it: the store writes a request's state when it is
    /// submitted, decided on and ends, not when each task starts (that is the tasks' own
    /// write), so a running request (`submitted` or `retrying` as stored) is `processing`
    /// once one of its tasks started since, and its progress is counted from its tasks.
    pub fn shown(mut self) -> Self {
        use crate::request::RequestState;
        use crate::task::TaskState;
        let r = &mut self.request;
        let since = r.updated_at.clone();
        let started = self.tasks.iter().any(|t| {
            t.state == TaskState::Processing
                || (t.state == TaskState::Completed
                    && t.finished_at
                        .as_deref()
                        .is_some_and(|f| f >= since.as_str()))
        });
        if matches!(r.state, RequestState::Submitted | RequestState::Retrying) && started {
            r.state = RequestState::Processing;
        }
        let done = self
            .tasks
            .iter()
            .filter(|t| t.state == TaskState::Completed)
            .count();
        r.completed_tasks = u32::try_from(done).unwrap_or(u32::MAX);
        self
    }
}
