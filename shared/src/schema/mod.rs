//! The JSON Schemas in `schemas/` (draft 2020-12), read once per process and applied by
//! [`eval`]. The schemas are the single definition of a document's shape; this module turns
//! their violations into `path: message` problems.

mod eval;

use crate::problem::Problem;
pub use eval::KEYWORDS;
use eval::{Kind, Schemas, Violation};
use serde_json::Value;
use std::sync::OnceLock;

const CATALOG_ITEM: &str = include_str!("../../../schemas/catalog-item.schema.json");
const CATALOG_BUNDLE: &str = include_str!("../../../schemas/catalog-bundle.schema.json");
const REQUEST_SUBMISSION: &str = include_str!("../../../schemas/request-submission.schema.json");

/// Which of our schemas to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    CatalogItem,
    CatalogBundle,
    RequestSubmission,
}

impl SchemaKind {
    pub const ALL: [SchemaKind; 3] = [
        Self::CatalogItem,
        Self::CatalogBundle,
        Self::RequestSubmission,
    ];

    /// The schema named by its file name under `schemas/`.
    pub fn from_file_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.file_name() == name)
    }

    fn source(self) -> &'static str {
        match self {
            Self::CatalogItem => CATALOG_ITEM,
            Self::CatalogBundle => CATALOG_BUNDLE,
            Self::RequestSubmission => REQUEST_SUBMISSION,
        }
    }

    /// The file name under `schemas/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::CatalogItem => "catalog-item.schema.json",
            Self::CatalogBundle => "catalog-bundle.schema.json",
            Self::RequestSubmission => "request-submission.schema.json",
        }
    }

    /// The schema document itself.
    pub fn document(self) -> Value {
        // The embedded schemas are ours and checked by the tests below.
        serde_json::from_str(self.source()).unwrap_or(Value::Null) // ok: compile-time asset
    }
}

/// Our schemas, read and their patterns compiled once per process.
fn schemas() -> &'static Schemas {
    static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        Schemas::new(
            SchemaKind::ALL
                .into_iter()
                .map(|k| (k.file_name(), k.document()))
                .collect(),
        )
    })
}

/// Every violation of `kind`'s schema in `instance`, in the order the schema states its
/// rules.
pub fn validate(kind: SchemaKind, instance: &Value) -> Vec<Problem> {
    let mut problems: Vec<Problem> = schemas()
        .validate(kind.file_name(), instance)
        .into_iter()
        .map(describe)
        .collect();
    problems.dedup();
    problems
}

/// Turns a violation into a problem that names the exact property at fault.
fn describe(v: Violation<'_, '_>) -> Problem {
    let instance = v.instance;
    let (path, message) = match v.kind {
        Kind::Required(property) => (v.path.key(property), "is required".to_string()),
        Kind::AdditionalProperties(unexpected) => match unexpected.as_slice() {
            [one] => (
                v.path.key(one.clone()),
                "is not a known property".to_string(),
            ),
            _ => (
                v.path,
                format!("unknown properties: {}", unexpected.join(", ")),
            ),
        },
        Kind::OneOfNone | Kind::OneOfMany if is_reference_holder(instance) => (
            v.path,
            "must name exactly one of catalogItemId or bundleId".to_string(),
        ),
        Kind::PropertyName { name, problem } => {
            let name = Value::String(name);
            (v.path, format!("key {}", message(&problem, &name)))
        }
        kind => (v.path, message(&kind, instance)),
    };
    Problem::at(path.to_string(), message)
}

/// `1 item`, `2 items`.
fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// What is wrong with `instance`, in words.
fn message(kind: &Kind<'_>, instance: &Value) -> String {
    match kind {
        Kind::Type(Value::Array(types)) => {
            let names: Vec<String> = types.iter().map(Value::to_string).collect();
            format!("{instance} is not of types {}", names.join(", "))
        }
        Kind::Type(t) => format!("{instance} is not of type {t}"),
        Kind::Const(expected) => format!("must be {expected}"),
        Kind::Enum(options) => {
            let list = options
                .as_array()
                .map(|o| {
                    o.iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            format!("{instance} is not one of: {list}")
        }
        Kind::MinLength(n) => format!("{instance} is shorter than {}", count(*n, "character")),
        Kind::MaxLength(n) => format!("{instance} is longer than {}", count(*n, "character")),
        Kind::Pattern(p) => format!("{instance} does not match the pattern {p}"),
        Kind::Minimum(n) => format!("{instance} is less than the minimum of {n}"),
        Kind::Maximum(n) => format!("{instance} is greater than the maximum of {n}"),
        Kind::MinItems(n) => format!("{instance} has less than {}", count(*n, "item")),
        Kind::MaxItems(n) => format!("{instance} has more than {}", count(*n, "item")),
        Kind::UniqueItems => format!("{instance} has non-unique elements"),
        Kind::Required(p) => format!("{p} is required"),
        Kind::AdditionalProperties(names) => format!("unknown properties: {}", names.join(", ")),
        Kind::PropertyName { name, problem } => {
            format!("key {name:?}: {}", message(problem, instance))
        }
        // The schemas' other oneOf: a select option.
        Kind::OneOfNone | Kind::OneOfMany => {
            "must be a string or a {value, label} object".to_string()
        }
        Kind::Not(schema) => format!("{schema} is not allowed for {instance}"),
        Kind::FalseSchema => format!("{instance} is not allowed here"),
        Kind::BadSchema(e) => format!("schema error: {e}"),
    }
}

/// A request item or bundle component with both or neither of its two references (as
/// opposed to a select option, the schemas' other `oneOf`).
fn is_reference_holder(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        o.contains_key("catalogItemId") == o.contains_key("bundleId") && !o.contains_key("value")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Walks a schema: every keyword used (names under `properties`/`$defs` are not
    /// keywords), every `$ref` and every `pattern`.
    fn walk(
        schema: &Value,
        keywords: &mut Vec<String>,
        refs: &mut Vec<String>,
        patterns: &mut Vec<String>,
    ) {
        match schema {
            Value::Object(map) => {
                for (k, v) in map {
                    keywords.push(k.clone());
                    match (k.as_str(), v) {
                        ("properties" | "$defs", Value::Object(named)) => {
                            for sub in named.values() {
                                walk(sub, keywords, refs, patterns);
                            }
                        }
                        ("$ref", Value::String(r)) => refs.push(r.clone()),
                        ("pattern", Value::String(p)) => patterns.push(p.clone()),
                        ("const" | "enum" | "required" | "title" | "description", _) => {}
                        _ => walk(v, keywords, refs, patterns),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, keywords, refs, patterns)),
            _ => {}
        }
    }

    #[test]
    fn every_schema_uses_only_keywords_the_evaluator_applies() {
        for kind in SchemaKind::ALL {
            let (mut keywords, mut refs, mut patterns) = (vec![], vec![], vec![]);
            walk(&kind.document(), &mut keywords, &mut refs, &mut patterns);
            assert!(!keywords.is_empty(), "{kind:?} did not parse");
            for k in &keywords {
                assert!(
                    KEYWORDS.contains(&k.as_str()),
                    "{}: keyword {k} is not applied by schema::eval (add it there, with a test)",
                    kind.file_name()
                );
            }
            for r in &refs {
                let resolved = schemas().resolve_for_test(kind.file_name(), r);
                assert!(resolved, "{}: $ref {r} does not resolve", kind.file_name());
            }
            for p in &patterns {
                assert!(
                    regex::Regex::new(p).is_ok(),
                    "{}: pattern {p}",
                    kind.file_name()
                );
            }
        }
    }

    #[test]
    fn required_property_is_named_in_the_path() {
        let problems = validate(
            SchemaKind::RequestSubmission,
            &json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "x", "input": {}}]}),
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path.to_string(), "items[0].input.name");
        assert_eq!(problems[0].message, "is required");
    }

    #[test]
    fn both_or_neither_reference_is_reported_plainly() {
        for item in [
            json!({"schemaVersion": "catalog/v1", "input": {"name": "a"}}),
            json!({"schemaVersion": "catalog/v1", "catalogItemId": "a", "bundleId": "b", "input": {"name": "a"}}),
        ] {
            let problems = validate(SchemaKind::RequestSubmission, &json!({"items": [item]}));
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert_eq!(problems[0].path.to_string(), "items[0]");
            assert_eq!(
                problems[0].message,
                "must name exactly one of catalogItemId or bundleId"
            );
        }
    }

    #[test]
    fn wrong_schema_version_names_the_expected_one() {
        let problems = validate(
            SchemaKind::RequestSubmission,
            &json!({"items": [{"schemaVersion": "catalog/v2", "catalogItemId": "a", "input": {"name": "a"}}]}),
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].path.to_string(), "items[0].schemaVersion");
        assert_eq!(problems[0].message, "must be \"catalog/v1\"");
    }
}
