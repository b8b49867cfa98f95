//! Password values for `submit` and `retry`, never taken from the command line (where shell
//! history and `ps` would keep them): from an environment variable
//! (`--secret-from-env db.adminPassword=DB_PW`), from standard input (`--secret-stdin
//! db.adminPassword`, one field), or, on a terminal, from a prompt that does not echo.

use serde_json::{Map, Value};
use std::io::{IsTerminal, Read};

/// `[ITEM:]group.field=VAR`: the field of the submission's item `ITEM` (default 0) whose
/// value is in the environment variable `VAR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromEnv {
    pub item: usize,
    pub field: String,
    pub var: String,
}

impl std::str::FromStr for FromEnv {
    type Err = String;

    fn from_str(spec: &str) -> Result<Self, String> {
        let (target, var) = spec
            .split_once('=')
            .ok_or_else(|| format!("{spec:?}: expected group.field=VARIABLE"))?;
        let (item, field) = item_field(target).map_err(|e| format!("{spec:?}: {e}"))?;
        if var.is_empty() {
            return Err(format!("{spec:?}: no variable named"));
        }
        Ok(Self {
            item,
            field,
            var: var.to_string(),
        })
    }
}

/// `[ITEM:]group.field`: the submission's item (default 0) and the field.
pub fn item_field(spec: &str) -> Result<(usize, String), String> {
    let (item, field) = match spec.split_once(':') {
        Some((n, f)) => (
            n.parse::<usize>()
                .map_err(|_| format!("{n:?} is not an item number"))?,
            f,
        ),
        None => (0, spec),
    };
    check_field(field)?;
    Ok((item, field.to_string()))
}

/// A password field's path: `group.field`.
pub fn check_field(field: &str) -> Result<(), String> {
    match field.split_once('.') {
        Some((g, f)) if !g.is_empty() && !f.is_empty() && !f.contains('.') => Ok(()),
        _ => Err(format!("{field:?}: a password field is named group.field")),
    }
}

/// The value of `var` (never empty).
pub fn from_env(var: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(v),
        _ => Err(format!("the environment variable {var} is not set")),
    }
}

/// Standard input up to its end, without the final line break.
pub fn from_stdin() -> Result<String, String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| format!("standard input: {e}"))?;
    let value = text.strip_suffix('\n').unwrap_or(&text);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.is_empty() {
        return Err("standard input is empty: no password read".into());
    }
    Ok(value.to_string())
}

/// Whether a prompt can be shown (standard input is a terminal).
pub fn can_prompt() -> bool {
    std::io::stdin().is_terminal()
}

/// Asks for `field` on the terminal without echo; an optional field may be left empty
/// (`None`).
pub fn prompt(field: &str, label: &str, required: bool) -> Result<Option<String>, String> {
    let named = if label.is_empty() || label == field {
        field.to_string()
    } else {
        format!("{field} ({label})")
    };
    let shown = if required {
        format!("{named}: ")
    } else {
        format!("{named}, Enter to leave it empty: ")
    };
    let value = rpassword::prompt_password(shown).map_err(|e| format!("{field}: {e}"))?;
    match value.is_empty() {
        true if required => Err(format!("{field}: no value typed")),
        true => Ok(None),
        false => Ok(Some(value)),
    }
}

/// Puts `value` at `group.field` of the input of the submission's item `item`.
pub fn set(submission: &mut Value, item: usize, field: &str, value: String) -> Result<(), String> {
    let (group, name) = field
        .split_once('.')
        .ok_or_else(|| format!("{field:?}: a password field is named group.field"))?;
    let input = submission
        .get_mut("items")
        .and_then(|items| items.get_mut(item))
        .and_then(Value::as_object_mut)
        .ok_or_else(|| format!("the submission has no item {item}"))?
        .entry("input")
        .or_insert_with(|| Value::Object(Map::new()));
    let group = input
        .as_object_mut()
        .ok_or_else(|| format!("items[{item}].input is not an object"))?
        .entry(group)
        .or_insert_with(|| Value::Object(Map::new()));
    group
        .as_object_mut()
        .ok_or_else(|| format!("items[{item}].input.{field} cannot be set"))?
        .insert(name.to_string(), Value::String(value));
    Ok(())
}

/// Whether the submission's item `item` has a non-empty value at `group.field`.
pub fn given(submission: &Value, item: usize, field: &str) -> bool {
    field.split_once('.').is_some_and(|(g, f)| {
        submission
            .pointer(&format!("/items/{item}/input/{g}/{f}"))
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
    })
}

/// The password fields of a form as `GET /catalog/{id}/form` shows it: (path, label,
/// required).
pub fn password_fields(form: &Value) -> Vec<(String, String, bool)> {
    form.get("fields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|f| f["type"] == "password")
        .filter_map(|f| {
            Some((
                f["path"].as_str()?.to_string(),
                f["label"].as_str().unwrap_or_default().to_string(),
                f["required"].as_bool().unwrap_or(false),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn env_specs_name_an_item_a_field_and_a_variable() {
        assert_eq!(
            "db.adminPassword=DB_PW".parse::<FromEnv>(),
            Ok(FromEnv {
                item: 0,
                field: "db.adminPassword".into(),
                var: "DB_PW".into()
            })
        );
        assert_eq!(
            "2:db.pw=X".parse::<FromEnv>().map(|s| (s.item, s.var)),
            Ok((2, "X".into()))
        );
        for bad in ["db.pw", "pw=X", "db.pw=", "x:db.pw=X", "a.b.c=X"] {
            assert!(bad.parse::<FromEnv>().is_err(), "{bad}");
        }
    }

    #[test]
    fn values_go_into_the_items_input() {
        let mut s = json!({"items": [{"catalogItemId": "x", "input": {"name": "n"}}]});
        set(&mut s, 0, "db.pw", "v".into()).expect("set");
        assert_eq!(s["items"][0]["input"]["db"]["pw"], json!("v"));
        assert!(given(&s, 0, "db.pw"));
        assert!(!given(&s, 0, "db.other"));
        assert!(set(&mut s, 1, "db.pw", "v".into()).is_err());
    }

    #[test]
    fn a_forms_password_fields_are_found() {
        let form = json!({"fields": [
            {"path": "db.name", "type": "string", "label": "Name"},
            {"path": "db.pw", "type": "password", "label": "Master password", "required": true}]});
        assert_eq!(
            password_fields(&form),
            vec![("db.pw".to_string(), "Master password".to_string(), true)]
        );
    }
}
