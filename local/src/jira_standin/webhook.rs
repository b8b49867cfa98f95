//! What the JIRA stand-in tells PAO: a `jira:issue_updated` webhook when a person changes a
//! ticket's status, shaped and signed as Jira Cloud's admin webhooks are (`X-Hub-Signature:
//! sha256=<hex>`, `X-Atlassian-Webhook-Identifier`), or unsigned as Data Center sends them.

use super::State;
use super::issue::{Issue, now_jira};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// A webhook the stand-in sent: what a test needs to send it again (a redelivery).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub url: String,
    /// The headers JIRA sends: `X-Atlassian-Webhook-Identifier`, `X-Hub-Signature` (Cloud).
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The status PAO answered (None: no answer).
    pub answered: Option<u16>,
}

/// [`JiraStandIn::resolve`] on the shared state.
pub(super) fn resolve_in(
    state: &Arc<Mutex<State>>,
    base: &str,
    key: &str,
    resolution: &str,
    fields: Value,
    comment: Option<&str>,
) -> bool {
    let Ok(mut s) = state.lock() else {
        return false;
    };
    let Some(issue) = s.issues.iter_mut().find(|i| i.key == key) else {
        return false;
    };
    let before = issue.status.0.clone();
    issue.status = ("Done".into(), "done".into());
    issue.resolution = Some(resolution.to_string());
    if let (Some(f), Some(set)) = (issue.fields.as_object_mut(), fields.as_object()) {
        f.extend(set.clone());
    }
    issue.comments.extend(comment.map(str::to_string));
    issue.updated = now_jira();
    let issue = issue.clone();
    drop(s);
    deliver(state, base, &issue, &before);
    true
}

/// Sends the `jira:issue_updated` webhook of a status change of `issue` (from `before`), when
/// one is wanted: in the background, as JIRA does, recorded in the deliveries.
pub(super) fn deliver(state: &Arc<Mutex<State>>, base: &str, issue: &Issue, before: &str) {
    let Some((url, secret)) = state.lock().ok().and_then(|s| s.notify.clone()) else {
        return;
    };
    let mut changes = vec![
        json!({"field": "status", "fieldtype": "jira", "fieldId": "status",
        "fromString": before, "toString": issue.status.0}),
    ];
    if let Some(r) = &issue.resolution {
        changes.push(
            json!({"field": "resolution", "fieldtype": "jira", "fieldId": "resolution",
            "from": null, "fromString": null, "to": "10000", "toString": r}),
        );
    }
    let body = json!({
        "timestamp": pao::clock::now_epoch() * 1000,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Stand-in Engineer"},
        "issue": issue.answer(base),
        "changelog": {"id": uuid::Uuid::new_v4().as_u128().to_string(), "items": changes},
    })
    .to_string();
    let mut headers = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        (
            "X-Atlassian-Webhook-Identifier".to_string(),
            uuid::Uuid::new_v4().to_string(),
        ),
        (
            "X-Atlassian-Webhook-Flow".to_string(),
            "Primary".to_string(),
        ),
    ];
    if let Some(secret) = secret {
        headers.push((
            "X-Hub-Signature".to_string(),
            pao::webhook::sign(secret.as_bytes(), body.as_bytes()),
        ));
    }
    let n = {
        let Ok(mut s) = state.lock() else {
            return;
        };
        s.deliveries.push(Delivery {
            url: url.clone(),
            headers: headers.clone(),
            body: body.clone(),
            answered: None,
        });
        s.deliveries.len() - 1
    };
    let state = state.clone();
    tokio::spawn(async move {
        let mut request = reqwest::Client::new().post(&url).body(body);
        for (k, v) in &headers {
            request = request.header(k, v);
        }
        let answered = request.send().await.ok().map(|r| r.status().as_u16());
        if let Ok(mut s) = state.lock() {
            if let Some(d) = s.deliveries.get_mut(n) {
                d.answered = answered;
            }
        }
    });
}
