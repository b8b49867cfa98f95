//! The `github-workflow` fulfillment item: a `workflow_dispatch` of a workflow with rendered
//! inputs. PAO asks GitHub for the run it started (`return_run_details: true`, in the REST API
//! since February 2026); where a server refuses that parameter, it dispatches again with a
//! `pao_task_id` input and finds the run whose title carries it (the workflow sets
//! `run-name: ${{ inputs.pao_task_id }}`).
//!
//! Without `waitForCompletion` the task completes once the run is started. With it, no Lambda
//! waits: the task stays `processing` with the run as its external reference, and completes
//! or fails when the run concludes: GitHub's `workflow_run` webhook reports it, and the sweeper
//! polls the run as a fallback. Result: `{"runId", "runUrl", "conclusion"}`.

use super::github_commit::github_error;
use super::{ActionError, ActionResult};
use crate::github::names::{Repo, check_ref, check_workflow};
use crate::github::{GitHub, status_error};
use crate::record::ExternalRef;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WorkflowConfig {
    repository: String,
    workflow: String,
    #[serde(default, rename = "ref")]
    git_ref: Option<String>,
    #[serde(default)]
    inputs: Map<String, Value>,
    #[serde(default)]
    wait_for_completion: bool,
}

/// A run's state as GitHub reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunState {
    pub id: u64,
    pub url: String,
    /// `queued`, `in_progress`, `completed`, …
    pub status: String,
    pub conclusion: Option<String>,
}

impl RunState {
    fn from_json(run: &Value) -> Option<Self> {
        Some(Self {
            id: run.get("id")?.as_u64()?,
            url: run
                .get("html_url")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            status: run
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            conclusion: run
                .get("conclusion")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    /// What a concluded run means for its task.
    pub fn outcome(&self) -> Option<Result<ActionResult, ActionError>> {
        if self.status != "completed" {
            return None;
        }
        let conclusion = self.conclusion.clone().unwrap_or_else(|| "unknown".into());
        Some(if conclusion == "success" {
            Ok(result(self.id, &self.url, Some(&conclusion), false))
        } else {
            Err(ActionError::Rejected(format!(
                "workflow run {} concluded {conclusion}",
                self.url
            )))
        })
    }
}

fn result(id: u64, url: &str, conclusion: Option<&str>, waiting: bool) -> ActionResult {
    ActionResult {
        result: json!({"runId": id, "runUrl": url, "conclusion": conclusion}),
        external_ref: Some(ExternalRef {
            key: format!("run-{id}"),
            url: url.to_string(),
        }),
        waiting,
    }
}

/// The repository a rendered config names (where its run lives).
pub fn repository_of(config: &Value) -> Option<String> {
    config
        .get("repository")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Starts the run a rendered `github-workflow` config describes.
pub async fn dispatch(
    gh: &GitHub,
    token: &str,
    config: &Value,
    task_key: &str,
) -> Result<ActionResult, ActionError> {
    let c: WorkflowConfig = serde_json::from_value(config.clone())
        .map_err(|e| ActionError::Config(format!("github-workflow config: {e}")))?;
    // Checked before any call: each is written into an API path (the ref into the body).
    let repo = Repo::parse("repository", &c.repository)
        .map_err(ActionError::Config)?
        .to_string();
    check_workflow(&c.workflow).map_err(ActionError::Config)?;
    let git_ref = c.git_ref.clone().unwrap_or_else(|| "main".into());
    check_ref("ref", &git_ref).map_err(ActionError::Config)?;
    let path = format!("/repos/{repo}/actions/workflows/{}/dispatches", c.workflow);
    let what = format!("dispatching {} in {repo}", c.workflow);
    let body = json!({"ref": git_ref, "inputs": c.inputs, "return_run_details": true});
    let (status, answer) = gh
        .call(Method::POST, token, &path, Some(&body), &what)
        .await
        .map_err(github_error)?;
    let run = match status {
        200 if answer.get("workflow_run_id").is_some() => RunState {
            id: answer["workflow_run_id"].as_u64().unwrap_or_default(),
            url: answer
                .get("html_url")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            status: "queued".into(),
            conclusion: None,
        },
        // An older server: no run details (204), or the parameter refused (422).
        204 | 422 => {
            dispatch_and_find(gh, token, &c, &repo, &git_ref, task_key, status == 422).await?
        }
        _ => return Err(github_error(status_error(status, &answer, &what))),
    };
    Ok(result(run.id, &run.url, None, c.wait_for_completion))
}

/// Dispatches with a `pao_task_id` input (when the first call did not start a run) and finds
/// the run whose title carries it.
async fn dispatch_and_find(
    gh: &GitHub,
    token: &str,
    c: &WorkflowConfig,
    repo: &str,
    git_ref: &str,
    task_key: &str,
    dispatch_again: bool,
) -> Result<RunState, ActionError> {
    let mut inputs = c.inputs.clone();
    inputs.insert("pao_task_id".into(), Value::String(task_key.into()));
    if dispatch_again {
        let what = format!("dispatching {} in {repo}", c.workflow);
        gh.call_ok(
            Method::POST,
            token,
            &format!("/repos/{repo}/actions/workflows/{}/dispatches", c.workflow),
            Some(&json!({"ref": git_ref, "inputs": inputs})),
            &what,
        )
        .await
        .map_err(github_error)?;
    }
    // GitHub lists a dispatched run within seconds.
    for _ in 0..20 {
        let runs = gh
            .call_ok(
                Method::GET,
                token,
                &format!(
                    "/repos/{repo}/actions/workflows/{}/runs?event=workflow_dispatch&per_page=30",
                    c.workflow
                ),
                None,
                "the workflow's runs",
            )
            .await
            .map_err(github_error)?;
        let found = runs
            .get("workflow_runs")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|r| {
                r.get("display_title")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.contains(task_key))
            })
            .and_then(RunState::from_json);
        if let Some(run) = found {
            return Ok(run);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(ActionError::Rejected(format!(
        "the run of {} in {repo} for {task_key} did not appear (the workflow must set run-name: ${{{{ inputs.pao_task_id }}}})",
        c.workflow
    )))
}

/// A run's current state.
pub async fn run_state(
    gh: &GitHub,
    token: &str,
    repo: &str,
    id: u64,
) -> Result<RunState, ActionError> {
    let repo = Repo::parse("repository", repo)
        .map_err(ActionError::Config)?
        .to_string();
    let run = gh
        .call_ok(
            Method::GET,
            token,
            &format!("/repos/{repo}/actions/runs/{id}"),
            None,
            &format!("workflow run {id} of {repo}"),
        )
        .await
        .map_err(github_error)?;
    RunState::from_json(&run).ok_or_else(|| {
        ActionError::Rejected(format!(
            "workflow run {id} of {repo}: no id in GitHub's answer"
        ))
    })
}

/// The run a `workflow_run` webhook payload reports.
pub fn reported_run(payload: &Value) -> Option<(String, RunState)> {
    let repo = payload
        .pointer("/repository/full_name")?
        .as_str()?
        .to_string();
    Some((repo, RunState::from_json(payload.get("workflow_run")?)?))
}
