//! Turning one submission item into a stored request: plan its tasks from the catalog,
//! build the request and task records (input redacted, config and metadata pinned), write
//! them in one transaction (the first task already `queued`), then send the first task's
//! message. A request that was written but whose first message never left is found by the
//! sweeper, which sends it: whatever is written is queued eventually.
//!
//! Under an `Idempotency-Key` the ids are derived from the caller, the key and the item's
//! position, so a retried submission finds the items an earlier attempt wrote instead of
//! writing them again.

use crate::catalog::Catalog;
use crate::form::{password_values, redact_paths, redact_values};
use crate::plan::plan;
use crate::problem::Problem;
use crate::queue::{Queue, TaskMessage};
use crate::record::{Principal, RequestId, RequestRecord, TaskRecord};
use crate::request::{RequestState, SubmissionItem};
use crate::store::{Store, StoreError};
use crate::task::TaskState;
use crate::template::{Namespace, TemplateTree};
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
    /// `<caller>#<Idempotency-Key>` when the call carries one: request ids derive from it.
    pub idempotency_seed: Option<String>,
    /// The commit of the catalog snapshot the submission is checked against (empty: none).
    pub catalog_commit: String,
    /// The submitter's `team` IAM tag, if it has one.
    pub team: Option<String>,
}

impl Context {
    /// The id of the submission's item at `index`: random, or derived from the seed.
    pub fn request_id(&self, index: usize) -> RequestId {
        match &self.idempotency_seed {
            None => RequestId::generate(),
            Some(seed) => RequestId(format!("req-{}", derived_uuid(&format!("{seed}#{index}")))),
        }
    }

    /// The submission id for a call: random, or derived from the seed.
    pub fn new_submission_id(seed: Option<&str>) -> String {
        match seed {
            None => format!("sub-{}", uuid::Uuid::new_v4()),
            Some(seed) => format!("sub-{}", derived_uuid(seed)),
        }
    }
}

/// A UUID-shaped name derived from `seed` (SHA-256, version 8 "custom" layout).
fn derived_uuid(seed: &str) -> uuid::Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(seed.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// What writing a built request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Written now; it waits for its approvals, nothing was sent.
    AwaitingApproval,
    /// Written now, and its first task's message sent.
    Queued,
    /// Written now; the message could not be sent, the sweeper will send it.
    WrittenNotSent,
    /// An earlier call with the same Idempotency-Key wrote it already.
    AlreadyWritten,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Validates an item and builds its records; nothing is written.
pub fn build(
    catalog: &Catalog,
    item: &SubmissionItem,
    index: usize,
    ctx: &Context,
) -> Result<(RequestRecord, Vec<TaskRecord>), Vec<Problem>> {
    let id = ctx.request_id(index);
    let system = crate::record::system_vars(
        &id,
        &ctx.correlation_id,
        &ctx.user,
        ctx.now.clone(),
        (&ctx.region, &ctx.environment),
    )
    .to_value();
    let plan = plan(catalog, &item.target, &item.input, &system)?;
    let stages = applicable_stages(catalog, &item.target, &plan, &system)?;
    let approval = crate::approval::Approval::start(
        stages,
        crate::clock::epoch_of(&ctx.now).unwrap_or_else(crate::clock::now_epoch),
    );
    let planned = plan.tasks;
    if planned.len() > crate::store::MAX_TASKS {
        return Err(vec![Problem::at(
            item.target.field(),
            format!(
                "expands to {} tasks; at most {} are allowed",
                planned.len(),
                crate::store::MAX_TASKS
            ),
        )]);
    }
    // Every password value the caller typed, wherever a mapping or the caller copied it.
    let mut secrets = password_values(&plan.input, &plan.password_paths);
    for task in &planned {
        secrets.extend(password_values(&task.current, &task.password_paths));
    }
    // The typed values are sealed apart (crate::sealed); the records keep where they came from.
    let typed = crate::sealed::typed(&plan.input, &plan.password_paths);
    let metadata = catalog.metadata_vars();
    let tasks: Vec<TaskRecord> = planned
        .into_iter()
        .enumerate()
        .map(|(seq, task)| {
            let seq = seq as u32;
            let password_sources =
                crate::sealed::sources(&task.current, &task.password_paths, &typed);
            TaskRecord {
                request_id: id.clone(),
                seq,
                // Awaiting approval, nothing is queued: the last approval queues the first task.
                state: if seq == 0 && approval.is_none() {
                    TaskState::Queued
                } else {
                    TaskState::Pending
                },
                catalog_item_id: task.catalog_item_id,
                component: task.component,
                current: redact_values(
                    &redact_paths(&task.current, &task.password_paths),
                    &secrets,
                ),
                metadata: referenced_metadata(&task.item.config, &metadata),
                item: task.item,
                password_paths: task.password_paths,
                password_sources,
                attempt: 1,
                outputs: Map::new(),
                external_ref: None,
                error: None,
                created_at: ctx.now.clone(),
                updated_at: ctx.now.clone(),
                started_at: None,
                finished_at: None,
                overdue_since: None,
                attempts: Vec::new(),
            }
        })
        .collect();
    let stored_input = redact_values(&redact_paths(&plan.input, &plan.password_paths), &secrets);
    let request = RequestRecord {
        request_id: id,
        submission_id: ctx.submission_id.clone(),
        state: if approval.is_some() {
            RequestState::AwaitingApproval
        } else {
            RequestState::Submitted
        },
        target: item.target.clone(),
        catalog_version: plan.version,
        catalog_commit: Some(ctx.catalog_commit.clone()).filter(|c| !c.is_empty()),
        name: stored_input
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        user: ctx.user.clone(),
        input: stored_input,
        correlation_id: ctx.correlation_id.clone(),
        total_tasks: tasks.len() as u32,
        completed_tasks: 0,
        created_at: ctx.now.clone(),
        updated_at: ctx.now.clone(),
        error: None,
        call_print: None,
        escalation_until: None,
        sealed_fields: typed.into_iter().map(|(field, _)| field).collect(),
        approval,
        team: ctx.team.clone(),
        notify: catalog
            .resolve(&item.target)
            .ok()
            .and_then(|entry| entry.document.metadata().extra.get("notify").cloned()),
    };
    // Every task copies the input: a large input times many tasks can pass what DynamoDB
    // stores in one item or one transaction. Refused here, naming the limit, before any write.
    if let Err(e) = crate::store::requests::check_creation(&request, &tasks) {
        return Err(vec![Problem::at(
            "input",
            format!("is too large to store: {e}; send less input"),
        )]);
    }
    Ok((request, tasks))
}

/// Writes a built request with its tasks in one transaction, then sends its first task.
/// A send that fails is not an error: the request is stored and its first task `queued`, and
/// the sweeper sends what was written but never sent.
pub async fn write(
    store: &Store,
    queue: &Queue,
    (request, tasks): (&RequestRecord, &[TaskRecord]),
    sealed: &std::collections::BTreeMap<String, Vec<u8>>,
    answered: Option<&crate::store::Answered<'_>>,
) -> Result<Written, SubmitError> {
    match store
        .create_request_sealed(request, tasks, sealed, answered)
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Ok(Written::AlreadyWritten),
        Err(e) => return Err(e.into()),
    }
    if request.state == RequestState::AwaitingApproval {
        return Ok(Written::AwaitingApproval);
    }
    let Some(first) = tasks.first() else {
        return Ok(Written::Queued);
    };
    match queue
        .enqueue(&TaskMessage::for_task(first, &request.correlation_id))
        .await
    {
        Ok(_) => Ok(Written::Queued),
        Err(e) => {
            tracing::warn!(request_id = %request.request_id, error = %e, "first task written but not sent; the sweeper will send it");
            Ok(Written::WrittenNotSent)
        }
    }
}

/// The approval stages a request must pass, in order: its item's or bundle's, then each
/// bundle component's own (named `<component>.<stage>`: a bundle cannot be a way around an
/// item's approval), each only when its `when` renders `true` over that document's input.
/// A stage applies unless its `when` renders `false` or nothing: any other text applies it
/// (not only `true`), so a mistyped condition gates rather than lets through.
fn applicable_stages(
    catalog: &Catalog,
    target: &crate::catalog::Target,
    plan: &crate::plan::Plan,
    system: &Value,
) -> Result<Vec<crate::approval::Stage>, Vec<Problem>> {
    let metadata = catalog.metadata_vars();
    let mut documents: Vec<(Option<String>, &crate::catalog::Document, &Value)> = Vec::new();
    if let Ok(entry) = catalog.resolve(target) {
        documents.push((None, &entry.document, &plan.input));
    }
    if matches!(target, crate::catalog::Target::Bundle(_)) {
        let mut seen = BTreeSet::new();
        for task in &plan.tasks {
            let label = task
                .component
                .clone()
                .unwrap_or_else(|| task.catalog_item_id.clone());
            if !seen.insert(label.clone()) {
                continue;
            }
            if let Some(entry) = catalog.get(&task.catalog_item_id) {
                documents.push((Some(label), &entry.document, &task.current));
            }
        }
    }
    let mut stages = Vec::new();
    for (component, document, current) in documents {
        for mut stage in document.approval_stages() {
            if let Some(when) = stage.when.take() {
                let vars = crate::template::Vars {
                    current: current.clone(),
                    metadata: metadata.clone(),
                    system: system.clone(),
                    ..Default::default()
                };
                let rendered = crate::template::Template::parse(&when, crate::template::Mode::Text)
                    .and_then(|t| t.render(&vars))
                    .map_err(|e| {
                        vec![Problem::at(
                            target.field(),
                            format!(
                                "approval stage {:?}: its condition could not be decided: {e}",
                                stage.id
                            ),
                        )]
                    })?;
                if matches!(rendered.trim(), "false" | "") {
                    continue;
                }
            }
            if let Some(component) = &component {
                stage.id = format!("{component}.{}", stage.id);
            }
            stages.push(stage);
        }
    }
    Ok(stages)
}

/// The part of the `.metadata` namespace a config reads: pinned on the task.
fn referenced_metadata(config: &Value, all: &Map<String, Value>) -> Map<String, Value> {
    let Ok(tree) = TemplateTree::parse(config, &[]) else {
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
