//! Planning: what a submission item asks for becomes its ordered tasks. A catalog item gives
//! its fulfillment items; a bundle gives its components' tasks in order, each component's
//! input rendered from the bundle's through its mapping and validated against its own form.
//! The input is validated here, once per item.

use crate::catalog::Target;
use crate::catalog::walk::walk;
use crate::catalog::{Catalog, CatalogBundle, Document, FulfillmentItem};
use crate::form::Form;
use crate::problem::Problem;
use crate::template::{TemplateTree, Vars};
use serde_json::{Map, Value};

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

/// A submission item, planned: its validated input and its tasks in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The version of the document asked for (the request is pinned to it).
    pub version: String,
    /// The item's input, validated, with defaults applied.
    pub input: Value,
    /// Dotted paths of the password fields in `input`.
    pub password_paths: Vec<String>,
    pub tasks: Vec<PlannedTask>,
}

/// Expands what a submission item asks for into its ordered tasks, validating the input
/// against the form (and, for a bundle, each component's mapped input against its item's
/// form). `system` is the `.system` namespace that bundle input mappings may read.
pub fn plan(
    catalog: &Catalog,
    target: &Target,
    input: &Value,
    system: &Value,
) -> Result<Plan, Vec<Problem>> {
    let entry = catalog
        .resolve(target)
        .map_err(|why| vec![Problem::at(target.field(), why.message(target))])?;
    match &entry.document {
        Document::Item(item) => {
            if !item.fulfillment.required_outputs.is_empty() {
                return Err(vec![Problem::at(
                    "catalogItemId",
                    format!(
                        "{:?} reads outputs of other components ({}): request it through a bundle",
                        target.id(),
                        item.fulfillment.required_outputs.join(", ")
                    ),
                )]);
            }
            let current = item.form.validate_input(input)?;
            Ok(Plan {
                version: item.metadata.version.clone(),
                tasks: tasks_of(item, None, &current),
                password_paths: item.form.password_paths(),
                input: current,
            })
        }
        Document::Bundle(bundle) => {
            let current = bundle.form.validate_input(input)?;
            let mut out = Vec::new();
            let vars = Vars {
                current: current.clone(),
                metadata: catalog.metadata_vars(),
                system: system.clone(),
                ..Vars::default()
            };
            plan_bundle(catalog, bundle, vars, &mut out)?;
            Ok(Plan {
                version: bundle.metadata.version.clone(),
                tasks: out,
                password_paths: bundle.form.password_paths(),
                input: current,
            })
        }
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

/// The tasks of a bundle's components in order, each component's input rendered from its
/// bundle's `.current` (in `vars`) and validated against its own form.
fn plan_bundle(
    catalog: &Catalog,
    bundle: &CatalogBundle,
    vars: Vars,
    out: &mut Vec<PlannedTask>,
) -> Result<(), Vec<Problem>> {
    // The state below each bundle: its `.current` and the label prefix of its components.
    let top = (vars, String::new());
    walk(catalog, &[], bundle, &top, &mut |step, (vars, prefix)| {
        let label = format!(
            "{prefix}{}",
            step.component
                .id
                .clone()
                .unwrap_or_else(|| format!("components[{}]", step.index))
        );
        let Some(entry) = step.entry else {
            return Err(vec![Problem::at(
                label,
                "names a document that is not in the catalog",
            )]);
        };
        let form = entry.document.form();
        let input = component_input(step.component.input.as_ref(), form, vars)
            .map_err(|issue| vec![Problem::at(label.clone(), issue)])?;
        let current = form.validate_input(&input).map_err(|issues| {
            issues
                .into_iter()
                .map(|i| i.under(&label))
                .collect::<Vec<_>>()
        })?;
        match &entry.document {
            Document::Item(item) => {
                out.extend(tasks_of(item, Some(label), &current));
                Ok(None)
            }
            Document::Bundle(_) if step.closes_cycle => {
                Err(vec![Problem::at(label, "bundle cycle")])
            }
            Document::Bundle(_) => Ok(Some((
                Vars {
                    current,
                    ..vars.clone()
                },
                format!("{label}."),
            ))),
        }
    })
}

/// A component's input: its mapping rendered over the bundle's `.current`, or the bundle's
/// input cut down to the fields the component's form has. `name` defaults to the bundle's.
fn component_input(mapping: Option<&Value>, form: &Form, vars: &Vars) -> Result<Value, String> {
    let mut input = match mapping {
        Some(mapping) => {
            let tree = TemplateTree::parse(mapping, &[])
                .map_err(|errors| crate::template::join_errors(&errors))?;
            tree.render(vars)
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
