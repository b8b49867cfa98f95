//! Catalog routes: browsing the catalog a portal or `devctl` shows, and following its
//! repository (a full refresh, and the state of the last sync).

use super::App;
use super::envelope::{ApiError, ApiResponse};
use super::input::limit_param;
use super::routes::Call;
use super::views::{Card, to_data};
use crate::catalog::{Document, Entry};
use serde_json::{Value, json};

/// `GET /catalog`: cards of the catalog's documents, searched and paged.
pub(super) async fn list(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let (req, mut meta) = (call.req, call.meta());
    let current = app.catalog().await?;
    let (version, catalog) = (&current.version, &current.catalog);
    let limit = limit_param(req, 50)?;
    let category = req.query("category").filter(|c| !c.is_empty());
    let only_requestable = match req.query("requestable") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::Validation(vec![crate::problem::Problem::at(
                "requestable",
                "is true or false",
            )]));
        }
    };
    let requester = super::access::Requester::of(app, req)?;
    let q = req
        .query("q")
        .map(str::to_lowercase)
        .filter(|q| !q.is_empty());
    // A cursor is good for the same search of the same catalog version only.
    let scope = format!(
        "catalog|{version}|{}|{}|{only_requestable}",
        category.unwrap_or_default(),
        q.as_deref().unwrap_or_default()
    );
    let key = &app.cursor_key().await?;
    let start = match req.query("cursor").filter(|c| !c.is_empty()) {
        None => 0,
        Some(c) => key
            .open(&scope, c)?
            .as_u64()
            .ok_or(crate::store::StoreError::BadCursor)? as usize,
    };
    let mut matching: Vec<&Entry> = catalog
        .entries()
        .iter()
        .filter(|e| category.is_none_or(|c| e.document.metadata().category == c))
        .filter(|e| {
            q.as_ref().is_none_or(|q| {
                let m = e.document.metadata();
                [m.id.as_str(), &m.name, &m.description, &m.category]
                    .iter()
                    .any(|t| t.to_lowercase().contains(q))
                    || m.tags.iter().any(|t| t.to_lowercase().contains(q))
            })
        })
        .collect();
    // Who may request each: a refusal's rule, by id (an IAM tag read at most once per call).
    let mut refusals = std::collections::HashMap::new();
    for e in &matching {
        if let Some(rule) = requester.refused(&e.document).await? {
            refusals.insert(e.document.id().as_str().to_string(), rule);
        }
    }
    if only_requestable {
        matching.retain(|e| !refusals.contains_key(e.document.id().as_str()));
    }
    // By name, so pages are stable whatever order the repository's files are in.
    matching.sort_by(|a, b| {
        let (a, b) = (a.document.metadata(), b.document.metadata());
        a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id))
    });
    let page: Vec<Value> = matching
        .iter()
        .skip(start)
        .take(limit)
        .map(|e| requestable(to_data(Card::of(e)), refusals.get(e.document.id().as_str())))
        .collect();
    let next = (start + limit < matching.len()).then(|| key.seal(&scope, &json!(start + limit)));
    meta["catalogVersion"] = json!(version);
    meta["total"] = json!(matching.len());
    meta["nextCursor"] = json!(next);
    Ok(ApiResponse::ok(200, Value::Array(page), meta))
}

/// A card with whether the caller may request it: `"requestable": false` and the rule.
fn requestable(mut card: Value, refused: Option<&String>) -> Value {
    card["requestable"] = json!(refused.is_none());
    if let Some(rule) = refused {
        card["requestableRule"] = json!(rule);
    }
    card
}

/// `GET /catalog/{id}`: one document with its form (and a bundle's components).
pub(super) async fn item(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    entry_view(app, call, false).await
}

/// `GET /catalog/{id}/form`: the document's form as a portal renders it.
pub(super) async fn form(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    entry_view(app, call, true).await
}

async fn entry_view(app: &App, call: &Call<'_>, form_only: bool) -> Result<ApiResponse, ApiError> {
    let (id, meta) = (call.param(0), call.meta());
    let current = app.catalog().await?;
    let catalog = &current.catalog;
    let entry = catalog
        .get(id)
        .ok_or_else(|| ApiError::NotFound(format!("catalog item {id:?} does not exist")))?;
    let form = entry.document.form().portal_view();
    if form_only {
        return Ok(ApiResponse::ok(200, form, meta));
    }
    let refused = super::access::Requester::of(app, call.req)?
        .refused(&entry.document)
        .await?;
    let mut data = requestable(to_data(Card::of(entry)), refused.as_ref());
    data["form"] = form;
    if let Document::Bundle(b) = &entry.document {
        data["components"] = b.component_refs();
    }
    // What a request of it will wait for, so a requester knows before submitting.
    let stages = entry.document.approval_stages();
    if !stages.is_empty() {
        data["approval"] = stages
            .iter()
            .map(|s| {
                json!({"id": s.id, "require": s.require, "approvers": s.approvers.describe(),
                       "when": s.when, "timeoutSeconds": s.timeout_seconds})
            })
            .collect();
    }
    Ok(ApiResponse::ok(200, data, meta))
}

/// `POST /catalog/refresh`: syncs the catalog to the repository branch's head now. Operators
/// only: each refresh spends GitHub rate limit the github-* tasks share (the webhook and the
/// sweeper keep the catalog current without it).
pub(super) async fn refresh(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let who = super::input::operator(app, call.req, "catalog refreshes")?;
    tracing::info!(caller = %who.arn, "catalog refresh asked for");
    let report = app.sync.sync_head().await?;
    app.forget_catalog().await;
    Ok(ApiResponse::ok(200, to_data(report), call.meta()))
}

/// `GET /catalog/sync`: the snapshot in force and the rejections on record.
pub(super) async fn sync_status(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let settings = &app.sync.settings;
    let data = match app.store.snapshot_info().await? {
        None => json!({
            "loaded": false,
            "repository": settings.repository,
            "branch": settings.branch,
        }),
        Some(info) => json!({
            "loaded": true,
            "repository": settings.repository,
            "branch": settings.branch,
            "commit": info.commit,
            "syncedAt": info.synced_at,
            "documents": info.count,
            "rejections": info.rejections,
        }),
    };
    Ok(ApiResponse::ok(200, data, call.meta()))
}
