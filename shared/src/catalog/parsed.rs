//! Parsed fulfillment configs, kept per catalog snapshot: a task's config is parsed the first
//! time an item of a catalog version runs on a worker, and rendered from then on.

use super::FulfillmentItem;
use crate::template::TemplateTree;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How many parsed configs a worker keeps before it starts again (a catalog has at most a
/// few hundred items; a new version brings new keys).
const CAPACITY: usize = 512;

/// The parsed config of each (catalog version, catalog item, fulfillment item).
#[derive(Debug, Default)]
pub struct ParsedConfigs {
    trees: Mutex<HashMap<(String, String, String), Arc<TemplateTree>>>,
}

impl ParsedConfigs {
    /// The parsed config of `item` of `catalog_item_id` in `catalog_version`.
    pub fn get(
        &self,
        catalog_version: &str,
        catalog_item_id: &str,
        item: &FulfillmentItem,
    ) -> Result<Arc<TemplateTree>, String> {
        let key = (
            catalog_version.to_string(),
            catalog_item_id.to_string(),
            item.id.clone(),
        );
        if let Some(tree) = self.lock().get(&key) {
            return Ok(tree.clone());
        }
        let tree = Arc::new(item.parse_config()?);
        let mut trees = self.lock();
        if trees.len() >= CAPACITY {
            trees.clear();
        }
        trees.insert(key, tree.clone());
        Ok(tree)
    }

    /// How many configs are parsed and kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, String, String), Arc<TemplateTree>>> {
        // A panic while holding the lock leaves only a cache behind: keep using it.
        self.trees.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ActionType;
    use serde_json::json;

    fn item(id: &str, summary: &str) -> FulfillmentItem {
        FulfillmentItem {
            id: id.into(),
            name: None,
            action: ActionType::JiraTicket,
            config: json!({"summary": summary}),
            outputs: Default::default(),
            timeout_seconds: None,
        }
    }

    #[test]
    fn a_config_is_parsed_once_per_catalog_version() {
        let cache = ParsedConfigs::default();
        let a = cache
            .get("v1", "db", &item("t", "{{.current.x}}"))
            .expect("parses");
        let again = cache
            .get("v1", "db", &item("t", "{{.current.x}}"))
            .expect("parses");
        assert!(Arc::ptr_eq(&a, &again));
        let next = cache
            .get("v2", "db", &item("t", "{{.current.x}}"))
            .expect("parses");
        assert!(!Arc::ptr_eq(&a, &next));
        assert_eq!(cache.len(), 2);
        assert!(cache.get("v3", "db", &item("t", "{{ .bad.x }}")).is_err());
        assert_eq!(cache.len(), 2);
    }
}
