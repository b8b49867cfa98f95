//! A request's typed password values as the API deals with them (see [`crate::sealed`]): the
//! detail's view of which are still held, and those a retry supplies again.

use super::App;
use super::envelope::ApiError;
use crate::problem::Problem;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Per password field typed at submission: whether its value is still held (never the
/// value) and, once the request failed, until when.
pub(super) fn view(
    r: &crate::record::RequestRecord,
    sealed: Option<&crate::sealed::Sealed>,
    now: u64,
) -> Value {
    let until = sealed.and_then(|s| s.kept_until.clone());
    let current = until
        .as_deref()
        .and_then(crate::clock::epoch_of)
        .is_none_or(|t| t > now);
    Value::Array(
        r.sealed_fields
            .iter()
            .map(|f| {
                let held = current && sealed.is_some_and(|s| s.fields.contains_key(f));
                json!({"field": f, "held": held, "keptUntil": if held { until.clone() } else { None }})
            })
            .collect(),
    )
}

/// A retry's `secrets`: `{"<group>.<field>": "<value>"}`, password values supplied again.
pub(super) fn supplied(body: &Value) -> Result<BTreeMap<String, String>, ApiError> {
    match body.get("secrets") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) if map.len() <= crate::store::MAX_TASKS => map
            .iter()
            .map(|(field, value)| match value {
                // The value itself is never quoted back.
                Value::String(v) if !v.is_empty() => Ok((field.clone(), v.clone())),
                _ => Err(ApiError::Validation(vec![Problem::at(
                    format!("secrets.{field}"),
                    "must be the password as a non-empty string",
                )])),
            })
            .collect(),
        Some(_) => Err(ApiError::Validation(vec![Problem::at(
            "secrets",
            "must be an object of password fields (`group.field`) to their values",
        )])),
    }
}

/// The sealed password values a retry leaves in place (`{}`: those held stay as they are)
/// or puts instead: those held, unless their keep time has passed, with those `supplied`
/// again sealed in. A field typed at submission that is neither held nor supplied is a 409
/// naming it; a supplied one must be such a field and pass the form's rules.
pub(super) async fn for_retry(
    app: &App,
    r: &crate::record::RequestRecord,
    supplied: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Vec<u8>>, ApiError> {
    let mut problems = Vec::new();
    let catalog = if supplied.is_empty() {
        None
    } else {
        Some(app.catalog().await?)
    };
    for (field, value) in supplied {
        if !r.sealed_fields.contains(field) {
            problems.push(Problem::at(
                format!("secrets.{field}"),
                if r.sealed_fields.is_empty() {
                    "the request holds no typed password value to supply again".to_string()
                } else {
                    format!(
                        "is not a password field typed at submission (those are: {})",
                        r.sealed_fields.join(", ")
                    )
                },
            ));
            continue;
        }
        let form = catalog.as_ref().and_then(|c| match &r.target {
            crate::catalog::Target::CatalogItem(id) => c.catalog.item(id).map(|i| &i.form),
            crate::catalog::Target::Bundle(id) => c.catalog.bundle(id).map(|b| &b.form),
        });
        let rule = field.split_once('.').and_then(|(g, f)| form?.field(g, f));
        if let Some(Err(problem)) = rule.map(|f| f.check(&Value::String(value.clone()))) {
            problems.push(Problem::at(format!("secrets.{field}"), problem));
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    if r.sealed_fields.is_empty() {
        return Ok(BTreeMap::new());
    }
    let now = crate::clock::now_epoch();
    let held = app
        .store
        .sealed_of(&r.request_id)
        .await?
        .filter(|s| {
            s.kept_until
                .as_deref()
                .and_then(crate::clock::epoch_of)
                .is_none_or(|until| until > now)
        })
        .map(|s| s.fields)
        .unwrap_or_default();
    let missing: Vec<&str> = r
        .sealed_fields
        .iter()
        .filter(|f| !held.contains_key(*f) && !supplied.contains_key(*f))
        .map(String::as_str)
        .collect();
    if let Some(first) = missing.first() {
        return Err(ApiError::Conflict(format!(
            "the typed values of password field(s) {} are no longer held (a failed request keeps them for a limited time): retry with them supplied again, {{\"secrets\": {{\"{first}\": \"…\"}}}}",
            missing.join(", ")
        )));
    }
    if supplied.is_empty() {
        return Ok(BTreeMap::new());
    }
    let values: Vec<(String, String)> = supplied
        .iter()
        .map(|(f, v)| (f.clone(), v.clone()))
        .collect();
    let mut fields = held;
    fields.extend(crate::sealed::seal(&app.kms, r.request_id.as_str(), &values).await?);
    Ok(fields)
}
