//! What a submission item (and the request it becomes) asks for: one catalog item or one
//! bundle. Its own module because both the catalog (bundle components name targets) and the
//! request (a submission names one) use it, and neither should import the other for it.

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
}
