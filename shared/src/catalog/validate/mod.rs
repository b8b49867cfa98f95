//! Catalog validation: every document against its JSON Schema, then the semantic checks the
//! schemas cannot express. Every problem is reported (not only the first), each with its file,
//! YAML path and message.
//!
//! Semantic checks: ids unique across the catalog; forms consistent (unique group and field
//! ids, options only and always on selects, patterns that compile, ranges in order, defaults
//! that satisfy their own field); fulfillment item ids and output keys unique; every template
//! parses and every reference resolves (a `.current` path is a field of the form, an `.output`
//! key is produced by an earlier fulfillment item — across bundle components too — a
//! `.metadata` id exists with that field, a `.system` key is known); bundle components exist,
//! form no cycle, and get the input their items require ([`mapping`]: never a password copied
//! into a field that is not a password); forms are checked in [`form`].

mod form;
mod fulfillment;
mod mapping;

use super::{
    ActionType, Catalog, CatalogBundle, CatalogItem, Document, Entry, FulfillmentItem, Problem,
    SourceDoc,
};
use crate::catalog::Target;
use crate::catalog::target::Unresolved;
use crate::catalog::walk::walk;
use crate::form::{FieldType, Form};
use crate::path::DocPath;
use crate::schema::{self, SchemaKind};
use crate::template::{Mode, Namespace, Reference, SYSTEM_KEYS, TemplateTree};
use form::check_form;
pub use fulfillment::max_action_timeout;
use fulfillment::{check_github_names, check_secret_names, check_ticket_waiting, check_timeout};
use mapping::{check_mapping, check_password_mapping, check_unmapped};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// Parses and validates a set of catalog files as one catalog. Returns the catalog of valid
/// documents (a bundle is valid only if everything it runs is) and every problem.
pub fn validate_sources(sources: Vec<SourceDoc>) -> (Catalog, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut report = |file: &str, path: &dyn std::fmt::Display, message: String| {
        problems.push(Problem::in_file(file, path.to_string(), message));
    };
    // Ids claimed by any document, even one that fails its schema, so that a broken item
    // is reported once and not again by every bundle that names it.
    let mut claimed: HashMap<String, String> = HashMap::new();
    let mut typed: Vec<Entry> = Vec::new();
    for source in sources {
        let raw: Value = match serde_norway::from_str(&source.text) {
            Ok(v) => v,
            Err(e) => {
                report(&source.file, &DocPath::root(), format!("invalid YAML: {e}"));
                continue;
            }
        };
        let kind = match raw.get("kind").and_then(Value::as_str) {
            Some("CatalogItem") => SchemaKind::CatalogItem,
            Some("CatalogBundle") => SchemaKind::CatalogBundle,
            Some(other) => {
                report(
                    &source.file,
                    &DocPath::root().key("kind"),
                    format!("{other:?} is not one of: \"CatalogItem\", \"CatalogBundle\""),
                );
                continue;
            }
            None => {
                report(
                    &source.file,
                    &DocPath::root().key("kind"),
                    "is required".into(),
                );
                continue;
            }
        };
        let id_path = DocPath::root().key("metadata").key("id");
        let id = raw
            .pointer("/metadata/id")
            .and_then(Value::as_str)
            .map(str::to_string);
        if let Some(id) = &id {
            if let Some(first) = claimed.get(id) {
                report(
                    &source.file,
                    &id_path,
                    format!("duplicate id {id:?}: already defined in {first}"),
                );
                continue;
            }
            claimed.insert(id.clone(), source.file.clone());
        }
        let schema_problems = schema::validate(kind, &raw);
        if !schema_problems.is_empty() {
            for p in schema_problems {
                report(&source.file, &p.path, p.message);
            }
            continue;
        }
        let document = match kind {
            SchemaKind::CatalogBundle => serde_json::from_value(raw).map(Document::Bundle),
            _ => serde_json::from_value(raw).map(Document::Item),
        };
        match document {
            Ok(document) => typed.push(Entry {
                file: source.file,
                owners: source.owners,
                document,
            }),
            Err(e) => report(&source.file, &DocPath::root(), e.to_string()),
        }
    }

    let full = Catalog::new(typed);
    let context = Context {
        catalog: &full,
        claimed: &claimed,
    };
    let mut invalid: HashSet<String> = claimed
        .keys()
        .filter(|id| full.get(id).is_none())
        .cloned()
        .collect();
    for entry in full.entries() {
        let found = context.check_entry(entry);
        if !found.is_empty() {
            invalid.insert(entry.document.id().to_string());
        }
        for (path, message) in found {
            report(&entry.file, &path, message);
        }
    }
    // A bundle that runs an invalid document cannot be requested either.
    loop {
        let before = invalid.len();
        for entry in full.entries() {
            if let Document::Bundle(b) = &entry.document {
                if b.components.iter().any(|c| invalid.contains(c.target.id())) {
                    invalid.insert(b.metadata.id.to_string());
                }
            }
        }
        if invalid.len() == before {
            break;
        }
    }
    let valid = full
        .entries()
        .iter()
        .filter(|e| !invalid.contains(e.document.id().as_str()))
        .cloned()
        .collect();
    (Catalog::new(valid), problems)
}

pub(super) type Found = Vec<(DocPath, String)>;

struct Context<'a> {
    catalog: &'a Catalog,
    claimed: &'a HashMap<String, String>,
}

/// What the templates of one fulfillment item may read.
struct Scope<'a> {
    form: &'a Form,
    /// Output keys produced before this point.
    available: &'a HashSet<String>,
    /// Output keys produced later, by which fulfillment item.
    later: &'a HashMap<String, String>,
    /// `.output` is readable at all (not in a bundle's input mapping).
    outputs_allowed: bool,
    /// Password fields may not be read here: the kind of item that would publish them (a
    /// JIRA ticket, a commit, a workflow run's inputs are shown to many). Only `rest-api` and
    /// `webhook` items send a typed password, to their one target.
    passwords_forbidden: Option<&'static str>,
}

impl Context<'_> {
    fn check_entry(&self, entry: &Entry) -> Found {
        let mut found = Vec::new();
        let form_path = DocPath::root().key("form");
        check_form(entry.document.form(), &form_path, &mut found);
        check_access(&entry.document, &mut found);
        self.check_approval(&entry.document, &mut found);
        match &entry.document {
            Document::Item(item) => self.check_item(item, &mut found),
            Document::Bundle(bundle) => self.check_bundle(bundle, &mut found),
        }
        found
    }

    fn check_item(&self, item: &CatalogItem, found: &mut Found) {
        let items_path = DocPath::root().key("fulfillment").key("items");
        let mut available: HashSet<String> =
            item.fulfillment.required_outputs.iter().cloned().collect();
        let mut producer: HashMap<String, String> = HashMap::new();
        for fi in &item.fulfillment.items {
            for key in fi.output_keys() {
                producer.entry(key.clone()).or_insert_with(|| fi.id.clone());
            }
        }
        let mut ids = HashSet::new();
        for (i, fi) in item.fulfillment.items.iter().enumerate() {
            let path = items_path.index(i);
            if !ids.insert(fi.id.as_str()) {
                found.push((
                    path.key("id"),
                    format!("duplicate fulfillment item id {:?}", fi.id),
                ));
            }
            let later: HashMap<String, String> = producer
                .iter()
                .filter(|(k, _)| !available.contains(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let scope = Scope {
                form: &item.form,
                available: &available,
                later: &later,
                outputs_allowed: true,
                passwords_forbidden: match fi.action {
                    ActionType::RestApi | ActionType::Webhook => None,
                    ActionType::JiraTicket => Some("a JIRA ticket"),
                    ActionType::GithubCommit => {
                        Some("a commit (its files, message and pull request)")
                    }
                    ActionType::GithubWorkflow => {
                        Some("a workflow run's inputs (shown in the run's UI)")
                    }
                },
            };
            self.check_templates(
                &fi.config,
                fi.action.template_modes(),
                &path.key("config"),
                &scope,
                found,
            );
            check_outputs(fi, &path, &available, found);
            check_ticket_waiting(fi, &path, found);
            check_secret_names(fi, &path.key("config"), found);
            check_github_names(fi, &path.key("config"), found);
            check_timeout(fi, &path, max_action_timeout(), found);
            available.extend(fi.output_keys().cloned());
        }
    }

    fn check_bundle(&self, bundle: &CatalogBundle, found: &mut Found) {
        let components_path = DocPath::root().key("components");
        let mut ids = HashSet::new();
        for (i, component) in bundle.components.iter().enumerate() {
            let path = components_path.index(i);
            if let Some(id) = &component.id {
                if !ids.insert(id.as_str()) {
                    found.push((path.key("id"), format!("duplicate component id {id:?}")));
                }
            }
            let key = component.target.field();
            let target_form = self.target_form(&component.target);
            let target_form = match target_form {
                Ok(Some(form)) => form,
                // Exists but is itself invalid: reported in its own file.
                Ok(None) => continue,
                Err(message) => {
                    found.push((path.key(key), message));
                    continue;
                }
            };
            if let Target::Bundle(id) = &component.target {
                if let Some(cycle) = self.cycle_through(bundle.metadata.id.as_str(), id) {
                    found.push((
                        path.key(key),
                        format!("bundle cycle: {}", cycle.join(" → ")),
                    ));
                    continue;
                }
            }
            match &component.input {
                Some(mapping) => {
                    let scope = Scope {
                        form: &bundle.form,
                        available: &HashSet::new(),
                        later: &HashMap::new(),
                        outputs_allowed: false,
                        passwords_forbidden: None,
                    };
                    self.check_templates(mapping, &[], &path.key("input"), &scope, found);
                    check_mapping(
                        mapping,
                        target_form,
                        component.target.id(),
                        &path.key("input"),
                        found,
                    );
                    check_password_mapping(
                        mapping,
                        &bundle.form,
                        target_form,
                        component.target.id(),
                        &path.key("input"),
                        found,
                    );
                }
                None => check_unmapped(
                    &bundle.form,
                    target_form,
                    component.target.id(),
                    &path,
                    found,
                ),
            }
        }
        self.check_bundle_outputs(bundle, &components_path, found);
    }

    /// The form of the document a component names; `Ok(None)` when that document exists but
    /// failed validation.
    fn target_form(&self, target: &Target) -> Result<Option<&Form>, String> {
        match self.catalog.resolve(target) {
            Ok(e) => Ok(Some(e.document.form())),
            Err(Unresolved::Missing) if self.claimed.contains_key(target.id()) => Ok(None),
            Err(why) => Err(why.message(target)),
        }
    }

    /// The bundle ids of a cycle that `from → to` closes, if any.
    fn cycle_through(&self, from: &str, to: &str) -> Option<Vec<String>> {
        if from == to {
            return Some(vec![from.to_string(), to.to_string()]);
        }
        let inner = self.catalog.bundle(to)?;
        let found = walk(self.catalog, &[from], inner, &(), &mut |step, _| {
            if step.closes_cycle && step.component.target.id() == from {
                let mut cycle: Vec<String> = step.trail.iter().map(|b| b.to_string()).collect();
                cycle.push(from.to_string());
                return Err(cycle);
            }
            Ok(Some(()))
        });
        found.err()
    }

    /// Outputs across components: what an item requires from earlier components must be
    /// produced by one, and no key is produced twice.
    fn check_bundle_outputs(
        &self,
        bundle: &CatalogBundle,
        components_path: &DocPath,
        found: &mut Found,
    ) {
        let mut produced: HashMap<String, String> = HashMap::new();
        for (trail, item) in self.catalog.expand(bundle) {
            let Some(first) = trail.first() else { continue };
            let path = components_path.index(*first);
            let id = item.metadata.id.as_str();
            for key in &item.fulfillment.required_outputs {
                if !produced.contains_key(key) {
                    found.push((path.clone(), format!(
                        "catalog item {id:?} reads .output.{key}, which no earlier component produces"
                    )));
                }
            }
            for fi in &item.fulfillment.items {
                for key in fi.output_keys() {
                    if let Some(by) = produced.get(key) {
                        found.push((
                            path.clone(),
                            format!(
                                "output {key:?} of catalog item {id:?} is already produced by {by}"
                            ),
                        ));
                    } else {
                        produced.insert(key.clone(), format!("catalog item {id:?}"));
                    }
                }
            }
        }
    }

    /// `approval.stages` parse, and each `when` reads only the form, `.system` and
    /// `.metadata` (it is decided at submission, before any output) and never a password.
    fn check_approval(&self, document: &Document, found: &mut Found) {
        let Some(approval) = document.approval() else {
            return;
        };
        let base = DocPath::root().key("approval");
        let at = |key: &str| {
            key.split('.')
                .fold(base.clone(), |path, part| match part.split_once('[') {
                    Some((name, index)) => path
                        .key(name.to_string())
                        .index(index.trim_end_matches(']').parse().unwrap_or_default()),
                    None => path.key(part.to_string()),
                })
        };
        let stages = match crate::approval::parse_stages(approval) {
            Ok(stages) => stages,
            Err(problems) => {
                found.extend(problems.into_iter().map(|(k, p)| (at(&k), p)));
                return;
            }
        };
        let empty = (HashSet::new(), HashMap::new());
        let scope = Scope {
            form: document.form(),
            available: &empty.0,
            later: &empty.1,
            outputs_allowed: false,
            passwords_forbidden: Some("an approval condition"),
        };
        for (i, stage) in stages.iter().enumerate() {
            let Some(when) = &stage.when else { continue };
            let mut problems = Vec::new();
            self.check_templates(
                &serde_json::json!({ "when": when }),
                &[],
                &at(&format!("stages[{i}]")),
                &scope,
                &mut problems,
            );
            // `.output` is refused by the scope in a component mapping's words: say it in ours.
            for (path, problem) in problems {
                let problem = if problem.contains("before any output exists") {
                    "an approval's when is decided at submission, before any output exists".into()
                } else {
                    problem
                };
                found.push((path, problem));
            }
        }
    }

    fn check_templates(
        &self,
        tree: &Value,
        modes: &[(&str, Mode)],
        base: &DocPath,
        scope: &Scope<'_>,
        found: &mut Found,
    ) {
        let parsed = match TemplateTree::parse(tree, modes) {
            Ok(t) => t,
            Err(errors) => {
                for (path, e) in errors {
                    found.push((base.join(&path), e.to_string()));
                }
                return;
            }
        };
        for (path, template) in parsed.templates() {
            for reference in template.references() {
                if let Some(message) = self.check_reference(reference, scope) {
                    found.push((base.join(&path), message));
                }
            }
        }
    }

    fn check_reference(&self, r: &Reference, scope: &Scope<'_>) -> Option<String> {
        let p: Vec<&str> = r.path.iter().map(String::as_str).collect();
        match r.namespace {
            Namespace::Current
                if scope.passwords_forbidden.is_some() && reads_password(&p, scope.form) =>
            {
                Some(format!(
                    "{r}: a password must never be written into {}: only rest-api and webhook items may send one",
                    scope.passwords_forbidden.unwrap_or_default()
                ))
            }
            Namespace::Current => check_current(r, &p, scope.form),
            Namespace::Output if !scope.outputs_allowed => Some(format!(
                "{r}: a component's input is built when the request is submitted, before any output exists"
            )),
            Namespace::Output => {
                let key = p.first()?;
                if scope.available.contains(*key) {
                    None
                } else if let Some(by) = scope.later.get(*key) {
                    Some(format!(
                        "{r} is used before fulfillment item {by:?} produces it"
                    ))
                } else {
                    Some(format!(
                        "{r} is not produced by an earlier fulfillment item (list it in fulfillment.requiredOutputs if an earlier bundle component produces it)"
                    ))
                }
            }
            Namespace::Metadata => {
                let id = p.first()?;
                let Some(entry) = self.catalog.get(id) else {
                    return (!self.claimed.contains_key(*id))
                        .then(|| format!("{r}: no catalog document has the id {id:?}"));
                };
                let field = p.get(1)?;
                let meta = serde_json::to_value(entry.document.metadata()).unwrap_or(Value::Null);
                (meta.get(*field).is_none() && *field != "ownerTeam")
                    .then(|| format!("{r}: {id:?} has no metadata field {field:?}"))
            }
            Namespace::System => {
                let joined = p.join(".");
                (!joined.is_empty() && !SYSTEM_KEYS.contains(&joined.as_str())).then(|| {
                    format!(
                        "{r} is not a system variable (known: {})",
                        SYSTEM_KEYS.join(", ")
                    )
                })
            }
        }
    }
}

/// `access.requesters` names someone, as a group of principals.
fn check_access(document: &Document, found: &mut Found) {
    let access = match document {
        Document::Item(i) => i.access.as_ref(),
        Document::Bundle(b) => b.access.as_ref(),
    };
    let Some(requesters) = access.and_then(|a| a.get("requesters")) else {
        return;
    };
    if let Err((key, problem)) = crate::approval::Group::parse(requesters) {
        let mut path = DocPath::root().key("access").key("requesters");
        for part in key.split('.').filter(|p| !p.is_empty()) {
            path = path.key(part.to_string());
        }
        found.push((path, problem));
    }
}

/// Whether reading `.current.<p>` exposes a password field's value.
pub(super) fn reads_password(p: &[&str], form: &Form) -> bool {
    form.fields().any(|(path, f)| {
        f.kind == FieldType::Password && {
            let mut parts = path.split('.');
            p.iter().zip(parts.by_ref()).all(|(a, b)| a == &b) && p.len() <= 2
        }
    })
}

fn check_current(r: &Reference, p: &[&str], form: &Form) -> Option<String> {
    match p {
        [] => None,
        ["name"] => None,
        ["name", ..] => Some(format!("{r}: .current.name is a string")),
        [group] => form
            .group(group)
            .is_none()
            .then(|| format!("{r}: the form has no group {group:?}")),
        [group, field, rest @ ..] => match form.field(group, field) {
            None if form.group(group).is_none() => {
                Some(format!("{r}: the form has no group {group:?}"))
            }
            None => Some(format!("{r} is not a field of the form")),
            Some(f)
                if !rest.is_empty()
                    && !matches!(f.kind, FieldType::Json | FieldType::Multiselect) =>
            {
                Some(format!(
                    "{r}: {group}.{field} is a {} field with no parts",
                    f.kind
                ))
            }
            Some(_) => None,
        },
    }
}

fn check_outputs(
    fi: &FulfillmentItem,
    path: &DocPath,
    before: &HashSet<String>,
    found: &mut Found,
) {
    for key in fi.output_keys() {
        if before.contains(key) {
            found.push((
                path.key("outputs").key(key.clone()),
                format!("output {key:?} is already produced by an earlier fulfillment item"),
            ));
        }
    }
}
