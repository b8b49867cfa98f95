//! `devctl approvals`, `approval`, `approve`, `reject`: deciding requests that wait for an
//! approval (signed API calls to `/approvals`).

use crate::remote::{self, Target};
use serde_json::Value;
use std::process::ExitCode;

/// `devctl approvals`: what the caller may decide now, one line each (JSON with `--json`).
pub fn pending(
    target: &Target,
    limit: Option<u32>,
    cursor: Option<&str>,
    as_json: bool,
) -> ExitCode {
    let path = remote::with_query(
        "/approvals/pending",
        &[
            ("limit", limit.map(|l| l.to_string())),
            ("cursor", cursor.map(str::to_string)),
        ],
    );
    let (status, answer) = match remote::send(target, "GET", &path, None, None) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if as_json || !(200..300).contains(&status) {
        return remote::print_answer(status, &answer, as_json);
    }
    let items = answer["data"].as_array().cloned().unwrap_or_default();
    if items.is_empty() {
        println!("nothing waits for your decision");
    }
    let now = pao::clock::now_epoch();
    for a in &items {
        println!("{}", pending_line(a, now));
    }
    if let Some(next) = answer.pointer("/meta/nextCursor").and_then(Value::as_str) {
        println!("more: devctl approvals --cursor {next}");
    }
    ExitCode::SUCCESS
}

/// One pending approval: `req-… orders (database-aurora-postgresql) by dev@example.com,
/// requested 2h ago · dba (0 of 1)`.
pub fn pending_line(a: &Value, now: u64) -> String {
    let what = a["catalogItemId"]
        .as_str()
        .or_else(|| a["bundleId"].as_str())
        .unwrap_or_default();
    let by = a
        .pointer("/requestedBy/email")
        .and_then(Value::as_str)
        .or_else(|| a.pointer("/requestedBy/arn").and_then(Value::as_str))
        .unwrap_or_default();
    format!(
        "{} {} ({what}) by {by}, requested {} · {}",
        a["approvalId"].as_str().unwrap_or_default(),
        a["name"].as_str().unwrap_or_default(),
        ago(a["requestedAt"].as_str(), now),
        stage_words(&a["stage"])
    )
}

/// `dba (0 of 1)`, with `escalated` when its timeout handed it to the escalation group.
pub fn stage_words(stage: &Value) -> String {
    format!(
        "{} ({} of {}){}",
        stage["id"].as_str().unwrap_or("?"),
        stage["approvals"].as_u64().unwrap_or(0),
        stage["needed"].as_u64().unwrap_or(0),
        if stage["escalated"] == Value::Bool(true) {
            ", escalated"
        } else {
            ""
        }
    )
}

/// `2h ago` for an RFC 3339 time PAO wrote.
pub fn ago(at: Option<&str>, now: u64) -> String {
    let Some(then) = at.and_then(pao::clock::epoch_of) else {
        return "at an unknown time".into();
    };
    let s = now.saturating_sub(then);
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m ago", s / 60),
        3600..86_400 => format!("{}h ago", s / 3600),
        _ => format!("{}d ago", s / 86_400),
    }
}

/// `devctl approve|reject ID [--comment]`.
pub fn decide(
    target: &Target,
    id: &str,
    verb: &str,
    comment: Option<&str>,
    idempotency_key: Option<&str>,
    as_json: bool,
) -> ExitCode {
    let body = comment.map(|c| serde_json::json!({"comment": c}).to_string().into_bytes());
    let path = format!(
        "/approvals/{}/{verb}",
        pao::signing::uri_encode(id.as_bytes(), false)
    );
    let (status, answer) = match remote::send(target, "POST", &path, body, idempotency_key) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if as_json || !(200..300).contains(&status) {
        return remote::print_answer(status, &answer, as_json);
    }
    let d = &answer["data"];
    let after = match d["state"].as_str() {
        Some("submitted") => "every stage approved: the request runs".to_string(),
        Some("rejected") => "the request is rejected".to_string(),
        _ => match d.pointer("/approval/current") {
            Some(stage) if !stage.is_null() => format!("waiting: {}", stage_words(stage)),
            _ => "recorded".to_string(),
        },
    };
    println!(
        "{} {id} at stage {}: {after}",
        d["decision"].as_str().unwrap_or(verb),
        d["stage"].as_str().unwrap_or("?")
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lines_say_who_what_and_where_the_stage_stands() {
        let now = pao::clock::epoch_of("2026-12-07T12:00:00Z").unwrap_or_default();
        let line = pending_line(
            &json!({"approvalId": "req-1", "name": "orders", "catalogItemId": "database-aurora-postgresql",
                    "requestedBy": {"arn": "arn:x", "email": "dev@example.com"},
                    "requestedAt": "2026-12-07T10:00:00Z",
                    "stage": {"id": "dba", "approvals": 0, "needed": 1, "escalated": false}}),
            now,
        );
        assert_eq!(
            line,
            "req-1 orders (database-aurora-postgresql) by dev@example.com, requested 2h ago · dba (0 of 1)"
        );
        assert_eq!(ago(Some("2026-12-07T11:59:30Z"), now), "30s ago");
        assert_eq!(ago(Some("2026-12-04T12:00:00Z"), now), "3d ago");
        assert_eq!(ago(Some("yesterday"), now), "at an unknown time");
    }
}
