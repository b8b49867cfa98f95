//! Fulfillment actions: what a task does once its config is rendered. Each action returns a
//! JSON result (what the item's `outputs` pointers read) and, where there is one, a link to
//! the thing it created. Errors carry text safe to store and show: never a credential.

pub mod github_commit;
pub mod github_workflow;
pub mod http;
pub mod jira;
pub mod rest;
pub mod webhook;

use crate::record::ExternalRef;
use serde_json::Value;

/// What an action produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionResult {
    pub result: Value,
    pub external_ref: Option<ExternalRef>,
    /// The action goes on outside PAO (a workflow run): the task stays `processing` until it
    /// reports how it ended.
    pub waiting: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// The other side said no (its own error text, credentials never included).
    #[error("{0}")]
    Rejected(String),
    #[error("no answer within {0} seconds")]
    Timeout(u64),
    #[error("could not reach {0}")]
    Unreachable(String),
    /// The rendered config cannot be used.
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("{0} fulfillment items are not supported yet")]
    Unsupported(String),
}
