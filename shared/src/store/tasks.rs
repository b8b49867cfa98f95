//! A task's life in the table: claimed (`queued → processing`, [`Store::claim_task`]),
//! completed or failed together with its request, settled alone when its request moved on,
//! marked stuck or re-sent by the sweeper. Every change is conditional on the state it leaves,
//! and every change that moves two records, or records what happened, is one transaction.

use super::attr::{n, s};
use super::keys::{REQUEST_SK, request_pk, task_sk};
use super::{CONDITION_FAILED, Change, Expiry, StateUpdate, Store, StoreError, conditional};
use crate::clock::Now;
use crate::record::{Event, ExternalRef, RequestId, RequestRecord, TaskRecord};
use crate::request::RequestState;
use crate::task::TaskState;
use serde_json::{Map, Value};

/// What a completed task produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Completion {
    pub outputs: Map<String, Value>,
    pub external_ref: Option<ExternalRef>,
}

impl Store {
    /// Moves a task from `from` to `to` (and sets `changes`) only if it is still in `from`.
    pub async fn transition_task(
        &self,
        id: &RequestId,
        seq: u32,
        from: TaskState,
        to: TaskState,
        now: &Now,
        changes: Vec<Change>,
    ) -> Result<(), StoreError> {
        self.apply(task_update(id, seq, &[from], to, now, changes)?)
            .await
    }

    /// Moves a request from `from` to `to` only if it is still in `from`.
    /// `sealed`: the request holds sealed password values (they follow its state, see
    /// [`StateUpdate::sealing`]).
    pub async fn transition_request(
        &self,
        id: &RequestId,
        (from, to): (RequestState, RequestState),
        now: &Now,
        changes: Vec<Change>,
        sealed: bool,
    ) -> Result<(), StoreError> {
        self.apply(request_update(id, &[from], to, now, changes)?.sealing(id, sealed, to))
            .await
    }

    /// Claims a request for one escalation call until `until` (epoch seconds): `failed →
    /// escalating`, or an `escalating` request whose last call stopped (its lease released or
    /// run out). Conditional on the request as `request` shows it (state and `updatedAt`), so
    /// of two calls only one claims, and a retry or abort that landed first wins.
    pub async fn claim_escalation(
        &self,
        request: &RequestRecord,
        until: u64,
        now: &Now,
    ) -> Result<(), StoreError> {
        let mut update = request_update(
            &request.request_id,
            &[request.state],
            RequestState::Escalating,
            now,
            vec![Change::EscalationUntil(until)],
        )?;
        update.unchanged_since = Some(request.updated_at.clone());
        self.apply(update).await
    }

    /// Releases the escalation lease taken at `claimed` (the claim's `updatedAt`), so the next
    /// call resumes at once; a request another call has taken over since is left alone.
    pub async fn release_escalation(
        &self,
        id: &RequestId,
        claimed: &str,
        now: &Now,
    ) -> Result<(), StoreError> {
        let mut update = request_update(
            id,
            &[RequestState::Escalating],
            RequestState::Escalating,
            now,
            vec![Change::EscalationUntil(0)],
        )?;
        update.unchanged_since = Some(claimed.to_string());
        self.apply(update).await
    }

    /// Claims a task for one delivery: the task `queued → processing` with its
    /// `task-started` event, one conditional write. Of two deliveries only one claims. The
    /// request is not written: it shows `processing` while a task runs (derived on read), and
    /// every decision that stops it (abort, a failure, the sweeper) moves its queued task in
    /// the same transaction, so a claim cannot start a task of a request that was stopped.
    pub async fn claim_task(
        &self,
        task: &TaskRecord,
        now: &Now,
        event: &Event,
    ) -> Result<(), StoreError> {
        let id = &task.request_id;
        let mut update = task_update(
            id,
            task.seq,
            &[TaskState::Queued],
            TaskState::Processing,
            now,
            vec![Change::StartedAt(now.rfc3339.clone())],
        )?;
        update.events.push(event.clone());
        self.apply(update).await
    }

    /// A task completes and, in the same transaction (the two must agree, or the request
    /// would stall unseen), the next task becomes `queued`, or when it was the last the
    /// request completes; the events ride in the task's write. The caller then sends the next
    /// task's message.
    pub async fn complete_task(
        &self,
        task: &TaskRecord,
        done: &Completion,
        next: Option<&TaskRecord>,
        now: &Now,
        events: &[Event],
        sealed: bool,
    ) -> Result<(), StoreError> {
        let id = &task.request_id;
        let mut updates = vec![task_update(
            id,
            task.seq,
            &[TaskState::Processing],
            TaskState::Completed,
            now,
            completion_changes(done, now),
        )?];
        match next {
            Some(next) => updates.push(task_update(
                id,
                next.seq,
                &[TaskState::Pending],
                TaskState::Queued,
                now,
                vec![],
            )?),
            None => updates.push(
                request_update(
                    id,
                    RUNNING,
                    RequestState::Completed,
                    now,
                    vec![Change::AllTasksCompleted],
                )?
                .sealing(id, sealed, RequestState::Completed),
            ),
        }
        self.change_together(updates, events, || {
            format!(
                "task {} of {id} or its request changed while it ran",
                task.seq
            )
        })
        .await
    }

    /// A task fails and its request fails with it, with the event, in one transaction.
    pub async fn fail_task(
        &self,
        task: &TaskRecord,
        error: &str,
        request_error: &str,
        now: &Now,
        event: &Event,
        sealed: bool,
    ) -> Result<(), StoreError> {
        let id = &task.request_id;
        let updates = vec![
            task_update(
                id,
                task.seq,
                &[TaskState::Processing],
                TaskState::Failed,
                now,
                vec![
                    Change::Error(error.into()),
                    Change::FinishedAt(now.rfc3339.clone()),
                ],
            )?,
            request_update(
                id,
                RUNNING,
                RequestState::Failed,
                now,
                vec![Change::Error(request_error.into())],
            )?
            .sealing(id, sealed, RequestState::Failed),
        ];
        self.change_together(updates, std::slice::from_ref(event), || {
            format!(
                "task {} of {id} or its request changed while it ran",
                task.seq
            )
        })
        .await
    }

    /// Records how a task ended when its request was stopped while it ran (aborted, or
    /// failed by the sweeper): the task alone, with its event; nothing after it is queued.
    pub async fn settle_task_alone(
        &self,
        task: &TaskRecord,
        result: Result<&Completion, &str>,
        now: &Now,
        event: &Event,
    ) -> Result<(), StoreError> {
        let id = &task.request_id;
        let (to, changes) = match result {
            Ok(done) => (TaskState::Completed, completion_changes(done, now)),
            Err(error) => (
                TaskState::Failed,
                vec![
                    Change::Error(error.into()),
                    Change::FinishedAt(now.rfc3339.clone()),
                ],
            ),
        };
        let mut update = task_update(id, task.seq, &[TaskState::Processing], to, now, changes)?;
        update.events.push(event.clone());
        self.apply(update).await
    }

    /// The sweeper's verdict on a task that has been `queued` or `processing` too long: the
    /// task becomes `stuck` and its request `failed` (so a human can retry or escalate), with
    /// the event, all or nothing, and only if neither changed since the sweeper looked.
    pub async fn mark_stuck(
        &self,
        request: &RequestRecord,
        task: &TaskRecord,
        request_error: &str,
        now: &Now,
        event: &Event,
    ) -> Result<(), StoreError> {
        let id = &task.request_id;
        let mut stuck = task_update(
            id,
            task.seq,
            &[task.state],
            TaskState::Stuck,
            now,
            vec![Change::Error(request_error.into())],
        )?;
        stuck.unchanged_since = Some(task.updated_at.clone());
        let mut failed = request_update(
            id,
            &[request.state],
            RequestState::Failed,
            now,
            vec![Change::Error(request_error.into())],
        )?
        .sealing(id, !request.sealed_fields.is_empty(), RequestState::Failed);
        failed.unchanged_since = Some(request.updated_at.clone());
        self.change_together(vec![stuck, failed], std::slice::from_ref(event), || {
            format!("task {} of {id} or its request moved on", task.seq)
        })
        .await
    }

    /// Takes the right to re-send a queued task's message: succeeds for one caller only while
    /// the task is still `queued` as seen and was not re-sent since `resent_before`.
    pub async fn claim_resend(
        &self,
        task: &TaskRecord,
        now: &Now,
        resent_before: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(request_pk(&task.request_id)))
            .key("sk", s(task_sk(task.seq)))
            .update_expression("SET resentAt = :now, resends = if_not_exists(resends, :zero) + :one")
            .condition_expression(
                "#state = :queued AND updatedAt = :seen AND (attribute_not_exists(resentAt) OR resentAt < :before)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":queued", s(TaskState::Queued.as_str()))
            .expression_attribute_values(":seen", s(&task.updated_at))
            .expression_attribute_values(":before", s(resent_before))
            .expression_attribute_values(":now", s(&now.rfc3339))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        conditional(result, CONDITION_FAILED, || {
            format!(
                "task {} of {} moved on or was re-sent",
                task.seq, task.request_id
            )
        })
    }

    /// A person's retry: the request `failed → retrying`, its error cleared; the failed (or
    /// stuck) task back on the queue as a new attempt, its last attempt kept as history; the
    /// event; all or nothing, and only if neither changed since they were read (of two retries
    /// at once one wins). The caller then sends the task's message.
    pub async fn retry_task(
        &self,
        request: &RequestRecord,
        task: &TaskRecord,
        now: &Now,
        event: &Event,
        resealed: &std::collections::BTreeMap<String, Vec<u8>>,
    ) -> Result<u32, StoreError> {
        let id = &task.request_id;
        let attempt = task.attempt + 1;
        let mut history = task.attempts.clone();
        history.push(task.as_attempt());
        let mut queued = task_update(
            id,
            task.seq,
            &[task.state],
            TaskState::Queued,
            now,
            vec![Change::NewAttempt { attempt, history }],
        )?;
        queued.unchanged_since = Some(task.updated_at.clone());
        let mut retrying = request_update(
            id,
            &[RequestState::Failed],
            RequestState::Retrying,
            now,
            vec![Change::NoError],
        )?
        .sealing(
            id,
            !request.sealed_fields.is_empty(),
            RequestState::Retrying,
        );
        retrying.unchanged_since = Some(request.updated_at.clone());
        self.retry_together(&request.request_id, vec![retrying, queued], event, resealed)
            .await?;
        Ok(attempt)
    }

    /// A person's retry from an earlier task (`fromTask`): the request `failed → retrying`,
    /// `from` back on the queue as a new attempt and every later task that ran back to
    /// `pending` as a new attempt (their last attempts kept as history), the progress counted
    /// again, with the event; all or nothing. Only [`TaskState::can_restart`] changes allow it.
    pub async fn restart_from(
        &self,
        request: &RequestRecord,
        tasks: &[TaskRecord],
        from: u32,
        now: &Now,
        event: &Event,
        resealed: &std::collections::BTreeMap<String, Vec<u8>>,
    ) -> Result<u32, StoreError> {
        let id = &request.request_id;
        let mut updates = Vec::new();
        let mut queued_attempt = 0;
        for t in tasks.iter().filter(|t| t.seq >= from) {
            let to = if t.seq == from {
                TaskState::Queued
            } else if t.state == TaskState::Pending {
                continue;
            } else {
                TaskState::Pending
            };
            if !t.state.can_restart(to) {
                return Err(StoreError::IllegalTransition {
                    what: "task",
                    from: t.state.to_string(),
                    to: to.to_string(),
                });
            }
            let attempt = t.attempt + 1;
            if t.seq == from {
                queued_attempt = attempt;
            }
            let mut history = t.attempts.clone();
            history.push(t.as_attempt());
            let mut update = StateUpdate::of_task(id, t.seq, &[t.state], to, now);
            update.changes = vec![Change::NewAttempt { attempt, history }];
            update.unchanged_since = Some(t.updated_at.clone());
            updates.push(update);
        }
        let mut retrying = request_update(
            id,
            &[RequestState::Failed],
            RequestState::Retrying,
            now,
            vec![Change::NoError, Change::CompletedTasks(from)],
        )?
        .sealing(
            id,
            !request.sealed_fields.is_empty(),
            RequestState::Retrying,
        );
        retrying.unchanged_since = Some(request.updated_at.clone());
        updates.insert(0, retrying);
        self.retry_together(id, updates, event, resealed).await?;
        Ok(queued_attempt)
    }

    /// A person's abort: the request `→ aborted` and every task that has not run or is not
    /// running `→ skipped`, with the event, all or nothing (only if the request did not change
    /// since it was read). A task already running finishes; its result is recorded alone.
    pub async fn abort_request(
        &self,
        request: &RequestRecord,
        tasks: &[TaskRecord],
        now: &Now,
        event: &Event,
    ) -> Result<usize, StoreError> {
        let id = &request.request_id;
        let mut aborted = request_update(id, &[request.state], RequestState::Aborted, now, vec![])?
            .sealing(id, !request.sealed_fields.is_empty(), RequestState::Aborted);
        aborted.unchanged_since = Some(request.updated_at.clone());
        let mut updates = vec![aborted];
        for t in tasks
            .iter()
            .filter(|t| t.state.can_become(TaskState::Skipped))
        {
            let mut skipped = task_update(id, t.seq, &[t.state], TaskState::Skipped, now, vec![])?;
            skipped.unchanged_since = Some(t.updated_at.clone());
            updates.push(skipped);
        }
        let skipped = updates.len() - 1;
        self.change_together(updates, std::slice::from_ref(event), || {
            format!("request {id} changed since it was read")
        })
        .await?;
        Ok(skipped)
    }

    /// Sends state changes and the events that record them as one transaction.
    pub(super) async fn change_together(
        &self,
        updates: Vec<StateUpdate>,
        events: &[Event],
        what: impl FnOnce() -> String,
    ) -> Result<(), StoreError> {
        let mut updates = updates;
        if let Some(first) = updates.first_mut() {
            first.events.extend(events.iter().cloned());
        }
        let writes = updates
            .into_iter()
            .map(|u| self.update_writes(u))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect();
        self.transact(writes, what).await
    }
}

fn completion_changes(done: &Completion, now: &Now) -> Vec<Change> {
    let mut changes = vec![
        Change::Outputs(done.outputs.clone()),
        Change::FinishedAt(now.rfc3339.clone()),
    ];
    if let Some(r) = &done.external_ref {
        changes.push(Change::ExternalRef(r.clone()));
    }
    changes
}

pub(super) fn task_update(
    id: &RequestId,
    seq: u32,
    from: &[TaskState],
    to: TaskState,
    now: &Now,
    changes: Vec<Change>,
) -> Result<StateUpdate, StoreError> {
    if let Some(bad) = from.iter().find(|f| !f.can_become(to)) {
        return Err(StoreError::IllegalTransition {
            what: "task",
            from: bad.to_string(),
            to: to.to_string(),
        });
    }
    let mut update = StateUpdate::of_task(id, seq, from, to, now);
    update.changes = changes;
    Ok(update)
}

/// The states a request runs in: `processing` is shown while a task runs, and stored only
/// when an operator's redrive puts a failed request back in play.
pub(super) const RUNNING: &[RequestState] = &[
    RequestState::Submitted,
    RequestState::Retrying,
    RequestState::Processing,
];

impl StateUpdate {
    /// A task's change to `to` (unchecked), its `byState` entry moved with it.
    fn of_task(id: &RequestId, seq: u32, from: &[TaskState], to: TaskState, now: &Now) -> Self {
        Self {
            key: (request_pk(id), task_sk(seq)),
            from: from.iter().map(|f| f.to_string()).collect(),
            sets: vec![
                ("state", Value::String(to.to_string())),
                ("updatedAt", Value::String(now.rfc3339.clone())),
            ],
            changes: Vec::new(),
            index: Some(super::keys::task_index(id, to, &now.rfc3339)),
            events: Vec::new(),
            unchanged_since: None,
            expiry: Expiry::UnderRequest,
            at: now.epoch,
            sealed: None,
            approval_version: None,
        }
    }
}

/// A request's state change; `from == to` is allowed (progress without a new state).
pub(super) fn request_update(
    id: &RequestId,
    from: &[RequestState],
    to: RequestState,
    now: &Now,
    changes: Vec<Change>,
) -> Result<StateUpdate, StoreError> {
    if let Some(bad) = from.iter().find(|f| **f != to && !f.can_become(to)) {
        return Err(StoreError::IllegalTransition {
            what: "request",
            from: bad.to_string(),
            to: to.to_string(),
        });
    }
    let sets = vec![
        ("state", Value::String(to.to_string())),
        ("updatedAt", Value::String(now.rfc3339.clone())),
    ];
    // A request leaving `awaiting_approval` leaves the approvers' pending key with the change.
    let leaves_approval =
        from.contains(&RequestState::AwaitingApproval) && to != RequestState::AwaitingApproval;
    Ok(StateUpdate {
        key: (request_pk(id), REQUEST_SK.into()),
        from: from.iter().map(|f| f.to_string()).collect(),
        sets,
        changes,
        index: leaves_approval.then_some(None),
        events: Vec::new(),
        unchanged_since: None,
        expiry: Expiry::of_request(to),
        at: now.epoch,
        sealed: None,
        approval_version: None,
    })
}
