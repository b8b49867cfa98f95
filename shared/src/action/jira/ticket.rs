//! A ticket as JIRA has it now (`GET /rest/api/2/issue/{key}`, the same on Cloud and Data
//! Center), and what its resolution means for the task that made it: done with a resolution
//! counted as success, done otherwise (Won't Do, Declined, Duplicate…), or not done yet.
//!
//! Shapes (Jira REST v2): `fields.status` is `{name, statusCategory: {key, name}}` with the
//! category key `new`, `indeterminate` or `done`; `fields.resolution` is `{name}` or null;
//! `fields.comment` is `{comments: [{body, author: {displayName}, created}], total}` with a
//! plain-text body (v3 would give Atlassian Document Format); `fields.assignee` is
//! `{displayName, accountId}` (Cloud) or `{displayName, name}` (Data Center) or null.

use super::{JiraClient, JiraInstance, call, endpoint};
use crate::action::{ActionError, ActionResult};
use crate::record::ExternalRef;
use serde_json::Value;
use std::time::Duration;

/// The resolutions that complete a task unless its item says otherwise.
pub const SUCCESS_RESOLUTIONS: &[&str] = &["Done", "Fixed", "Resolved"];

/// How much of a ticket's last comment an error quotes.
const COMMENT_QUOTED: usize = 300;

/// A ticket's state as JIRA answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub key: String,
    pub url: String,
    /// The status's name (`In Progress`).
    pub status: String,
    /// The status category's key: `new`, `indeterminate` or `done`.
    pub category: String,
    pub resolution: Option<String>,
    pub assignee: Option<String>,
    pub updated: Option<String>,
    /// The text of the newest comment.
    pub last_comment: Option<String>,
    /// JIRA's whole answer: what `outputs` pointers of a waiting item read (`/fields/…`).
    pub issue: Value,
}

impl Ticket {
    /// Reads JIRA's answer for `key` at `base_url`.
    pub fn of(base_url: &str, key: &str, issue: Value) -> Self {
        let text = |p: &str| issue.pointer(p).and_then(Value::as_str).map(str::to_string);
        let last_comment = issue
            .pointer("/fields/comment/comments")
            .and_then(Value::as_array)
            .and_then(|c| c.last())
            .and_then(|c| c.get("body"))
            .and_then(Value::as_str)
            .map(|b| b.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|b| !b.is_empty());
        Self {
            key: text("/key").unwrap_or_else(|| key.to_string()),
            url: super::browse_url(base_url, key),
            status: text("/fields/status/name").unwrap_or_default(),
            category: text("/fields/status/statusCategory/key").unwrap_or_default(),
            resolution: text("/fields/resolution/name"),
            assignee: text("/fields/assignee/displayName"),
            updated: text("/fields/updated"),
            last_comment,
            issue,
        }
    }
}

impl Ticket {
    /// The result a resolved ticket completes its task with: JIRA's whole answer (what the
    /// item's `outputs` pointers read, `/fields/customfield_10050`) and its `url`.
    pub fn into_result(self) -> ActionResult {
        let mut result = self.issue;
        if let Some(o) = result.as_object_mut() {
            o.insert("url".into(), Value::String(self.url.clone()));
            o.entry("key")
                .or_insert_with(|| Value::String(self.key.clone()));
        }
        ActionResult {
            result,
            external_ref: Some(ExternalRef {
                key: self.key,
                url: self.url,
            }),
            waiting: false,
        }
    }
}

/// What a ticket's state means for its task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Not done yet (or moved back out of done): the task goes on waiting.
    Open,
    /// Done with a success resolution: the task completes.
    Done,
    /// Done otherwise: the task fails with this error (the resolution and the last comment).
    Failed(String),
}

/// The mapping of a ticket's resolution to its task: status category `done` with a resolution
/// in `success` (case-insensitive; empty: [`SUCCESS_RESOLUTIONS`]) completes it, `done` with
/// any other resolution (or none) fails it, anything else leaves it waiting.
pub fn resolved(ticket: &Ticket, success: &[String]) -> Resolved {
    if ticket.category != "done" {
        return Resolved::Open;
    }
    let resolution = ticket.resolution.clone().unwrap_or_default();
    let counted = if success.is_empty() {
        SUCCESS_RESOLUTIONS
            .iter()
            .any(|s| s.eq_ignore_ascii_case(&resolution))
    } else {
        success.iter().any(|s| s.eq_ignore_ascii_case(&resolution))
    };
    if counted {
        return Resolved::Done;
    }
    let mut error = if resolution.is_empty() {
        format!(
            "{} was closed ({}) without a resolution",
            ticket.key, ticket.status
        )
    } else {
        format!("{} was resolved {resolution:?}", ticket.key)
    };
    if let Some(comment) = &ticket.last_comment {
        let mut quoted: String = comment.chars().take(COMMENT_QUOTED).collect();
        if comment.chars().count() > COMMENT_QUOTED {
            quoted.push('…');
        }
        error.push_str(&format!("; last comment: {quoted}"));
    }
    Resolved::Failed(error)
}

impl JiraClient {
    /// The ticket `key` as JIRA has it now (every field: `outputs` pointers may read custom
    /// ones). The key is encoded into the path: it is data, never structure.
    pub async fn ticket(
        &self,
        instance: &JiraInstance,
        key: &str,
        timeout: Duration,
    ) -> Result<Ticket, ActionError> {
        let path = format!(
            "2/issue/{}",
            crate::signing::uri_encode(key.as_bytes(), false)
        );
        let request = self.http.client().get(endpoint(instance, &path));
        let issue = call(request, instance, timeout, "JIRA").await?;
        Ok(Ticket::of(&instance.base_url, key, issue))
    }

    /// Adds a comment to ticket `key` (plain text, as REST v2 takes it).
    pub async fn comment(
        &self,
        instance: &JiraInstance,
        key: &str,
        text: &str,
        timeout: Duration,
    ) -> Result<(), ActionError> {
        let path = format!(
            "2/issue/{}/comment",
            crate::signing::uri_encode(key.as_bytes(), false)
        );
        let request = self
            .http
            .client()
            .post(endpoint(instance, &path))
            .json(&serde_json::json!({ "body": text }));
        call(request, instance, timeout, "JIRA comment").await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ticket(category: &str, resolution: Option<&str>, comments: &[&str]) -> Ticket {
        Ticket::of(
            "https://acme.atlassian.net/",
            "DBA-7",
            json!({"key": "DBA-7", "fields": {
                "status": {"name": "Closed", "statusCategory": {"key": category, "name": "Done"}},
                "resolution": resolution.map(|r| json!({"name": r})),
                "assignee": {"displayName": "Dana Lee", "accountId": "5b10"},
                "updated": "2026-12-06T10:00:00.000+0000",
                "comment": {"comments": comments.iter().map(|c| json!({"body": c})).collect::<Vec<_>>(),
                            "total": comments.len()}}}),
        )
    }

    #[test]
    fn a_resolved_ticket_is_the_result_outputs_read() {
        let r = ticket("done", Some("Done"), &[]).into_result();
        assert_eq!(r.result["url"], "https://acme.atlassian.net/browse/DBA-7");
        assert_eq!(
            r.result.pointer("/fields/assignee/displayName"),
            Some(&json!("Dana Lee"))
        );
        assert_eq!(r.external_ref.map(|e| e.key).as_deref(), Some("DBA-7"));
        assert!(!r.waiting);
    }

    #[test]
    fn a_ticket_reads_jiras_answer() {
        let t = ticket(
            "done",
            Some("Done"),
            &["first", "provisioned:\n  db.example.com"],
        );
        assert_eq!(t.url, "https://acme.atlassian.net/browse/DBA-7");
        assert_eq!(t.status, "Closed");
        assert_eq!(t.assignee.as_deref(), Some("Dana Lee"));
        assert_eq!(
            t.last_comment.as_deref(),
            Some("provisioned: db.example.com")
        );
    }

    #[test]
    fn done_with_a_success_resolution_completes() {
        assert_eq!(
            resolved(&ticket("done", Some("Done"), &[]), &[]),
            Resolved::Done
        );
        assert_eq!(
            resolved(&ticket("done", Some("fixed"), &[]), &[]),
            Resolved::Done
        );
        let own = ["Provisioned".to_string()];
        assert_eq!(
            resolved(&ticket("done", Some("Provisioned"), &[]), &own),
            Resolved::Done
        );
        assert!(matches!(
            resolved(&ticket("done", Some("Done"), &[]), &own),
            Resolved::Failed(_)
        ));
    }

    #[test]
    fn any_other_resolution_fails_with_it_and_the_last_comment() {
        assert_eq!(
            resolved(
                &ticket("done", Some("Won't Do"), &["no budget this quarter"]),
                &[]
            ),
            Resolved::Failed(
                "DBA-7 was resolved \"Won't Do\"; last comment: no budget this quarter".into()
            )
        );
        assert_eq!(
            resolved(&ticket("done", None, &[]), &[]),
            Resolved::Failed("DBA-7 was closed (Closed) without a resolution".into())
        );
    }

    #[test]
    fn a_ticket_not_done_is_open_whatever_its_resolution() {
        assert_eq!(
            resolved(&ticket("indeterminate", Some("Done"), &[]), &[]),
            Resolved::Open
        );
        assert_eq!(resolved(&ticket("new", None, &[]), &[]), Resolved::Open);
    }
}
