//! The request submission (`POST /api/v1/requests`): an array of items, each naming exactly
//! one catalog item or bundle, with the user's input. Shape checks come from
//! `schemas/request-submission.schema.json`; form checks from [`crate::form`].

use crate::catalog::{Catalog, CatalogBundle, Document, FulfillmentItem};
use crate::form::{FieldIssue, Form};
use crate::schema::{self, SchemaKind};
use crate::target::Target;
use crate::template::{Engine, Vars};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestState {
    /// Written with its tasks; its first task not yet running.
    Submitted,
    Processing,
    Completed,
    /// A task failed; waits for a human to retry, abort or escalate.
    Failed,
    /// A human asked for the failed task to run again.
    Retrying,
    Aborted,
    /// The failed and remaining tasks became linked JIRA tickets.
    Escalated,
}

impl RequestState {
    pub const ALL: [RequestState; 7] = [
        Self::Submitted,
        Self::Processing,
        Self::Completed,
        Self::Failed,
        Self::Retrying,
        Self::Aborted,
        Self::Escalated,
    ];

    /// The one place that says which request state changes are allowed.
    pub fn can_become(self, next: RequestState) -> bool {
        use RequestState::*;
        matches!(
            (self, next),
            (Submitted, Processing)
                | (Processing, Completed)
                | (Processing, Failed)
                // The sweeper: the first task (or a retried one) got stuck before it ran.
                | (Submitted | Retrying, Failed)
                | (Failed, Retrying)
                | (Retrying, Processing)
                | (Failed, Aborted)
                | (Failed, Escalated)
        )
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Aborted | Self::Escalated)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "submitted",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Retrying => "retrying",
            Self::Aborted => "aborted",
            Self::Escalated => "escalated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for RequestState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
        serde_json::from_value(body.clone())
            .map_err(|e| vec![FieldIssue::new("items", e.to_string())])
    }
}

/// One fulfillment task a request will run: the fulfillment item it executes (pinned as it
/// was when the request was submitted) and the `.current` input it sees.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTask {
    /// The catalog item the fulfillment item belongs to.
    pub catalog_item_id: String,
    /// The bundle component it came from (`id`, or its position), for a bundle.
    pub component: Option<String>,
    pub item: FulfillmentItem,
    /// The validated input (defaults applied) that is `.current` for this task.
    pub current: Value,
    /// Dotted paths of the password fields in `current`, for redaction.
    pub password_paths: Vec<String>,
}

/// Expands what a submission item asks for into its ordered tasks, validating the input
/// against the form (and, for a bundle, each component's mapped input against its item's
/// form). `system` is the `.system` namespace that bundle input mappings may read.
pub fn plan(
    catalog: &Catalog,
    target: &Target,
    input: &Value,
    system: &Value,
) -> Result<Vec<PlannedTask>, Vec<FieldIssue>> {
    let entry = catalog.get(target.id()).ok_or_else(|| {
        let (field, what) = match target {
            Target::CatalogItem(_) => ("catalogItemId", "catalog item"),
            Target::Bundle(_) => ("bundleId", "bundle"),
        };
        vec![FieldIssue::new(
            field,
            format!("{what} {:?} does not exist", target.id()),
        )]
    })?;
    match (&entry.document, target) {
        (Document::Item(item), Target::CatalogItem(_)) => {
            if !item.fulfillment.required_outputs.is_empty() {
                return Err(vec![FieldIssue::new(
                    "catalogItemId",
                    format!(
                        "{:?} reads outputs of other components ({}): request it through a bundle",
                        target.id(),
                        item.fulfillment.required_outputs.join(", ")
                    ),
                )]);
            }
            let current = item.form.validate_input(input)?;
            Ok(tasks_of(item, None, &current))
        }
        (Document::Bundle(bundle), Target::Bundle(_)) => {
            let current = bundle.form.validate_input(input)?;
            let mut out = Vec::new();
            let mut engine = Engine::new();
            let vars = Vars {
                current,
                metadata: catalog.metadata_vars(),
                system: system.clone(),
                ..Vars::default()
            };
            plan_bundle(
                catalog,
                bundle,
                &vars,
                "",
                &mut engine,
                &mut out,
                &mut vec![bundle.metadata.id.as_str()],
            )?;
            Ok(out)
        }
        (Document::Bundle(_), Target::CatalogItem(id)) => Err(vec![FieldIssue::new(
            "catalogItemId",
            format!("{id:?} is a bundle: use bundleId"),
        )]),
        (Document::Item(_), Target::Bundle(id)) => Err(vec![FieldIssue::new(
            "bundleId",
            format!("{id:?} is a catalog item: use catalogItemId"),
        )]),
    }
}

fn tasks_of(
    item: &crate::catalog::CatalogItem,
    component: Option<String>,
    current: &Value,
) -> Vec<PlannedTask> {
    let password_paths = item.form.password_paths();
    item.fulfillment
        .items
        .iter()
        .map(|fi| PlannedTask {
            catalog_item_id: item.metadata.id.to_string(),
            component: component.clone(),
            item: fi.clone(),
            current: current.clone(),
            password_paths: password_paths.clone(),
        })
        .collect()
}

fn plan_bundle<'a>(
    catalog: &'a Catalog,
    bundle: &'a CatalogBundle,
    vars: &Vars,
    prefix: &str,
    engine: &mut Engine,
    out: &mut Vec<PlannedTask>,
    stack: &mut Vec<&'a str>,
) -> Result<(), Vec<FieldIssue>> {
    for (i, component) in bundle.components.iter().enumerate() {
        let label = format!(
            "{prefix}{}",
            component
                .id
                .clone()
                .unwrap_or_else(|| format!("components[{i}]"))
        );
        let Some(entry) = catalog.get(component.target.id()) else {
            return Err(vec![FieldIssue::new(
                label,
                "names a document that is not in the catalog",
            )]);
        };
        let form = entry.document.form();
        let input = component_input(component.input.as_ref(), form, vars, engine)
            .map_err(|issue| vec![FieldIssue::new(label.clone(), issue)])?;
        let current = form.validate_input(&input).map_err(|issues| {
            issues
                .into_iter()
                .map(|i| FieldIssue::new(format!("{label}.{}", i.field), i.issue))
                .collect::<Vec<_>>()
        })?;
        match &entry.document {
            Document::Item(item) => out.extend(tasks_of(item, Some(label), &current)),
            Document::Bundle(inner) => {
                if stack.contains(&inner.metadata.id.as_str()) {
                    return Err(vec![FieldIssue::new(label, "bundle cycle")]);
                }
                stack.push(inner.metadata.id.as_str());
                let inner_vars = Vars {
                    current,
                    ..vars.clone()
                };
                plan_bundle(
                    catalog,
                    inner,
                    &inner_vars,
                    &format!("{label}."),
                    engine,
                    out,
                    stack,
                )?;
                stack.pop();
            }
        }
    }
    Ok(())
}

/// A component's input: its mapping rendered over the bundle's `.current`, or the bundle's
/// input cut down to the fields the component's form has. `name` defaults to the bundle's.
fn component_input(
    mapping: Option<&Value>,
    form: &Form,
    vars: &Vars,
    engine: &mut Engine,
) -> Result<Value, String> {
    let mut input = match mapping {
        Some(mapping) => {
            let tree = engine
                .parse_tree(mapping, None)
                .map_err(|errors| crate::template::join_errors(&errors))?;
            engine
                .render_tree(&tree, vars)
                .map_err(|(p, e)| format!("input mapping {p}: {e}"))?
        }
        None => {
            let mut cut = Map::new();
            for group in &form.groups {
                let given = vars.current.get(&group.id).and_then(Value::as_object);
                let fields: Map<String, Value> = group
                    .fields
                    .iter()
                    .filter_map(|f| Some((f.id.clone(), given?.get(&f.id)?.clone())))
                    .collect();
                cut.insert(group.id.clone(), Value::Object(fields));
            }
            Value::Object(cut)
        }
    };
    if let Some(obj) = input.as_object_mut() {
        if !obj.contains_key("name") {
            obj.insert(
                "name".into(),
                vars.current.get("name").cloned().unwrap_or(Value::Null),
            );
        }
        // A mapping that renders an optional field to "" means "not given".
        for group in obj.values_mut().filter_map(Value::as_object_mut) {
            group.retain(|_, v| v.as_str() != Some(""));
        }
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_states_follow_the_design() {
        use RequestState::*;
        for (from, to) in [
            (Submitted, Processing),
            (Processing, Completed),
            (Processing, Failed),
            (Failed, Retrying),
            (Retrying, Processing),
            (Failed, Aborted),
            (Failed, Escalated),
        ] {
            assert!(from.can_become(to), "{from} -> {to}");
        }
        for s in RequestState::ALL {
            assert!(!Completed.can_become(s));
            assert!(!Aborted.can_become(s));
            assert!(!s.can_become(Submitted));
            assert_eq!(RequestState::parse(s.as_str()), Some(s));
        }
        assert!(!Processing.can_become(Aborted));
    }

    #[test]
    fn parses_items_of_both_kinds() {
        let s = Submission::parse(&json!({"items": [
            {"schemaVersion": "catalog/v1", "catalogItemId": "database-aurora-postgresql", "input": {"name": "db"}},
            {"schemaVersion": "catalog/v1", "bundleId": "full-application-stack", "input": {"name": "app"}},
        ]}))
        .expect("valid");
        assert_eq!(
            s.items[0].target,
            Target::CatalogItem("database-aurora-postgresql".into())
        );
        assert_eq!(
            s.items[1].target,
            Target::Bundle("full-application-stack".into())
        );
    }

    #[test]
    fn rejects_with_field_paths() {
        let err = Submission::parse(&json!({"items": [], "extra": 1})).expect_err("invalid");
        let text: Vec<String> = err.iter().map(ToString::to_string).collect();
        assert!(
            text.contains(&"extra: is not a known property".to_string()),
            "{text:?}"
        );
        assert!(text.iter().any(|t| t.starts_with("items: ")), "{text:?}");
    }
}
