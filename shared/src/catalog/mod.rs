//! Catalog documents: the typed `CatalogItem` and `CatalogBundle`, a loaded catalog with
//! lookups by id, and the problems found while loading and validating one.
//!
//! - [`load`] reads a catalog repository directory (`catalog/**/*.yaml`, `bundles/**/*.yaml`,
//!   `CODEOWNERS`).
//! - [`codeowners`] resolves each document's owners as GitHub does.
//! - [`validate`] runs the JSON Schemas and the semantic checks.

pub mod codeowners;
pub mod load;
pub mod parsed;
pub mod sync;
pub mod target;
pub mod validate;
pub mod waiting;
pub mod walk;

use crate::form::Form;
use crate::template::{Mode, TemplateTree};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

pub use load::{LoadError, load_dir};
pub use target::Target;

/// A catalog document's id (`database-aurora-postgresql`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CatalogId(pub String);

impl CatalogId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CatalogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub id: CatalogId,
    pub name: String,
    pub version: String,
    pub category: String,
    pub owner: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Custom keys a platform team adds; readable as `.metadata.<id>.<key>`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The fulfillment item types PAO can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActionType {
    JiraTicket,
    RestApi,
    GithubWorkflow,
    GithubCommit,
    Webhook,
}

impl ActionType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JiraTicket => "jira-ticket",
            Self::RestApi => "rest-api",
            Self::GithubWorkflow => "github-workflow",
            Self::GithubCommit => "github-commit",
            Self::Webhook => "webhook",
        }
    }

    /// The config keys whose strings are not plain text: a JSON document (a REST body, a
    /// webhook payload) or the URL called. Values rendered into them are escaped for where
    /// they land (`template::Mode`).
    pub fn template_modes(self) -> &'static [(&'static str, Mode)] {
        match self {
            Self::RestApi => &[("body", Mode::Json), ("url", Mode::Url)],
            Self::Webhook => &[("payload", Mode::Json), ("url", Mode::Url)],
            _ => &[],
        }
    }
}

impl fmt::Display for ActionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentItem {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub action: ActionType,
    pub config: Value,
    /// Output key → JSON pointer into the action's result.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub outputs: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
}

impl FulfillmentItem {
    /// The item's config as parsed templates (the action's JSON body renders as JSON).
    pub fn parse_config(&self) -> Result<TemplateTree, String> {
        TemplateTree::parse(&self.config, self.action.template_modes())
            .map_err(|errors| crate::template::join_errors(&errors))
    }

    /// Output keys in declaration order.
    pub fn output_keys(&self) -> impl Iterator<Item = &String> {
        self.outputs.keys()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fulfillment {
    /// Output keys this item reads that an earlier bundle component must produce.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_outputs: Vec<String>,
    pub items: Vec<FulfillmentItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogItem {
    pub schema_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub form: Form,
    pub fulfillment: Fulfillment,
    /// Who may request it (`access.requesters`; absent: every signed caller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Value>,
    /// Who must approve a request before it runs (`approval.stages`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(flatten)]
    pub target: Target,
    /// Templates over the bundle's `.current` that build this component's input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogBundle {
    pub schema_version: String,
    pub kind: String,
    pub metadata: Metadata,
    pub form: Form,
    pub components: Vec<Component>,
    /// Who may request it; it governs its components (their own `access` is not asked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<Value>,
    /// Who must approve a request before it runs; its components' own stages apply too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Value>,
}

impl CatalogBundle {
    /// The components as a portal and `devctl preview` show them: `[{"id", "ref"}]`.
    pub fn component_refs(&self) -> Value {
        self.components
            .iter()
            .map(|c| serde_json::json!({"id": c.id, "ref": c.target.id()}))
            .collect()
    }
}

/// A catalog document of either kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    Item(CatalogItem),
    Bundle(CatalogBundle),
}

impl Document {
    pub fn metadata(&self) -> &Metadata {
        match self {
            Self::Item(i) => &i.metadata,
            Self::Bundle(b) => &b.metadata,
        }
    }

    pub fn form(&self) -> &Form {
        match self {
            Self::Item(i) => &i.form,
            Self::Bundle(b) => &b.form,
        }
    }

    pub fn id(&self) -> &CatalogId {
        &self.metadata().id
    }

    /// Who may request it (`access.requesters`), or None: every signed caller. A group that
    /// does not parse (validation refuses it) admits nobody.
    pub fn requesters(&self) -> Option<crate::approval::Group> {
        let access = match self {
            Self::Item(i) => i.access.as_ref(),
            Self::Bundle(b) => b.access.as_ref(),
        }?;
        Some(
            access
                .get("requesters")
                .and_then(|r| crate::approval::Group::parse(r).ok())
                .unwrap_or_default(),
        )
    }

    /// Its approval stages as stated (`when` not yet decided); none when it has no
    /// `approval` or it does not parse (validation refuses such a document).
    pub fn approval_stages(&self) -> Vec<crate::approval::Stage> {
        self.approval()
            .and_then(|a| crate::approval::parse_stages(a).ok())
            .unwrap_or_default()
    }

    pub fn approval(&self) -> Option<&Value> {
        match self {
            Self::Item(i) => i.approval.as_ref(),
            Self::Bundle(b) => b.approval.as_ref(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Item(_) => "CatalogItem",
            Self::Bundle(_) => "CatalogBundle",
        }
    }
}

/// A document with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Path relative to the catalog repository's root, with `/` separators.
    pub file: String,
    /// Owners from CODEOWNERS (`@org/team`), empty when no rule matches.
    pub owners: Vec<String>,
    pub document: Document,
}

impl Entry {
    /// The owning team: the CODEOWNERS owner when there is one, `metadata.owner` otherwise.
    pub fn owner_team(&self) -> &str {
        self.owners
            .iter()
            .find(|o| o.contains('/'))
            .or(self.owners.first())
            .map(String::as_str)
            .unwrap_or(&self.document.metadata().owner)
    }
}

pub use crate::problem::Problem;

/// One catalog file's text with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceDoc {
    pub file: String,
    pub text: String,
    pub owners: Vec<String>,
}

/// The valid documents of a catalog repository.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    entries: Vec<Entry>,
}

impl Catalog {
    pub fn new(entries: Vec<Entry>) -> Self {
        Self { entries }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.document.id().as_str() == id)
    }

    pub fn item(&self, id: &str) -> Option<&CatalogItem> {
        match &self.get(id)?.document {
            Document::Item(i) => Some(i),
            Document::Bundle(_) => None,
        }
    }

    pub fn bundle(&self, id: &str) -> Option<&CatalogBundle> {
        match &self.get(id)?.document {
            Document::Bundle(b) => Some(b),
            Document::Item(_) => None,
        }
    }

    /// The `.metadata` namespace: every document's metadata by id.
    pub fn metadata_vars(&self) -> Map<String, Value> {
        self.entries
            .iter()
            .map(|e| {
                let mut m = serde_json::to_value(e.document.metadata()).unwrap_or(Value::Null);
                if let Some(obj) = m.as_object_mut() {
                    obj.insert(
                        "ownerTeam".into(),
                        Value::String(e.owner_team().to_string()),
                    );
                }
                (e.document.id().to_string(), m)
            })
            .collect()
    }

    /// The catalog items a bundle runs, in order (nested bundles expanded), each with the
    /// component path that leads to it. Stops at cycles and missing references, which
    /// validation reports.
    pub fn expand<'a>(&'a self, bundle: &'a CatalogBundle) -> Vec<(Vec<usize>, &'a CatalogItem)> {
        let mut out = Vec::new();
        let walked = walk::walk(
            self,
            &[],
            bundle,
            &Vec::new(),
            &mut |step, path: &Vec<usize>| {
                let mut path = path.clone();
                path.push(step.index);
                Ok::<_, std::convert::Infallible>(match step.entry.map(|e| &e.document) {
                    Some(Document::Item(item)) => {
                        out.push((path, item));
                        None
                    }
                    Some(Document::Bundle(_)) => Some(path),
                    None => None,
                })
            },
        );
        match walked {
            Ok(()) => out,
            Err(never) => match never {},
        }
    }
}
