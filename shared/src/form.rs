//! Input forms: the typed model of a catalog document's `form`, validation of a request's
//! `input` against it (types, required, patterns, ranges, options, defaults, unknown fields),
//! password redaction, and the portal view of a form (`GET /catalog/{id}/form`,
//! `devctl preview`).
//!
//! Input shape: `{"name": "...", "<groupId>": {"<fieldId>": value}}`. `name` is required on
//! every request and lives at the top level, outside the groups.

use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

/// What a password value is replaced with wherever input is stored or shown.
pub const REDACTED: &str = "********";

/// The request name's limit, matching `schemas/request-submission.schema.json`.
pub const NAME_MAX_LEN: usize = 128;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Form {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub groups: Vec<Group>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    String,
    Text,
    Integer,
    Number,
    Boolean,
    Select,
    Multiselect,
    Date,
    Datetime,
    Email,
    Url,
    Password,
    Json,
}

impl FieldType {
    /// Types whose value is a string checked by pattern and length.
    pub fn is_textual(self) -> bool {
        matches!(
            self,
            Self::String | Self::Text | Self::Password | Self::Email | Self::Url
        )
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Integer | Self::Number)
    }

    pub fn has_options(self) -> bool {
        matches!(self, Self::Select | Self::Multiselect)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Text => "text",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Boolean => "boolean",
            Self::Select => "select",
            Self::Multiselect => "multiselect",
            Self::Date => "date",
            Self::Datetime => "datetime",
            Self::Email => "email",
            Self::Url => "url",
            Self::Password => "password",
            Self::Json => "json",
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A select option: written as a plain string or as `{value, label}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SelectOption {
    Plain(String),
    Labeled {
        value: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
}

impl SelectOption {
    pub fn value(&self) -> &str {
        match self {
            Self::Plain(v) | Self::Labeled { value: v, .. } => v,
        }
    }

    pub fn label(&self) -> &str {
        match self {
            Self::Labeled { label: Some(l), .. } => l,
            _ => self.value(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Field {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placeholder: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    /// Lowest value (integer, number) or fewest choices (multiselect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Highest value (integer, number) or most choices (multiselect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<SelectOption>,
}

/// One problem with a request's input: the dotted field path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldIssue {
    pub field: String,
    pub issue: String,
}

impl FieldIssue {
    pub fn new(field: impl Into<String>, issue: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            issue: issue.into(),
        }
    }
}

impl fmt::Display for FieldIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.issue)
    }
}

impl Form {
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// The field at `group.field`.
    pub fn field(&self, group: &str, field: &str) -> Option<&Field> {
        self.group(group)?.fields.iter().find(|f| f.id == field)
    }

    /// Every field with its dotted path, in form order.
    pub fn fields(&self) -> impl Iterator<Item = (String, &Field)> {
        self.groups.iter().flat_map(|g| {
            g.fields
                .iter()
                .map(move |f| (format!("{}.{}", g.id, f.id), f))
        })
    }

    /// Dotted paths of every password field, for redaction by later layers.
    pub fn password_paths(&self) -> Vec<String> {
        self.fields()
            .filter(|(_, f)| f.kind == FieldType::Password)
            .map(|(p, _)| p)
            .collect()
    }

    /// Validates a request's `input`. On success returns the input with defaults applied and
    /// every group present (so templates find `.current.<group>` as an object); otherwise
    /// every problem found, never the value of a password.
    pub fn validate_input(&self, input: &Value) -> Result<Value, Vec<FieldIssue>> {
        let mut issues = Vec::new();
        let Some(given) = input.as_object() else {
            return Err(vec![FieldIssue::new("input", "must be an object")]);
        };
        let mut out = Map::new();
        match given.get("name") {
            None | Some(Value::Null) => issues.push(FieldIssue::new("name", "is required")),
            Some(Value::String(s)) if s.trim().is_empty() => {
                issues.push(FieldIssue::new("name", "is required"))
            }
            Some(Value::String(s)) if s.chars().count() > NAME_MAX_LEN => issues.push(
                FieldIssue::new("name", format!("must be at most {NAME_MAX_LEN} characters")),
            ),
            Some(Value::String(s)) => {
                out.insert("name".into(), Value::String(s.clone()));
            }
            Some(_) => issues.push(FieldIssue::new("name", "must be a string")),
        }
        for key in given.keys() {
            if key != "name" && self.group(key).is_none() {
                issues.push(FieldIssue::new(key.clone(), "is not a group of this form"));
            }
        }
        for group in &self.groups {
            let empty = Map::new();
            let values = match given.get(&group.id) {
                None | Some(Value::Null) => &empty,
                Some(Value::Object(m)) => m,
                Some(_) => {
                    issues.push(FieldIssue::new(group.id.clone(), "must be an object"));
                    continue;
                }
            };
            for key in values.keys() {
                if !group.fields.iter().any(|f| &f.id == key) {
                    issues.push(FieldIssue::new(
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
                            issues.push(FieldIssue::new(path, "is required"));
                        }
                    }
                    Some(Value::String(s)) if s.is_empty() && field.kind != FieldType::Json => {
                        if field.required {
                            issues.push(FieldIssue::new(path, "is required"));
                        } else {
                            group_out.insert(field.id.clone(), Value::String(String::new()));
                        }
                    }
                    Some(value) => match field.check(value) {
                        Ok(()) => {
                            group_out.insert(field.id.clone(), value.clone());
                        }
                        Err(issue) => issues.push(FieldIssue::new(path, issue)),
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

    /// A copy of `input` with every password value replaced by [`REDACTED`].
    pub fn redact(&self, input: &Value) -> Value {
        redact_paths(input, &self.password_paths())
    }

    /// The form as a portal renders it: normalised groups and fields (labels filled in,
    /// options as `{value, label}`, each field's dotted `path`) plus a JSON Schema of the
    /// input the form accepts.
    pub fn portal_view(&self) -> Value {
        let groups: Vec<Value> = self
            .groups
            .iter()
            .map(|g| {
                let fields: Vec<Value> = g
                    .fields
                    .iter()
                    .map(|f| f.portal_view(&format!("{}.{}", g.id, f.id)))
                    .collect();
                let mut group = json!({
                    "id": g.id,
                    "name": g.name.clone().unwrap_or_else(|| humanize(&g.id)),
                    "fields": fields,
                });
                if let Some(d) = &g.description {
                    group["description"] = json!(d);
                }
                group
            })
            .collect();
        let mut view = json!({
            "fields": [{
                "id": "name", "path": "name", "type": "string", "label": "Request name",
                "required": true, "maxLength": NAME_MAX_LEN,
            }],
            "groups": groups,
            "inputSchema": self.input_schema(),
        });
        if let Some(d) = &self.description {
            view["description"] = json!(d);
        }
        view
    }

    /// A JSON Schema (draft 2020-12) of the input this form accepts, for portals that render
    /// forms from schemas.
    pub fn input_schema(&self) -> Value {
        let mut properties = Map::new();
        properties.insert(
            "name".into(),
            json!({"type": "string", "minLength": 1, "maxLength": NAME_MAX_LEN, "title": "Request name"}),
        );
        for g in &self.groups {
            let mut props = Map::new();
            let mut required = Vec::new();
            for f in &g.fields {
                props.insert(f.id.clone(), f.json_schema());
                if f.required && f.default.is_none() {
                    required.push(Value::String(f.id.clone()));
                }
            }
            let mut group =
                json!({"type": "object", "properties": props, "additionalProperties": false});
            if let Some(n) = &g.name {
                group["title"] = json!(n);
            }
            if !required.is_empty() {
                group["required"] = Value::Array(required);
            }
            properties.insert(g.id.clone(), group);
        }
        json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["name"],
            "properties": properties,
            "additionalProperties": false,
        })
    }
}

impl Field {
    pub fn label(&self) -> String {
        self.label.clone().unwrap_or_else(|| humanize(&self.id))
    }

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
            FieldType::Json => Ok(()),
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
            let re = compiled(pattern).map_err(|e| format!("has an invalid pattern: {e}"))?;
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

    fn portal_view(&self, path: &str) -> Value {
        let mut v = json!({
            "id": self.id,
            "path": path,
            "type": self.kind,
            "label": self.label(),
            "required": self.required,
        });
        let o = v.as_object_mut();
        if let Some(o) = o {
            let mut put = |k: &str, val: Option<Value>| {
                if let Some(val) = val {
                    o.insert(k.into(), val);
                }
            };
            put("description", self.description.clone().map(Value::from));
            put("placeholder", self.placeholder.clone().map(Value::from));
            // A password's default is never shown.
            put(
                "default",
                self.default
                    .clone()
                    .filter(|_| self.kind != FieldType::Password),
            );
            put("pattern", self.pattern.clone().map(Value::from));
            put("minLength", self.min_length.map(Value::from));
            put("maxLength", self.max_length.map(Value::from));
            put("min", self.min.map(Value::from));
            put("max", self.max.map(Value::from));
            if self.kind.has_options() {
                let options: Vec<Value> = self
                    .options
                    .iter()
                    .map(|o| json!({"value": o.value(), "label": o.label()}))
                    .collect();
                put("options", Some(Value::Array(options)));
            }
            put(
                "sensitive",
                (self.kind == FieldType::Password).then_some(Value::Bool(true)),
            );
            put("widget", Some(Value::from(widget(self.kind))));
        }
        v
    }

    fn json_schema(&self) -> Value {
        let mut s = match self.kind {
            FieldType::String | FieldType::Text => json!({"type": "string"}),
            FieldType::Password => json!({"type": "string", "writeOnly": true}),
            FieldType::Email => json!({"type": "string", "format": "email"}),
            FieldType::Url => json!({"type": "string", "format": "uri"}),
            FieldType::Date => json!({"type": "string", "format": "date"}),
            FieldType::Datetime => json!({"type": "string", "format": "date-time"}),
            FieldType::Integer => json!({"type": "integer"}),
            FieldType::Number => json!({"type": "number"}),
            FieldType::Boolean => json!({"type": "boolean"}),
            FieldType::Select => {
                json!({"type": "string", "enum": self.options.iter().map(SelectOption::value).collect::<Vec<_>>()})
            }
            FieldType::Multiselect => json!({
                "type": "array", "uniqueItems": true,
                "items": {"enum": self.options.iter().map(SelectOption::value).collect::<Vec<_>>()},
            }),
            FieldType::Json => json!({}),
        };
        s["title"] = json!(self.label());
        if let Some(d) = &self.description {
            s["description"] = json!(d);
        }
        if let Some(d) = self
            .default
            .as_ref()
            .filter(|_| self.kind != FieldType::Password)
        {
            s["default"] = d.clone();
        }
        if self.kind.is_textual() {
            if let Some(p) = &self.pattern {
                s["pattern"] = json!(p);
            }
            if let Some(n) = self.min_length {
                s["minLength"] = json!(n);
            }
            if let Some(n) = self.max_length {
                s["maxLength"] = json!(n);
            }
        }
        let (lo, hi) = if self.kind == FieldType::Multiselect {
            ("minItems", "maxItems")
        } else {
            ("minimum", "maximum")
        };
        if self.kind.is_numeric() || self.kind == FieldType::Multiselect {
            if let Some(n) = self.min {
                s[lo] = json!(n);
            }
            if let Some(n) = self.max {
                s[hi] = json!(n);
            }
        }
        s
    }
}

fn widget(kind: FieldType) -> &'static str {
    match kind {
        FieldType::String => "text",
        FieldType::Text => "textarea",
        FieldType::Integer | FieldType::Number => "number",
        FieldType::Boolean => "checkbox",
        FieldType::Select => "dropdown",
        FieldType::Multiselect => "checklist",
        FieldType::Date => "date",
        FieldType::Datetime => "datetime-local",
        FieldType::Email => "email",
        FieldType::Url => "url",
        FieldType::Password => "password",
        FieldType::Json => "code",
    }
}

/// `instanceClass` → `Instance class`, for groups and fields without a label.
fn humanize(id: &str) -> String {
    let mut out = String::new();
    for (i, c) in id.chars().enumerate() {
        if c == '_' || c == '-' {
            out.push(' ');
        } else if c.is_uppercase() && i > 0 {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else if i == 0 {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
    }
    out
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

/// Compiles a field pattern once per process: forms are validated on every submission.
pub fn compiled(pattern: &str) -> Result<Arc<Regex>, regex::Error> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(re) = cache.lock().ok().and_then(|c| c.get(pattern).cloned()) {
        return Ok(re);
    }
    let re = Arc::new(
        regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()?,
    );
    if let Ok(mut c) = cache.lock() {
        // Patterns come from the catalog, a bounded set; the cap guards against abuse.
        if c.len() < 10_000 {
            c.insert(pattern.to_string(), re.clone());
        }
    }
    Ok(re)
}

fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

fn is_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            !host.is_empty() && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// `YYYY-MM-DD`, a real calendar day.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// RFC 3339 date-time: `2026-11-23T09:30:00Z`, `2026-11-23T09:30:00.5+01:00`.
pub fn is_datetime(s: &str) -> bool {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(
            r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$",
        )
        .ok()
    });
    let Some(caps) = re.as_ref().and_then(|re| re.captures(s)) else {
        return false;
    };
    let n = |i: usize| -> u32 {
        caps.get(i)
            .and_then(|m| m.as_str().parse().ok())
            .unwrap_or(0)
    };
    is_date(&caps[1]) && n(2) < 24 && n(3) < 60 && n(4) < 61 && n(7) < 24 && n(8) < 60
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn form() -> Form {
        serde_norway::from_str(
            r#"
groups:
  - id: basic
    fields:
      - { id: instanceName, type: string, required: true, pattern: '^[a-z][a-z0-9-]{2,30}$' }
      - { id: notes, type: text, maxLength: 10 }
      - { id: size, type: integer, min: 20, max: 100, default: 20 }
      - { id: ratio, type: number, min: 0.5, max: 2 }
      - { id: encrypted, type: boolean, default: true }
      - { id: instanceClass, type: select, options: [db.r5.large, { value: db.r5.xlarge, label: XL }] }
      - { id: zones, type: multiselect, options: [a, b, c], max: 2 }
      - { id: start, type: date }
      - { id: window, type: datetime }
      - { id: contact, type: email }
      - { id: docs, type: url }
      - { id: secret, type: password, minLength: 8 }
      - { id: extra, type: json }
"#,
        )
        .expect("test form parses")
    }

    fn issues(input: Value) -> Vec<String> {
        match form().validate_input(&input) {
            Ok(_) => vec![],
            Err(list) => list.into_iter().map(|i| i.to_string()).collect(),
        }
    }

    fn one(field: &str, value: Value) -> Vec<String> {
        issues(json!({"name": "r", "basic": {"instanceName": "abc", field: value}}))
    }

    #[test]
    fn valid_input_gets_defaults_and_keeps_values() {
        let out = form()
            .validate_input(&json!({"name": "r", "basic": {"instanceName": "db-01", "zones": ["a"], "extra": {"k": [1]}}}))
            .expect("valid");
        assert_eq!(out["basic"]["size"], json!(20));
        assert_eq!(out["basic"]["encrypted"], json!(true));
        assert_eq!(out["basic"]["zones"], json!(["a"]));
        assert_eq!(out["basic"]["extra"], json!({"k": [1]}));
        assert!(out["basic"].get("notes").is_none());
    }

    #[test]
    fn name_is_required_at_top_level() {
        assert_eq!(
            issues(json!({"basic": {"instanceName": "abc"}})),
            ["name: is required"]
        );
        assert_eq!(
            issues(json!({"name": " ", "basic": {"instanceName": "abc"}})),
            ["name: is required"]
        );
        assert_eq!(
            issues(json!({"name": 5, "basic": {"instanceName": "abc"}})),
            ["name: must be a string"]
        );
        assert_eq!(issues(json!("x")), ["input: must be an object"]);
    }

    #[test]
    fn required_and_unknown_fields() {
        assert_eq!(
            issues(json!({"name": "r"})),
            ["basic.instanceName: is required"]
        );
        assert_eq!(
            issues(json!({"name": "r", "basic": {"instanceName": ""}})),
            ["basic.instanceName: is required"]
        );
        assert_eq!(
            issues(json!({"name": "r", "other": {}, "basic": {"instanceName": "abc", "bogus": 1}})),
            [
                "other: is not a group of this form",
                "basic.bogus: is not a field of this form"
            ]
        );
        assert_eq!(
            issues(json!({"name": "r", "basic": []})),
            ["basic: must be an object"]
        );
    }

    #[test]
    fn string_pattern_and_length() {
        assert_eq!(
            issues(json!({"name": "r", "basic": {"instanceName": "Bad_Name"}})),
            ["basic.instanceName: does not match the pattern ^[a-z][a-z0-9-]{2,30}$"]
        );
        assert_eq!(
            one("notes", json!("01234567890")),
            ["basic.notes: must be at most 10 characters"]
        );
        assert_eq!(one("notes", json!(3)), ["basic.notes: must be a string"]);
    }

    #[test]
    fn numbers() {
        assert_eq!(one("size", json!(10)), ["basic.size: must be at least 20"]);
        assert_eq!(one("size", json!(101)), ["basic.size: must be at most 100"]);
        assert_eq!(one("size", json!(50.5)), ["basic.size: must be an integer"]);
        assert_eq!(one("size", json!("50")), ["basic.size: must be an integer"]);
        assert!(one("size", json!(50)).is_empty());
        assert_eq!(
            one("ratio", json!(0.1)),
            ["basic.ratio: must be at least 0.5"]
        );
        assert_eq!(one("ratio", json!(true)), ["basic.ratio: must be a number"]);
        assert!(one("ratio", json!(1.5)).is_empty());
    }

    #[test]
    fn boolean_select_multiselect() {
        assert_eq!(
            one("encrypted", json!("yes")),
            ["basic.encrypted: must be true or false"]
        );
        assert!(one("instanceClass", json!("db.r5.xlarge")).is_empty());
        assert_eq!(
            one("instanceClass", json!("db.t3")),
            ["basic.instanceClass: \"db.t3\" is not one of: db.r5.large, db.r5.xlarge"]
        );
        assert_eq!(
            one("zones", json!(["a", "a"])),
            ["basic.zones: \"a\" is chosen more than once"]
        );
        assert_eq!(
            one("zones", json!(["a", "b", "c"])),
            ["basic.zones: must have at most 2 choices"]
        );
        assert_eq!(
            one("zones", json!("a")),
            ["basic.zones: must be a list of choices"]
        );
        assert_eq!(
            one("zones", json!(["d"])),
            ["basic.zones: \"d\" is not one of: a, b, c"]
        );
    }

    #[test]
    fn dates_emails_urls() {
        assert!(one("start", json!("2024-02-29")).is_empty());
        assert_eq!(
            one("start", json!("2023-02-29")),
            ["basic.start: must be a date as YYYY-MM-DD"]
        );
        assert_eq!(
            one("start", json!("2023-1-2")),
            ["basic.start: must be a date as YYYY-MM-DD"]
        );
        assert!(one("window", json!("2026-11-23T09:30:00Z")).is_empty());
        assert!(one("window", json!("2026-11-23T09:30:00.123+01:00")).is_empty());
        assert_eq!(
            one("window", json!("2026-11-23 09:30")),
            ["basic.window: must be an RFC 3339 date-time such as 2026-11-23T09:30:00Z"]
        );
        assert!(one("contact", json!("dev@example.com")).is_empty());
        assert_eq!(
            one("contact", json!("dev@localhost")),
            ["basic.contact: must be an email address"]
        );
        assert!(one("docs", json!("https://wiki.example.com/x?y")).is_empty());
        assert_eq!(
            one("docs", json!("ftp://x")),
            ["basic.docs: must be an http(s) URL"]
        );
        assert!(one("extra", json!([1, "two"])).is_empty());
    }

    #[test]
    fn password_is_never_echoed_and_is_redacted() {
        let bad = one("secret", json!("hunter2"));
        assert_eq!(bad, ["basic.secret: must be at least 8 characters"]);
        assert!(!bad.concat().contains("hunter2"));
        let f = form();
        assert_eq!(f.password_paths(), ["basic.secret"]);
        let out = f
            .validate_input(
                &json!({"name": "r", "basic": {"instanceName": "abc", "secret": "correct-horse"}}),
            )
            .expect("valid");
        let redacted = f.redact(&out);
        assert_eq!(redacted["basic"]["secret"], json!(REDACTED));
        assert_eq!(redacted["basic"]["instanceName"], json!("abc"));
    }

    #[test]
    fn portal_view_normalises_fields() {
        let view = form().portal_view();
        let fields = &view["groups"][0]["fields"];
        assert_eq!(fields[0]["path"], json!("basic.instanceName"));
        assert_eq!(fields[0]["label"], json!("Instance name"));
        assert_eq!(
            fields[5]["options"][1],
            json!({"value": "db.r5.xlarge", "label": "XL"})
        );
        assert_eq!(fields[11]["widget"], json!("password"));
        assert_eq!(
            view["inputSchema"]["properties"]["basic"]["required"],
            json!(["instanceName"])
        );
        assert_eq!(view["groups"][0]["name"], json!("Basic"));
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::Null)),
            ".{0,40}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop_oneof![
                        Just("name".to_string()),
                        Just("basic".to_string()),
                        Just("instanceName".to_string()),
                        Just("zones".to_string()),
                        Just("window".to_string()),
                        ".{0,8}".prop_map(|s: String| s)
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn validation_never_panics(input in arb_json(), basic in arb_json()) {
            let f = form();
            let _ = f.validate_input(&input);
            let _ = f.validate_input(&json!({"name": "x", "basic": basic}));
        }

        #[test]
        fn date_checks_never_panic(s in ".{0,30}") {
            let _ = is_date(&s);
            let _ = is_datetime(&s);
        }
    }
}
