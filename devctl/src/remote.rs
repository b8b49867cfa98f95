//! The commands that call PAO's API, signed with SigV4 (service `execute-api`).
//!
//! Where: `--api` or `PAO_API_URL` (default the local stack, `http://127.0.0.1:3000/api/v1`).
//! Who: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`; against a
//! loopback address without them, the local stack's default identity.

use pao::signing::{Credentials, sign};
use serde_json::Value;
use std::process::ExitCode;
use std::time::SystemTime;

pub const DEFAULT_API: &str = "http://127.0.0.1:3000/api/v1";

/// Where and as whom to call.
pub struct Target {
    pub api: String,
    pub region: String,
    pub credentials: Credentials,
    /// Signing as the local stack's default identity (no credentials were given).
    pub local_default: bool,
}

impl Target {
    pub fn from_env(api: Option<String>) -> Result<Self, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let api = api
            .or_else(|| var("PAO_API_URL"))
            .unwrap_or_else(|| DEFAULT_API.to_string());
        let api = api.trim_end_matches('/').to_string();
        let local = api.starts_with("http://127.0.0.1") || api.starts_with("http://localhost");
        let given = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"));
        let local_default = local && (given.0.is_none() || given.1.is_none());
        let credentials = match given {
            (Some(id), Some(secret)) => Credentials { access_key_id: id, secret_access_key: secret, session_token: var("AWS_SESSION_TOKEN") },
            _ if local => Credentials {
                access_key_id: "AKIAPAOLOCALDEV00001".into(),
                secret_access_key: "pao-local-dev-secret".into(),
                session_token: None,
            },
            _ => return Err("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)".into()),
        };
        Ok(Self {
            api,
            region: var("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
            local_default,
            credentials,
        })
    }

    /// Against the local stack with no credentials given, the local operator identity
    /// (`local/identities.json`) instead of the default developer.
    pub fn signing_as_local_operator(mut self) -> Self {
        if self.local_default {
            self.credentials = Credentials {
                access_key_id: "AKIAPAOLOCALOPERATOR".into(),
                secret_access_key: "pao-local-operator-secret".into(),
                session_token: None,
            };
        }
        self
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    pao::signing::uri_encode(s.as_bytes(), false)
}

/// `path?k=v&…` with the empty values left out.
pub fn with_query(path: &str, params: &[(&str, Option<String>)]) -> String {
    let q: Vec<String> = params
        .iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .filter(|v| !v.is_empty())
                .map(|v| format!("{k}={}", encode(v)))
        })
        .collect();
    if q.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", q.join("&"))
    }
}

/// Sends one signed call and prints the answer. Exit status: 0 for 2xx, 1 for an error
/// answer (its message and each `field: issue` on stderr), 2 when the API cannot be reached.
pub fn call(
    target: &Target,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
    idempotency_key: Option<&str>,
    as_json: bool,
) -> ExitCode {
    match send(target, method, path, body, idempotency_key) {
        Ok((status, value)) => print_answer(status, &value, as_json),
        Err(code) => code,
    }
}

/// Prints an answer as [`call`] does and gives its exit status.
pub fn print_answer(status: u16, value: &Value, as_json: bool) -> ExitCode {
    if (200..300).contains(&status) {
        let data = value.get("data").cloned().unwrap_or(value.clone());
        let out = if as_json {
            value.to_string()
        } else {
            serde_json::to_string_pretty(&data).unwrap_or_default()
        };
        println!("{out}");
        return ExitCode::SUCCESS;
    }
    if as_json {
        println!("{value}");
    } else {
        let message = value
            .pointer("/error/message")
            .or_else(|| value.get("message"))
            // API Gateway's own refusals (an explicit deny) say `Message`.
            .or_else(|| value.get("Message"))
            .and_then(Value::as_str)
            .unwrap_or("no message");
        eprintln!("devctl: {status} {message}");
        for d in value
            .pointer("/error/details")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            eprintln!(
                "  {}: {}",
                d["field"].as_str().unwrap_or_default(),
                d["issue"].as_str().unwrap_or_default()
            );
        }
    }
    ExitCode::FAILURE
}

/// Sends one signed call: the answer's status and JSON body, or the exit status of a call
/// that could not be made (2, with the reason on stderr).
pub fn send(
    target: &Target,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
    idempotency_key: Option<&str>,
) -> Result<(u16, Value), ExitCode> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("devctl: {e}");
            return Err(ExitCode::from(2));
        }
    };
    runtime.block_on(send_async(target, method, path, body, idempotency_key))
}

/// [`send`] inside a runtime (`watch` over the live socket).
pub async fn send_async(
    target: &Target,
    method: &str,
    path: &str,
    body: Option<Vec<u8>>,
    idempotency_key: Option<&str>,
) -> Result<(u16, Value), ExitCode> {
    let url = format!("{}{path}", target.api);
    let body = body.unwrap_or_default();
    let mut headers = match sign(
        method,
        &url,
        &body,
        &target.credentials,
        &target.region,
        SystemTime::now(),
    ) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("devctl: cannot sign the call: {e}");
            return Err(ExitCode::from(2));
        }
    };
    if let Some(key) = idempotency_key {
        headers.push(("idempotency-key".into(), key.into()));
    }
    let client = reqwest::Client::new();
    let Ok(method) = method.parse::<reqwest::Method>() else {
        return Err(ExitCode::from(2));
    };
    let mut request = client.request(method, &url).body(body);
    for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
        request = request.header(k, v);
    }
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("devctl: cannot reach {}: {e}", target.api);
            return Err(ExitCode::from(2));
        }
    };
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, value))
}

/// A request's progress as one line: `[#####-----] 3/5 processing · task 2 (deploy)`.
pub fn progress_line(status: &Value) -> String {
    if let Some(stage) = status
        .pointer("/approval/current")
        .filter(|s| !s.is_null() && status["state"] == "awaiting_approval")
    {
        return format!(
            "awaiting approval: {}, requested {}",
            crate::approvals::stage_words(stage),
            crate::approvals::ago(status["createdAt"].as_str(), pao::clock::now_epoch())
        );
    }
    let done = status
        .pointer("/progress/completed")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let total = status
        .pointer("/progress/total")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let width = 20;
    let filled = (done * width).checked_div(total).unwrap_or(0).min(width) as usize;
    let bar = format!(
        "{}{}",
        "#".repeat(filled),
        "-".repeat(width as usize - filled)
    );
    let state = status
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let current = status
        .get("currentTask")
        .filter(|t| !t.is_null())
        .map(|t| {
            format!(
                " · task {} ({}) {}{}",
                t["seq"],
                t["fulfillmentItemId"].as_str().unwrap_or_default(),
                t["state"].as_str().unwrap_or_default(),
                ticket_words(t)
            )
        })
        .unwrap_or_default();
    let error = status
        .get("error")
        .and_then(Value::as_str)
        .map(|e| format!(" · {e}"))
        .unwrap_or_default();
    format!("[{bar}] {done}/{total} {state}{current}{error}")
}

/// A task's JIRA ticket as JIRA has it now: ` · waiting for DBA-123 (In Progress, assigned to
/// Dana Lee)` while the task waits on it, ` · OPS-9 (…)` for an escalation ticket.
fn ticket_words(task: &Value) -> String {
    let ticket = &task["ticket"];
    let Some(key) = ticket.get("key").and_then(Value::as_str) else {
        return String::new();
    };
    let waiting = if task["state"] == "processing" {
        "waiting for "
    } else {
        ""
    };
    let overdue = task["overdueSince"]
        .as_str()
        .map(|since| format!(", overdue since {since}"))
        .unwrap_or_default();
    if ticket["live"] != Value::Bool(true) {
        return format!(" · {waiting}{key} (JIRA did not answer{overdue})");
    }
    let mut said = vec![ticket["status"].as_str().unwrap_or("no status").to_string()];
    if let Some(r) = ticket["resolution"].as_str() {
        said.push(format!("resolved {r}"));
    }
    said.push(match ticket["assignee"].as_str() {
        Some(a) => format!("assigned to {a}"),
        None => "unassigned".into(),
    });
    format!(" · {waiting}{key} ({}{overdue})", said.join(", "))
}

/// How `watch` shows a request: a line per change (on a terminal, one line redrawn), and the
/// exit status once it ends.
pub struct Shown {
    terminal: bool,
    as_json: bool,
    last: String,
}

impl Shown {
    pub fn new(as_json: bool) -> Self {
        use std::io::IsTerminal;
        Self {
            terminal: std::io::stdout().is_terminal() && !as_json,
            as_json,
            last: String::new(),
        }
    }

    /// Shows the request's status (`GET /requests/{id}/status`'s `data`); its exit status
    /// when it has ended (0 completed, 1 failed, aborted, escalated or rejected).
    pub fn show(&mut self, data: &Value) -> Option<ExitCode> {
        use std::io::Write;
        let line = if self.as_json {
            data.to_string()
        } else {
            progress_line(data)
        };
        if line != self.last {
            if self.terminal {
                print!("\r\x1b[2K{line}");
                let _ = std::io::stdout().flush();
            } else {
                println!("{line}");
            }
            self.last = line;
        }
        let ended = match data
            .get("state")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "completed" => Some(ExitCode::SUCCESS),
            "failed" | "aborted" | "escalated" | "rejected" => Some(ExitCode::FAILURE),
            _ => None,
        };
        if ended.is_some() && self.terminal {
            println!();
        }
        ended
    }
}

/// Follows a request until it ends: over the live WebSocket (each change as it arrives),
/// falling back to polling every `interval` seconds when it cannot connect or the
/// connection drops. Exit status: 0 completed, 1 failed, aborted, escalated or rejected (or
/// an error answer), 2 when the API cannot be reached.
pub fn watch(target: &Target, request_id: &str, interval: u64, as_json: bool) -> ExitCode {
    let mut shown = Shown::new(as_json);
    match crate::live::follow(target, request_id, &mut shown) {
        crate::live::Followed::Ended(code) => return code,
        crate::live::Followed::Unavailable(why) => {
            eprintln!(
                "devctl: live status unavailable ({why}); polling every {}s",
                interval.max(1)
            );
        }
    }
    loop {
        let (status, answer) = match send(
            target,
            "GET",
            &format!("/requests/{request_id}/status"),
            None,
            None,
        ) {
            Ok(a) => a,
            Err(code) => return code,
        };
        if !(200..300).contains(&status) {
            return print_answer(status, &answer, as_json);
        }
        let data = answer.get("data").cloned().unwrap_or(Value::Null);
        if let Some(code) = shown.show(&data) {
            return code;
        }
        std::thread::sleep(std::time::Duration::from_secs(interval.max(1)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_line_shows_the_bar_state_and_task() {
        let line = progress_line(&serde_json::json!({
            "state": "processing", "progress": {"completed": 1, "total": 4},
            "currentTask": {"seq": 1, "fulfillmentItemId": "deploy", "state": "processing"},
        }));
        assert_eq!(
            line,
            "[#####---------------] 1/4 processing · task 1 (deploy) processing"
        );
        let waiting = progress_line(&serde_json::json!({
            "state": "escalated", "progress": {"completed": 1, "total": 2},
            "currentTask": {"seq": 1, "fulfillmentItemId": "deploy", "state": "escalated",
                "ticket": {"key": "OPS-9", "url": "u", "live": true, "status": "In Progress",
                           "resolution": null, "assignee": "Dana Lee"}},
        }));
        assert_eq!(
            waiting,
            "[##########----------] 1/2 escalated · task 1 (deploy) escalated · OPS-9 (In Progress, assigned to Dana Lee)"
        );
        let manual = progress_line(&serde_json::json!({
            "state": "processing", "progress": {"completed": 0, "total": 2},
            "currentTask": {"seq": 0, "fulfillmentItemId": "provision", "state": "processing",
                "overdueSince": "2026-12-08T10:00:00Z",
                "ticket": {"key": "DBA-123", "url": "u", "live": true, "status": "In Progress",
                           "resolution": null, "assignee": "Dana Lee"}},
        }));
        let awaiting = progress_line(&serde_json::json!({
            "state": "awaiting_approval", "progress": {"completed": 0, "total": 1},
            "createdAt": pao::clock::rfc3339(pao::clock::now_epoch() - 2 * 3600 - 5),
            "approval": {"current": {"id": "dba", "approvals": 0, "needed": 1, "escalated": false}},
        }));
        assert_eq!(
            awaiting,
            "awaiting approval: dba (0 of 1), requested 2h ago"
        );
        assert_eq!(
            manual,
            "[--------------------] 0/2 processing · task 0 (provision) processing · waiting for DBA-123 (In Progress, assigned to Dana Lee, overdue since 2026-12-08T10:00:00Z)"
        );
        let down = progress_line(&serde_json::json!({
            "state": "escalated", "progress": {"completed": 1, "total": 2},
            "currentTask": {"seq": 1, "fulfillmentItemId": "deploy", "state": "escalated",
                "ticket": {"key": "OPS-9", "url": "u", "live": false}},
        }));
        assert!(down.ends_with("· OPS-9 (JIRA did not answer)"), "{down}");
        let failed = progress_line(&serde_json::json!({
            "state": "failed", "progress": {"completed": 0, "total": 0}, "error": "boom",
        }));
        assert_eq!(failed, "[--------------------] 0/0 failed · boom");
    }

    #[test]
    fn queries_leave_out_empty_values_and_encode() {
        assert_eq!(
            with_query("/catalog", &[("q", Some("a b".into())), ("category", None)]),
            "/catalog?q=a%20b"
        );
        assert_eq!(
            with_query("/requests", &[("state", Some(String::new()))]),
            "/requests"
        );
    }
}
