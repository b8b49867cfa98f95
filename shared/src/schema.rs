//! The JSON Schemas in `schemas/` (draft 2020-12), compiled once per process and applied
//! through the `jsonschema` crate. The schemas are the single definition of a document's
//! shape; this module only turns their errors into `path: message` problems.

use crate::path::DocPath;
use crate::problem::Problem;
use jsonschema::{Retrieve, Uri, ValidationError, Validator, error::ValidationErrorKind};
use serde_json::Value;
use std::sync::OnceLock;

const CATALOG_ITEM: &str = include_str!("../../schemas/catalog-item.schema.json");
const CATALOG_BUNDLE: &str = include_str!("../../schemas/catalog-bundle.schema.json");
const REQUEST_SUBMISSION: &str = include_str!("../../schemas/request-submission.schema.json");

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

/// Serves cross-references between our own schemas (`catalog-item.schema.json#/$defs/...`)
/// from the embedded copies; nothing is ever fetched.
struct Embedded;

impl Retrieve for Embedded {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let wanted = uri.as_str();
        SchemaKind::ALL
            .into_iter()
            .find(|k| wanted.ends_with(k.file_name()))
            .map(SchemaKind::document)
            .ok_or_else(|| format!("schema {wanted} is not one of PAO's schemas").into())
    }
}

fn compile(kind: SchemaKind) -> Result<Validator, String> {
    jsonschema::draft202012::options()
        .with_retriever(Embedded)
        .build(&kind.document())
        .map_err(|e| format!("{}: {e}", kind.file_name()))
}

fn validator(kind: SchemaKind) -> &'static Result<Validator, String> {
    static ITEM: OnceLock<Result<Validator, String>> = OnceLock::new();
    static BUNDLE: OnceLock<Result<Validator, String>> = OnceLock::new();
    static SUBMISSION: OnceLock<Result<Validator, String>> = OnceLock::new();
    let cell = match kind {
        SchemaKind::CatalogItem => &ITEM,
        SchemaKind::CatalogBundle => &BUNDLE,
        SchemaKind::RequestSubmission => &SUBMISSION,
    };
    cell.get_or_init(|| compile(kind))
}

/// Every violation of `kind`'s schema in `instance`, in document order.
pub fn validate(kind: SchemaKind, instance: &Value) -> Vec<Problem> {
    let validator = match validator(kind) {
        Ok(v) => v,
        Err(e) => {
            return vec![Problem::at("", format!("schema failed to compile: {e}"))];
        }
    };
    let mut problems: Vec<Problem> = validator
        .iter_errors(instance)
        .map(|e| describe(&e, instance))
        .collect();
    problems.dedup();
    problems
}

/// Turns a jsonschema error into a problem that names the exact property at fault.
fn describe(error: &ValidationError<'_>, doc: &Value) -> Problem {
    let path = DocPath::from_pointer(error.instance_path().as_str(), doc);
    let instance = error.instance();
    let (path, message) = match error.kind() {
        ValidationErrorKind::Required { property } => (
            path.key(property.as_str().unwrap_or_default()),
            "is required".to_string(),
        ),
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let names = unexpected.join(", ");
            match unexpected.as_slice() {
                [one] => (path.key(one.clone()), "is not a known property".to_string()),
                _ => (path, format!("unknown properties: {names}")),
            }
        }
        ValidationErrorKind::Constant { expected_value } => {
            (path, format!("must be {expected_value}"))
        }
        ValidationErrorKind::Enum { options } => {
            let list = options
                .as_array()
                .map(|o| {
                    o.iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            (path, format!("{instance} is not one of: {list}"))
        }
        ValidationErrorKind::OneOfNotValid { .. }
        | ValidationErrorKind::OneOfMultipleValid { .. }
            if is_reference_holder(instance) =>
        {
            (
                path,
                "must name exactly one of catalogItemId or bundleId".to_string(),
            )
        }
        ValidationErrorKind::OneOfNotValid { .. } => (
            path,
            "must be a string or a {value, label} object".to_string(),
        ),
        ValidationErrorKind::Pattern { pattern } => (
            path,
            format!("{instance} does not match the pattern {pattern}"),
        ),
        _ => (path, error.to_string()),
    };
    Problem::at(path.to_string(), message)
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

    #[test]
    fn every_schema_compiles() {
        for kind in [
            SchemaKind::CatalogItem,
            SchemaKind::CatalogBundle,
            SchemaKind::RequestSubmission,
        ] {
            assert!(
                validator(kind).is_ok(),
                "{kind:?}: {:?}",
                validator(kind).as_ref().err()
            );
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
