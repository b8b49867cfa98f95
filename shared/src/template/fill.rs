//! Filling of missing values: every variable a template reads exists when it renders, as an
//! empty string where the input has nothing, so that a missing value never fails a task.

use super::tree::error_chain;
use super::{Reference, ReferenceUse, TemplateError};
use serde_json::{Map, Value};

pub(super) fn context(root: Value) -> Result<tera::Context, TemplateError> {
    tera::Context::from_value(root).map_err(|e| TemplateError::Render(error_chain(&e)))
}

/// Makes every variable the template reads exist, as an empty string where it is missing,
/// so that a missing value renders empty rather than failing the task. Paths read only
/// through `default(...)` stay absent so that the default applies.
pub(super) fn fill_missing(root: &mut Value, uses: &[ReferenceUse]) {
    let mut defaulted_only: Vec<(&Reference, bool)> = Vec::new();
    for u in uses {
        match defaulted_only.iter_mut().find(|(r, _)| *r == &u.reference) {
            Some((_, defaulted)) => *defaulted &= u.defaulted,
            None => defaulted_only.push((&u.reference, u.defaulted)),
        }
    }
    // Deepest first, in one fixed order: a value read both whole and by a field
    // (`.current.a | json` and `.current.a.b`) is filled as an object holding the field, not
    // as an empty string the field cannot be read from (found by fuzzing: with a hash map's
    // order the same template rendered or failed from one call to the next).
    defaulted_only.sort_by_key(|(r, _)| std::cmp::Reverse(r.path.len()));
    for (reference, defaulted) in defaulted_only {
        if defaulted {
            continue;
        }
        let mut node = &mut *root;
        let mut keys = std::iter::once(reference.namespace.as_str())
            .chain(reference.path.iter().map(String::as_str))
            .peekable();
        while let Some(key) = keys.next() {
            let last = keys.peek().is_none();
            node = match node {
                Value::Object(map) => map.entry(key.to_string()).or_insert_with(|| {
                    if last {
                        Value::String(String::new())
                    } else {
                        Value::Object(Map::new())
                    }
                }),
                Value::Array(items) => {
                    match key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                        Some(v) => v,
                        None => break,
                    }
                }
                _ => break,
            };
        }
    }
}
