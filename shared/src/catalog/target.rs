//! What a bundle component or a submission item asks for: one catalog item or one bundle,
//! and finding it in a catalog.

use serde::{Deserialize, Serialize};

/// What an item asks for: exactly one of `catalogItemId` or `bundleId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    #[serde(rename = "catalogItemId")]
    CatalogItem(String),
    #[serde(rename = "bundleId")]
    Bundle(String),
}

impl Target {
    /// The JSON field that names it: `catalogItemId` or `bundleId`.
    pub fn field(&self) -> &'static str {
        match self {
            Self::CatalogItem(_) => "catalogItemId",
            Self::Bundle(_) => "bundleId",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Self::CatalogItem(id) | Self::Bundle(id) => id,
        }
    }

    /// What it names, for messages: `catalog item` or `bundle`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::CatalogItem(_) => "catalog item",
            Self::Bundle(_) => "bundle",
        }
    }
}

/// Why a target names nothing usable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    Missing,
    WrongKind,
}

impl Unresolved {
    /// The message a catalog author or a requester sees.
    pub fn message(&self, target: &Target) -> String {
        let id = target.id();
        match (self, target) {
            (Self::Missing, _) => format!("{} {id:?} does not exist", target.kind()),
            (Self::WrongKind, Target::Bundle(_)) => {
                format!("{id:?} is a catalog item, not a bundle: use catalogItemId")
            }
            (Self::WrongKind, Target::CatalogItem(_)) => {
                format!("{id:?} is a bundle, not a catalog item: use bundleId")
            }
        }
    }
}

impl super::Catalog {
    /// The document `target` names, if it is in the catalog and of the kind it says.
    pub fn resolve(&self, target: &Target) -> Result<&super::Entry, Unresolved> {
        let entry = self.get(target.id()).ok_or(Unresolved::Missing)?;
        match (&entry.document, target) {
            (super::Document::Item(_), Target::CatalogItem(_))
            | (super::Document::Bundle(_), Target::Bundle(_)) => Ok(entry),
            _ => Err(Unresolved::WrongKind),
        }
    }
}
