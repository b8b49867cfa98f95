//! How records look on the wire: catalog cards, request summaries and details, task views and
//! status. The JSON field names here are the API's.

use crate::catalog::Entry;
use crate::record::{RequestDetail, RequestRecord, TaskRecord};
use serde_json::{Map, Value, json};

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

pub(super) fn card(e: &Entry) -> Value {
    let m = e.document.metadata();
    json!({
        "id": m.id, "kind": e.document.kind(), "name": m.name, "version": m.version,
        "category": m.category, "description": m.description, "owner": e.owner_team(), "tags": m.tags,
        "links": {"self": format!("/api/v1/catalog/{}", m.id), "form": format!("/api/v1/catalog/{}/form", m.id)},
    })
}

fn progress(r: &RequestRecord) -> Value {
    json!({
        "completed": r.completed_tasks,
        "total": r.total_tasks,
        "text": format!("{} of {} completed", r.completed_tasks, r.total_tasks),
    })
}

pub(super) fn summary_json(r: &RequestRecord) -> Value {
    let mut v = json!({
        "requestId": r.request_id, "name": r.name, "state": r.state, "catalogVersion": r.catalog_version,
        "progress": progress(r), "createdAt": r.created_at, "updatedAt": r.updated_at, "submissionId": r.submission_id,
    });
    let (key, id) = (r.target.field(), r.target.id());
    v[key] = json!(id);
    if let Some(e) = &r.error {
        v["error"] = json!(e);
    }
    v
}

fn task_json(t: &TaskRecord) -> Value {
    let mut v = Map::new();
    let mut put = |k: &str, val: Value| {
        if !val.is_null() {
            v.insert(k.into(), val);
        }
    };
    put("seq", json!(t.seq));
    put("fulfillmentItemId", json!(t.item.id));
    put("name", json!(t.item.name));
    put("type", json!(t.item.action));
    put("catalogItemId", json!(t.catalog_item_id));
    put("component", json!(t.component));
    put("state", json!(t.state));
    put("attempt", json!(t.attempt));
    put("outputs", Value::Object(t.outputs.clone()));
    put(
        "externalRef",
        serde_json::to_value(&t.external_ref).unwrap_or(Value::Null),
    );
    put("error", json!(t.error));
    put("startedAt", json!(t.started_at));
    put("finishedAt", json!(t.finished_at));
    Value::Object(v)
}

pub(super) fn request_json(d: &RequestDetail) -> Value {
    let r = &d.request;
    let mut v = summary_json(r);
    v["user"] = json!({"arn": r.user.arn, "email": r.user.email});
    v["correlationId"] = json!(r.correlation_id);
    v["input"] = r.input.clone();
    v["tasks"] = d.tasks.iter().map(task_json).collect();
    v
}

pub(super) fn status_json(d: &RequestDetail) -> Value {
    let r = &d.request;
    let current = d
        .tasks
        .iter()
        .find(|t| {
            !matches!(
                t.state,
                crate::task::TaskState::Completed | crate::task::TaskState::Skipped
            )
        })
        .map(task_json);
    json!({"requestId": r.request_id, "state": r.state, "progress": progress(r), "currentTask": current, "error": r.error})
}
