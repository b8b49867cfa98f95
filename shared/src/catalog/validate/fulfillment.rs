//! Checks of one fulfillment item's own keys: the secrets it names, a ticket's waiting keys
//! and the pointers that need the resolved ticket, GitHub names written literally, its
//! `timeoutSeconds`.

use super::Found;
use crate::catalog::ActionType;
use crate::path::DocPath;
use serde_json::Value;

/// The secrets an item names (`rest-api` `auth.secret`, `webhook` `signingSecret`) are
/// relative names under the stack's catalog prefix: never a template, an ARN, `..` or one of
/// PAO's own secrets (crate::secrets::check_catalog_secret_name).
pub(super) fn check_secret_names(
    fi: &crate::catalog::FulfillmentItem,
    config: &DocPath,
    found: &mut Found,
) {
    let named = match fi.action {
        ActionType::RestApi => fi
            .config
            .pointer("/auth/secret")
            .map(|v| (config.key("auth").key("secret"), v)),
        ActionType::Webhook => fi
            .config
            .get("signingSecret")
            .map(|v| (config.key("signingSecret"), v)),
        _ => None,
    };
    if let Some((path, value)) = named {
        let problem = match value.as_str() {
            Some(name) => crate::secrets::check_catalog_secret_name(name).err(),
            None => Some("a secret name is a string".into()),
        };
        if let Some(problem) = problem {
            found.push((path, problem));
        }
    }
}

/// A `jira-ticket` item's waiting keys, and its `outputs` pointers: one that reads more than
/// a new ticket has (`/fields/…`) needs the resolved ticket, so the item must wait for it.
pub(super) fn check_ticket_waiting(
    fi: &crate::catalog::FulfillmentItem,
    path: &DocPath,
    found: &mut Found,
) {
    use crate::catalog::waiting::{CREATED_POINTERS, Waiting};
    if fi.action != ActionType::JiraTicket {
        return;
    }
    let waiting = match Waiting::of(&fi.config) {
        Ok(w) => w,
        Err((key, problem)) => {
            found.push((path.key("config").key(key), problem));
            return;
        }
    };
    if waiting.wait {
        return;
    }
    for (key, pointer) in &fi.outputs {
        if let Some(p) = pointer.as_str().filter(|p| Waiting::needs_resolution(p)) {
            found.push((
                path.key("outputs").key(key.clone()),
                format!(
                    "{p:?} reads the resolved ticket, but the item does not wait for its resolution (waitForResolution: false); a new ticket has only {}",
                    CREATED_POINTERS.join(", ")
                ),
            ));
        }
    }
}

/// GitHub names written literally in the catalog are checked now, as the worker checks the
/// rendered ones before any call (`github::names`).
pub(super) fn check_github_names(
    fi: &crate::catalog::FulfillmentItem,
    config: &DocPath,
    found: &mut Found,
) {
    use crate::github::names::{Repo, check_ref, check_workflow};
    let keys: &[&str] = match fi.action {
        ActionType::GithubWorkflow => &["repository", "workflow", "ref"],
        ActionType::GithubCommit => &["repository", "branch", "baseBranch"],
        _ => return,
    };
    for key in keys {
        let Some(value) = fi.config.get(*key).and_then(Value::as_str) else {
            continue;
        };
        if value.contains("{{") || value.contains("{%") || value.contains("{#") {
            continue;
        }
        let checked = match *key {
            "repository" => Repo::parse(key, value).map(|_| ()),
            "workflow" => check_workflow(value),
            _ => check_ref(key, value),
        };
        if let Err(problem) = checked {
            found.push((config.key(*key), problem));
        }
    }
}

/// The longest `timeoutSeconds` the deployed worker can give one action: its timeout
/// (`PAO_WORKER_TIMEOUT_SECONDS`, the template's `WorkerTimeoutSeconds`, default 60) less the
/// time an invocation keeps for itself (crate::config::ACTION_TIME_RESERVED). Every
/// validation reads it: catalog sync and `/tools/validate` in the deployed functions (the
/// template sets the variable), `devctl validate` from its own environment.
pub fn max_action_timeout() -> u64 {
    static MAX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        let worker = std::env::var("PAO_WORKER_TIMEOUT_SECONDS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(60);
        worker.saturating_sub(crate::config::ACTION_TIME_RESERVED.as_secs())
    })
}

/// A `timeoutSeconds` the worker cannot give would be cut short at run time, failing the
/// task for a reason its author never sees: refused here instead.
pub(super) fn check_timeout(
    fi: &crate::catalog::FulfillmentItem,
    path: &DocPath,
    max: u64,
    found: &mut Found,
) {
    if let Some(t) = fi.timeout_seconds {
        if u64::from(t) > max {
            found.push((
                path.key("timeoutSeconds"),
                format!(
                    "{t} s is more than the worker can give one action ({max} s: its timeout, template parameter WorkerTimeoutSeconds, less {} s)",
                    crate::config::ACTION_TIME_RESERVED.as_secs()
                ),
            ));
        }
    }
}
