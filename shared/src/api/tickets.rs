//! JIRA tickets as JIRA has them now, for `GET /requests/{id}` and `/status`: each ticket a
//! `jira-ticket` task made, and each escalation ticket, with its status, resolution, assignee
//! and last update. Asked with a short timeout, at most [`MAX_LIVE`] per answer, kept a few
//! seconds; a JIRA that does not answer in time leaves `"live": false` and the stored
//! reference, never an error or a slow answer.

use super::App;
use crate::action::jira::JiraInstances;
use crate::catalog::ActionType;
use crate::record::{ExternalRef, TaskRecord};
use crate::task::TaskState;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long JIRA may take to say how a ticket is.
pub const LIVE_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long an answer is reused.
pub const LIVE_FOR: Duration = Duration::from_secs(5);
/// Tickets asked about per answer (a bundle can hold many; the rest show stored data only).
pub const MAX_LIVE: usize = 10;

/// Answers kept for [`LIVE_FOR`], by ticket URL.
#[derive(Debug, Default)]
pub struct LiveTickets {
    kept: tokio::sync::Mutex<HashMap<String, (Instant, Value)>>,
}

/// The JIRA ticket a task has: the one it made, or the escalation ticket it was handed to.
pub fn ticket_of(t: &TaskRecord) -> Option<&ExternalRef> {
    let jira = t.item.action == ActionType::JiraTicket || t.state == TaskState::Escalated;
    t.external_ref.as_ref().filter(|_| jira)
}

/// For each of `refs` (at most [`MAX_LIVE`] asked), what JIRA says of it now, by URL.
pub async fn live(app: &App, refs: &[&ExternalRef]) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    let mut ask = Vec::new();
    {
        let kept = app.tickets.kept.lock().await;
        for r in refs.iter().take(MAX_LIVE) {
            match kept.get(&r.url) {
                Some((at, v)) if at.elapsed() < LIVE_FOR => {
                    out.insert(r.url.clone(), v.clone());
                }
                _ => ask.push(*r),
            }
        }
    }
    if ask.is_empty() {
        return out;
    }
    let instances = match app.secrets.get(&app.escalation.jira_secret_id).await {
        Ok(secret) => JiraInstances::parse(&secret).ok(),
        Err(_) => None,
    };
    let asked = futures_util::future::join_all(ask.iter().map(|r| {
        let instance = instances.as_ref().and_then(|i| i.by_url(&r.url));
        async move {
            let Some(instance) = instance else {
                return (r.url.clone(), json!({"live": false}));
            };
            let answer = tokio::time::timeout(
                LIVE_TIMEOUT,
                app.jira.ticket(instance, &r.key, LIVE_TIMEOUT),
            )
            .await;
            let value = match answer {
                Ok(Ok(t)) => json!({"live": true, "status": t.status, "category": t.category,
                                    "resolution": t.resolution, "assignee": t.assignee,
                                    "updated": t.updated}),
                _ => json!({"live": false}),
            };
            (r.url.clone(), value)
        }
    }))
    .await;
    let mut kept = app.tickets.kept.lock().await;
    // Only what JIRA answered is kept: a JIRA that failed is asked again next time.
    kept.retain(|_, (at, _)| at.elapsed() < LIVE_FOR);
    for (url, value) in asked {
        if value["live"] == json!(true) {
            kept.insert(url.clone(), (Instant::now(), value.clone()));
        }
        out.insert(url, value);
    }
    out
}

/// After an abort: a comment on each ticket a task was waiting on (at most [`MAX_LIVE`], each
/// within [`LIVE_TIMEOUT`]), so the person working it stops. Returns the keys told; a JIRA
/// that fails is logged and skipped.
pub async fn tell_aborted(app: &App, d: &crate::record::RequestDetail, by: &str) -> Vec<String> {
    let waiting: Vec<&ExternalRef> = d
        .tasks
        .iter()
        .filter(|t| t.item.action == ActionType::JiraTicket && t.waits_outside())
        .filter_map(|t| t.external_ref.as_ref())
        .take(MAX_LIVE)
        .collect();
    if waiting.is_empty() {
        return Vec::new();
    }
    let Some(instances) = app
        .secrets
        .get(&app.escalation.jira_secret_id)
        .await
        .ok()
        .and_then(|s| JiraInstances::parse(&s).ok())
    else {
        tracing::warn!(request_id = %d.request.request_id, "could not tell JIRA of the abort: no JIRA secret");
        return Vec::new();
    };
    let text = format!(
        "PAO request {} was aborted by {by}: this ticket is no longer needed, and nothing PAO would have done after it will run. Close it (Won't Do) unless it is wanted for another reason.",
        d.request.request_id
    );
    let told = futures_util::future::join_all(waiting.iter().map(|r| {
        let instance = instances.by_url(&r.url);
        let text = &text;
        async move {
            let instance = instance?;
            let said = tokio::time::timeout(
                LIVE_TIMEOUT,
                app.jira.comment(instance, &r.key, text, LIVE_TIMEOUT),
            )
            .await;
            match said {
                Ok(Ok(())) => Some(r.key.clone()),
                _ => {
                    tracing::warn!(ticket = %r.key, "could not tell JIRA of the abort");
                    None
                }
            }
        }
    }))
    .await;
    told.into_iter().flatten().collect()
}

/// `data` (a task view) with its ticket as JIRA has it now, when it has one.
pub fn attach(data: &mut Value, r: &ExternalRef, live: &HashMap<String, Value>) {
    let mut ticket = json!({"key": r.key, "url": r.url});
    match live.get(&r.url) {
        Some(Value::Object(now)) => {
            for (k, v) in now {
                ticket[k] = v.clone();
            }
        }
        _ => ticket["live"] = json!(false),
    }
    data["ticket"] = ticket;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tickets_instance_is_found_by_its_url() {
        let instances = JiraInstances::parse(
            r#"{"instances": {"default": {"baseUrl": "https://acme.atlassian.net/", "email": "a@b.c", "apiToken": "t"},
                              "dc": {"baseUrl": "https://jira.acme.com", "apiToken": "t", "deployment": "datacenter"}}}"#,
        )
        .expect("secret");
        let on = |url: &str| instances.by_url(url).map(|i| i.base_url.clone());
        assert_eq!(
            on("https://jira.acme.com/browse/OPS-1").as_deref(),
            Some("https://jira.acme.com")
        );
        assert_eq!(
            on("https://acme.atlassian.net/browse/DBA-2").as_deref(),
            Some("https://acme.atlassian.net/")
        );
        assert_eq!(on("https://jira.acme.com.evil.example/browse/X-1"), None);
        assert_eq!(on("https://github.com/acme/infra/actions/runs/1"), None);
    }

    #[test]
    fn a_ticket_without_a_live_answer_says_so() {
        let r = ExternalRef {
            key: "DBA-1".into(),
            url: "https://acme.atlassian.net/browse/DBA-1".into(),
        };
        let mut data = json!({});
        attach(&mut data, &r, &HashMap::new());
        assert_eq!(
            data["ticket"],
            json!({"key": "DBA-1", "url": "https://acme.atlassian.net/browse/DBA-1", "live": false})
        );
    }
}
