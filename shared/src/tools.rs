//! The platform tools: checking catalog documents, previewing a document's form, and rendering
//! its fulfillment configs against sample input. The same code answers `devctl validate`,
//! `preview` and `render` offline and the API's `/tools` routes; nothing here reads or writes
//! stored state. Documents handed in are checked together with a catalog (the repository on
//! disk, or the catalog in force), so that references between documents resolve.

use crate::catalog::load::Loaded;
use crate::catalog::{Catalog, Document, Entry, Problem, SourceDoc, Target};
use crate::form::redact_paths;
use crate::plan::plan;
use crate::template::{SystemVars, Vars};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Why rendering stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    /// The sample input does not fit the form.
    #[error("the input does not fit the form")]
    Input(Vec<Problem>),
    /// A fulfillment item's config does not render.
    #[error("fulfillment item {item:?}: {message}")]
    Template { item: String, message: String },
}

/// The `.system` namespace of a rendering with sample input.
pub fn sample_system() -> SystemVars {
    SystemVars {
        request_id: "req-00000000-preview".into(),
        correlation_id: "corr-00000000-preview".into(),
        timestamp: crate::clock::now_rfc3339(),
        user_email: "dev@example.com".into(),
        user_arn: "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com".into(),
        region: "us-east-1".into(),
        environment: "local".into(),
    }
}

/// `files` checked together with the documents of `around` (a file of `files` replaces the
/// document of `around` with the same path or id, and keeps its owners). Only problems of
/// `files` are reported.
pub fn validate_with(
    files: &BTreeMap<String, String>,
    around: &[SourceDoc],
) -> (Loaded, Vec<Problem>) {
    let mut sources = Vec::with_capacity(around.len() + files.len());
    let mut replaced: Vec<(Option<String>, &SourceDoc)> = Vec::new();
    let given_ids: Vec<Option<String>> = files.values().map(|t| document_id(t)).collect();
    for doc in around {
        let id = document_id(&doc.text);
        let same_id = id.is_some() && given_ids.contains(&id);
        if same_id || files.contains_key(&doc.file) {
            replaced.push((id, doc));
        } else {
            sources.push(doc.clone());
        }
    }
    for ((file, text), id) in files.iter().zip(&given_ids) {
        let owners = replaced
            .iter()
            .find(|(_, d)| d.file == *file)
            .or_else(|| replaced.iter().find(|(i, _)| i.is_some() && i == id))
            .map(|(_, d)| d.owners.clone())
            .unwrap_or_default();
        sources.push(SourceDoc {
            file: file.clone(),
            text: text.clone(),
            owners,
        });
    }
    let (catalog, found) = crate::catalog::validate::validate_sources(sources.clone());
    let problems = found
        .iter()
        .filter(|p| files.contains_key(&p.file))
        .cloned()
        .collect();
    let loaded = Loaded {
        catalog,
        problems: found,
        files: sources.iter().map(|d| d.file.clone()).collect(),
        sources,
    };
    (loaded, problems)
}

/// A document's `metadata.id`, read without validating it.
fn document_id(text: &str) -> Option<String> {
    let v: Value = serde_norway::from_str(text).ok()?;
    v.pointer("/metadata/id")?.as_str().map(str::to_string)
}

/// A document's card and form, as a portal shows it.
pub fn preview(entry: &Entry) -> Value {
    let meta = entry.document.metadata();
    let mut view = json!({
        "id": meta.id,
        "kind": entry.document.kind(),
        "name": meta.name,
        "version": meta.version,
        "category": meta.category,
        "description": meta.description,
        "owner": entry.owner_team(),
        "tags": meta.tags,
        "form": entry.document.form().portal_view(),
    });
    if let Document::Bundle(b) = &entry.document {
        view["components"] = b.component_refs();
    }
    view
}

/// What the document an entry holds is, as a request target.
pub fn target_of(entry: &Entry) -> Target {
    match &entry.document {
        Document::Item(_) => Target::CatalogItem(entry.document.id().to_string()),
        Document::Bundle(_) => Target::Bundle(entry.document.id().to_string()),
    }
}

/// One fulfillment item rendered with sample input.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedStep {
    pub catalog_item_id: String,
    pub component: Option<String>,
    pub item: crate::catalog::FulfillmentItem,
    pub config: Value,
}

impl RenderedStep {
    /// The step as `devctl render --json` and `POST /tools/test-variables` show it.
    pub fn to_json(&self, step: usize) -> Value {
        json!({
            "step": step,
            "catalogItemId": self.catalog_item_id,
            "component": self.component,
            "fulfillmentItem": self.item.id,
            "type": self.item.action,
            "config": self.config,
            "outputs": self.item.outputs,
        })
    }
}

/// Every fulfillment item `target` runs, its config rendered with `input` (validated against
/// the form; passwords never shown) and `outputs` as `.output` (an earlier item's output that
/// is not given renders as `<key>`).
pub fn render(
    catalog: &Catalog,
    target: &Target,
    input: &Value,
    outputs: &Map<String, Value>,
) -> Result<Vec<RenderedStep>, RenderError> {
    let system = sample_system().to_value();
    let tasks = plan(catalog, target, input, &system)
        .map_err(RenderError::Input)?
        .tasks;
    let mut given = outputs.clone();
    let metadata = catalog.metadata_vars();
    let mut steps = Vec::with_capacity(tasks.len());
    for task in tasks {
        let vars = Vars {
            // Sample input may hold a real password: it is never shown.
            current: redact_paths(&task.current, &task.password_paths),
            output: given.clone(),
            metadata: metadata.clone(),
            system: system.clone(),
        };
        let config = task
            .item
            .parse_config()
            .and_then(|tree| tree.render(&vars).map_err(|(p, e)| format!("{p}: {e}")))
            .map_err(|message| RenderError::Template {
                item: task.item.id.clone(),
                message,
            })?;
        // Later items see what this one would produce.
        for key in task.item.output_keys() {
            given
                .entry(key.clone())
                .or_insert_with(|| Value::String(format!("<{key}>")));
        }
        steps.push(RenderedStep {
            catalog_item_id: task.catalog_item_id,
            component: task.component,
            item: task.item,
            config,
        });
    }
    Ok(steps)
}
