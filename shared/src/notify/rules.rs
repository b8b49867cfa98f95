//! Which events need a person, and the words they are told in: the request, what happened,
//! what to do and how (the `devctl` command and the API path). Built from the event's detail
//! only, so nothing the event does not carry (no input, no secret) can reach a message.

use crate::events::{DetailType, Event};
use serde_json::Value;

/// Who a notice is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Requester,
    Approvers,
    Support,
}

/// A message: a subject line (email) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub audience: Audience,
    pub subject: String,
    pub text: String,
}

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `orders (database-aurora) req-…`: how a request is named in every message.
fn request_line(d: &Value) -> String {
    let item = [s(d, "/request/catalogItemId"), s(d, "/request/bundleId")]
        .into_iter()
        .find(|x| !x.is_empty())
        .unwrap_or("?");
    format!("{} ({item}) {}", s(d, "/request/name"), s(d, "/requestId"))
}

/// The notice `event` calls for, if any.
pub fn notice_of(event: &Event) -> Option<Notice> {
    let d = &event.detail;
    let id = s(d, "/requestId");
    match event.detail_type {
        DetailType::RequestStateChanged => {
            let what = request_line(d);
            let (subject, text) = match s(d, "/state") {
                "completed" => (
                    format!("Completed: {what}"),
                    format!(
                        "Your request {what} completed: every task ran.\nSee it: devctl status {id}  (GET /api/v1/requests/{id})"
                    ),
                ),
                "failed" => (
                    format!("Failed, your decision needed: {what}"),
                    format!(
                        "Your request {what} failed: {}\nNothing more runs until you decide:\n  retry the failed task:   devctl retry {id}     (POST /api/v1/requests/{id}/retry)\n  abort the request:       devctl abort {id}     (POST /api/v1/requests/{id}/abort)\n  escalate it to people:   devctl escalate {id}  (POST /api/v1/requests/{id}/escalate)\nSee what happened: devctl logs {id}",
                        non_empty(s(d, "/request/error"), "a task failed")
                    ),
                ),
                "rejected" => (
                    format!("Rejected: {what}"),
                    format!(
                        "Your request {what} was rejected and nothing ran: {}\nSee why: devctl status {id}  (GET /api/v1/requests/{id}). Submit it again to start over.",
                        non_empty(s(d, "/request/error"), "an approval stage said no")
                    ),
                ),
                _ => return None,
            };
            Some(Notice {
                audience: Audience::Requester,
                subject,
                text,
            })
        }
        DetailType::ApprovalRequested => {
            let what = request_line(d);
            let stage = s(d, "/stage/id");
            let by = s(d, "/request/requester");
            let lead = match s(d, "/reason") {
                "escalated" => format!("Escalated to you: stage {stage:?} of {what} timed out"),
                "reminder" => format!("Reminder: stage {stage:?} of {what} still waits"),
                _ => format!("Approval needed: stage {stage:?} of {what}"),
            };
            let timeout = match s(d, "/timeoutAt") {
                "" => String::new(),
                at => format!(" It times out at {at}."),
            };
            Some(Notice {
                audience: Audience::Approvers,
                subject: lead.clone(),
                text: format!(
                    "{lead}, requested by {by}.{timeout}\nSee it: devctl approval {id}  (GET /api/v1/approvals/{id})\nDecide: devctl approve {id} [--comment …]  or  devctl reject {id} --comment …  (POST /api/v1/approvals/{id}/approve | /reject)"
                ),
            })
        }
        DetailType::TaskStateChanged if s(d, "/state") == "stuck" => {
            let seq = d.pointer("/task/seq").and_then(Value::as_u64).unwrap_or(0);
            let subject = format!("Stuck task {seq} ({}) of request {id}", s(d, "/task/type"));
            Some(Notice {
                audience: Audience::Support,
                text: format!(
                    "{subject}: {}\nThe request has failed; its owner or support decides:\n  devctl retry {id} | devctl abort {id} | devctl escalate {id}  (POST /api/v1/requests/{id}/retry | /abort | /escalate)\nSee it: devctl logs {id}",
                    non_empty(s(d, "/task/error"), "it ran too long without finishing")
                ),
                subject,
            })
        }
        DetailType::TaskOverdue => {
            let seq = d.pointer("/task/seq").and_then(Value::as_u64).unwrap_or(0);
            let ticket = non_empty(s(d, "/task/externalRef/url"), "its ticket");
            let subject = format!("Overdue ticket for task {seq} of request {id}");
            Some(Notice {
                audience: Audience::Support,
                text: format!(
                    "{subject}: {ticket} is not resolved since {} (past its maxWait). The task goes on waiting.\nSee it: devctl status {id}  (GET /api/v1/requests/{id})",
                    s(d, "/overdueSince")
                ),
                subject,
            })
        }
        _ => None,
    }
}

fn non_empty<'a>(s: &'a str, otherwise: &'a str) -> &'a str {
    if s.trim().is_empty() { otherwise } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(detail_type: DetailType, detail: Value) -> Event {
        Event {
            id: "e-0".into(),
            detail_type,
            request_id: Some("req-1".into()),
            time: "2026-12-07T10:00:00Z".into(),
            detail,
        }
    }

    fn request(state: &str, error: Option<&str>) -> Value {
        json!({"requestId": "req-1", "state": state, "request": {"name": "orders",
               "catalogItemId": "aurora", "requester": "arn:aws:iam::1:user/dev", "error": error}})
    }

    #[test]
    fn a_failure_names_what_failed_and_the_three_decisions_with_commands_and_paths() {
        let n = notice_of(&event(
            DetailType::RequestStateChanged,
            request(
                "failed",
                Some("task 2 (jira-ticket) failed: 400 project OPS not found"),
            ),
        ))
        .expect("a notice");
        assert_eq!(n.audience, Audience::Requester);
        assert!(n.subject.contains("orders (aurora) req-1"), "{}", n.subject);
        assert!(n.text.contains("project OPS not found"), "{}", n.text);
        for (cmd, path) in [
            ("devctl retry req-1", "/api/v1/requests/req-1/retry"),
            ("devctl abort req-1", "/api/v1/requests/req-1/abort"),
            ("devctl escalate req-1", "/api/v1/requests/req-1/escalate"),
        ] {
            assert!(n.text.contains(cmd) && n.text.contains(path), "{}", n.text);
        }
    }

    #[test]
    fn completion_and_rejection_tell_the_requester_and_other_states_nobody() {
        let done = notice_of(&event(
            DetailType::RequestStateChanged,
            request("completed", None),
        ))
        .expect("a notice");
        assert!(done.text.contains("devctl status req-1"));
        let no = notice_of(&event(
            DetailType::RequestStateChanged,
            request("rejected", Some("stage \"dba\" timed out")),
        ))
        .expect("a notice");
        assert!(no.text.contains("timed out"));
        for quiet in ["submitted", "awaiting_approval", "retrying", "aborted"] {
            assert_eq!(
                notice_of(&event(
                    DetailType::RequestStateChanged,
                    request(quiet, None)
                )),
                None,
                "{quiet}"
            );
        }
    }

    #[test]
    fn approvers_are_asked_reminded_and_escalated_to_with_how_to_decide() {
        for (reason, words) in [
            ("requested", "Approval needed"),
            ("reminder", "Reminder"),
            ("escalated", "Escalated to you"),
        ] {
            let mut d = request("awaiting_approval", None);
            d["reason"] = json!(reason);
            d["stage"] = json!({"id": "dba"});
            d["timeoutAt"] = json!("2026-12-09T10:00:00Z");
            let n = notice_of(&event(DetailType::ApprovalRequested, d)).expect("a notice");
            assert_eq!(n.audience, Audience::Approvers);
            assert!(n.subject.starts_with(words), "{}", n.subject);
            assert!(n.text.contains("devctl approve req-1"), "{}", n.text);
            assert!(n.text.contains("/api/v1/approvals/req-1/approve"));
            assert!(n.text.contains("2026-12-09T10:00:00Z"));
        }
    }

    #[test]
    fn support_hears_of_stuck_tasks_and_overdue_tickets_only() {
        let task = |state: &str| {
            json!({"requestId": "req-1", "state": state, "overdueSince": "2026-12-08T00:00:00Z",
                   "task": {"seq": 1, "type": "jira-ticket", "externalRef": {"url": "https://jira/browse/OPS-1"}}})
        };
        let stuck = notice_of(&event(DetailType::TaskStateChanged, task("stuck"))).expect("stuck");
        assert_eq!(stuck.audience, Audience::Support);
        let overdue =
            notice_of(&event(DetailType::TaskOverdue, task("processing"))).expect("overdue");
        assert!(overdue.text.contains("https://jira/browse/OPS-1"));
        assert_eq!(
            notice_of(&event(DetailType::TaskStateChanged, task("completed"))),
            None
        );
        assert_eq!(
            notice_of(&event(DetailType::CatalogChanged, json!({}))),
            None
        );
    }
}
