//! How records look on the wire: catalog cards, request summaries and details, task views and
//! status. Each is a `Serialize` type whose field names are the API's.

use crate::catalog::{Entry, Target};
use crate::record::{ExternalRef, RequestDetail, RequestRecord, TaskRecord};
use crate::request::RequestState;
use crate::task::TaskState;
use serde::Serialize;
use serde_json::{Map, Value};

/// The fields of a [`Summary`], which `GET /requests?fields=` may choose from.
pub(super) const SUMMARY_FIELDS: [&str; 11] = [
    "requestId",
    "name",
    "state",
    "catalogItemId",
    "bundleId",
    "catalogVersion",
    "progress",
    "createdAt",
    "updatedAt",
    "error",
    "submissionId",
];

/// A catalog document as a list shows it.
#[derive(Debug, Serialize)]
pub(super) struct Card<'a> {
    id: &'a str,
    kind: &'static str,
    name: &'a str,
    version: &'a str,
    category: &'a str,
    description: &'a str,
    owner: &'a str,
    tags: &'a [String],
    links: CardLinks,
}

#[derive(Debug, Serialize)]
struct CardLinks {
    #[serde(rename = "self")]
    this: String,
    form: String,
}

impl<'a> Card<'a> {
    pub(super) fn of(e: &'a Entry) -> Self {
        let m = e.document.metadata();
        Self {
            id: m.id.as_str(),
            kind: e.document.kind(),
            name: &m.name,
            version: &m.version,
            category: &m.category,
            description: &m.description,
            owner: e.owner_team(),
            tags: &m.tags,
            links: CardLinks {
                this: format!("/api/v1/catalog/{}", m.id),
                form: format!("/api/v1/catalog/{}/form", m.id),
            },
        }
    }
}

#[derive(Debug, Serialize)]
struct Progress {
    completed: u32,
    total: u32,
    text: String,
}

impl Progress {
    fn of(r: &RequestRecord) -> Self {
        Self {
            completed: r.completed_tasks,
            total: r.total_tasks,
            text: format!("{} of {} completed", r.completed_tasks, r.total_tasks),
        }
    }
}

/// A request as a list shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Summary<'a> {
    request_id: &'a str,
    name: &'a str,
    state: RequestState,
    #[serde(flatten)]
    target: &'a Target,
    catalog_version: &'a str,
    progress: Progress,
    created_at: &'a str,
    updated_at: &'a str,
    submission_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

impl<'a> Summary<'a> {
    pub(super) fn of(r: &'a RequestRecord) -> Self {
        Self {
            request_id: r.request_id.as_str(),
            name: &r.name,
            state: r.state,
            target: &r.target,
            catalog_version: &r.catalog_version,
            progress: Progress::of(r),
            created_at: &r.created_at,
            updated_at: &r.updated_at,
            submission_id: &r.submission_id,
            error: r.error.as_deref(),
        }
    }
}

/// A task inside a request's detail and status.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskView<'a> {
    seq: u32,
    fulfillment_item_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(rename = "type")]
    action: crate::catalog::ActionType,
    catalog_item_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    component: Option<&'a str>,
    state: TaskState,
    attempt: u32,
    outputs: &'a Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external_ref: Option<&'a ExternalRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<&'a str>,
    /// A task waiting on a ticket past its item's `maxWait`: since when.
    #[serde(skip_serializing_if = "Option::is_none")]
    overdue_since: Option<&'a str>,
    /// Earlier attempts (a person retried the task), oldest first.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    attempts: &'a [crate::record::Attempt],
}

impl<'a> TaskView<'a> {
    fn of(t: &'a TaskRecord) -> Self {
        Self {
            seq: t.seq,
            fulfillment_item_id: &t.item.id,
            name: t.item.name.as_deref(),
            action: t.item.action,
            catalog_item_id: &t.catalog_item_id,
            component: t.component.as_deref(),
            state: t.state,
            attempt: t.attempt,
            outputs: &t.outputs,
            external_ref: t.external_ref.as_ref(),
            error: t.error.as_deref(),
            started_at: t.started_at.as_deref(),
            finished_at: t.finished_at.as_deref(),
            overdue_since: t.overdue_since.as_deref(),
            attempts: &t.attempts,
        }
    }
}

/// How many of a request's tasks are in each state that matters to a person.
#[derive(Debug, Default, Serialize)]
struct Counts {
    completed: usize,
    failed: usize,
    skipped: usize,
    escalated: usize,
    pending: usize,
    running: usize,
}

impl Counts {
    fn of(tasks: &[TaskRecord]) -> Self {
        let mut c = Self::default();
        for t in tasks {
            match t.state {
                TaskState::Completed => c.completed += 1,
                TaskState::Failed | TaskState::Stuck => c.failed += 1,
                TaskState::Skipped => c.skipped += 1,
                TaskState::Pending => c.pending += 1,
                TaskState::Queued | TaskState::Processing => c.running += 1,
                TaskState::Escalated => c.escalated += 1,
            }
        }
        c
    }
}

/// One request with everything under it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RequestView<'a> {
    #[serde(flatten)]
    summary: Summary<'a>,
    user: User<'a>,
    correlation_id: &'a str,
    /// The commit of the catalog snapshot the request was submitted against.
    #[serde(skip_serializing_if = "Option::is_none")]
    catalog_commit: Option<&'a str>,
    input: &'a Value,
    counts: Counts,
    tasks: Vec<TaskView<'a>>,
}

#[derive(Debug, Serialize)]
struct User<'a> {
    arn: &'a str,
    email: Option<&'a str>,
}

impl<'a> RequestView<'a> {
    pub(super) fn of(d: &'a RequestDetail) -> Self {
        let r = &d.request;
        Self {
            summary: Summary::of(r),
            user: User {
                arn: &r.user.arn,
                email: r.user.email.as_deref(),
            },
            correlation_id: &r.correlation_id,
            catalog_commit: r.catalog_commit.as_deref(),
            input: &r.input,
            counts: Counts::of(&d.tasks),
            tasks: d.tasks.iter().map(TaskView::of).collect(),
        }
    }
}

/// Where a request is: state, progress and the task it is at.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StatusView<'a> {
    request_id: &'a str,
    state: RequestState,
    created_at: &'a str,
    progress: Progress,
    counts: Counts,
    current_task: Option<TaskView<'a>>,
    error: Option<&'a str>,
}

impl<'a> StatusView<'a> {
    pub(super) fn of(d: &'a RequestDetail) -> Self {
        let r = &d.request;
        Self {
            request_id: r.request_id.as_str(),
            state: r.state,
            created_at: &r.created_at,
            progress: Progress::of(r),
            counts: Counts::of(&d.tasks),
            current_task: current_task(d).map(TaskView::of),
            error: r.error.as_deref(),
        }
    }
}

/// The task a request is at: its first that has neither completed nor been skipped.
pub(super) fn current_task(d: &RequestDetail) -> Option<&TaskRecord> {
    d.tasks
        .iter()
        .find(|t| !matches!(t.state, TaskState::Completed | TaskState::Skipped))
}

/// The answer to a submission: its id and the requests it made.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Submitted<'a> {
    pub(super) submission_id: &'a str,
    pub(super) requests: Vec<Created<'a>>,
}

/// A request just written and queued.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Created<'a> {
    request_id: &'a str,
    #[serde(flatten)]
    target: &'a Target,
    state: RequestState,
    total_tasks: u32,
    links: SelfLink,
}

#[derive(Debug, Serialize)]
struct SelfLink {
    #[serde(rename = "self")]
    this: String,
}

impl<'a> Created<'a> {
    pub(super) fn of(r: &'a RequestRecord) -> Self {
        Self {
            request_id: r.request_id.as_str(),
            target: &r.target,
            state: r.state,
            total_tasks: r.total_tasks,
            links: SelfLink {
                this: format!("/api/v1/requests/{}", r.request_id),
            },
        }
    }
}

/// A view as the `data` of an envelope.
pub(super) fn to_data(view: impl Serialize) -> Value {
    serde_json::to_value(view).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_fields_are_what_a_summary_has() {
        let record: RequestRecord = serde_json::from_value(serde_json::json!({
            "requestId": "req-1", "submissionId": "sub-1", "state": "failed",
            "catalogItemId": "x", "catalogVersion": "1.0.0", "name": "n",
            "user": {"arn": "arn"}, "input": {}, "correlationId": "c",
            "totalTasks": 2, "completedTasks": 1, "createdAt": "t", "updatedAt": "t",
            "error": "boom"
        }))
        .expect("record");
        let summary = to_data(Summary::of(&record));
        let mut keys: Vec<&str> = summary
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.as_str())
            .collect();
        keys.push("bundleId");
        keys.sort_unstable();
        let mut fields = SUMMARY_FIELDS.to_vec();
        fields.sort_unstable();
        assert_eq!(keys, fields);
    }
}
