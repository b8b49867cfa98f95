//! Load through the local stack's HTTP API, signed with SigV4 as a client signs: every
//! submission accepted (a 503 with `Retry-After` is waited out and sent again; a 500 is
//! counted as a failure), every request completed, and nothing lost or made twice (each JIRA
//! ticket carries its task's label, so the stand-in's issues are counted per task).

use super::fixture::{Error, bare_submission, input};
use super::{Row, Spread, floor, load};
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
    /// The requests not completed, counted by where they were last seen.
    pub open: String,
}

/// Submits `n` one-item requests of `item` (input from `input(i)`) at `concurrency`, then
/// waits (at most `patience`) for them all to complete.
pub async fn run(
    running: &crate::runner::Running,
    jira: &crate::jira_standin::JiraStandIn,
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
    // The stand-in also holds the tickets of the bench's earlier runs: count this run's only.
    let ours: HashSet<&str> = ids.iter().map(String::as_str).collect();
    let labels_of_ours = || -> Vec<String> {
        jira.issues()
            .iter()
            .filter_map(|i| {
                i.fields["labels"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l.as_str())
                    .find(|l| {
                        l.strip_prefix("pao-")
                            .and_then(|rest| rest.rsplit_once('-'))
                            .is_some_and(|(id, _)| ours.contains(id))
                    })
                    .map(str::to_string)
            })
            .collect()
    };
    while labels_of_ours().len() < 2 * ids.len() && drain_started.elapsed() < patience {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The last completions are written just after their tickets: look until all are in
    // (each look reads only the requests still open).
    let mut open: Vec<String> = ids.clone();
    // Where each request still open was last seen: its state and its tasks'.
    let mut seen: std::collections::HashMap<String, String> = Default::default();
    loop {
        let mut still = Vec::new();
        for id in open {
            let detail = store
                .get_request(
                    &pao::record::RequestId(id.clone()),
                    &pao::clock::Now::current(),
                    pao::store::Read::Eventual,
                )
                .await
                .ok()
                .flatten();
            let done = detail
                .as_ref()
                .is_some_and(|d| d.request.state == pao::request::RequestState::Completed);
            if !done {
                let shown = detail.map_or("not found".to_string(), |d| {
                    let tasks: Vec<String> = d.tasks.iter().map(|t| t.state.to_string()).collect();
                    format!("{} [{}]", d.request.state, tasks.join(", "))
                });
                seen.insert(id.clone(), shown);
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
    let labels = labels_of_ours();
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
        open: {
            let mut by: std::collections::BTreeMap<&String, usize> = Default::default();
            for id in &open {
                if let Some(s) = seen.get(id) {
                    *by.entry(s).or_default() += 1;
                }
            }
            by.into_iter()
                .map(|(s, n)| format!("{n} {s}"))
                .collect::<Vec<_>>()
                .join("; ")
        },
        tickets: labels.len(),
        duplicate_tickets: labels.len() - unique.len(),
    }
}

/// The load run through a local stack of its own: rows for the table.
pub async fn rows(
    n: usize,
    concurrency: usize,
    catalog: &pao::catalog::Catalog,
    store: &pao::store::Store,
    queue: &pao::queue::Queue,
) -> Result<Vec<Row>, Error> {
    let (opts, dir) = super::fixture::stack_options("load", 4)?;
    // SAFETY-free: metrics lines off for the local stack is its default.
    let git_dir = opts.catalog_git_dir.clone();
    let running = crate::runner::start(opts).await?;
    let jira = running
        .jira
        .as_ref()
        .ok_or("the load run needs the JIRA stand-in")?;
    let report = load::run(
        &running,
        jira,
        "bench-item",
        input,
        n,
        concurrency,
        Duration::from_secs(300),
    )
    .await;
    // The floor under the same load: bare transactions and sends at the same concurrency,
    // while the stack's pollers still run (as they did while PAO accepted).
    let sdk = pao::aws::load_sdk_config().await;
    let bare = (0..n)
        .map(|i| bare_submission(catalog, store, 2_000_000 + i))
        .collect::<Result<Vec<_>, _>>()?;
    let floor_load = floor::submissions(store, queue, bare, concurrency).await;
    let stack = running.stack.clone();
    drop(running);
    let _ = std::fs::remove_dir_all(git_dir);
    let _ = std::fs::remove_dir_all(&dir);
    stack.delete(&sdk).await;

    let all_in =
        report.accepted == n && report.server_errors == 0 && report.other_errors.is_empty();
    let mut rows = vec![
        Row::new(
            format!("load: {n} signed submissions over HTTP, {concurrency} at a time"),
            format!(
                "{} accepted, {} answered 503 and were sent again, {} 5xx, {} other errors{}",
                report.accepted,
                report.retried_503,
                report.server_errors,
                report.other_errors.len(),
                report
                    .other_errors
                    .first()
                    .map(|e| format!(" (first: {e})"))
                    .unwrap_or_default()
            ),
        )
        .goal("all accepted, no 500", all_in),
        Row::new("  accept latency p50/p95/p99", report.accept.ms()).floor(format!(
            "{} (bare transaction + send, same concurrency)",
            floor_load.ms()
        )),
        Row::new(
            "  completed, tickets, duplicates",
            format!(
                "{} of {} completed; {} tickets for {} tasks; {} made twice{}",
                report.completed,
                report.accepted,
                report.tickets.min(2 * report.accepted),
                2 * report.accepted,
                report.duplicate_tickets,
                if report.open.is_empty() {
                    String::new()
                } else {
                    format!("; open: {}", report.open)
                }
            ),
        )
        .goal(
            "all, none twice",
            report.completed == n && report.duplicate_tickets == 0,
        ),
        Row::new(
            "  accept wall time, then drain",
            format!(
                "{:.1} s, then {:.1} s (4 pollers)",
                report.accept_wall.as_secs_f64(),
                report.drain.as_secs_f64()
            ),
        ),
    ];
    let (moto_bound, _, _) = report.accept.ratio(&floor_load);
    if moto_bound < 1.5 {
        rows.push(Row::new(
            "  note",
            "the accept latency is within 1.5x the bare floor under the same load: the endpoint (moto) is the bottleneck",
        ));
    }
    Ok(rows)
}
