//! The request submission (`POST /api/v1/requests`): an array of items, each naming exactly
//! one catalog item or bundle, with the user's input. Shape checks come from
//! `schemas/request-submission.schema.json`; form checks from [`crate::form`].

use crate::form::FieldIssue;
use crate::schema::{self, SchemaKind};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The only catalog schema version this build understands.
pub const SCHEMA_VERSION: &str = "catalog/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub items: Vec<SubmissionItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionItem {
    pub schema_version: String,
    #[serde(flatten)]
    pub target: Target,
    pub input: Value,
}

/// What an item asks for: exactly one of `catalogItemId` or `bundleId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    #[serde(rename = "catalogItemId")]
    CatalogItem(String),
    #[serde(rename = "bundleId")]
    Bundle(String),
}

impl Target {
    pub fn id(&self) -> &str {
        match self {
            Self::CatalogItem(id) | Self::Bundle(id) => id,
        }
    }
}

impl Submission {
    /// Checks a submission body against its schema and builds the typed model; on failure
    /// every problem is returned with its dotted field path (`items[0].input.name`).
    pub fn parse(body: &Value) -> Result<Self, Vec<FieldIssue>> {
        let problems = schema::validate(SchemaKind::RequestSubmission, body);
        if !problems.is_empty() {
            return Err(problems
                .into_iter()
                .map(|p| FieldIssue::new(p.path.to_string(), p.message))
                .collect());
        }
        serde_json::from_value(body.clone()).map_err(|e| vec![FieldIssue::new("items", e.to_string())])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_items_of_both_kinds() {
        let s = Submission::parse(&json!({"items": [
            {"schemaVersion": "catalog/v1", "catalogItemId": "database-aurora-postgresql", "input": {"name": "db"}},
            {"schemaVersion": "catalog/v1", "bundleId": "full-application-stack", "input": {"name": "app"}},
        ]}))
        .expect("valid");
        assert_eq!(s.items[0].target, Target::CatalogItem("database-aurora-postgresql".into()));
        assert_eq!(s.items[1].target, Target::Bundle("full-application-stack".into()));
    }

    #[test]
    fn rejects_with_field_paths() {
        let err = Submission::parse(&json!({"items": [], "extra": 1})).expect_err("invalid");
        let text: Vec<String> = err.iter().map(ToString::to_string).collect();
        assert!(text.contains(&"extra: is not a known property".to_string()), "{text:?}");
        assert!(text.iter().any(|t| t.starts_with("items: ")), "{text:?}");
    }
}
