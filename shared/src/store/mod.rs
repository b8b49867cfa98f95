//! DynamoDB state, single-table. Each file owns the items of one kind of record:
//!
//! | file | item | pk | sk | GSI byUser (gsi1) | GSI byState (gsi2, sparse, sharded) |
//! |------|------|----|----|-------------------|--------------------|
//! | [`requests`] | request (its events inside) | `REQ#<id>` | `#REQUEST` | `USER#<arn>` / `<createdAt>#<id>` | – |
//! | [`requests`] | task (its events inside) | `REQ#<id>` | `TASK#<seq>` | – | `TASK#<queued\|processing\|stuck>#<shard>` / `<since>`; ended: `TASK#ended#<hour>#<shard>` |
//! | [`waiting`] | task waiting on a workflow run (`processing`) | `REQ#<id>` | `TASK#<seq>` | – | `TASK#waiting#<shard>` / `<lastPolledAt>` |
//! | [`idempotency`] | claim | `IDEMP#<caller>#<key>` | `IDEMP` | – | – |
//! | [`catalog`] | document | `CATALOG#<version>` | `DOC#<n>` | – | – |
//! | [`catalog`] | pointer (version, commit, rejections) | `CATALOG` | `CURRENT` | – | – |
//! | [`catalog`] | GitHub delivery | `DELIVERY#<id>` | `DELIVERY` | – | – |
//! | [`live`] | a WebSocket connection (its holder, its topics) | `CONN#<id>` | `CONN` | – | – |
//! | [`live`] | a subscription | `SUB#<topic>` | `<connection id>` | – | – |
//! | [`marks`] | an event published or a notification sent (kept two days) | `EVENT#<id>` | `PUBLISHED`, `SENT#<recipient>` | – | – |
//! | [`waiting`] | external reference of a waiting task (`run-<id>`, a ticket's URL) | `EXTREF#<key>` | `EXTREF` | – | – |
//!
//! Every key is made in [`keys`]; [`by_state`] reads the sharded index.
//! [`tasks`] changes a task's state (with its request and events); [`waiting`] keeps the tasks
//! that wait on an external run; [`queue_view`] counts and
//! lists tasks by state for operators and makes a redrive's change; [`cursor`] seals list
//! positions; [`attr`] maps records to attributes.
//!
//! A request, its tasks and its events share one partition, so `GET /requests/{id}` is one
//! Query. Every state change is a conditional write whose condition is the state it leaves;
//! a change of one record is one update (its audit event inside), and a change two records
//! must agree on (a task and its successor, a task and its request) is one transaction, so a
//! crash between two writes cannot leave them disagreeing. Finished requests get `expiresAt` for TTL (completed 90 days, failed 180);
//! expired items are filtered on read since TTL deletes late.

pub mod approvals;
pub mod attr;
pub mod by_state;
pub mod catalog;
pub mod cursor;
pub mod idempotency;
pub mod keys;
pub mod live;
pub mod marks;
pub mod queue_view;
pub mod requests;
pub mod sealed;
pub mod tasks;
pub mod waiting;

pub use attr::{from_attr, to_attr};
pub use cursor::CursorKey;
pub use idempotency::{Answered, IDEMPOTENCY_SECS, IN_PROGRESS_SECS, Idempotent};
pub use requests::Read;

use attr::{Item, s};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use serde_json::Value;
use std::collections::HashMap;

/// Seconds a finished request is kept.
pub const KEEP_COMPLETED_SECS: u64 = 90 * 86_400;
pub const KEEP_FAILED_SECS: u64 = 180 * 86_400;
/// DynamoDB allows 100 items in one transaction: the request, its first event and the
/// `Idempotency-Key`'s record take three.
pub const MAX_TASKS: usize = 97;
/// DynamoDB's largest item.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;
/// DynamoDB's largest transaction (all its items together).
pub const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024;

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
    /// An item or a transaction past DynamoDB's size limits (sizes in KiB, rounded up).
    #[error("{what} would store {kib} KiB; DynamoDB takes at most {limit_kib} KiB")]
    TooLarge {
        what: String,
        kib: usize,
        limit_kib: usize,
    },
    #[error("stored item is malformed: {0}")]
    Malformed(String),
    #[error("DynamoDB: {0}")]
    Dynamo(String),
}

pub(crate) fn dynamo<E: std::error::Error + 'static>(
    e: aws_sdk_dynamodb::error::SdkError<E>,
) -> StoreError {
    StoreError::Dynamo(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
}

/// A conditional write's result: the service error `refusal` (a failed condition, a cancelled
/// transaction) is a `Conflict` described by `what`; anything else is a DynamoDB error.
pub(crate) fn conditional<O, E>(
    result: Result<O, aws_sdk_dynamodb::error::SdkError<E>>,
    refusal: &str,
    what: impl FnOnce() -> String,
) -> Result<(), StoreError>
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().and_then(|s| s.code()) == Some(refusal) => {
            Err(StoreError::Conflict(what()))
        }
        Err(e) => Err(dynamo(e)),
    }
}

pub(crate) const CONDITION_FAILED: &str = "ConditionalCheckFailedException";

pub(crate) fn build_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Dynamo(e.to_string())
}

/// One page of a list, with the opaque cursor of the next page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// What changes on a record alongside its state, named as the record's fields are.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A task's `startedAt`.
    StartedAt(String),
    /// A task's `finishedAt`.
    FinishedAt(String),
    /// A task's `outputs`.
    Outputs(serde_json::Map<String, Value>),
    /// A task's `externalRef`.
    ExternalRef(crate::record::ExternalRef),
    /// A task's or a request's `error`.
    Error(String),
    /// A request's `completedTasks` becomes its `totalTasks` (it completed).
    AllTasksCompleted,
    /// A request's or task's `error` goes away.
    NoError,
    /// A request's `completedTasks` is set (a retry from an earlier task runs some again).
    CompletedTasks(u32),
    /// A request's escalation lease: until when (epoch seconds) one call holds it; 0 released.
    EscalationUntil(u64),
    /// A waiting task passed its `maxWait` (`overdueSince`).
    Overdue(String),
    /// A request's `approval` as it stands after a decision, a reminder or a timeout.
    Approval(Value),
    /// A task starts attempt `attempt` afresh: `attempts` holds every earlier one, and the
    /// last attempt's error, outputs, link and times are cleared.
    NewAttempt {
        attempt: u32,
        history: Vec<crate::record::Attempt>,
    },
}

impl Change {
    /// The attributes this change sets and their values (none for an increment).
    fn set(&self) -> Vec<(&'static str, Value)> {
        match self {
            Self::StartedAt(at) => vec![("startedAt", Value::String(at.clone()))],
            Self::FinishedAt(at) => vec![("finishedAt", Value::String(at.clone()))],
            Self::Outputs(outputs) => vec![("outputs", Value::Object(outputs.clone()))],
            Self::ExternalRef(r) => vec![(
                "externalRef",
                serde_json::json!({"key": r.key, "url": r.url}),
            )],
            Self::Error(e) => vec![("error", Value::String(e.clone()))],
            Self::Overdue(at) => vec![("overdueSince", Value::String(at.clone()))],
            Self::Approval(a) => vec![("approval", a.clone())],
            Self::NoError => vec![("error", Value::Null)],
            Self::EscalationUntil(until) => vec![("escalationUntil", Value::from(*until))],
            Self::CompletedTasks(n) => vec![("completedTasks", Value::from(*n))],
            Self::NewAttempt { attempt, history } => vec![
                ("attempt", Value::from(*attempt)),
                (
                    "attempts",
                    serde_json::to_value(history).unwrap_or(Value::Array(Vec::new())),
                ),
                ("error", Value::Null),
                ("outputs", Value::Object(serde_json::Map::new())),
                ("externalRef", Value::Null),
                ("startedAt", Value::Null),
                ("finishedAt", Value::Null),
                ("overdueSince", Value::Null),
            ],
            Self::AllTasksCompleted => Vec::new(),
        }
    }
}

/// Appends `:ev` to the item's `events` (`#ev`), starting the list if there is none.
pub(crate) const APPEND_EVENTS: &str = "#ev = list_append(if_not_exists(#ev, :none), :ev)";

/// Audit events as the list attribute they ride in: each with `n`, when it was written to
/// the nanosecond (in order within one write), so events read from several items sort in the
/// order they happened ([`events_of`]).
pub(crate) fn events_attr(events: &[crate::record::Event]) -> AttributeValue {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    AttributeValue::L(
        events
            .iter()
            .zip(nanos..)
            .map(|(e, n)| {
                let mut value = serde_json::to_value(e).unwrap_or(Value::Null);
                if let Value::Object(m) = &mut value {
                    m.insert("n".into(), Value::String(format!("{n:020}")));
                }
                to_attr(&value)
            })
            .collect(),
    )
}

/// The events riding in an item, each with its ordering key.
pub(crate) fn events_of(
    item: &attr::Item,
) -> Result<Vec<(String, crate::record::Event)>, StoreError> {
    let Some(list) = item.get("events").and_then(|v| v.as_l().ok()) else {
        return Ok(Vec::new());
    };
    list.iter()
        .map(|e| {
            let value = from_attr(e);
            let order = value["n"].as_str().unwrap_or_default().to_string();
            serde_json::from_value(value)
                .map(|event| (order, event))
                .map_err(|e| StoreError::Malformed(e.to_string()))
        })
        .collect()
}

/// Attributes a state change sets itself (state, index keys, TTL).
type Sets = Vec<(&'static str, Value)>;

#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
    retention: Retention,
}

/// How long finished requests are kept (DynamoDB TTL on `expiresAt`; template parameters
/// `CompletedRetentionDays`, `FailedRetentionDays`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// A request that completed, was aborted, rejected or escalated.
    pub completed: std::time::Duration,
    /// A request that failed (kept longer: someone may still retry or escalate it).
    pub failed: std::time::Duration,
    /// A failed request's sealed password values (for a retry).
    pub secrets: std::time::Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            completed: std::time::Duration::from_secs(KEEP_COMPLETED_SECS),
            failed: std::time::Duration::from_secs(KEEP_FAILED_SECS),
            secrets: std::time::Duration::from_secs(7 * 86_400),
        }
    }
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            retention: Retention::default(),
        }
    }

    /// The store with the deployment's retention.
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// The TTL of what a change writes, stamped here so every write path gets it: a request
    /// that ends keeps its retention from then (and loses its expiry when it starts again, a
    /// failed request retried); its tasks, events and external references are kept for the
    /// longer retention from their last write, so nothing under a request outlives it by
    /// more than that nor goes before it while it can still change.
    fn expiry_of(&self, u: &mut StateUpdate) {
        let keep = match u.expiry {
            Expiry::UnderRequest | Expiry::Failed => self.retention.failed,
            Expiry::Ended => self.retention.completed,
            Expiry::Never => return,
        };
        u.sets
            .push(("expiresAt", Value::from(u.at + keep.as_secs())));
    }

    /// Items under a request written whole (tasks at submission, events, external
    /// references) expire with the longer retention from now, unless they say otherwise.
    fn stamp(&self, item: &mut Item) {
        let under_request = item
            .get("pk")
            .and_then(|v| v.as_s().ok())
            .is_some_and(|pk| pk.starts_with("REQ#") || pk.starts_with("EXTREF#"));
        let is_request = item
            .get("sk")
            .and_then(|v| v.as_s().ok())
            .is_some_and(|sk| sk == "#REQUEST");
        if under_request && !is_request && !item.contains_key("expiresAt") {
            item.insert(
                "expiresAt".into(),
                AttributeValue::N(
                    (crate::clock::now_epoch() + self.retention.failed.as_secs()).to_string(),
                ),
            );
        }
    }

    /// Every item of a partition, all pages.
    async fn partition(&self, pk: &str, consistent: bool) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(consistent);
        query_pages(query, usize::MAX).await
    }

    /// Writes all of `writes` or none; a failed condition is a `Conflict` described by `what`.
    async fn transact(
        &self,
        writes: Vec<TransactWriteItem>,
        what: impl FnOnce() -> String,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        conditional(result, "TransactionCanceledException", what)
    }

    /// Sends one conditional state change on its own (in a transaction with the write of the
    /// request's sealed values when it has one).
    async fn apply(&self, mut u: StateUpdate) -> Result<(), StoreError> {
        if u.sealed.is_some() {
            let what = u.describe();
            return self.transact(self.update_writes(u)?, || what).await;
        }
        self.expiry_of(&mut u);
        let what = u.describe();
        let (expr, condition, names, values) = u.expression();
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(u.key.0))
            .key("sk", s(u.key.1))
            .update_expression(expr)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        conditional(result, CONDITION_FAILED, || what)
    }

    fn put_write(
        &self,
        mut item: Item,
        condition: Option<&str>,
    ) -> Result<TransactWriteItem, StoreError> {
        self.stamp(&mut item);
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The transaction items of a change: its own update, and the write of the request's
    /// sealed values that goes with it.
    fn update_writes(&self, mut u: StateUpdate) -> Result<Vec<TransactWriteItem>, StoreError> {
        let sealed = match u.sealed.take() {
            Some((id, change)) => Some(self.sealed_write(&id, change, u.at)?),
            None => None,
        };
        let mut writes = vec![self.update_write(u)?];
        writes.extend(sealed);
        Ok(writes)
    }

    fn update_write(&self, mut u: StateUpdate) -> Result<TransactWriteItem, StoreError> {
        self.expiry_of(&mut u);
        let (expr, condition, names, values) = u.expression();
        let update = Update::builder()
            .table_name(&self.table)
            .key("pk", s(u.key.0))
            .key("sk", s(u.key.1))
            .update_expression(expr)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_error)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Whether the table answers (for `/health/ready`): a read of a key no item has, so the
    /// check takes the path requests take (the table exists, the role may read it). Not
    /// DescribeTable: its answer's deserializers were about 160 KB of the API binary.
    pub async fn ready(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", s("HEALTH"))
            .key("sk", s("ready"))
            .projection_expression("pk")
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }
}

/// The items a query finds, page after page, until there are no more or `limit` are in.
async fn query_pages(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    limit: usize,
) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = query
            .clone()
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(dynamo)?;
        start = out.last_evaluated_key;
        items.extend(out.items.unwrap_or_default());
        if start.is_none() || items.len() >= limit {
            items.truncate(limit);
            return Ok(items);
        }
    }
}

/// What a state change does to its record's TTL (`expiresAt`, stamped by
/// [`Store::expiry_of`] from the deployment's retention).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    /// A task (or anything under a request): kept the longer retention from this write.
    UnderRequest,
    /// A request that completed, was aborted or escalated.
    Ended,
    /// A request that failed (someone may still retry or escalate it).
    Failed,
    /// A request that runs (again, a failed request retried): it does not expire.
    Never,
}

impl Expiry {
    fn of_request(state: crate::request::RequestState) -> Self {
        match state {
            s if s.is_terminal() => Self::Ended,
            crate::request::RequestState::Failed | crate::request::RequestState::Escalating => {
                Self::Failed
            }
            _ => Self::Never,
        }
    }
}

/// A conditional change of a task's or request's state, with the attributes that go with it.
/// The condition is the state (one of the states) it leaves, and optionally the `updatedAt`
/// its writer saw, so a decision made on a stale read never lands.
struct StateUpdate {
    key: (String, String),
    from: Vec<String>,
    sets: Sets,
    changes: Vec<Change>,
    /// Its `byState` entry: moved (`Some`), removed (`Some(None)`), left alone (`None`).
    index: Option<Option<(String, String)>>,
    /// Audit events that ride in this write (appended to the item's `events`).
    events: Vec<crate::record::Event>,
    unchanged_since: Option<String>,
    /// A request awaiting approval: the approval's `version` its writer saw (finer than
    /// `updatedAt`, which counts seconds), so of two decisions on one state one lands.
    approval_version: Option<u32>,
    /// What the change does to the record's retention.
    expiry: Expiry,
    /// When the change happens (epoch seconds): retention counts from it.
    at: u64,
    /// A request's change: what it does to the request's sealed password values (`None`: the
    /// request has none, or the change leaves them).
    sealed: Option<(crate::record::RequestId, sealed::SealedChange)>,
}

type Expression = (
    String,
    String,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
);

impl StateUpdate {
    fn describe(&self) -> String {
        format!(
            "{} {} is no longer {}",
            self.key.0,
            self.key.1,
            self.from.join(" or ")
        )
    }

    fn expression(&self) -> Expression {
        let mut names = HashMap::from([("#state".to_string(), "state".to_string())]);
        let mut values = HashMap::new();
        let mut from = Vec::new();
        for (i, state) in self.from.iter().enumerate() {
            values.insert(format!(":from{i}"), s(state));
            from.push(format!(":from{i}"));
        }
        let mut condition = if from.len() == 1 {
            format!("#state = {}", from[0])
        } else {
            format!("#state IN ({})", from.join(", "))
        };
        if let Some(seen) = &self.unchanged_since {
            names.insert("#seen".into(), "updatedAt".into());
            values.insert(":seen".into(), s(seen));
            condition.push_str(" AND #seen = :seen");
        }
        if let Some(version) = self.approval_version {
            names.insert("#apr".into(), "approval".into());
            names.insert("#apv".into(), "version".into());
            values.insert(":apv".into(), AttributeValue::N(version.to_string()));
            condition.push_str(" AND #apr.#apv = :apv");
        }
        let mut sets = Vec::new();
        let changed = self.changes.iter().flat_map(Change::set);
        for (i, (attr, value)) in self.sets.iter().cloned().chain(changed).enumerate() {
            names.insert(format!("#a{i}"), attr.to_string());
            values.insert(format!(":v{i}"), to_attr(&value));
            sets.push(format!("#a{i} = :v{i}"));
        }
        if self.changes.contains(&Change::AllTasksCompleted) {
            names.insert("#done".into(), "completedTasks".into());
            names.insert("#total".into(), "totalTasks".into());
            sets.push("#done = #total".into());
        }
        if let Some(Some((pk, sk))) = &self.index {
            names.insert("#ipk".into(), "gsi2pk".into());
            names.insert("#isk".into(), "gsi2sk".into());
            values.insert(":ipk".into(), s(pk));
            values.insert(":isk".into(), s(sk));
            sets.push("#ipk = :ipk, #isk = :isk".into());
        }
        if !self.events.is_empty() {
            names.insert("#ev".into(), "events".into());
            values.insert(":none".into(), AttributeValue::L(Vec::new()));
            values.insert(":ev".into(), events_attr(&self.events));
            sets.push(APPEND_EVENTS.into());
        }
        let mut expression = format!("SET {}", sets.join(", "));
        let mut removes = Vec::new();
        if self.expiry == Expiry::Never {
            removes.push("expiresAt");
        }
        if self.index == Some(None) {
            removes.extend(["gsi2pk", "gsi2sk"]);
        }
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        (expression, condition, names, values)
    }
}
