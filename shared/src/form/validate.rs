//! Validation of a request's input against its form: on success the input with defaults
//! applied; otherwise every problem, never echoing a value (it may be a password).

use super::{Field, FieldType, Form, NAME_MAX_LEN, SelectOption};
use crate::problem::Problem;
use crate::value::{compiled_pattern, is_date, is_datetime, is_email, is_url};
use serde_json::{Map, Value};

impl Form {
    /// Validates a request's `input`. On success returns the input with defaults applied and
    /// every group present (so templates find `.current.<group>` as an object); otherwise
    /// every problem found, never the value of a password.
    pub fn validate_input(&self, input: &Value) -> Result<Value, Vec<Problem>> {
        let mut issues = Vec::new();
        let Some(given) = input.as_object() else {
            return Err(vec![Problem::at("input", "must be an object")]);
        };
        let mut out = Map::new();
        match given.get("name") {
            None | Some(Value::Null) => issues.push(Problem::at("name", "is required")),
            Some(Value::String(s)) if s.trim().is_empty() => {
                issues.push(Problem::at("name", "is required"))
            }
            Some(Value::String(s)) if s.chars().count() > NAME_MAX_LEN => issues.push(Problem::at(
                "name",
                format!("must be at most {NAME_MAX_LEN} characters"),
            )),
            Some(Value::String(s)) => {
                out.insert("name".into(), Value::String(s.clone()));
            }
            Some(_) => issues.push(Problem::at("name", "must be a string")),
        }
        for key in given.keys() {
            if key != "name" && self.group(key).is_none() {
                issues.push(Problem::at(key.clone(), "is not a group of this form"));
            }
        }
        for group in &self.groups {
            let empty = Map::new();
            let values = match given.get(&group.id) {
                None | Some(Value::Null) => &empty,
                Some(Value::Object(m)) => m,
                Some(_) => {
                    issues.push(Problem::at(group.id.clone(), "must be an object"));
                    continue;
                }
            };
            for key in values.keys() {
                if !group.fields.iter().any(|f| &f.id == key) {
                    issues.push(Problem::at(
                        format!("{}.{key}", group.id),
                        "is not a field of this form",
                    ));
                }
            }
            let mut group_out = Map::new();
            for field in &group.fields {
                let path = format!("{}.{}", group.id, field.id);
                match values.get(&field.id) {
                    None | Some(Value::Null) => {
                        if let Some(default) = &field.default {
                            group_out.insert(field.id.clone(), default.clone());
                        } else if field.required {
                            issues.push(Problem::at(path, "is required"));
                        }
                    }
                    Some(Value::String(s)) if s.is_empty() && field.kind != FieldType::Json => {
                        if field.required {
                            issues.push(Problem::at(path, "is required"));
                        } else {
                            group_out.insert(field.id.clone(), Value::String(String::new()));
                        }
                    }
                    Some(value) => match field.check(value) {
                        Ok(()) => {
                            group_out.insert(field.id.clone(), value.clone());
                        }
                        Err(issue) => issues.push(Problem::at(path, issue)),
                    },
                }
            }
            out.insert(group.id.clone(), Value::Object(group_out));
        }
        if issues.is_empty() {
            Ok(Value::Object(out))
        } else {
            Err(issues)
        }
    }
}

impl Field {
    /// Checks one non-null value against this field's type and constraints. The message never
    /// repeats the value itself (it may be a password).
    pub fn check(&self, value: &Value) -> Result<(), String> {
        match self.kind {
            FieldType::String
            | FieldType::Text
            | FieldType::Password
            | FieldType::Email
            | FieldType::Url => {
                let s = value.as_str().ok_or("must be a string")?;
                self.check_text(s)
            }
            FieldType::Integer => {
                let n = value
                    .as_i64()
                    .map(|n| n as f64)
                    .or_else(|| value.as_u64().map(|n| n as f64))
                    .ok_or("must be an integer")?;
                self.check_range(n)
            }
            FieldType::Number => {
                let n = value.as_f64().ok_or("must be a number")?;
                storable_number(n)?;
                self.check_range(n)
            }
            FieldType::Boolean => value
                .as_bool()
                .map(|_| ())
                .ok_or_else(|| "must be true or false".into()),
            FieldType::Select => {
                let s = value.as_str().ok_or("must be a string")?;
                self.check_option(s)
            }
            FieldType::Multiselect => {
                let items = value.as_array().ok_or("must be a list of choices")?;
                let mut seen = Vec::new();
                for item in items {
                    let s = item.as_str().ok_or("every choice must be a string")?;
                    self.check_option(s)?;
                    if seen.contains(&s) {
                        return Err(format!("{s:?} is chosen more than once"));
                    }
                    seen.push(s);
                }
                let count = items.len() as f64;
                if let Some(min) = self.min.filter(|m| count < *m) {
                    return Err(format!("must have at least {min} choices"));
                }
                if let Some(max) = self.max.filter(|m| count > *m) {
                    return Err(format!("must have at most {max} choices"));
                }
                Ok(())
            }
            FieldType::Date => {
                let s = value.as_str().ok_or("must be a date string")?;
                if is_date(s) {
                    Ok(())
                } else {
                    Err("must be a date as YYYY-MM-DD".into())
                }
            }
            FieldType::Datetime => {
                let s = value.as_str().ok_or("must be a date-time string")?;
                if is_datetime(s) {
                    Ok(())
                } else {
                    Err("must be an RFC 3339 date-time such as 2026-11-23T09:30:00Z".into())
                }
            }
            FieldType::Json => storable_json(value, 0),
        }
    }

    fn check_text(&self, s: &str) -> Result<(), String> {
        let len = s.chars().count() as u64;
        if let Some(min) = self.min_length.filter(|m| len < *m) {
            return Err(format!("must be at least {min} characters"));
        }
        if let Some(max) = self.max_length.filter(|m| len > *m) {
            return Err(format!("must be at most {max} characters"));
        }
        match self.kind {
            FieldType::Email if !is_email(s) => return Err("must be an email address".into()),
            FieldType::Url if !is_url(s) => return Err("must be an http(s) URL".into()),
            _ => {}
        }
        if let Some(pattern) = &self.pattern {
            let re =
                compiled_pattern(pattern).map_err(|e| format!("has an invalid pattern: {e}"))?;
            if !re.is_match(s) {
                return Err(format!("does not match the pattern {pattern}"));
            }
        }
        Ok(())
    }

    fn check_range(&self, n: f64) -> Result<(), String> {
        if let Some(min) = self.min.filter(|m| n < *m) {
            return Err(format!("must be at least {min}"));
        }
        if let Some(max) = self.max.filter(|m| n > *m) {
            return Err(format!("must be at most {max}"));
        }
        Ok(())
    }

    fn check_option(&self, s: &str) -> Result<(), String> {
        if self.options.iter().any(|o| o.value() == s) {
            Ok(())
        } else {
            let list: Vec<&str> = self.options.iter().map(SelectOption::value).collect();
            Err(format!("{s:?} is not one of: {}", list.join(", ")))
        }
    }
}

/// The deepest a `json` field's value may nest: the stored request puts it under the item,
/// its input and its group (and a task copies it again), and DynamoDB stops at 32 levels.
pub const MAX_JSON_DEPTH: usize = 24;

/// DynamoDB's number range: magnitudes from 1E-130 to under 1E126 (and 0).
fn storable_number(n: f64) -> Result<(), String> {
    let m = n.abs();
    if m != 0.0 && !(1e-130..1e126).contains(&m) {
        return Err(format!(
            "{n} is outside the numbers PAO can store (magnitudes from 1e-130 to below 1e126)"
        ));
    }
    Ok(())
}

/// A `json` value PAO can store: at most [`MAX_JSON_DEPTH`] levels deep, every number in
/// DynamoDB's range. Bad input is refused naming the field, never a 500 from the store.
fn storable_json(value: &Value, depth: usize) -> Result<(), String> {
    if depth > MAX_JSON_DEPTH {
        return Err(format!("nests deeper than {MAX_JSON_DEPTH} levels"));
    }
    match value {
        Value::Number(n) => n.as_f64().map_or(Ok(()), storable_number),
        Value::Array(items) => items.iter().try_for_each(|v| storable_json(v, depth + 1)),
        Value::Object(map) => map.values().try_for_each(|v| storable_json(v, depth + 1)),
        _ => Ok(()),
    }
}
