//! Load through the local stack's HTTP API, signed with SigV4 as a client signs: every
//! submission accepted (a 503 with `Retry-After` is waited out and sent again; a 500 is
//! counted as a failure), every request completed, and nothing lost or made twice (each JIRA
//! ticket carries its task's label, so the stand-in's issues are counted per task).

use super::Spread;
use serde_json::json;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct LoadReport {
    pub submitted: usize,
    pub accepted: usize,
    pub retried_503: usize,
    pub server_errors: usize,
    pub other_errors: Vec<String>,
    pub accept: Spread,
    pub accept_wall: Duration,
    /// From the last acceptance until every request completed.
    pub drain: Duration,
    pub completed: usize,
    pub tickets: usize,
    pub duplicate_tickets: usize,
}

/// Submits `n` one-item requests of `item` (input from `input(i)`) at `concurrency`, then
/// waits (at most `patience`) for them all to complete.
pub async fn run(
    running: &crate::runner::Running,
    item: &str,
    input: impl Fn(usize) -> serde_json::Value + Send + Sync + 'static,
    n: usize,
    concurrency: usize,
    patience: Duration,
) -> LoadReport {
    let api = format!("http://{}/api/v1", running.api_addr);
    let client = reqwest::Client::new();
    let identity = crate::sigv4::default_identity();
    let credentials = pao::signing::Credentials {
        access_key_id: identity.access_key_id.clone(),
        secret_access_key: identity.secret_access_key.clone(),
        session_token: None,
    };
    let input = Arc::new(input);
    let item = item.to_string();
    let ids = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let outcomes = Arc::new(tokio::sync::Mutex::new((0usize, 0usize, Vec::new())));
    let started = Instant::now();
    let times = super::floor::timed((0..n).collect(), concurrency, {
        let (ids, outcomes) = (ids.clone(), outcomes.clone());
        move |i: usize| {
            let (client, api, credentials, input, item, ids, outcomes) = (
                client.clone(),
                api.clone(),
                credentials.clone(),
                input.clone(),
                item.clone(),
                ids.clone(),
                outcomes.clone(),
            );
            async move {
                let body = json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": item,
                                             "input": input(i)}]})
                .to_string();
                let url = format!("{api}/requests");
                loop {
                    let Ok(headers) = pao::signing::sign(
                        "POST",
                        &url,
                        body.as_bytes(),
                        &credentials,
                        "us-east-1",
                        std::time::SystemTime::now(),
                    ) else {
                        outcomes.lock().await.2.push("signing failed".into());
                        return;
                    };
                    let mut req = client
                        .post(&url)
                        .header("idempotency-key", format!("load-{i}"))
                        .body(body.clone());
                    for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
                        req = req.header(k, v);
                    }
                    let answer = match req.send().await {
                        Ok(a) => a,
                        Err(e) => {
                            outcomes.lock().await.2.push(e.to_string());
                            return;
                        }
                    };
                    let status = answer.status().as_u16();
                    let wait = answer
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    let text = answer.text().await.unwrap_or_default();
                    match status {
                        202 => {
                            let v: serde_json::Value =
                                serde_json::from_str(&text).unwrap_or_default();
                            if let Some(id) = v["data"]["requests"][0]["requestId"].as_str() {
                                ids.lock().await.push(id.to_string());
                            }
                            return;
                        }
                        503 if wait.is_some() => {
                            outcomes.lock().await.0 += 1;
                            tokio::time::sleep(Duration::from_secs(wait.unwrap_or(1))).await;
                        }
                        s if s >= 500 => {
                            let mut o = outcomes.lock().await;
                            o.1 += 1;
                            o.2.push(format!(
                                "{s}: {}",
                                text.chars().take(200).collect::<String>()
                            ));
                            return;
                        }
                        s => {
                            outcomes.lock().await.2.push(format!(
                                "{s}: {}",
                                text.chars().take(200).collect::<String>()
                            ));
                            return;
                        }
                    }
                }
            }
        }
    })
    .await;
    let accept_wall = started.elapsed();
    let ids: Vec<String> = ids.lock().await.clone();
    let (retried_503, server_errors, other_errors) = outcomes.lock().await.clone();

    // Drain: wait for a ticket per task (the stand-in counts in process, so waiting adds no
    // load to the endpoint), then check every request's state once, from the table.
    let store = pao::store::Store::new(
        aws_sdk_dynamodb::Client::new(&pao::aws::load_sdk_config().await),
        &running.stack.names.table,
    );
    let drain_started = Instant::now();
    while running.jira.issues().len() < 2 * ids.len() && drain_started.elapsed() < patience {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The last completions are written just after their tickets: look until all are in
    // (each look reads only the requests still open).
    let mut open: Vec<String> = ids.clone();
    loop {
        let mut still = Vec::new();
        for id in open {
            let done = store
                .get_request(
                    &pao::record::RequestId(id.clone()),
                    &pao::clock::Now::current(),
                    pao::store::Read::Eventual,
                )
                .await
                .ok()
                .flatten()
                .is_some_and(|d| d.request.state == pao::request::RequestState::Completed);
            if !done {
                still.push(id);
            }
        }
        open = still;
        if open.is_empty() || drain_started.elapsed() >= patience {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let drain = drain_started.elapsed();
    let issues = running.jira.issues();
    let labels: Vec<String> = issues
        .iter()
        .filter_map(|i| {
            i.fields["labels"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l.as_str())
                .find(|l| l.starts_with("pao-"))
                .map(str::to_string)
        })
        .collect();
    let unique: HashSet<&String> = labels.iter().collect();
    LoadReport {
        submitted: n,
        accepted: ids.len(),
        retried_503,
        server_errors,
        other_errors,
        accept: Spread::of(times),
        accept_wall,
        drain,
        completed: ids.len() - open.len(),
        tickets: issues.len(),
        duplicate_tickets: labels.len() - unique.len(),
    }
}
