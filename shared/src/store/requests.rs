//! Requests, their tasks and their audit events (`pk = REQ#<id>`). Here a request is written
//! (with all its tasks and its first event, in one transaction), a task is claimed
//! ([`Store::claim_task`]: `queued → processing`), completes or fails together with its
//! request, is marked stuck by the sweeper, and a request is read back in one Query.

use super::attr::{Item, from_item, is_expired, n, s, to_item};
use super::cursor::CursorKey;
use super::{
    Changes, GSI_BY_STATE, GSI_BY_USER, KEEP_COMPLETED_SECS, KEEP_FAILED_SECS, MAX_TASKS, Page,
    StateUpdate, Store, StoreError, dynamo,
};
use crate::clock::Now;
use crate::record::{Event, ExternalRef, RequestDetail, RequestId, RequestRecord, TaskRecord};
use crate::request::RequestState;
use crate::task::TaskState;
use serde_json::{Map, Value, json};

/// How a read is made: `Strong` for reads that decide what runs (the worker, the sweeper),
/// `Eventual` for what people look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    Strong,
    Eventual,
}

/// What a completed task produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Completion {
    pub outputs: Map<String, Value>,
    pub external_ref: Option<ExternalRef>,
}

fn task_sk(seq: u32) -> String {
    format!("TASK#{seq:04}")
}

fn request_pk(id: &RequestId) -> String {
    format!("REQ#{id}")
}

impl Store {
    /// Writes a request, all its tasks and its first event in one transaction; fails with
    /// `Conflict` if the request id exists.
    pub async fn create_request(
        &self,
        request: &RequestRecord,
        tasks: &[TaskRecord],
    ) -> Result<(), StoreError> {
        if tasks.len() > MAX_TASKS {
            return Err(StoreError::TooManyTasks(tasks.len()));
        }
        let mut writes =
            vec![self.put_write(request_item(request)?, Some("attribute_not_exists(pk)"))?];
        for t in tasks {
            writes.push(self.put_write(task_item(t)?, None)?);
        }
        let event = Event {
            at: request.created_at.clone(),
            kind: "submitted".into(),
            message: format!("request submitted with {} tasks", tasks.len()),
            task_seq: None,
        };
        writes.push(self.put_write(event_item(&request.request_id, &event)?, None)?);
        self.transact(writes, || {
            format!("request {} already exists", request.request_id)
        })
        .await
    }

    /// The request with its tasks (in order) and events (oldest first), in one Query.
    pub async fn get_request(
        &self,
        id: &RequestId,
        now_epoch: u64,
        read: Read,
    ) -> Result<Option<RequestDetail>, StoreError> {
        let mut request = None;
        let mut tasks = Vec::new();
        let mut events = Vec::new();
        for item in &self
            .partition(&request_pk(id), read == Read::Strong)
            .await?
        {
            if is_expired(item, now_epoch) {
                return Ok(None);
            }
            match item
                .get("itemType")
                .and_then(|k| k.as_s().ok())
                .map(String::as_str)
            {
                Some("request") => request = Some(from_item::<RequestRecord>(item)?),
                Some("task") => tasks.push(from_item::<TaskRecord>(item)?),
                Some("event") => events.push(from_item::<Event>(item)?),
                _ => {}
            }
        }
        Ok(request.map(|request| RequestDetail {
            request,
            tasks,
            events,
        }))
    }

    /// A single task, read strongly.
    pub async fn get_task(
        &self,
        id: &RequestId,
        seq: u32,
    ) -> Result<Option<TaskRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(request_pk(id)))
            .key("sk", s(task_sk(seq)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        out.item().map(from_item).transpose()
    }

    /// A caller's requests, newest first, optionally in one state. Cursors are sealed with
    /// `key` for this caller and filter.
    pub async fn list_requests(
        &self,
        user_arn: &str,
        state: Option<RequestState>,
        limit: i32,
        cursor: Option<&str>,
        key: &CursorKey,
        now_epoch: u64,
    ) -> Result<Page<RequestRecord>, StoreError> {
        let scope = format!(
            "requests|{user_arn}|{}",
            state.map(|s| s.as_str()).unwrap_or("")
        );
        let start = cursor.map(|c| key.open_key(&scope, c)).transpose()?;
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI_BY_USER)
            .key_condition_expression("gsi1pk = :u")
            .expression_attribute_values(":u", s(format!("USER#{user_arn}")))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 100))
            .set_exclusive_start_key(start);
        if let Some(state) = state {
            q = q
                .filter_expression("#st = :st")
                .expression_attribute_names("#st", "state")
                .expression_attribute_values(":st", s(state.as_str()));
        }
        let out = q.send().await.map_err(dynamo)?;
        let items = out
            .items()
            .iter()
            .filter(|i| !is_expired(i, now_epoch))
            .map(from_item)
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            next_cursor: out.last_evaluated_key().map(|k| key.seal_key(&scope, k)),
        })
    }

    /// Tasks in `state` last changed before `before` (RFC 3339), oldest first, at most
    /// `limit`: the sweeper's view (GSI byState, eventually consistent: every change it makes
    /// is conditional on what it saw).
    pub async fn tasks_in_state(
        &self,
        state: TaskState,
        before: &str,
        limit: usize,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        let mut tasks = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI_BY_STATE)
                .key_condition_expression("gsi2pk = :p AND gsi2sk < :b")
                .expression_attribute_values(":p", s(format!("TASK#{state}")))
                .expression_attribute_values(":b", s(before))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo)?;
            for item in out.items() {
                tasks.push(from_item(item)?);
            }
            start = out.last_evaluated_key().cloned();
            if start.is_none() || tasks.len() >= limit {
                tasks.truncate(limit);
                return Ok(tasks);
            }
        }
    }

    /// Moves a task from `from` to `to` (and sets `changes`) only if it is still in `from`.
    pub async fn transition_task(
        &self,
        id: &RequestId,
        seq: u32,
        from: TaskState,
        to: TaskState,
        now: &str,
        changes: Changes,
    ) -> Result<(), StoreError> {
        self.apply(task_update(id, seq, &[from], to, now, changes)?)
            .await
    }

    /// Moves a request from `from` to `to` only if it is still in `from`.
    pub async fn transition_request(
        &self,
        id: &RequestId,
        from: RequestState,
        to: RequestState,
        now: &Now,
        changes: Changes,
    ) -> Result<(), StoreError> {
        self.apply(request_update(id, &[from], to, now, changes, false)?)
            .await
    }

    /// Claims a task for one delivery: the task `queued → processing`, its request
    /// (`submitted`, `retrying` or already `processing`) `→ processing`, and the
    /// `task-started` event, all or nothing. Of two deliveries only one claims.
    pub async fn claim_task(
        &self,
        request: &RequestRecord,
        task: &TaskRecord,
        now: &Now,
        event: &Event,
    ) -> Result<(), StoreError> {
        let id = &task.request_id;
        let updates = vec![
            task_update(
                id,
                task.seq,
                &[TaskState::Queued],
                TaskState::Processing,
                &now.rfc3339,
                vec![("startedAt", json!(now.rfc3339))],
            )?,
            request_update(
                id,
                &[request.state],
                RequestState::Processing,
                now,
                vec![],
                false,
            )?,
        ];
        self.change_together(id, updates, std::slice::from_ref(event), || {
            format!(
                "task {} of {id} was claimed or its request changed",
                task.seq
            )
        })
        .await
    }

    /// A task completes, its request's progress moves on (and the request completes when it
    /// was the last task), the next task becomes `queued`, and the events are written, in one
    /// transaction. The caller then sends the next task's message.
    pub async fn complete_task(
        &self,
        task: &TaskRecord,
        done: &Completion,
        next: Option<&TaskRecord>,
        now: &Now,
        events: &[Event],
    ) -> Result<(), StoreError> {
        let id = &task.request_id;
        let mut updates = vec![
            task_update(
                id,
                task.seq,
                &[TaskState::Processing],
                TaskState::Completed,
                &now.rfc3339,
                completion_changes(done, now),
            )?,
            request_update(
                id,
                &[RequestState::Processing],
                if next.is_some() {
                    RequestState::Processing
                } else {
                    RequestState::Completed
                },
                now,
                vec![],
                true,
            )?,
        ];
        if let Some(next) = next {
            updates.push(task_update(
                id,
                next.seq,
                &[TaskState::Pending],
                TaskState::Queued,
                &now.rfc3339,
                vec![],
            )?);
        }
        self.change_together(id, updates, events, || {
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
    ) -> Result<(), StoreError> {
        let id = &task.request_id;
        let updates = vec![
            task_update(
                id,
                task.seq,
                &[TaskState::Processing],
                TaskState::Failed,
                &now.rfc3339,
                vec![("error", json!(error)), ("finishedAt", json!(now.rfc3339))],
            )?,
            request_update(
                id,
                &[
                    RequestState::Submitted,
                    RequestState::Processing,
                    RequestState::Retrying,
                ],
                RequestState::Failed,
                now,
                vec![("error", json!(request_error))],
                false,
            )?,
        ];
        self.change_together(id, updates, std::slice::from_ref(event), || {
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
                vec![("error", json!(error)), ("finishedAt", json!(now.rfc3339))],
            ),
        };
        let update = task_update(
            id,
            task.seq,
            &[TaskState::Processing],
            to,
            &now.rfc3339,
            changes,
        )?;
        self.change_together(id, vec![update], std::slice::from_ref(event), || {
            format!("task {} of {id} is no longer processing", task.seq)
        })
        .await
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
            &now.rfc3339,
            vec![("error", json!(request_error))],
        )?;
        stuck.unchanged_since = Some(task.updated_at.clone());
        let mut failed = request_update(
            id,
            &[request.state],
            RequestState::Failed,
            now,
            vec![("error", json!(request_error))],
            false,
        )?;
        failed.unchanged_since = Some(request.updated_at.clone());
        self.change_together(id, vec![stuck, failed], std::slice::from_ref(event), || {
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
        super::conditional(result, super::CONDITION_FAILED, || {
            format!(
                "task {} of {} moved on or was re-sent",
                task.seq, task.request_id
            )
        })
    }

    /// Sends state changes and the events that record them as one transaction.
    async fn change_together(
        &self,
        id: &RequestId,
        updates: Vec<StateUpdate>,
        events: &[Event],
        what: impl FnOnce() -> String,
    ) -> Result<(), StoreError> {
        let mut writes = Vec::with_capacity(updates.len() + events.len());
        for u in updates {
            writes.push(self.update_write(u)?);
        }
        for e in events {
            writes.push(self.put_write(event_item(id, e)?, None)?);
        }
        self.transact(writes, what).await
    }

    /// Appends an audit event.
    pub async fn append_event(&self, id: &RequestId, event: &Event) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(event_item(id, event)?))
            .condition_expression("attribute_not_exists(sk)")
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }
}

fn completion_changes(done: &Completion, now: &Now) -> Changes {
    let mut changes = vec![
        ("outputs", Value::Object(done.outputs.clone())),
        ("finishedAt", json!(now.rfc3339)),
    ];
    if let Some(r) = &done.external_ref {
        changes.push((
            "externalRef",
            serde_json::to_value(r).unwrap_or(Value::Null),
        ));
    }
    changes
}

fn task_update(
    id: &RequestId,
    seq: u32,
    from: &[TaskState],
    to: TaskState,
    now: &str,
    mut changes: Changes,
) -> Result<StateUpdate, StoreError> {
    if let Some(bad) = from.iter().find(|f| !f.can_become(to)) {
        return Err(StoreError::IllegalTransition {
            what: "task",
            from: bad.to_string(),
            to: to.to_string(),
        });
    }
    changes.push(("state", Value::String(to.to_string())));
    changes.push(("updatedAt", Value::String(now.into())));
    changes.push(("gsi2pk", Value::String(format!("TASK#{to}"))));
    changes.push(("gsi2sk", Value::String(format!("{now}#{id}#{seq:04}"))));
    Ok(StateUpdate {
        key: (request_pk(id), task_sk(seq)),
        from: from.iter().map(|f| f.to_string()).collect(),
        changes,
        increment_completed: false,
        unchanged_since: None,
    })
}

/// A request's state change; `from == to` is allowed (progress without a new state).
fn request_update(
    id: &RequestId,
    from: &[RequestState],
    to: RequestState,
    now: &Now,
    mut changes: Changes,
    increment_completed: bool,
) -> Result<StateUpdate, StoreError> {
    if let Some(bad) = from.iter().find(|f| **f != to && !f.can_become(to)) {
        return Err(StoreError::IllegalTransition {
            what: "request",
            from: bad.to_string(),
            to: to.to_string(),
        });
    }
    changes.push(("state", Value::String(to.to_string())));
    changes.push(("updatedAt", Value::String(now.rfc3339.clone())));
    changes.push(("gsi2pk", Value::String(format!("REQUEST#{to}"))));
    changes.push(("gsi2sk", Value::String(format!("{}#{id}", now.rfc3339))));
    let keep = match to {
        RequestState::Completed | RequestState::Aborted | RequestState::Escalated => {
            Some(KEEP_COMPLETED_SECS)
        }
        RequestState::Failed => Some(KEEP_FAILED_SECS),
        _ => None,
    };
    if let Some(keep) = keep {
        changes.push(("expiresAt", Value::from(now.epoch + keep)));
    }
    Ok(StateUpdate {
        key: (request_pk(id), "#REQUEST".into()),
        from: from.iter().map(|f| f.to_string()).collect(),
        changes,
        increment_completed,
        unchanged_since: None,
    })
}

fn request_item(r: &RequestRecord) -> Result<Item, StoreError> {
    let mut item = to_item(r)?;
    let id = &r.request_id;
    item.insert("pk".into(), s(request_pk(id)));
    item.insert("sk".into(), s("#REQUEST"));
    item.insert("itemType".into(), s("request"));
    item.insert("gsi1pk".into(), s(format!("USER#{}", r.user.arn)));
    item.insert("gsi1sk".into(), s(format!("{}#{id}", r.created_at)));
    item.insert("gsi2pk".into(), s(format!("REQUEST#{}", r.state)));
    item.insert("gsi2sk".into(), s(format!("{}#{id}", r.updated_at)));
    Ok(item)
}

fn task_item(t: &TaskRecord) -> Result<Item, StoreError> {
    let mut item = to_item(t)?;
    let id = &t.request_id;
    item.insert("pk".into(), s(request_pk(id)));
    item.insert("sk".into(), s(task_sk(t.seq)));
    item.insert("itemType".into(), s("task"));
    item.insert("gsi2pk".into(), s(format!("TASK#{}", t.state)));
    item.insert(
        "gsi2sk".into(),
        s(format!("{}#{id}#{:04}", t.updated_at, t.seq)),
    );
    Ok(item)
}

/// Events sort by when they were written, to the nanosecond, with a random tail so that two
/// writers never collide.
fn event_item(id: &RequestId, e: &Event) -> Result<Item, StoreError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tail = uuid::Uuid::new_v4().simple().to_string();
    let mut item = to_item(e)?;
    item.insert("pk".into(), s(request_pk(id)));
    item.insert("sk".into(), s(format!("EVT#{nanos:020}#{}", &tail[..8])));
    item.insert("itemType".into(), s("event"));
    Ok(item)
}
