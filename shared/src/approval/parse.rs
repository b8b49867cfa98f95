//! Reading `approval.stages` as the catalog states them: every problem named by its path
//! under `approval` (`stages[0].require`), so validation can report them where they are written.

use super::{Group, OnTimeout, Require, Stage};
use serde_json::Value;

/// The most stages one item or bundle may state.
pub const MAX_STAGES: usize = 10;

/// Reads a document's `approval` (`{stages: [...]}`), as the catalog states it; every problem
/// with its path under `approval` (`stages[0].require`).
pub fn parse_stages(approval: &Value) -> Result<Vec<Stage>, Vec<(String, String)>> {
    let mut problems = Vec::new();
    let Some(list) = approval.get("stages").and_then(Value::as_array) else {
        return Err(vec![(
            "stages".into(),
            "is a list of approval stages".into(),
        )]);
    };
    if list.is_empty() || list.len() > MAX_STAGES {
        problems.push(("stages".into(), format!("holds 1 to {MAX_STAGES} stages")));
    }
    let mut stages = Vec::new();
    for (i, raw) in list.iter().enumerate() {
        let at = |key: &str| {
            if key.is_empty() {
                format!("stages[{i}]")
            } else {
                format!("stages[{i}].{key}")
            }
        };
        match parse_stage(raw) {
            Ok(stage) => {
                if stages.iter().any(|s: &Stage| s.id == stage.id) {
                    problems.push((
                        at("id"),
                        format!("{:?} names an earlier stage too", stage.id),
                    ));
                }
                stages.push(stage);
            }
            Err(found) => problems.extend(found.into_iter().map(|(k, p)| (at(&k), p))),
        }
    }
    if problems.is_empty() {
        Ok(stages)
    } else {
        Err(problems)
    }
}

fn parse_stage(raw: &Value) -> Result<Stage, Vec<(String, String)>> {
    const KEYS: [&str; 8] = [
        "id",
        "approvers",
        "require",
        "when",
        "timeout",
        "onTimeout",
        "escalateTo",
        "remindAfter",
    ];
    let Some(object) = raw.as_object() else {
        return Err(vec![(
            String::new(),
            "is an approval stage (id, approvers, require…)".into(),
        )]);
    };
    let mut problems: Vec<(String, String)> = object
        .keys()
        .filter(|k| !KEYS.contains(&k.as_str()))
        .map(|k| {
            (
                k.clone(),
                format!("is not a key of a stage ({})", KEYS.join(", ")),
            )
        })
        .collect();
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_string);
    let id = text("id").unwrap_or_default();
    let valid_id = id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_id {
        problems.push((
            "id".into(),
            "is a stage name: lowercase letters, digits and -, at most 64".into(),
        ));
    }
    let group = |key: &str, problems: &mut Vec<(String, String)>| match object.get(key) {
        None => None,
        Some(v) => match Group::parse(v) {
            Ok(g) => Some(g),
            Err((k, p)) => {
                problems.push((
                    if k.is_empty() {
                        key.to_string()
                    } else {
                        format!("{key}.{k}")
                    },
                    p,
                ));
                None
            }
        },
    };
    let approvers = group("approvers", &mut problems);
    if !object.contains_key("approvers") {
        problems.push((
            "approvers".into(),
            "names who may decide: arns, tags or both".into(),
        ));
    }
    let escalate_to = group("escalateTo", &mut problems);
    let require = match object.get("require") {
        None => Require::Any,
        Some(v) => Require::try_from(v.clone()).unwrap_or_else(|p| {
            problems.push(("require".into(), p));
            Require::Any
        }),
    };
    let duration = |key: &str, problems: &mut Vec<(String, String)>| {
        let raw = object.get(key)?;
        match raw.as_str().map(crate::clock::parse_duration) {
            Some(Ok(d)) if d.as_secs() > 0 => Some(d.as_secs()),
            Some(Ok(_)) => {
                problems.push((key.into(), "is longer than nothing".into()));
                None
            }
            Some(Err(e)) => {
                problems.push((key.into(), e));
                None
            }
            None => {
                problems.push((
                    key.into(),
                    "is an ISO 8601 duration such as P2D or PT8H".into(),
                ));
                None
            }
        }
    };
    let timeout_seconds = duration("timeout", &mut problems);
    let remind_after_seconds = duration("remindAfter", &mut problems);
    let on_timeout = match object.get("onTimeout").map(|v| v.as_str()) {
        None => OnTimeout::Reject,
        Some(Some("reject")) => OnTimeout::Reject,
        Some(Some("escalate")) => OnTimeout::Escalate,
        Some(_) => {
            problems.push(("onTimeout".into(), "is reject or escalate".into()));
            OnTimeout::Reject
        }
    };
    let when = match object.get("when") {
        None => None,
        Some(Value::String(w)) => Some(w.clone()),
        Some(_) => {
            problems.push((
                "when".into(),
                "is a template that renders true or false".into(),
            ));
            None
        }
    };
    if object.contains_key("onTimeout") && !object.contains_key("timeout") {
        problems.push(("onTimeout".into(), "needs a timeout to act on".into()));
    }
    match (on_timeout, object.contains_key("escalateTo")) {
        (OnTimeout::Escalate, false) => problems.push((
            "escalateTo".into(),
            "names who decides after onTimeout: escalate".into(),
        )),
        (OnTimeout::Reject, true) => problems.push((
            "escalateTo".into(),
            "is asked only with onTimeout: escalate".into(),
        )),
        _ => {}
    }
    if let (Some(remind), Some(timeout)) = (remind_after_seconds, timeout_seconds)
        && remind >= timeout
    {
        problems.push(("remindAfter".into(), "comes before the timeout".into()));
    }
    if let Some(g) = &approvers {
        match (require, g.named()) {
            (Require::All, None) => problems.push((
                "require".into(),
                "all needs approvers named by ARNs without a wildcard: a wildcard or a tag group has no fixed membership (use any or a number)".into(),
            )),
            (Require::AtLeast(n), Some(named)) if n as usize > named.len() => problems.push((
                "require".into(),
                format!("asks for {n} approvals of {} named approvers", named.len()),
            )),
            _ => {}
        }
    }
    match (approvers, problems.is_empty()) {
        (Some(approvers), true) => Ok(Stage {
            id,
            approvers,
            require,
            when,
            timeout_seconds,
            on_timeout,
            escalate_to,
            remind_after_seconds,
        }),
        _ => Err(problems),
    }
}
