//! Password redaction: by the form's password fields, by dotted paths stored on a task, and by
//! value wherever a password was copied.

use super::{Form, REDACTED};
use serde_json::Value;

impl Form {
    /// A copy of `input` with every password value replaced by [`REDACTED`].
    pub fn redact(&self, input: &Value) -> Value {
        redact_paths(input, &self.password_paths())
    }
}

/// A copy of `input` with the values at the dotted `paths` (`group.field`) replaced by
/// [`REDACTED`]; absent and null values stay as they are.
/// Every string in `value` that contains one of `secrets` becomes `********`: redaction that
/// follows a password's value wherever it was copied, not only the field it was typed into.
pub fn redact_values(value: &Value, secrets: &[String]) -> Value {
    match value {
        Value::String(s)
            if secrets
                .iter()
                .any(|p| !p.is_empty() && s.contains(p.as_str())) =>
        {
            Value::String(REDACTED.into())
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| redact_values(v, secrets)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact_values(v, secrets)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// The values of the password fields at `paths` in `input` (non-empty strings).
pub fn password_values(input: &Value, paths: &[String]) -> Vec<String> {
    paths
        .iter()
        .filter_map(|p| {
            let (g, f) = p.split_once('.')?;
            input.get(g)?.get(f)?.as_str().map(str::to_string)
        })
        .filter(|v| !v.is_empty() && v != REDACTED)
        .collect()
}

pub fn redact_paths(input: &Value, paths: &[String]) -> Value {
    let mut out = input.clone();
    for path in paths {
        let Some((group, field)) = path.split_once('.') else {
            continue;
        };
        if let Some(v) = out
            .get_mut(group)
            .and_then(|g| g.get_mut(field))
            .filter(|v| !v.is_null())
        {
            *v = Value::String(REDACTED.into());
        }
    }
    out
}
