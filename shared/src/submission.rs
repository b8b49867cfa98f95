//! Turning one submission item into a stored request: plan its tasks from the catalog,
//! build the request and task records (input redacted, config and metadata pinned), write
//! them in one transaction, then put the first task on the queue. A request that was written
//! but whose first message never left is found by the sweeper (its first task stays queued).

use crate::catalog::Catalog;
use crate::form::{FieldIssue, redact_paths};
use crate::queue::{Queue, QueueError, TaskMessage};
use crate::request::{RequestState, SubmissionItem, plan};
use crate::store::{Principal, RequestId, RequestRecord, Store, StoreError, TaskRecord};
use crate::task::TaskState;
use crate::template::{Engine, Namespace, SystemVars};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Who submits, when, and under which ids.
#[derive(Debug, Clone)]
pub struct Context {
    pub user: Principal,
    pub correlation_id: String,
    pub submission_id: String,
    pub now: String,
    pub region: String,
    pub environment: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("invalid input")]
    Invalid(Vec<FieldIssue>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Validates an item and builds its records; nothing is written.
pub fn build(
    catalog: &Catalog,
    item: &SubmissionItem,
    ctx: &Context,
) -> Result<(RequestRecord, Vec<TaskRecord>), Vec<FieldIssue>> {
    let id = RequestId::generate();
    let system = SystemVars {
        request_id: id.to_string(),
        correlation_id: ctx.correlation_id.clone(),
        timestamp: ctx.now.clone(),
        user_email: ctx.user.email.clone().unwrap_or_default(),
        user_arn: ctx.user.arn.clone(),
        region: ctx.region.clone(),
        environment: ctx.environment.clone(),
    }
    .to_value();
    let planned = plan(catalog, &item.target, &item.input, &system)?;
    if planned.len() > crate::store::MAX_TASKS {
        return Err(vec![FieldIssue::new(
            item.target.field(),
            format!(
                "expands to {} tasks; at most {} are allowed",
                planned.len(),
                crate::store::MAX_TASKS
            ),
        )]);
    }
    let entry = catalog
        .get(item.target.id())
        .ok_or_else(|| vec![FieldIssue::new(item.target.field(), "does not exist")])?;
    let form = entry.document.form();
    let input = form.validate_input(&item.input)?;
    let metadata = catalog.metadata_vars();
    let tasks: Vec<TaskRecord> = planned
        .into_iter()
        .enumerate()
        .map(|(seq, task)| {
            let seq = seq as u32;
            TaskRecord {
                request_id: id.clone(),
                seq,
                state: if seq == 0 {
                    TaskState::Queued
                } else {
                    TaskState::Pending
                },
                catalog_item_id: task.catalog_item_id,
                component: task.component,
                current: redact_paths(&task.current, &task.password_paths),
                metadata: referenced_metadata(&task.item.config, &metadata),
                item: task.item,
                password_paths: task.password_paths,
                attempt: 1,
                outputs: Map::new(),
                external_ref: None,
                error: None,
                created_at: ctx.now.clone(),
                updated_at: ctx.now.clone(),
                started_at: None,
                finished_at: None,
            }
        })
        .collect();
    let request = RequestRecord {
        request_id: id,
        submission_id: ctx.submission_id.clone(),
        state: RequestState::Submitted,
        target: item.target.clone(),
        catalog_version: entry.document.metadata().version.clone(),
        name: input
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        user: ctx.user.clone(),
        input: form.redact(&input),
        correlation_id: ctx.correlation_id.clone(),
        total_tasks: tasks.len() as u32,
        completed_tasks: 0,
        created_at: ctx.now.clone(),
        updated_at: ctx.now.clone(),
        error: None,
    };
    Ok((request, tasks))
}

/// Writes a built request with its tasks in one transaction, then queues its first task.
pub async fn write(
    store: &Store,
    queue: &Queue,
    request: &RequestRecord,
    tasks: &[TaskRecord],
) -> Result<(), SubmitError> {
    store.create_request(request, tasks).await?;
    if let Some(first) = tasks.first() {
        queue
            .enqueue(&TaskMessage {
                request_id: request.request_id.clone(),
                seq: first.seq,
                attempt: first.attempt,
                correlation_id: request.correlation_id.clone(),
            })
            .await?;
    }
    Ok(())
}

/// The part of the `.metadata` namespace a config reads: pinned on the task.
fn referenced_metadata(config: &Value, all: &Map<String, Value>) -> Map<String, Value> {
    let mut engine = Engine::new();
    let Ok(tree) = engine.parse_tree(config, None) else {
        return Map::new();
    };
    let ids: BTreeSet<String> = tree
        .templates()
        .iter()
        .flat_map(|(_, t)| t.references().into_iter().cloned().collect::<Vec<_>>())
        .filter(|r| r.namespace == Namespace::Metadata)
        .filter_map(|r| r.path.first().cloned())
        .collect();
    ids.into_iter()
        .filter_map(|id| all.get(&id).map(|v| (id, v.clone())))
        .collect()
}
