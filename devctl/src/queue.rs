//! `devctl queue …`: the operators' view of the queue (the `/queue` routes) as tables, or the
//! API's JSON with `--json`.

use crate::remote::{self, Target};
use clap::Subcommand;
use serde_json::Value;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum QueueAction {
    /// Task queue and dead-letter queue counts, tasks by state, the oldest waiting task,
    /// tasks finished in the last 5 and 60 minutes (GET /queue/stats).
    Stats,
    /// Tasks waiting on the queue (or processing, or stuck), longest first; with a request id,
    /// that request's (GET /queue/messages[/{requestId}]).
    Messages {
        request_id: Option<String>,
        /// queued (default), processing or stuck.
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// The dead-letter queue's messages, in queue order, left where they are
    /// (GET /queue/dlq/messages).
    Dlq {
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Put a dead letter back on the task queue (POST /queue/dlq/{messageId}/redrive), or
    /// every one with --all (POST /queue/dlq/redrive).
    Redrive {
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        message_id: Option<String>,
        #[arg(long)]
        all: bool,
    },
}

/// Runs a queue command: exit status 0 on success, 1 for an error answer, 2 if the API
/// cannot be reached.
pub fn run(target: &Target, action: &QueueAction, as_json: bool) -> ExitCode {
    let (method, path) = match action {
        QueueAction::Stats => ("GET", "/queue/stats".to_string()),
        QueueAction::Messages {
            request_id: Some(id),
            ..
        } => ("GET", format!("/queue/messages/{id}")),
        QueueAction::Messages {
            request_id: None,
            state,
            limit,
            cursor,
        } => (
            "GET",
            remote::with_query(
                "/queue/messages",
                &[
                    ("state", state.clone()),
                    ("limit", limit.map(|l| l.to_string())),
                    ("cursor", cursor.clone()),
                ],
            ),
        ),
        QueueAction::Dlq { limit, cursor } => (
            "GET",
            remote::with_query(
                "/queue/dlq/messages",
                &[
                    ("limit", limit.map(|l| l.to_string())),
                    ("cursor", cursor.clone()),
                ],
            ),
        ),
        QueueAction::Redrive { all: true, .. } => ("POST", "/queue/dlq/redrive".to_string()),
        QueueAction::Redrive { message_id, .. } => (
            "POST",
            format!(
                "/queue/dlq/{}/redrive",
                message_id.as_deref().unwrap_or_default()
            ),
        ),
    };
    let (status, answer) = match remote::send(target, method, &path, None, None) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if as_json || !(200..300).contains(&status) {
        return remote::print_answer(status, &answer, as_json);
    }
    let data = &answer["data"];
    let text = match action {
        QueueAction::Stats => stats_table(data),
        QueueAction::Messages {
            request_id: Some(_),
            ..
        } => format!(
            "request {} is {}\n{}",
            text(&data["requestId"]),
            text(&data["requestState"]),
            tasks_table(&data["tasks"])
        ),
        QueueAction::Messages { .. } => tasks_table(data),
        QueueAction::Dlq { .. } => dlq_table(data),
        QueueAction::Redrive { .. } => redrive_table(data),
    };
    print!("{text}");
    if let Some(next) = answer.pointer("/meta/nextCursor").and_then(Value::as_str) {
        println!("more: --cursor {next}");
    }
    ExitCode::SUCCESS
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Columns aligned to their widest cell, one line per row.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row.clone()));
    }
    out
}

pub fn stats_table(s: &Value) -> String {
    let counts = |q: &Value| {
        vec![
            text(&q["visible"]),
            text(&q["inFlight"]),
            text(&q["delayed"]),
        ]
    };
    let mut task = vec!["tasks".to_string()];
    task.extend(counts(&s["taskQueue"]));
    let mut dead = vec!["dead letters".to_string()];
    dead.extend(counts(&s["deadLetterQueue"]));
    let mut out = table(&["QUEUE", "VISIBLE", "IN FLIGHT", "DELAYED"], &[task, dead]);
    out.push('\n');
    let t = &s["tasks"];
    out.push_str(&table(
        &[
            "TASKS",
            "QUEUED",
            "PROCESSING",
            "STUCK",
            "OLDEST QUEUED",
            "AGE (s)",
        ],
        &[vec![
            "now".into(),
            text(&t["queued"]),
            text(&t["processing"]),
            text(&t["stuck"]),
            text(&t["oldestQueuedSince"]),
            text(&t["oldestQueuedAgeSeconds"]),
        ]],
    ));
    out.push('\n');
    out.push_str(&table(
        &["FINISHED", "COMPLETED", "FAILED"],
        &[
            vec![
                "last 5 min".into(),
                text(&s["last5Minutes"]["completed"]),
                text(&s["last5Minutes"]["failed"]),
            ],
            vec![
                "last 60 min".into(),
                text(&s["last60Minutes"]["completed"]),
                text(&s["last60Minutes"]["failed"]),
            ],
        ],
    ));
    out
}

pub fn tasks_table(items: &Value) -> String {
    let rows: Vec<Vec<String>> = items
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            vec![
                text(&t["requestId"]),
                text(&t["seq"]),
                text(&t["catalogItemId"]),
                text(&t["type"]),
                text(&t["attempt"]),
                text(&t["state"]),
                text(&t["since"]),
                text(&t["ageSeconds"]),
            ]
        })
        .collect();
    if rows.is_empty() {
        return "no tasks\n".into();
    }
    table(
        &[
            "REQUEST", "TASK", "ITEM", "TYPE", "ATTEMPT", "STATE", "SINCE", "AGE (s)",
        ],
        &rows,
    )
}

pub fn dlq_table(items: &Value) -> String {
    let rows: Vec<Vec<String>> = items
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            vec![
                text(&m["messageId"]),
                m.pointer("/task/requestId")
                    .map(text)
                    .unwrap_or_else(|| "(not a task)".into()),
                m.pointer("/task/seq")
                    .map(text)
                    .unwrap_or_else(|| "-".into()),
                m.pointer("/task/attempt")
                    .map(text)
                    .unwrap_or_else(|| "-".into()),
                text(&m["receiveCount"]),
                text(&m["firstReceivedAt"]),
            ]
        })
        .collect();
    if rows.is_empty() {
        return "no dead letters\n".into();
    }
    table(
        &[
            "MESSAGE",
            "REQUEST",
            "TASK",
            "ATTEMPT",
            "RECEIVES",
            "FIRST RECEIVED",
        ],
        &rows,
    )
}

pub fn redrive_table(data: &Value) -> String {
    let one = |r: &Value| {
        vec![
            text(&r["messageId"]),
            text(&r["requestId"]),
            text(&r["seq"]),
            text(&r["taskState"]),
            text(&r["newMessageId"]),
        ]
    };
    let headers = ["MESSAGE", "REQUEST", "TASK", "TASK STATE", "NEW MESSAGE"];
    match data.get("redriven") {
        None => table(&headers, &[one(data)]),
        Some(all) => {
            let rows: Vec<Vec<String>> = all.as_array().into_iter().flatten().map(one).collect();
            let mut out = format!("{} redriven\n", rows.len());
            if !rows.is_empty() {
                out.push_str(&table(&headers, &rows));
            }
            for f in data["failed"].as_array().into_iter().flatten() {
                out.push_str(&format!(
                    "not redriven: {}: {}\n",
                    text(&f["messageId"]),
                    text(&f["error"])
                ));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stats_read_as_aligned_tables() {
        let s = json!({
            "taskQueue": {"visible": 3, "inFlight": 1, "delayed": 0},
            "deadLetterQueue": {"visible": 1, "inFlight": 0, "delayed": 0},
            "tasks": {"queued": 3, "processing": 1, "stuck": 0,
                      "oldestQueuedSince": "2026-11-25T10:00:00Z", "oldestQueuedAgeSeconds": 42},
            "last5Minutes": {"completed": 7, "failed": 1},
            "last60Minutes": {"completed": 70, "failed": 2}});
        let out = stats_table(&s);
        assert!(
            out.contains("QUEUE         VISIBLE  IN FLIGHT  DELAYED"),
            "{out}"
        );
        assert!(out.contains("dead letters  1        0          0"), "{out}");
        assert!(out.contains("2026-11-25T10:00:00Z  42"), "{out}");
        assert!(out.contains("last 60 min  70         2"), "{out}");
    }

    #[test]
    fn dead_letters_and_redrives_show_their_tasks() {
        let letters = json!([{"messageId": "m-1", "task": {"requestId": "req-1", "seq": 2, "attempt": 1},
                              "receiveCount": 4, "firstReceivedAt": "2026-11-25T10:00:00Z"},
                             {"messageId": "m-2", "receiveCount": 1, "body": "junk"}]);
        let out = dlq_table(&letters);
        assert!(out.contains("m-1      req-1"), "{out}");
        assert!(out.contains("(not a task)"), "{out}");
        assert_eq!(dlq_table(&json!([])), "no dead letters\n");
        let all = json!({"redriven": [{"messageId": "m-1", "requestId": "req-1", "seq": 2,
                         "taskState": "queued", "newMessageId": "n-1"}],
                         "failed": [{"messageId": "m-2", "error": "not a task message"}]});
        let out = redrive_table(&all);
        assert!(out.starts_with("1 redriven\n"), "{out}");
        assert!(
            out.contains("not redriven: m-2: not a task message"),
            "{out}"
        );
    }
}
