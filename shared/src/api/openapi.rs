//! The API's description (`schemas/openapi.yaml`, OpenAPI 3.1), served at
//! `GET /api/v1/openapi.json`: the YAML as JSON, with the JSON Schemas of `schemas/` it refers
//! to (`components.schemas.X: {$ref: <file>}`) bundled in place, so a client generator or
//! schemathesis needs this one document.

use super::envelope::{ApiError, ApiResponse};
use super::{App, routes::Call};
use crate::schema::SchemaKind;
use serde_json::Value;
use std::sync::OnceLock;

const SPEC: &str = include_str!("../../../schemas/openapi.yaml");

/// The description with its schemas bundled; an error names what keeps it from loading
/// (it is ours and a test loads it, so this is for a broken build only).
pub fn document() -> Result<&'static Value, &'static str> {
    static DOC: OnceLock<Result<Value, String>> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc: Value = serde_norway::from_str(SPEC)
            .map_err(|e| format!("schemas/openapi.yaml does not parse: {e}"))?;
        let schemas = doc
            .pointer_mut("/components/schemas")
            .and_then(Value::as_object_mut)
            .ok_or("schemas/openapi.yaml has no components.schemas")?;
        for (name, schema) in schemas.iter_mut() {
            let Some(file) = schema.get("$ref").and_then(Value::as_str) else {
                continue;
            };
            if file.starts_with('#') {
                continue;
            }
            let kind = SchemaKind::from_file_name(file)
                .ok_or_else(|| format!("components.schemas.{name}: {file} is not in schemas/"))?;
            *schema = kind.document();
        }
        Ok(doc)
    })
    .as_ref()
    .map_err(String::as_str)
}

/// `GET /openapi.json`: the description itself, not enveloped.
pub(super) async fn serve(_: &App, _: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let doc = document().map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(ApiResponse {
        status: 200,
        body: doc.clone(),
        headers: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_loads_with_the_submission_schema_bundled() {
        let doc = document().expect("openapi.yaml loads");
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["components"]["schemas"]["RequestSubmission"]["$id"],
            "https://pao.dev/schemas/request-submission.schema.json"
        );
    }

    /// The operations the description lists, as `(METHOD, path below /api/v1)`, and the
    /// function that answers each when it is not the API (`x-pao-function`).
    pub(crate) fn operations(doc: &Value) -> Vec<(String, String, Option<String>)> {
        let mut ops = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    let below = path.strip_prefix("/api/v1").unwrap_or(path);
                    let function = op["x-pao-function"].as_str().map(str::to_string);
                    ops.push((method.to_uppercase(), below.to_string(), function));
                }
            }
        }
        ops
    }

    #[test]
    fn the_router_and_the_description_agree() {
        use std::collections::BTreeSet;
        let doc = document().expect("openapi.yaml loads");
        let ops = operations(doc);
        let described: BTreeSet<(String, String)> = ops
            .iter()
            .filter(|(_, _, function)| function.is_none())
            .map(|(m, p, _)| (m.clone(), p.clone()))
            .collect();
        let routed: BTreeSet<(String, String)> = crate::api::routes::table()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        let missing: Vec<_> = routed.difference(&described).collect();
        let unrouted: Vec<_> = described.difference(&routed).collect();
        assert!(
            missing.is_empty(),
            "routes the description lacks: {missing:?}"
        );
        assert!(
            unrouted.is_empty(),
            "described but not routed: {unrouted:?}"
        );
        // The operations another function answers are the webhooks.
        let others: Vec<_> = ops.iter().filter(|(_, _, f)| f.is_some()).collect();
        let webhook = |path: &str| {
            (
                "POST".to_string(),
                path.to_string(),
                Some("github-webhook".to_string()),
            )
        };
        assert_eq!(
            others,
            [&webhook("/webhooks/github"), &webhook("/webhooks/jira")]
        );
    }

    #[test]
    fn every_operation_has_an_id_and_the_errors_a_caller_can_meet() {
        let doc = document().expect("openapi.yaml loads");
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                assert!(
                    op["operationId"].is_string(),
                    "{method} {path}: operationId"
                );
                let responses = op["responses"].as_object().expect("responses");
                if op.get("security").is_none() {
                    assert!(responses.contains_key("403"), "{method} {path}: 403");
                }
                for status in ["429", "500"] {
                    assert!(responses.contains_key(status), "{method} {path}: {status}");
                }
                if method == "post" && op.get("security").is_none() {
                    let with_body = op.get("requestBody").is_some();
                    assert!(
                        !with_body || responses.contains_key("400"),
                        "{method} {path}: a body can be malformed: 400"
                    );
                }
            }
        }
    }

    /// Every `$ref` inside the document points at something in it.
    #[test]
    fn every_local_reference_resolves() {
        fn walk(v: &Value, doc: &Value, at: &str, bad: &mut Vec<String>) {
            match v {
                Value::Object(o) => {
                    if let Some(Value::String(r)) = o.get("$ref") {
                        let resolves = r
                            .strip_prefix('#')
                            .is_some_and(|p| doc.pointer(p).is_some());
                        // Inside a bundled schema, refs are its own (`#/$defs/…`).
                        if !resolves && !at.contains("/RequestSubmission") {
                            bad.push(format!("{at}: {r}"));
                        }
                    }
                    for (k, v) in o {
                        walk(v, doc, &format!("{at}/{k}"), bad);
                    }
                }
                Value::Array(a) => {
                    for (i, v) in a.iter().enumerate() {
                        walk(v, doc, &format!("{at}/{i}"), bad);
                    }
                }
                _ => {}
            }
        }
        let doc = document().expect("openapi.yaml loads");
        let mut bad = Vec::new();
        walk(doc, doc, "", &mut bad);
        assert!(bad.is_empty(), "unresolved: {bad:?}");
    }
}
