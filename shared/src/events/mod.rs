//! What happened, as the world is told: every committed change of a request's state, a task's
//! state, an approval and the catalog in force becomes an [`Event`] under `source: pao`, read
//! off the table's DynamoDB Stream ([`stream`]) so only committed changes are told and a
//! crashed handler loses none, and published to EventBridge once per change ([`publish`]).
//!
//! Events are derived from the item before and after a change (the stream's
//! `NEW_AND_OLD_IMAGES`), never from what a handler meant to write. Each has an id made of the
//! stream record's id (stable across redeliveries) so consumers can deduplicate, and a
//! `sequence` (the stream's sequence number, padded) that orders the events of one request.
//! The detail's fields are `schemas/events/v1.schema.json`; nothing in it is a secret: inputs,
//! outputs and configs are left out, and an error is the redacted one the API shows.

pub mod publish;
pub mod stream;

use serde_json::{Map, Value, json};

/// The detail schema's version (`detail.schemaVersion`): a change that removes or renames a
/// field makes it "2"; added fields keep it.
pub const SCHEMA_VERSION: &str = "1";
/// Every event's `source`.
pub const SOURCE: &str = "pao";

/// The kinds of event (EventBridge's `detail-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetailType {
    RequestStateChanged,
    TaskStateChanged,
    /// A task waiting on a ticket passed its `maxWait` (it goes on waiting).
    TaskOverdue,
    /// A stage waits for its approvers: requested, escalated to another group, or reminded.
    ApprovalRequested,
    /// An approver approved or rejected, or a stage timed out.
    ApprovalDecided,
    CatalogChanged,
}

impl DetailType {
    pub const ALL: [Self; 6] = [
        Self::RequestStateChanged,
        Self::TaskStateChanged,
        Self::TaskOverdue,
        Self::ApprovalRequested,
        Self::ApprovalDecided,
        Self::CatalogChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequestStateChanged => "Request State Changed",
            Self::TaskStateChanged => "Task State Changed",
            Self::TaskOverdue => "Task Overdue",
            Self::ApprovalRequested => "Approval Requested",
            Self::ApprovalDecided => "Approval Decided",
            Self::CatalogChanged => "Catalog Changed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One event, as published.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique per change, the same on every redelivery of its stream record.
    pub id: String,
    pub detail_type: DetailType,
    /// The request it is about (none: the catalog).
    pub request_id: Option<String>,
    /// When the change was committed (RFC 3339).
    pub time: String,
    /// `detail`: the versioned schema's object (it repeats `eventId`, `sequence`, `requestId`).
    pub detail: Value,
}

/// One committed change of one item: the stream record's id, its sequence number, when it was
/// committed, and the item before and after (plain JSON, as [`stream::image`] reads it).
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    pub record_id: &'a str,
    pub sequence: &'a str,
    pub at: &'a str,
    pub old: Option<&'a Value>,
    pub new: Option<&'a Value>,
}

/// The events one change makes, in the order they happened (none for items nobody is told
/// about: idempotency claims, catalog documents, deliveries, marks, connections).
pub fn events_of(change: &Change) -> Vec<Event> {
    let Some(item) = change.new.or(change.old) else {
        return Vec::new();
    };
    let key = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default();
    let (pk, sk) = (key("pk"), key("sk"));
    let Some(new) = change.new else {
        // Removed (TTL, or a request's pointer dropped): nothing happened to anyone.
        return Vec::new();
    };
    let found = if pk.starts_with("REQ#") && sk == "#REQUEST" {
        request_events(change.old, new)
    } else if pk.starts_with("REQ#") && sk.starts_with("TASK#") {
        task_events(change.old, new)
    } else if pk == "CATALOG" && sk == "CURRENT" {
        catalog_events(change.old, new)
    } else {
        Vec::new()
    };
    let request_id = pk.strip_prefix("REQ#").map(str::to_string);
    found
        .into_iter()
        .enumerate()
        .map(|(k, (detail_type, fields))| {
            let id = format!("{}-{k}", change.record_id);
            let sequence = format!("{:0>40}.{k:02}", change.sequence);
            let mut detail = Map::new();
            detail.insert("schemaVersion".into(), json!(SCHEMA_VERSION));
            detail.insert("eventId".into(), json!(id));
            detail.insert("sequence".into(), json!(sequence));
            if let Some(r) = &request_id {
                detail.insert("requestId".into(), json!(r));
            }
            detail.extend(fields);
            Event {
                id,
                detail_type,
                request_id: request_id.clone(),
                time: change.at.to_string(),
                detail: Value::Object(detail),
            }
        })
        .collect()
}

type Found = Vec<(DetailType, Map<String, Value>)>;

fn text<'a>(v: Option<&'a Value>, k: &str) -> Option<&'a str> {
    v.and_then(|v| v.get(k)).and_then(Value::as_str)
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The request as every request event describes it.
fn request_of(r: &Value) -> Value {
    let id = text(Some(r), "requestId").unwrap_or_default();
    let mut v = json!({
        "name": r.get("name"),
        "requester": r.pointer("/user/arn"),
        "state": r.get("state"),
        "completedTasks": r.get("completedTasks"),
        "totalTasks": r.get("totalTasks"),
        "createdAt": r.get("createdAt"),
        "correlationId": r.get("correlationId"),
        "links": {
            "api": format!("/api/v1/requests/{id}"),
            "devctl": format!("devctl status {id}"),
        },
    });
    for k in ["catalogItemId", "bundleId", "team", "error"] {
        if let Some(x) = r.get(k).filter(|x| !x.is_null()) {
            v[k] = x.clone();
        }
    }
    v
}

/// Audit events appended by this change (each item's list only grows).
fn appended<'a>(old: Option<&Value>, new: &'a Value) -> &'a [Value] {
    let before = old
        .and_then(|o| o.get("events"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    new.get("events")
        .and_then(Value::as_array)
        .map_or(&[], |e| e.get(before..).unwrap_or(&[]))
}

fn request_events(old: Option<&Value>, new: &Value) -> Found {
    let mut found = Found::new();
    let (was, is) = (text(old, "state"), text(Some(new), "state"));
    if was != is {
        let mut d = obj(json!({"previousState": was, "state": is}));
        d.insert("request".into(), request_of(new));
        found.push((DetailType::RequestStateChanged, d));
    }
    found.extend(approval_events(old, new));
    found
}

fn approval_events(old: Option<&Value>, new: &Value) -> Found {
    let mut found = Found::new();
    let Some(approval) = new.get("approval").filter(|a| a.is_object()) else {
        return found;
    };
    let before = old.and_then(|o| o.get("approval"));
    let num = |a: Option<&Value>, k: &str| a.and_then(|a| a.get(k)).and_then(Value::as_u64);
    let flag = |a: Option<&Value>, k: &str| {
        a.and_then(|a| a.get(k))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    let stages = approval.get("stages").and_then(Value::as_array);
    let stage_at = |i: u64| {
        stages
            .and_then(|s| s.get(usize::try_from(i).ok()?))
            .cloned()
    };
    let stage_named = |id: &str| {
        stages
            .into_iter()
            .flatten()
            .find(|s| s.get("id").and_then(Value::as_str) == Some(id))
            .cloned()
    };
    // Decisions people made, in the order they made them.
    let made = before
        .and_then(|b| b.get("decisions"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    for d in approval
        .get("decisions")
        .and_then(Value::as_array)
        .map_or(&[][..], |d| d.get(made..).unwrap_or(&[]))
    {
        let stage = text(Some(d), "stage").unwrap_or_default();
        let approve = d.get("approve").and_then(Value::as_bool).unwrap_or(false);
        let mut fields = obj(json!({
            "stage": stage_named(stage).map(|s| stage_view(&s)).unwrap_or(json!({"id": stage})),
            "decision": if approve { "approved" } else { "rejected" },
            "by": d.get("arn"),
            "at": d.get("at"),
            "requestState": new.get("state"),
        }));
        if let Some(c) = d.get("comment").filter(|c| c.is_string()) {
            fields.insert("comment".into(), c.clone());
        }
        fields.insert("request".into(), request_of(new));
        found.push((DetailType::ApprovalDecided, fields));
    }
    // A stage timing out is a decision nobody made.
    for e in appended(old, new) {
        if text(Some(e), "kind") == Some("approval-timed-out") {
            let current = num(Some(approval), "current").unwrap_or(0);
            let mut fields = obj(json!({
                "stage": stage_at(current).map(|s| stage_view(&s)),
                "decision": "timed-out",
                "at": e.get("at"),
                "message": e.get("message"),
                "requestState": new.get("state"),
            }));
            fields.insert("request".into(), request_of(new));
            found.push((DetailType::ApprovalDecided, fields));
        }
    }
    // Who must decide now.
    let waiting = text(Some(new), "state") == Some("awaiting_approval");
    let current = num(Some(approval), "current");
    let reason = if !waiting {
        None
    } else if before.is_none() || num(before, "current") != current {
        Some("requested")
    } else if flag(Some(approval), "escalated") && !flag(before, "escalated") {
        Some("escalated")
    } else if flag(Some(approval), "reminded") && !flag(before, "reminded") {
        Some("reminder")
    } else {
        None
    };
    if let (Some(reason), Some(stage)) = (reason, current.and_then(stage_at)) {
        let escalated = flag(Some(approval), "escalated");
        let deciders = if escalated {
            stage.get("escalateTo").cloned()
        } else {
            stage.get("approvers").cloned()
        };
        let since = num(Some(approval), "since").unwrap_or(0);
        let mut fields = obj(json!({
            "reason": reason,
            "stage": stage_view(&stage),
            "deciders": deciders,
            "since": crate::clock::rfc3339(since),
        }));
        if let Some(t) = stage.get("timeoutSeconds").and_then(Value::as_u64) {
            fields.insert("timeoutAt".into(), json!(crate::clock::rfc3339(since + t)));
        }
        fields.insert("request".into(), request_of(new));
        fields.insert(
            "links".into(),
            json!({
                "api": format!("/api/v1/approvals/{}", text(Some(new), "requestId").unwrap_or_default()),
                "devctl": format!("devctl approval {}", text(Some(new), "requestId").unwrap_or_default()),
            }),
        );
        found.push((DetailType::ApprovalRequested, fields));
    }
    found
}

/// A stage as events show it: who may decide and how many must.
fn stage_view(stage: &Value) -> Value {
    let mut v = json!({"id": stage.get("id"), "approvers": stage.get("approvers"), "require": stage.get("require")});
    if let Some(t) = stage.get("timeoutSeconds").filter(|t| t.is_number()) {
        v["timeoutSeconds"] = t.clone();
    }
    v
}

fn task_of(t: &Value) -> Value {
    let mut v = json!({
        "seq": t.get("seq"),
        "catalogItemId": t.get("catalogItemId"),
        "fulfillmentItemId": t.pointer("/item/id"),
        "type": t.pointer("/item/type"),
        "state": t.get("state"),
        "attempt": t.get("attempt"),
    });
    for (k, from) in [
        ("name", "/item/name"),
        ("component", "/component"),
        ("error", "/error"),
        ("externalRef", "/externalRef"),
        ("startedAt", "/startedAt"),
        ("finishedAt", "/finishedAt"),
        ("overdueSince", "/overdueSince"),
    ] {
        if let Some(x) = t.pointer(from).filter(|x| !x.is_null()) {
            v[k] = x.clone();
        }
    }
    v
}

fn task_events(old: Option<&Value>, new: &Value) -> Found {
    let mut found = Found::new();
    let (was, is) = (text(old, "state"), text(Some(new), "state"));
    let attempt = |v: Option<&Value>| v.and_then(|v| v.get("attempt")).and_then(Value::as_u64);
    // A retry makes a new attempt even where the state reads the same.
    if was != is || attempt(old) != attempt(Some(new)) {
        let mut d = obj(json!({"previousState": was, "state": is}));
        d.insert("task".into(), task_of(new));
        found.push((DetailType::TaskStateChanged, d));
    }
    if text(old, "overdueSince").is_none() && text(Some(new), "overdueSince").is_some() {
        let mut d = obj(json!({"overdueSince": new.get("overdueSince")}));
        d.insert("task".into(), task_of(new));
        found.push((DetailType::TaskOverdue, d));
    }
    found
}

fn catalog_events(old: Option<&Value>, new: &Value) -> Found {
    let was = text(old, "version");
    let is = text(Some(new), "version");
    if was == is {
        return Found::new();
    }
    let rejected = new
        .get("rejections")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    vec![(
        DetailType::CatalogChanged,
        obj(json!({
            "version": is,
            "previousVersion": was,
            "commit": new.get("commit"),
            "syncedAt": new.get("syncedAt"),
            "documents": new.get("count"),
            "rejected": rejected,
        })),
    )]
}

#[cfg(test)]
mod tests;
