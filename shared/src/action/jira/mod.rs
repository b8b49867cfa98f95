//! The `jira-ticket` fulfillment item: creates an issue through JIRA's REST API on one of
//! several instances configured in the Secrets Manager secret `pao/jira`:
//! `{"instances":{"<name>":{"baseUrl":"…","email":"…","apiToken":"…","deployment":"cloud"}}}`.
//!
//! `deployment` is `cloud` (the default: basic auth with the account email and an API token)
//! or `datacenter` (a personal access token as `Authorization: Bearer`). Issues are created
//! with `POST /rest/api/2/issue` on both.
//!
//! Every issue PAO creates carries the label `pao` (what the JIRA webhook's JQL filter
//! selects) and a per-task label (`pao-<requestId>-<seq>`), whatever labels the catalog item
//! sets, so a worker that finds a task still `processing` after a crash can
//! look for the ticket instead of creating a second one. Jira Cloud removed
//! `/rest/api/2/search` in 2025: Cloud is searched with `GET /rest/api/3/search/jql`, Data
//! Center with `GET /rest/api/2/search`.

mod ticket;
pub use crate::catalog::waiting::Waiting;
pub use ticket::{Resolved, Ticket, resolved};

use super::{ActionError, ActionResult};
use crate::record::ExternalRef;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// One JIRA instance's address and credentials.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct JiraInstance {
    pub base_url: String,
    /// The account email (Cloud); unused on Data Center.
    #[serde(default)]
    pub email: String,
    pub api_token: String,
    #[serde(default)]
    pub deployment: Deployment,
}

/// Which kind of JIRA an instance is: it decides authentication and the search API.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Deployment {
    #[default]
    Cloud,
    #[serde(alias = "data-center", alias = "server")]
    Datacenter,
}

impl std::fmt::Debug for JiraInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JiraInstance")
            .field("base_url", &self.base_url)
            .field("email", &self.email)
            .field("api_token", &"********")
            .field("deployment", &self.deployment)
            .finish()
    }
}

/// The `pao/jira` secret.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct JiraInstances {
    pub instances: HashMap<String, JiraInstance>,
}

impl JiraInstances {
    /// Parses the secret; the error never quotes the secret's text.
    pub fn parse(secret: &str) -> Result<Self, ActionError> {
        let parsed: Self = serde_json::from_str(secret).map_err(|e| {
            ActionError::Config(format!(
                "the JIRA secret is not {{\"instances\":{{\"<name>\":{{\"baseUrl\",\"email\",\"apiToken\"}}}}}} (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        // Cloud authenticates with the account email and the token.
        if let Some((name, _)) = parsed
            .instances
            .iter()
            .find(|(_, i)| i.deployment == Deployment::Cloud && i.email.trim().is_empty())
        {
            return Err(ActionError::Config(format!(
                "JIRA instance {name:?} is a Cloud instance without an email in the JIRA secret"
            )));
        }
        Ok(parsed)
    }

    /// The configured instance a ticket's URL is on (`<baseUrl>/browse/<key>`).
    pub fn by_url(&self, url: &str) -> Option<&JiraInstance> {
        self.instances.values().find(|i| {
            url.strip_prefix(i.base_url.trim_end_matches('/'))
                .is_some_and(|rest| rest.starts_with("/browse/"))
        })
    }

    pub fn get(&self, name: &str) -> Result<&JiraInstance, ActionError> {
        self.instances.get(name).ok_or_else(|| {
            ActionError::Config(format!(
                "JIRA instance {name:?} is not configured in the JIRA secret"
            ))
        })
    }
}

/// The label on every ticket PAO makes: what the JIRA webhook's JQL filter selects
/// (`labels = pao`).
pub const PAO_LABEL: &str = "pao";

/// The label that marks the ticket of one task.
pub fn task_label(request_id: &str, seq: u32) -> String {
    format!("pao-{request_id}-{seq}")
}

#[derive(Debug, Clone)]
pub struct JiraClient {
    http: crate::https::Https,
}

impl JiraClient {
    pub fn new(http: impl Into<crate::https::Https>) -> Self {
        Self { http: http.into() }
    }

    /// Creates the issue a rendered `jira-ticket` config describes, labelled for the task.
    pub async fn create_issue(
        &self,
        instance: &JiraInstance,
        config: &Value,
        label: &str,
        timeout: Duration,
    ) -> Result<ActionResult, ActionError> {
        let fields = issue_fields(config, label, instance.deployment)?;
        let request = self
            .http
            .client()
            .post(endpoint(instance, "2/issue"))
            .json(&json!({ "fields": fields }));
        let body = call(request, instance, timeout, "JIRA").await?;
        let key = body
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| ActionError::Rejected("JIRA's answer has no issue key".into()))?;
        Ok(issue_result(
            instance,
            key,
            body.get("id").cloned().unwrap_or(Value::Null),
        ))
    }

    /// Links two issues "blocks / is blocked by": `blocker` blocks `blocked`.
    pub async fn link_blocks(
        &self,
        instance: &JiraInstance,
        blocker: &str,
        blocked: &str,
        timeout: Duration,
    ) -> Result<(), ActionError> {
        let request = self
            .http
            .client()
            .post(endpoint(instance, "2/issueLink"))
            .json(&json!({
                "type": {"name": "Blocks"},
                "outwardIssue": {"key": blocker},
                "inwardIssue": {"key": blocked},
            }));
        call(request, instance, timeout, "JIRA issue link").await?;
        Ok(())
    }

    /// The issue an earlier attempt of this task created, if any, other than the `known` ones
    /// (tickets of earlier attempts that PAO recorded: a retry after a ticket was resolved
    /// Won't Do asks for a new one).
    pub async fn find_by_label(
        &self,
        instance: &JiraInstance,
        label: &str,
        known: &[&str],
        timeout: Duration,
    ) -> Result<Option<ActionResult>, ActionError> {
        let jql = format!("labels = \"{label}\"");
        let search = match instance.deployment {
            Deployment::Cloud => "3/search/jql",
            Deployment::Datacenter => "2/search",
        };
        let request = self.http.client().get(endpoint(instance, search)).query(&[
            ("jql", jql.as_str()),
            ("fields", "key"),
            ("maxResults", "50"),
        ]);
        let body = call(request, instance, timeout, "JIRA search").await?;
        let first = body
            .get("issues")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|i| {
                i.get("key")
                    .and_then(Value::as_str)
                    .is_some_and(|k| !known.contains(&k))
            });
        Ok(first.and_then(|issue| {
            let key = issue.get("key")?.as_str()?;
            Some(issue_result(
                instance,
                key,
                issue.get("id").cloned().unwrap_or(Value::Null),
            ))
        }))
    }
}

/// `resource` is `<version>/<path>`.
fn endpoint(instance: &JiraInstance, resource: &str) -> String {
    format!(
        "{}/rest/api/{resource}",
        instance.base_url.trim_end_matches('/')
    )
}

/// Sends an authenticated call and returns its JSON body, or JIRA's error text.
async fn call(
    request: reqwest::RequestBuilder,
    instance: &JiraInstance,
    timeout: Duration,
    what: &str,
) -> Result<Value, ActionError> {
    let request = match instance.deployment {
        Deployment::Cloud => request.basic_auth(&instance.email, Some(&instance.api_token)),
        Deployment::Datacenter => request.bearer_auth(&instance.api_token),
    };
    let response = request
        .header("Accept", "application/json")
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| transport(e, instance, timeout))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        Ok(body)
    } else {
        // A broken or hostile server may echo the credentials: every form PAO sent is blanked.
        let basic = format!("{}:{}", instance.email, instance.api_token);
        Err(ActionError::Rejected(format!(
            "{what} answered {}: {}",
            status.as_u16(),
            crate::redact::quote(&jira_error_text(&body), &[&basic, &instance.api_token])
        )))
    }
}

/// Where a person sees ticket `key` of the instance at `base_url`; also the key a task waiting
/// on the ticket is found by (two instances may both have a DBA-1).
pub fn browse_url(base_url: &str, key: &str) -> String {
    format!("{}/browse/{key}", base_url.trim_end_matches('/'))
}

fn issue_result(instance: &JiraInstance, key: &str, id: Value) -> ActionResult {
    let url = browse_url(&instance.base_url, key);
    ActionResult {
        result: json!({"key": key, "id": id, "url": url}),
        external_ref: Some(ExternalRef {
            key: key.to_string(),
            url,
        }),
        waiting: false,
    }
}

fn transport(e: reqwest::Error, instance: &JiraInstance, timeout: Duration) -> ActionError {
    if e.is_timeout() {
        ActionError::Timeout(timeout.as_secs())
    } else {
        // reqwest's text can carry the URL but never the Authorization header.
        ActionError::Unreachable(format!("JIRA at {}", instance.base_url))
    }
}

/// JIRA's `{"errorMessages": [...], "errors": {"field": "message"}}` as one line.
fn jira_error_text(body: &Value) -> String {
    let mut parts: Vec<String> = body
        .get("errorMessages")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(errors) = body.get("errors").and_then(Value::as_object) {
        parts.extend(
            errors
                .iter()
                .map(|(k, v)| format!("{k}: {}", v.as_str().unwrap_or_default())),
        );
    }
    if parts.is_empty() {
        "no error details".into()
    } else {
        parts.join("; ")
    }
}

/// The `fields` of a create-issue call from a rendered config.
/// `assignee` is an account id on Jira Cloud and a user name on Data Center (the instance's
/// `deployment` in the JIRA secret says which).
pub fn issue_fields(
    config: &Value,
    label: &str,
    deployment: Deployment,
) -> Result<Map<String, Value>, ActionError> {
    let text = |key: &str| {
        config
            .get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let required =
        |key: &str| text(key).ok_or_else(|| ActionError::Config(format!("{key} is empty")));
    let mut fields = Map::new();
    fields.insert("project".into(), json!({"key": required("project")?}));
    fields.insert("issuetype".into(), json!({"name": required("issueType")?}));
    fields.insert(
        "summary".into(),
        json!(required("summary")?.chars().take(255).collect::<String>()),
    );
    if let Some(d) = text("description") {
        fields.insert("description".into(), json!(d));
    }
    let mut labels: Vec<Value> = config
        .get("labels")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(|s| s.trim().replace(' ', "-"))
                .filter(|s| !s.is_empty())
                .map(Value::String)
                .collect()
        })
        .unwrap_or_default();
    let label = Value::String(label.to_string());
    if let Some(p) = text("priority") {
        fields.insert("priority".into(), json!({"name": p}));
    }
    if let Some(a) = text("assignee") {
        let user = match deployment {
            Deployment::Cloud => json!({"accountId": a}),
            Deployment::Datacenter => json!({"name": a}),
        };
        fields.insert("assignee".into(), user);
    }
    if let Some(c) = config.get("components").and_then(Value::as_array) {
        let names: Vec<Value> = c
            .iter()
            .filter_map(Value::as_str)
            .map(|n| json!({"name": n}))
            .collect();
        fields.insert("components".into(), Value::Array(names));
    }
    if let Some(custom) = config.get("fields").and_then(Value::as_object) {
        for (k, v) in custom {
            if k == "labels" {
                labels.extend(v.as_array().into_iter().flatten().cloned());
            } else {
                fields.insert(k.clone(), v.clone());
            }
        }
    }
    // PAO's task label goes on every ticket, whatever labels the item sets: it is how a
    // crashed attempt's ticket is found again. So does `pao`, which the JIRA webhook's JQL
    // filter selects.
    let pao = Value::String(PAO_LABEL.to_string());
    labels.retain(|l| *l != label && *l != pao);
    labels.push(pao);
    labels.push(label);
    fields.insert("labels".into(), Value::Array(labels));
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_from_config() {
        let f = issue_fields(
            &json!({"project": "DBA", "issueType": "Task", "summary": "Provision x", "description": "d",
                    "labels": ["pao", "a b", ""], "priority": "High", "assignee": "jdoe",
                    "components": ["db"], "fields": {"customfield_1": 100}}),
            "pao-req-1-0",
            Deployment::Datacenter,
        )
        .expect("valid");
        assert_eq!(
            Value::Object(f),
            json!({"project": {"key": "DBA"}, "issuetype": {"name": "Task"}, "summary": "Provision x",
                   "description": "d", "labels": ["a-b", "pao", "pao-req-1-0"], "priority": {"name": "High"},
                   "assignee": {"name": "jdoe"}, "components": [{"name": "db"}], "customfield_1": 100})
        );
        assert_eq!(
            issue_fields(
                &json!({"project": "DBA", "issueType": "Task", "summary": " "}),
                "l",
                Deployment::Cloud,
            ),
            Err(ActionError::Config("summary is empty".into()))
        );
    }

    #[test]
    fn the_assignee_is_an_account_id_on_cloud_and_a_name_on_data_center() {
        let config = json!({"project": "DBA", "issueType": "Task", "summary": "s",
                            "assignee": "5b10ac8d82e05b22cc7d4ef5"});
        let cloud = issue_fields(&config, "l", Deployment::Cloud).expect("valid");
        assert_eq!(
            cloud["assignee"],
            json!({"accountId": "5b10ac8d82e05b22cc7d4ef5"})
        );
        let dc = issue_fields(&config, "l", Deployment::Datacenter).expect("valid");
        assert_eq!(dc["assignee"], json!({"name": "5b10ac8d82e05b22cc7d4ef5"}));
    }

    #[test]
    fn the_task_label_survives_the_items_own_labels() {
        let f = issue_fields(
            &json!({"project": "DBA", "issueType": "Task", "summary": "s",
                    "fields": {"labels": ["team-db", "pao-req-1-0"]}}),
            "pao-req-1-0",
            Deployment::Cloud,
        )
        .expect("valid");
        assert_eq!(f["labels"], json!(["team-db", "pao", "pao-req-1-0"]));
    }

    #[test]
    fn data_center_instances_are_told_apart() {
        let i = JiraInstances::parse(r#"{"instances": {"dc": {"baseUrl": "https://jira.corp", "apiToken": "pat", "deployment": "datacenter"}, "cloud": {"baseUrl": "https://x.atlassian.net", "email": "e", "apiToken": "t"}}}"#).expect("valid");
        assert_eq!(
            i.get("dc").map(|d| d.deployment).ok(),
            Some(Deployment::Datacenter)
        );
        assert_eq!(
            i.get("cloud").map(|d| d.deployment).ok(),
            Some(Deployment::Cloud)
        );
    }

    #[test]
    fn secret_errors_never_quote_the_secret() {
        let err = JiraInstances::parse(
            r#"{"instances": {"default": {"baseUrl": "x", "apiToken": "s3cr3t"}}}"#,
        )
        .expect_err("no email");
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        let ok = JiraInstances::parse(r#"{"instances": {"default": {"baseUrl": "http://j", "email": "e", "apiToken": "s3cr3t"}}}"#).expect("valid");
        assert!(!format!("{ok:?}").contains("s3cr3t"));
        assert!(ok.get("other").is_err());
    }

    #[test]
    fn jira_errors_become_one_line() {
        assert_eq!(
            jira_error_text(&json!({"errorMessages": ["Boom"], "errors": {"summary": "required"}})),
            "Boom; summary: required"
        );
        assert_eq!(jira_error_text(&Value::Null), "no error details");
    }
}
