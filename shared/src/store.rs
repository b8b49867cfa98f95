//! DynamoDB state, single-table: a request, its tasks and its audit events share one
//! partition (`pk = REQ#<id>`), so `GET /requests/{id}` is one Query.
//!
//! | item    | pk          | sk            | GSI byUser (gsi1)                 | GSI byState (gsi2)                  |
//! |---------|-------------|---------------|-----------------------------------|-------------------------------------|
//! | request | `REQ#<id>`  | `#REQUEST`    | `USER#<arn>` / `<createdAt>#<id>` | `REQUEST#<state>` / `<updatedAt>#<id>` |
//! | task    | `REQ#<id>`  | `TASK#<seq>`  | –                                 | `TASK#<state>` / `<updatedAt>#<id>#<seq>` |
//! | event   | `REQ#<id>`  | `EVT#<at>#<n>`| –                                 | –                                   |
//!
//! A submission (request + all its tasks + its first event) is one TransactWriteItems that
//! fails if the request already exists. Every state change is a conditional write whose
//! condition is the state it leaves, so a duplicate or late message can never move anything
//! backwards. Finished requests get `expiresAt` for TTL (completed 90 days, failed 180);
//! expired items are filtered on read since not every endpoint deletes them on time.

use crate::catalog::FulfillmentItem;
use crate::request::{RequestState, Target};
use crate::task::TaskState;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use std::fmt;

/// Seconds a finished request is kept.
pub const KEEP_COMPLETED_SECS: u64 = 90 * 86_400;
pub const KEEP_FAILED_SECS: u64 = 180 * 86_400;
/// DynamoDB allows 100 items in one transaction: the request and its first event take two.
pub const MAX_TASKS: usize = 98;

pub const GSI_BY_USER: &str = "byUser";
pub const GSI_BY_STATE: &str = "byState";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The item is not in the state the change leaves (someone else moved it first).
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("{what} may not change from {from} to {to}")]
    IllegalTransition {
        what: &'static str,
        from: String,
        to: String,
    },
    #[error("invalid cursor")]
    BadCursor,
    #[error("a request may have at most {MAX_TASKS} tasks, this one has {0}")]
    TooManyTasks(usize),
    #[error("stored item is malformed: {0}")]
    Malformed(String),
    #[error("DynamoDB: {0}")]
    Dynamo(String),
}

fn dynamo<E: std::error::Error + 'static>(e: aws_sdk_dynamodb::error::SdkError<E>) -> StoreError {
    StoreError::Dynamo(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
}

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
}

/// A task's link to the outside world (a JIRA issue, a workflow run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalRef {
    pub key: String,
    pub url: String,
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

/// A request with everything under it, from one Query.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestDetail {
    pub request: RequestRecord,
    pub tasks: Vec<TaskRecord>,
    pub events: Vec<Event>,
}

/// One page of a list, with the opaque cursor of the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Attributes to set alongside a state change (`outputs`, `error`, ...).
pub type Changes = Vec<(&'static str, Value)>;

#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

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
        let mut items = vec![self.put(request_item(request)?, Some("attribute_not_exists(pk)"))?];
        for t in tasks {
            items.push(self.put(task_item(t)?, None)?);
        }
        let event = Event {
            at: request.created_at.clone(),
            kind: "submitted".into(),
            message: format!("request submitted with {} tasks", tasks.len()),
            task_seq: None,
        };
        items.push(self.put(event_item(&request.request_id, &event)?, None)?);
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                Err(StoreError::Conflict(format!(
                    "request {} already exists",
                    request.request_id
                )))
            }
            Err(e) => Err(dynamo(e)),
        }
    }

    fn put(
        &self,
        item: HashMap<String, AttributeValue>,
        condition: Option<&str>,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string))
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The request with its tasks (in order) and events (oldest first), in one Query.
    pub async fn get_request(
        &self,
        id: &RequestId,
        now_epoch: u64,
    ) -> Result<Option<RequestDetail>, StoreError> {
        let mut request = None;
        let mut tasks = Vec::new();
        let mut events = Vec::new();
        for item in &self.partition(&format!("REQ#{id}")).await? {
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

    /// Every item of a partition, all pages.
    async fn partition(
        &self,
        pk: &str,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo)?;
            start = out.last_evaluated_key().cloned();
            items.extend(out.items.unwrap_or_default());
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// A single task.
    pub async fn get_task(
        &self,
        id: &RequestId,
        seq: u32,
    ) -> Result<Option<TaskRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("REQ#{id}")))
            .key("sk", s(task_sk(seq)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        out.item().map(from_item).transpose()
    }

    /// A caller's requests, newest first, optionally in one state.
    pub async fn list_requests(
        &self,
        user_arn: &str,
        state: Option<RequestState>,
        limit: i32,
        cursor: Option<&str>,
        now_epoch: u64,
    ) -> Result<Page<RequestRecord>, StoreError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI_BY_USER)
            .key_condition_expression("gsi1pk = :u")
            .expression_attribute_values(":u", s(format!("USER#{user_arn}")))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 100))
            .set_exclusive_start_key(cursor.map(decode_cursor).transpose()?);
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
            next_cursor: out.last_evaluated_key().map(encode_cursor),
        })
    }

    /// Tasks in `state` last changed before `before` (RFC 3339), oldest first: the sweeper's view.
    pub async fn tasks_in_state(
        &self,
        state: TaskState,
        before: &str,
        limit: i32,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI_BY_STATE)
            .key_condition_expression("gsi2pk = :p AND gsi2sk < :b")
            .expression_attribute_values(":p", s(format!("TASK#{state}")))
            .expression_attribute_values(":b", s(before))
            .limit(limit.clamp(1, 500))
            .send()
            .await
            .map_err(dynamo)?;
        out.items().iter().map(from_item).collect()
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
        let update = self.task_update(id, seq, from, to, now, changes)?;
        self.apply(update).await
    }

    /// Moves a request from `from` to `to` only if it is still in `from`.
    pub async fn transition_request(
        &self,
        id: &RequestId,
        from: RequestState,
        to: RequestState,
        now: &str,
        now_epoch: u64,
        changes: Changes,
    ) -> Result<(), StoreError> {
        let update = self.request_update(id, from, to, now, now_epoch, changes, false)?;
        self.apply(update).await
    }

    /// A task completes and its request's progress moves on, in one transaction; when it was
    /// the last task the request completes too.
    pub async fn complete_task(
        &self,
        task: &TaskRecord,
        request_state: RequestState,
        last: bool,
        now: &str,
        now_epoch: u64,
        changes: Changes,
    ) -> Result<(), StoreError> {
        let task_update = self.task_update(
            &task.request_id,
            task.seq,
            TaskState::Processing,
            TaskState::Completed,
            now,
            changes,
        )?;
        let to = if last {
            RequestState::Completed
        } else {
            request_state
        };
        let request_update = self.request_update(
            &task.request_id,
            request_state,
            to,
            now,
            now_epoch,
            Vec::new(),
            true,
        )?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .update(task_update.into_update()?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .update(request_update.into_update()?)
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                Err(StoreError::Conflict(format!(
                    "task {} of {} is no longer processing",
                    task.seq, task.request_id
                )))
            }
            Err(e) => Err(dynamo(e)),
        }
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

    fn task_update(
        &self,
        id: &RequestId,
        seq: u32,
        from: TaskState,
        to: TaskState,
        now: &str,
        mut changes: Changes,
    ) -> Result<PendingUpdate, StoreError> {
        if !from.can_become(to) {
            return Err(StoreError::IllegalTransition {
                what: "task",
                from: from.to_string(),
                to: to.to_string(),
            });
        }
        changes.push(("state", Value::String(to.to_string())));
        changes.push(("updatedAt", Value::String(now.into())));
        changes.push(("gsi2pk", Value::String(format!("TASK#{to}"))));
        changes.push(("gsi2sk", Value::String(format!("{now}#{id}#{seq:04}"))));
        Ok(PendingUpdate {
            table: self.table.clone(),
            key: (format!("REQ#{id}"), task_sk(seq)),
            from: from.to_string(),
            changes,
            increment_completed: false,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn request_update(
        &self,
        id: &RequestId,
        from: RequestState,
        to: RequestState,
        now: &str,
        now_epoch: u64,
        mut changes: Changes,
        increment_completed: bool,
    ) -> Result<PendingUpdate, StoreError> {
        if from != to && !from.can_become(to) {
            return Err(StoreError::IllegalTransition {
                what: "request",
                from: from.to_string(),
                to: to.to_string(),
            });
        }
        changes.push(("state", Value::String(to.to_string())));
        changes.push(("updatedAt", Value::String(now.into())));
        changes.push(("gsi2pk", Value::String(format!("REQUEST#{to}"))));
        changes.push(("gsi2sk", Value::String(format!("{now}#{id}"))));
        let keep = match to {
            RequestState::Completed | RequestState::Aborted | RequestState::Escalated => {
                Some(KEEP_COMPLETED_SECS)
            }
            RequestState::Failed => Some(KEEP_FAILED_SECS),
            _ => None,
        };
        if let Some(keep) = keep {
            changes.push(("expiresAt", Value::from(now_epoch + keep)));
        }
        Ok(PendingUpdate {
            table: self.table.clone(),
            key: (format!("REQ#{id}"), "#REQUEST".into()),
            from: from.to_string(),
            changes,
            increment_completed,
        })
    }

    async fn apply(&self, u: PendingUpdate) -> Result<(), StoreError> {
        let what = format!("{} {}", u.key.0, u.key.1);
        let (expr, names, values) = u.expression()?;
        let result = self
            .client
            .update_item()
            .table_name(&u.table)
            .key("pk", s(u.key.0))
            .key("sk", s(u.key.1))
            .update_expression(expr)
            .condition_expression("#state = :from")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict(format!(
                    "{what} is no longer {}",
                    u.from
                )))
            }
            Err(e) => Err(dynamo(e)),
        }
    }
}

/// What an `Idempotency-Key` holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Idempotent {
    /// The key is new: it is now claimed for this body.
    Claimed,
    /// The same key and body were answered before: the stored response.
    Replay { status: u16, body: Value },
    /// The same key with another body.
    Mismatch,
    /// The first call with this key is still running.
    InProgress,
}

/// Seconds an idempotency key is remembered.
pub const IDEMPOTENCY_SECS: u64 = 86_400;

impl Store {
    /// Claims `key` for `body` (per caller), or says what it already holds.
    pub async fn claim_idempotency(
        &self,
        caller: &str,
        key: &str,
        body: &str,
        now_epoch: u64,
    ) -> Result<Idempotent, StoreError> {
        let pk = format!("IDEMP#{caller}#{key}");
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&pk))
            .item("sk", s("IDEMP"))
            .item("itemType", s("idempotency"))
            .item("body", s(body))
            .item(
                "expiresAt",
                AttributeValue::N((now_epoch + IDEMPOTENCY_SECS).to_string()),
            )
            // An expired claim (TTL not yet applied) may be taken again.
            .condition_expression("attribute_not_exists(pk) OR expiresAt < :now")
            .expression_attribute_values(":now", AttributeValue::N(now_epoch.to_string()))
            .send()
            .await;
        match put {
            Ok(_) => return Ok(Idempotent::Claimed),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(dynamo(e)),
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s("IDEMP"))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        let Some(item) = out.item() else {
            return Ok(Idempotent::InProgress);
        };
        let stored = from_attr(&AttributeValue::M(item.clone()));
        if stored.get("body").and_then(Value::as_str) != Some(body) {
            return Ok(Idempotent::Mismatch);
        }
        match (
            stored.get("status").and_then(Value::as_u64),
            stored.get("response"),
        ) {
            (Some(status), Some(response)) => Ok(Idempotent::Replay {
                status: status as u16,
                body: response.clone(),
            }),
            _ => Ok(Idempotent::InProgress),
        }
    }

    /// Records the response given to the call that claimed `key`.
    pub async fn finish_idempotency(
        &self,
        caller: &str,
        key: &str,
        status: u16,
        response: &Value,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("IDEMP#{caller}#{key}")))
            .key("sk", s("IDEMP"))
            .update_expression("SET #st = :st, #r = :r")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#r", "response")
            .expression_attribute_values(":st", AttributeValue::N(status.to_string()))
            .expression_attribute_values(":r", to_attr(response))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// Forgets a claim whose call failed on our side, so the caller can try again.
    pub async fn release_idempotency(&self, caller: &str, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("IDEMP#{caller}#{key}")))
            .key("sk", s("IDEMP"))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// Stores a catalog snapshot (the source text of every document) under a new version and
    /// makes it current. Readers switch to it in one step; older snapshots expire.
    pub async fn put_catalog(
        &self,
        version: &str,
        sources: &[crate::catalog::validate::SourceDoc],
        now_epoch: u64,
    ) -> Result<(), StoreError> {
        let partition = format!("CATALOG#{version}");
        for (i, doc) in sources.iter().enumerate() {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(&partition))
                .item("sk", s(format!("DOC#{i:05}")))
                .item("itemType", s("catalog-document"))
                .item("file", s(&doc.file))
                .item("text", s(&doc.text))
                .item("owners", to_attr(&Value::from(doc.owners.clone())))
                .send()
                .await
                .map_err(dynamo)?;
        }
        let previous = self.current_catalog_version().await?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s("CATALOG"))
            .item("sk", s("CURRENT"))
            .item("itemType", s("catalog-pointer"))
            .item("version", s(version))
            .item("count", AttributeValue::N(sources.len().to_string()))
            .send()
            .await
            .map_err(dynamo)?;
        if let Some(old) = previous.filter(|v| v != version) {
            // Readers of the old snapshot have a minute to finish; then TTL removes it.
            for item in &self.partition(&format!("CATALOG#{old}")).await? {
                if let (Some(pk), Some(sk)) = (item.get("pk"), item.get("sk")) {
                    self.client
                        .update_item()
                        .table_name(&self.table)
                        .key("pk", pk.clone())
                        .key("sk", sk.clone())
                        .update_expression("SET expiresAt = :e")
                        .expression_attribute_values(
                            ":e",
                            AttributeValue::N((now_epoch + 3600).to_string()),
                        )
                        .send()
                        .await
                        .map_err(dynamo)?;
                }
            }
        }
        Ok(())
    }

    async fn current_catalog_version(&self) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s("CATALOG"))
            .key("sk", s("CURRENT"))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        Ok(out
            .item()
            .and_then(|i| i.get("version"))
            .and_then(|v| v.as_s().ok())
            .cloned())
    }

    /// The current catalog snapshot: its version and document sources (none stored: None).
    pub async fn catalog(
        &self,
    ) -> Result<Option<(String, Vec<crate::catalog::validate::SourceDoc>)>, StoreError> {
        let Some(version) = self.current_catalog_version().await? else {
            return Ok(None);
        };
        let mut sources = Vec::new();
        for item in &self.partition(&format!("CATALOG#{version}")).await? {
            let v = from_attr(&AttributeValue::M(item.clone()));
            sources.push(crate::catalog::validate::SourceDoc {
                file: v
                    .get("file")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                text: v
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                owners: v
                    .get("owners")
                    .and_then(Value::as_array)
                    .map(|o| {
                        o.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
        Ok(Some((version, sources)))
    }

    /// Whether the table answers (for `/health/ready`).
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }
}

/// A conditional update, built once and sent alone or inside a transaction.
struct PendingUpdate {
    table: String,
    key: (String, String),
    from: String,
    changes: Changes,
    increment_completed: bool,
}

type Expression = (
    String,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
);

impl PendingUpdate {
    fn expression(&self) -> Result<Expression, StoreError> {
        let mut names = HashMap::from([("#state".to_string(), "state".to_string())]);
        let mut values = HashMap::from([(":from".to_string(), s(&self.from))]);
        let mut sets = Vec::new();
        for (i, (attr, value)) in self.changes.iter().enumerate() {
            names.insert(format!("#a{i}"), attr.to_string());
            values.insert(format!(":v{i}"), to_attr(value));
            sets.push(format!("#a{i} = :v{i}"));
        }
        if self.increment_completed {
            names.insert("#done".into(), "completedTasks".into());
            values.insert(":one".into(), AttributeValue::N("1".into()));
            sets.push("#done = #done + :one".into());
        }
        Ok((format!("SET {}", sets.join(", ")), names, values))
    }

    fn into_update(self) -> Result<Update, StoreError> {
        let (expr, names, values) = self.expression()?;
        Update::builder()
            .table_name(self.table)
            .key("pk", s(self.key.0))
            .key("sk", s(self.key.1))
            .update_expression(expr)
            .condition_expression("#state = :from")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Dynamo(e.to_string()))
    }
}

fn task_sk(seq: u32) -> String {
    format!("TASK#{seq:04}")
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn request_item(r: &RequestRecord) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let mut item = to_item(r)?;
    let id = &r.request_id;
    item.insert("pk".into(), s(format!("REQ#{id}")));
    item.insert("sk".into(), s("#REQUEST"));
    item.insert("itemType".into(), s("request"));
    item.insert("gsi1pk".into(), s(format!("USER#{}", r.user.arn)));
    item.insert("gsi1sk".into(), s(format!("{}#{id}", r.created_at)));
    item.insert("gsi2pk".into(), s(format!("REQUEST#{}", r.state)));
    item.insert("gsi2sk".into(), s(format!("{}#{id}", r.updated_at)));
    Ok(item)
}

fn task_item(t: &TaskRecord) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let mut item = to_item(t)?;
    let id = &t.request_id;
    item.insert("pk".into(), s(format!("REQ#{id}")));
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
fn event_item(id: &RequestId, e: &Event) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let tail = uuid::Uuid::new_v4().simple().to_string();
    let mut item = to_item(e)?;
    item.insert("pk".into(), s(format!("REQ#{id}")));
    item.insert("sk".into(), s(format!("EVT#{nanos:020}#{}", &tail[..8])));
    item.insert("itemType".into(), s("event"));
    Ok(item)
}

fn is_expired(item: &HashMap<String, AttributeValue>, now_epoch: u64) -> bool {
    item.get("expiresAt")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u64>().ok())
        .is_some_and(|at| at <= now_epoch)
}

fn to_item<T: Serialize>(value: &T) -> Result<HashMap<String, AttributeValue>, StoreError> {
    match serde_json::to_value(value).map_err(|e| StoreError::Malformed(e.to_string()))? {
        Value::Object(map) => Ok(map.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect()),
        _ => Err(StoreError::Malformed("not an object".into())),
    }
}

fn from_item<T: serde::de::DeserializeOwned>(
    item: &HashMap<String, AttributeValue>,
) -> Result<T, StoreError> {
    let map: Map<String, Value> = item
        .iter()
        .map(|(k, v)| (k.clone(), from_attr(v)))
        .collect();
    serde_json::from_value(Value::Object(map)).map_err(|e| StoreError::Malformed(e.to_string()))
}

/// JSON → DynamoDB attribute (numbers stay numbers, maps stay maps).
pub fn to_attr(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attr).collect()),
        Value::Object(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
        }
    }
}

/// DynamoDB attribute → JSON.
pub fn from_attr(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(n) => n
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| {
                n.parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or(Value::Null),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::L(items) => Value::Array(items.iter().map(from_attr).collect()),
        AttributeValue::M(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), from_attr(v))).collect())
        }
        AttributeValue::Ss(items) => {
            Value::Array(items.iter().cloned().map(Value::String).collect())
        }
        _ => Value::Null,
    }
}

/// Cursors are the last evaluated key as hex-encoded JSON: opaque to callers.
fn encode_cursor(key: &HashMap<String, AttributeValue>) -> String {
    let map: Map<String, Value> = key.iter().map(|(k, v)| (k.clone(), from_attr(v))).collect();
    Value::Object(map)
        .to_string()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_cursor(cursor: &str) -> Result<HashMap<String, AttributeValue>, StoreError> {
    if cursor.len() % 2 != 0 || cursor.len() > 4096 {
        return Err(StoreError::BadCursor);
    }
    let bytes = (0..cursor.len())
        .step_by(2)
        .map(|i| {
            cursor
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or(StoreError::BadCursor)?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    let map = value.as_object().ok_or(StoreError::BadCursor)?;
    if map.values().any(|v| !v.is_string()) || map.is_empty() {
        return Err(StoreError::BadCursor);
    }
    Ok(map.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attributes_round_trip() {
        let v = json!({"a": [1, 2.5, "x", null, true], "m": {"k": "v"}, "e": ""});
        assert_eq!(from_attr(&to_attr(&v)), v);
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let key: HashMap<String, AttributeValue> = [
            ("pk".to_string(), s("REQ#1")),
            ("gsi1sk".to_string(), s("2026#x")),
        ]
        .into();
        let cursor = encode_cursor(&key);
        assert_eq!(decode_cursor(&cursor).ok(), Some(key));
        for bad in ["zz", "abc", "7b7d", &"00".repeat(3000)] {
            assert!(
                matches!(decode_cursor(bad), Err(StoreError::BadCursor)),
                "{bad}"
            );
        }
    }
}
