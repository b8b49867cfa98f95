//! Platform tools routes: `POST /tools/validate`, `/tools/preview` and
//! `/tools/test-variables`, on the same code as `devctl validate`, `preview` and `render`
//! ([`crate::tools`]). Documents are checked together with the catalog in force, so references
//! resolve; nothing is stored.

use super::App;
use super::envelope::{ApiError, ApiResponse};
use super::input::{caller, parse_body};
use super::routes::Call;
use crate::catalog::SourceDoc;
use crate::catalog::load::{Loaded, is_document_path};
use crate::problem::Problem;
use crate::tools::{self, RenderError};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// `POST /tools/validate` `{"files": {"<path>": "<yaml>"}}`: every problem of those files.
pub(super) async fn validate(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    caller(call.req)?;
    let body = parse_body(call.req)?;
    let Some(given) = body.get("files").and_then(Value::as_object) else {
        return Err(invalid(
            "files",
            "must be an object of repository path: YAML text",
        ));
    };
    let mut files = BTreeMap::new();
    for (path, text) in given {
        let Some(text) = text.as_str() else {
            return Err(invalid(&format!("files.{path}"), "must be the file's text"));
        };
        if !is_document_path(path) {
            return Err(invalid(
                &format!("files.{path}"),
                "is not a catalog document path (catalog/**/*.yaml or bundles/**/*.yaml)",
            ));
        }
        files.insert(path.clone(), text.to_string());
    }
    if files.is_empty() {
        return Err(invalid("files", "names no file"));
    }
    let (_, problems) = tools::validate_with(&files, &in_force(app).await?);
    Ok(ApiResponse::ok(
        200,
        json!({"valid": problems.is_empty(), "documents": files.len(), "problems": problems}),
        call.meta(),
    ))
}

/// `POST /tools/preview` `{"document": "<yaml>"}`: the document's card and form.
pub(super) async fn preview(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    caller(call.req)?;
    let body = parse_body(call.req)?;
    let (file, loaded) = checked(app, &body).await?;
    let entry = entry(&loaded, &file)?;
    Ok(ApiResponse::ok(200, tools::preview(entry), call.meta()))
}

/// `POST /tools/test-variables` `{"document", "input", "outputs"}`: every fulfillment item's
/// config rendered with the sample input, or what keeps it from rendering.
pub(super) async fn test_variables(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    caller(call.req)?;
    let body = parse_body(call.req)?;
    let input = body
        .get("input")
        .cloned()
        .ok_or_else(|| invalid("input", "is required: the request input to render with"))?;
    let outputs: Map<String, Value> = match body.get("outputs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(invalid("outputs", "must be an object of output key: value")),
    };
    let (file, loaded) = checked(app, &body).await?;
    let entry = entry(&loaded, &file)?;
    let target = tools::target_of(entry);
    match tools::render(&loaded.catalog, &target, &input, &outputs) {
        Ok(steps) => {
            let steps: Vec<Value> = steps
                .iter()
                .enumerate()
                .map(|(n, s)| s.to_json(n + 1))
                .collect();
            Ok(ApiResponse::ok(200, json!({"steps": steps}), call.meta()))
        }
        Err(RenderError::Input(issues)) => Err(ApiError::Unprocessable(
            issues.into_iter().map(|p| p.under("input")).collect(),
        )),
        Err(e @ RenderError::Template { .. }) => Err(ApiError::Unprocessable(vec![Problem::at(
            "document",
            e.to_string(),
        )])),
    }
}

/// The documents of the catalog in force (none loaded yet: none).
async fn in_force(app: &App) -> Result<Vec<SourceDoc>, ApiError> {
    Ok(app
        .store
        .snapshot()
        .await?
        .map(|s| s.sources)
        .unwrap_or_default())
}

/// The body's `document` checked with the catalog in force: its file name and the result.
/// A document with problems is refused with them.
async fn checked(app: &App, body: &Value) -> Result<(String, Loaded), ApiError> {
    let Some(text) = body.get("document").and_then(Value::as_str) else {
        return Err(invalid("document", "is required: the document's YAML text"));
    };
    // Its path in the repository (optional) decides its owners, as CODEOWNERS would.
    let file = match body.get("path") {
        None | Some(Value::Null) => {
            let bundle = serde_norway::from_str::<Value>(text)
                .ok()
                .and_then(|v| v.get("kind").and_then(Value::as_str).map(str::to_string))
                .is_some_and(|k| k == "CatalogBundle");
            if bundle {
                "bundles/document.yaml".to_string()
            } else {
                "catalog/document.yaml".to_string()
            }
        }
        Some(Value::String(p)) if is_document_path(p) => p.clone(),
        Some(_) => {
            return Err(invalid(
                "path",
                "must be a catalog document path (catalog/**/*.yaml or bundles/**/*.yaml)",
            ));
        }
    };
    let files = BTreeMap::from([(file.clone(), text.to_string())]);
    let (loaded, problems) = tools::validate_with(&files, &in_force(app).await?);
    if !problems.is_empty() {
        return Err(ApiError::Unprocessable(
            problems
                .into_iter()
                .map(|p| Problem::at(format!("document.{}", p.path), p.message))
                .collect(),
        ));
    }
    Ok((file, loaded))
}

/// The valid document in `file`; a valid bundle can still be left out for its components.
fn entry<'a>(loaded: &'a Loaded, file: &str) -> Result<&'a crate::catalog::Entry, ApiError> {
    loaded
        .catalog
        .entries()
        .iter()
        .find(|e| e.file == file)
        .ok_or_else(|| {
            ApiError::Unprocessable(vec![Problem::at(
                "document",
                "cannot be used: a document it runs has problems",
            )])
        })
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::Validation(vec![Problem::at(field, message)])
}
