//! Catalog snapshots: every document's source text under `pk = CATALOG#<version>`
//! (`sk = DOC#nnnnn`), and the pointer to the current one (`CATALOG` / `CURRENT`). A sync
//! writes a new snapshot, then moves the pointer in one write, so readers switch at once;
//! older snapshots expire an hour later.

use super::attr::{from_attr, n, s, to_attr};
use super::{Store, StoreError, dynamo};
use crate::catalog::SourceDoc;
use crate::clock::Now;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

impl Store {
    /// Stores a catalog snapshot (the source text of every document) under a new version and
    /// makes it current. Readers switch to it in one step; older snapshots expire.
    pub async fn put_catalog(
        &self,
        version: &str,
        sources: &[SourceDoc],
        now: &Now,
    ) -> Result<(), StoreError> {
        let partition = format!("CATALOG#{version}");
        for (i, doc) in sources.iter().enumerate() {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(&partition))
                .item("sk", s(format!("DOC#{i:05}")))
                .item("itemType", s("catalog-document"))
                .item("file", s(&doc.file))
                .item("text", s(&doc.text))
                .item("owners", to_attr(&Value::from(doc.owners.clone())))
                .send()
                .await
                .map_err(dynamo)?;
        }
        let previous = self.current_catalog_version().await?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s("CATALOG"))
            .item("sk", s("CURRENT"))
            .item("itemType", s("catalog-pointer"))
            .item("version", s(version))
            .item("count", n(sources.len() as u64))
            .send()
            .await
            .map_err(dynamo)?;
        if let Some(old) = previous.filter(|v| v != version) {
            // Readers of the old snapshot have a minute to finish; then TTL removes it.
            for item in &self.partition(&format!("CATALOG#{old}"), false).await? {
                if let (Some(pk), Some(sk)) = (item.get("pk"), item.get("sk")) {
                    self.client
                        .update_item()
                        .table_name(&self.table)
                        .key("pk", pk.clone())
                        .key("sk", sk.clone())
                        .update_expression("SET expiresAt = :e")
                        .expression_attribute_values(":e", n(now.epoch + 3600))
                        .send()
                        .await
                        .map_err(dynamo)?;
                }
            }
        }
        Ok(())
    }

    async fn current_catalog_version(&self) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s("CATALOG"))
            .key("sk", s("CURRENT"))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        Ok(out
            .item()
            .and_then(|i| i.get("version"))
            .and_then(|v| v.as_s().ok())
            .cloned())
    }

    /// The current catalog snapshot: its version and document sources (none stored: None).
    pub async fn catalog(&self) -> Result<Option<(String, Vec<SourceDoc>)>, StoreError> {
        let Some(version) = self.current_catalog_version().await? else {
            return Ok(None);
        };
        let mut sources = Vec::new();
        for item in &self.partition(&format!("CATALOG#{version}"), true).await? {
            let v = from_attr(&AttributeValue::M(item.clone()));
            sources.push(SourceDoc {
                file: v
                    .get("file")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                text: v
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                owners: v
                    .get("owners")
                    .and_then(Value::as_array)
                    .map(|o| {
                        o.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
        Ok(Some((version, sources)))
    }
}
