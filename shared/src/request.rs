//! A request's lifecycle ([`RequestState`] and its allowed changes) and the submission it
//! starts from (`POST /api/v1/requests`): an array of items, each naming exactly one catalog
//! item or bundle, with the user's input. Shape checks come from
//! `schemas/request-submission.schema.json`; planning into tasks is [`crate::plan`], and
//! building and writing the records is [`crate::submission`].

use crate::catalog::Target;
use crate::problem::Problem;
use crate::schema::{self, SchemaKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Written with its tasks, waiting for the approvals its item or bundle asks for: nothing
    /// is queued or sent to any target before the last stage approves.
    AwaitingApproval,
    /// Written with its tasks; its first task not yet running.
    Submitted,
    Processing,
    Completed,
    /// A task failed; waits for a human to retry, abort or escalate.
    Failed,
    /// A human asked for the failed task to run again.
    Retrying,
    Aborted,
    /// A person asked for escalation and one call is making the tickets: nothing else may
    /// decide on the request until it is `escalated` (or the call stops and another resumes).
    Escalating,
    /// The failed and remaining tasks became linked JIRA tickets.
    Escalated,
    /// An approver said no (or a stage timed out to rejection): nothing ran.
    Rejected,
}

impl RequestState {
    pub const ALL: [RequestState; 10] = [
        Self::AwaitingApproval,
        Self::Submitted,
        Self::Processing,
        Self::Completed,
        Self::Failed,
        Self::Retrying,
        Self::Aborted,
        Self::Escalating,
        Self::Escalated,
        Self::Rejected,
    ];

    /// The one place that says which request state changes are allowed.
    pub fn can_become(self, next: RequestState) -> bool {
        use RequestState::*;
        matches!(
            (self, next),
            (Submitted, Processing)
                | (Processing, Completed)
                // `processing` is shown while a task runs, not stored: a request's stored
                // state goes from `submitted` (or `retrying`) to how it ends.
                | (Submitted | Retrying, Completed)
                | (Processing, Failed)
                // The sweeper: the first task (or a retried one) got stuck before it ran.
                | (Submitted | Retrying, Failed)
                | (Failed, Retrying)
                | (Retrying, Processing)
                // An operator redrives the dead letter of the task it failed for.
                | (Failed, Processing)
                // A person stops a request at any point before it ends.
                | (Submitted | Processing | Retrying | Failed, Aborted)
                // Escalation claims the request first, so a retry or abort cannot interleave.
                | (Failed, Escalating)
                | (Escalating, Escalated)
                // Approvals: the last approval releases it; a rejection or the requester's
                // abort ends it before anything ran.
                | (AwaitingApproval, Submitted | Rejected | Aborted)
        )
    }

    /// Whether its tasks may run: `submitted` or `retrying` as stored (a request is shown
    /// `processing` while a task runs, see `RequestDetail::shown`), or `processing` once an
    /// operator redrove it.
    pub fn is_running(self) -> bool {
        matches!(self, Self::Submitted | Self::Processing | Self::Retrying)
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Aborted | Self::Escalated | Self::Rejected
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Retrying => "retrying",
            Self::Aborted => "aborted",
            Self::Escalating => "escalating",
            Self::Escalated => "escalated",
            Self::AwaitingApproval => "awaiting_approval",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for RequestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The only catalog schema version this build understands.
pub const SCHEMA_VERSION: &str = "catalog/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub items: Vec<SubmissionItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionItem {
    pub schema_version: String,
    #[serde(flatten)]
    pub target: Target,
    pub input: Value,
}

impl Submission {
    /// Checks a submission body against its schema and builds the typed model; on failure
    /// every problem is returned with its dotted field path (`items[0].input.name`).
    pub fn parse(body: &Value) -> Result<Self, Vec<Problem>> {
        let problems = schema::validate(SchemaKind::RequestSubmission, body);
        if !problems.is_empty() {
            return Err(problems);
        }
        serde_json::from_value(body.clone()).map_err(|e| vec![Problem::at("items", e.to_string())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_states_follow_the_design() {
        use RequestState::*;
        for (from, to) in [
            (Submitted, Processing),
            (Processing, Completed),
            (Processing, Failed),
            (Failed, Retrying),
            (Retrying, Processing),
            (Failed, Aborted),
            (Processing, Aborted),
            (Submitted, Aborted),
            (Retrying, Aborted),
            (Failed, Escalating),
            (Escalating, Escalated),
            (AwaitingApproval, Submitted),
            (AwaitingApproval, Rejected),
            (AwaitingApproval, Aborted),
        ] {
            assert!(from.can_become(to), "{from} -> {to}");
        }
        for s in RequestState::ALL {
            assert!(!Completed.can_become(s));
            assert!(!Aborted.can_become(s));
            assert!(!Rejected.can_become(s), "rejected is the end");
            assert_eq!(
                s != AwaitingApproval,
                !s.can_become(Submitted),
                "{s} -> submitted"
            );
            // Nothing goes back to waiting for approval.
            assert!(!s.can_become(AwaitingApproval));
            assert_eq!(RequestState::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::Value::String(s.as_str().into()))
            );
        }
        // Nothing runs, fails or is retried before the approvals.
        for s in [Processing, Completed, Failed, Retrying, Escalating] {
            assert!(!AwaitingApproval.can_become(s), "awaiting_approval -> {s}");
        }
        assert!(!Processing.can_become(Retrying));
        // Once escalation has claimed a request, no other decision lands.
        for s in [Retrying, Aborted, Processing, Failed] {
            assert!(!Escalating.can_become(s), "escalating -> {s}");
        }
        assert!(!Failed.can_become(Escalated), "escalation claims first");
        assert!(!Completed.can_become(Aborted));
    }

    #[test]
    fn parses_items_of_both_kinds() {
        let s = Submission::parse(&json!({"items": [
            {"schemaVersion": "catalog/v1", "catalogItemId": "database-aurora-postgresql", "input": {"name": "db"}},
            {"schemaVersion": "catalog/v1", "bundleId": "full-application-stack", "input": {"name": "app"}},
        ]}))
        .expect("valid");
        assert_eq!(
            s.items[0].target,
            Target::CatalogItem("database-aurora-postgresql".into())
        );
        assert_eq!(
            s.items[1].target,
            Target::Bundle("full-application-stack".into())
        );
    }

    #[test]
    fn rejects_with_field_paths() {
        let err = Submission::parse(&json!({"items": [], "extra": 1})).expect_err("invalid");
        let text: Vec<String> = err.iter().map(ToString::to_string).collect();
        assert!(
            text.contains(&"extra: is not a known property".to_string()),
            "{text:?}"
        );
        assert!(text.iter().any(|t| t.starts_with("items: ")), "{text:?}");
    }
}
