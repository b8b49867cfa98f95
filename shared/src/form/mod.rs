//! Input forms: the typed model of a catalog document's `form` (here), validation of a
//! request's `input` against it ([`validate`]: types, required, patterns, ranges, options,
//! defaults, unknown fields), password redaction ([`redact`]), the portal view of a form
//! ([`view`]: `GET /catalog/{id}/form`, `devctl preview`) and the JSON Schema of the input
//! it accepts ([`schema`]).
//!
//! Input shape: `{"name": "...", "<groupId>": {"<fieldId>": value}}`. `name` is required on
//! every request and lives at the top level, outside the groups.

pub mod redact;
pub mod schema;
pub mod validate;
pub mod view;

pub use redact::{password_values, redact_paths, redact_values};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

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
}

impl Field {
    pub fn label(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| view::humanize(&self.id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{is_date, is_datetime};
    use proptest::prelude::*;
    use serde_json::json;

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

    /// Input DynamoDB cannot store is refused naming the field (it answered 500 before).
    #[test]
    fn values_dynamodb_cannot_store_are_refused() {
        let mut deep = json!(1);
        for _ in 0..30 {
            deep = json!([deep]);
        }
        assert_eq!(
            one("extra", deep),
            ["basic.extra: nests deeper than 24 levels"]
        );
        let mut fits = json!({"a": 1});
        for _ in 0..20 {
            fits = json!({"a": fits});
        }
        assert!(one("extra", fits).is_empty());
        let huge = json!({"n": 1e300});
        assert_eq!(one("extra", huge).len(), 1);
        assert!(one("extra", json!({"n": 1e125, "m": -3, "z": 0})).is_empty());
        assert_eq!(one("extra", json!([1e-200])).len(), 1);
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
