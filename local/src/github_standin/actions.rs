//! Pull requests and workflow runs, kept in memory; a completed run is reported by a signed
//! `workflow_run` delivery where PAO listens.

use super::{Extra, Run, Served, answer, not_found};
use http_body_util::Full;
use hyper::Response;
use hyper::StatusCode;
use hyper::body::Bytes;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

pub(super) fn pulls(
    served: &Served,
    repository: &str,
    method: &hyper::Method,
    query: &HashMap<String, String>,
    body: &Value,
) -> Response<Full<Bytes>> {
    let mut extra = served.extra.lock().unwrap_or_else(|e| e.into_inner());
    if method == hyper::Method::GET {
        let head = query
            .get("head")
            .map(|h| h.split_once(':').map_or(h.as_str(), |(_, b)| b).to_string());
        let open: Vec<Value> = extra
            .pulls
            .iter()
            .filter(|p| p["base"]["repo"]["full_name"] == json!(repository))
            .filter(|p| head.as_ref().is_none_or(|h| p["head"]["ref"] == json!(h)))
            .cloned()
            .collect();
        return answer(StatusCode::OK, Value::Array(open));
    }
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let number = extra.pulls.len() + 1;
    let pull = json!({
        "number": number, "state": "open", "title": text("title"), "body": body.get("body"),
        "html_url": format!("https://github.com/{repository}/pull/{number}"),
        "head": {"ref": text("head")}, "base": {"ref": text("base"), "repo": {"full_name": repository}},
    });
    extra.pulls.push(pull.clone());
    answer(StatusCode::CREATED, pull)
}

pub(super) async fn actions(
    served: &Served,
    repository: &str,
    method: &hyper::Method,
    rest: &[String],
    body: &Value,
) -> Response<Full<Bytes>> {
    let api = served.api.clone();
    match (method.as_str(), rest) {
        ("POST", [_, workflows, workflow, dispatches])
            if workflows == "workflows" && dispatches == "dispatches" =>
        {
            let details = body
                .get("return_run_details")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let (id, auto) = {
                let mut extra = served.extra.lock().unwrap_or_else(|e| e.into_inner());
                if details && extra.refuse_run_details {
                    return answer(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        json!({"message": "Invalid request.\n\n\"return_run_details\" is not a permitted key.", "status": "422"}),
                    );
                }
                let inputs = body.get("inputs").cloned().unwrap_or(json!({}));
                let id = 9_000_000 + extra.runs.len() as u64 + 1;
                let display_title = inputs
                    .get("pao_task_id")
                    .and_then(Value::as_str)
                    .map_or_else(|| workflow.clone(), str::to_string);
                extra.runs.push(Run {
                    id,
                    repository: repository.to_string(),
                    workflow: workflow.clone(),
                    head_branch: body
                        .get("ref")
                        .and_then(Value::as_str)
                        .unwrap_or("main")
                        .to_string(),
                    inputs,
                    status: "queued".into(),
                    conclusion: None,
                    display_title,
                });
                (id, extra.auto_complete.clone())
            };
            if let Some((after, conclusion)) = auto {
                let (extra, api) = (served.extra.clone(), api.clone());
                tokio::spawn(async move {
                    tokio::time::sleep(after).await;
                    complete(&extra, &api, id, &conclusion).await;
                });
            }
            if details {
                answer(
                    StatusCode::OK,
                    json!({
                        "workflow_run_id": id,
                        "run_url": format!("{api}/repos/{repository}/actions/runs/{id}"),
                        "html_url": format!("https://github.com/{repository}/actions/runs/{id}"),
                    }),
                )
            } else {
                let mut r = answer(StatusCode::NO_CONTENT, Value::Null);
                *r.body_mut() = Full::new(Bytes::new());
                r
            }
        }
        ("GET", [_, workflows, workflow, runs]) if workflows == "workflows" && runs == "runs" => {
            let extra = served.extra.lock().unwrap_or_else(|e| e.into_inner());
            let found: Vec<Value> = extra
                .runs
                .iter()
                .rev()
                .filter(|r| r.repository == repository && r.workflow == *workflow)
                .map(|r| r.json(&api))
                .collect();
            answer(
                StatusCode::OK,
                json!({"total_count": found.len(), "workflow_runs": found}),
            )
        }
        ("GET", [_, runs, id]) if runs == "runs" => {
            let extra = served.extra.lock().unwrap_or_else(|e| e.into_inner());
            match extra
                .runs
                .iter()
                .find(|r| r.repository == repository && r.id.to_string() == *id)
            {
                Some(run) => answer(StatusCode::OK, run.json(&api)),
                None => not_found(),
            }
        }
        _ => not_found(),
    }
}

/// Completes a run and, when PAO listens, delivers the signed `workflow_run` webhook.
pub(super) async fn complete(extra: &Mutex<Extra>, api: &str, id: u64, conclusion: &str) {
    let (run, notify) = {
        let mut extra = extra.lock().unwrap_or_else(|e| e.into_inner());
        let Some(run) = extra.runs.iter_mut().find(|r| r.id == id) else {
            return;
        };
        run.status = "completed".into();
        run.conclusion = Some(conclusion.to_string());
        (run.clone(), extra.notify.clone())
    };
    let Some((url, secret)) = notify else {
        return;
    };
    let body = json!({
        "action": "completed",
        "workflow_run": run.json(api),
        "repository": {"full_name": run.repository},
    })
    .to_string();
    let _ = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-GitHub-Event", "workflow_run")
        .header("X-GitHub-Delivery", uuid::Uuid::new_v4().to_string())
        .header(
            "X-Hub-Signature-256",
            pao::webhook::sign(secret.as_bytes(), body.as_bytes()),
        )
        .body(body)
        .send()
        .await;
}
