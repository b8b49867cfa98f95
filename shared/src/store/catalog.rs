//! Catalog snapshots: every document's source text under `pk = CATALOG#<version>`
//! (`sk = DOC#nnnnn`), and the pointer to the current one (`CATALOG` / `CURRENT`) with the
//! commit, the sync time and the rejections in force. A sync writes a new snapshot, then moves
//! the pointer in one conditional write (on the version it started from), so readers switch at
//! once and two syncs never overwrite each other unseen; older snapshots expire an hour later.
//!
//! GitHub deliveries: `DELIVERY#<id>` / `DELIVERY`, claimed before a push is synced and kept a
//! week, so a redelivered webhook changes nothing a second time.

use super::attr::{from_attr, n, s, to_attr};
use super::{CONDITION_FAILED, Store, StoreError, conditional, dynamo};
use crate::catalog::SourceDoc;
use crate::catalog::sync::{Rejection, Snapshot};
use crate::clock::Now;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serde_json::Value;
use std::collections::HashMap;

/// DynamoDB takes at most 25 writes in one BatchWriteItem.
const BATCH: usize = 25;
/// How long a delivery is remembered.
const DELIVERY_SECS: u64 = 7 * 86_400;
/// How long a claimed delivery may take before a redelivery may try it again.
const DELIVERY_LEASE_SECS: u64 = 60;

/// The snapshot in force, without its documents' text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SnapshotInfo {
    pub version: String,
    pub commit: String,
    pub synced_at: String,
    pub count: u64,
    pub rejections: Vec<Rejection>,
}

impl Store {
    /// Stores `snapshot` and makes it current, if the current one is still `previous` (none:
    /// no catalog yet). Otherwise `Conflict`, and the new snapshot is never seen.
    pub async fn put_snapshot(
        &self,
        snapshot: &Snapshot,
        previous: Option<&str>,
        now: &Now,
    ) -> Result<(), StoreError> {
        let partition = format!("CATALOG#{}", snapshot.version);
        let mut items = Vec::with_capacity(snapshot.sources.len());
        for (i, doc) in snapshot.sources.iter().enumerate() {
            items.push(HashMap::from([
                ("pk".to_string(), s(&partition)),
                ("sk".to_string(), s(format!("DOC#{i:05}"))),
                ("itemType".to_string(), s("catalog-document")),
                ("file".to_string(), s(&doc.file)),
                ("text".to_string(), s(&doc.text)),
                (
                    "blob".to_string(),
                    s(snapshot.blobs.get(&doc.file).map_or("", String::as_str)),
                ),
                (
                    "owners".to_string(),
                    to_attr(&Value::from(doc.owners.clone())),
                ),
            ]));
        }
        self.put_items(items).await?;
        let rejections = serde_json::to_value(&snapshot.rejections)
            .map_err(|e| StoreError::Malformed(e.to_string()))?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s("CATALOG"))
            .item("sk", s("CURRENT"))
            .item("itemType", s("catalog-pointer"))
            .item("version", s(&snapshot.version))
            .item("commit", s(&snapshot.commit))
            .item("syncedAt", s(&snapshot.synced_at))
            .item("count", n(snapshot.sources.len() as u64))
            .item("rejections", to_attr(&rejections));
        put = match previous {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => put
                .condition_expression("version = :previous")
                .expression_attribute_values(":previous", s(v)),
        };
        let swapped = conditional(put.send().await, CONDITION_FAILED, || {
            "another sync changed the catalog first".to_string()
        });
        if swapped.is_err() {
            // Never made current: let TTL remove what was written for it.
            self.expire_snapshot(&snapshot.version, now).await?;
            return swapped;
        }
        if let Some(old) = previous.filter(|v| *v != snapshot.version) {
            self.expire_snapshot(old, now).await?;
        }
        Ok(())
    }

    /// Stores documents as the current snapshot whatever is current (the local runner and
    /// tests load a directory this way).
    pub async fn put_catalog(
        &self,
        version: &str,
        sources: &[SourceDoc],
        now: &Now,
    ) -> Result<(), StoreError> {
        let previous = self.snapshot_info().await?.map(|i| i.version);
        let snapshot = Snapshot {
            version: version.to_string(),
            synced_at: now.rfc3339.clone(),
            sources: sources.to_vec(),
            ..Snapshot::default()
        };
        self.put_snapshot(&snapshot, previous.as_deref(), now).await
    }

    /// Sends one BatchWriteItem, and again what DynamoDB left unprocessed.
    pub(super) async fn batch_write(
        &self,
        mut writes: Vec<WriteRequest>,
    ) -> Result<(), StoreError> {
        for _ in 0..8 {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, writes)
                .send()
                .await
                .map_err(dynamo)?;
            writes = out
                .unprocessed_items
                .and_then(|mut m| m.remove(&self.table))
                .unwrap_or_default();
            if writes.is_empty() {
                return Ok(());
            }
        }
        Err(StoreError::Dynamo(
            "BatchWriteItem left items unprocessed after 8 tries".into(),
        ))
    }

    /// Readers of the old snapshot have an hour to finish; then TTL removes it. Its items are
    /// written again with `expiresAt`, 25 at a time.
    async fn expire_snapshot(&self, version: &str, now: &Now) -> Result<(), StoreError> {
        let mut items = self.partition(&format!("CATALOG#{version}"), false).await?;
        for item in &mut items {
            item.insert("expiresAt".into(), n(now.epoch + 3600));
        }
        self.put_items(items).await
    }

    /// Writes whole items, 25 to a BatchWriteItem.
    pub(super) async fn put_items(&self, items: Vec<super::attr::Item>) -> Result<(), StoreError> {
        let mut writes = Vec::with_capacity(items.len());
        for item in items {
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(super::build_error)?;
            writes.push(WriteRequest::builder().put_request(put).build());
        }
        for chunk in writes.chunks(BATCH) {
            self.batch_write(chunk.to_vec()).await?;
        }
        Ok(())
    }

    /// The snapshot in force, without its documents (none stored: `None`).
    pub async fn snapshot_info(&self) -> Result<Option<SnapshotInfo>, StoreError> {
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
        let Some(item) = out.item else {
            return Ok(None);
        };
        let v = from_attr(&AttributeValue::M(item));
        let text = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Ok(Some(SnapshotInfo {
            version: text("version"),
            commit: text("commit"),
            synced_at: text("syncedAt"),
            count: v.get("count").and_then(Value::as_u64).unwrap_or_default(),
            rejections: v
                .get("rejections")
                .cloned()
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| StoreError::Malformed(format!("catalog rejections: {e}")))?
                .unwrap_or_default(),
        }))
    }

    /// The snapshot in force with its documents (none stored: `None`).
    pub async fn snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        let Some(info) = self.snapshot_info().await? else {
            return Ok(None);
        };
        let mut sources = Vec::new();
        let mut blobs = std::collections::BTreeMap::new();
        for item in &self
            .partition(&format!("CATALOG#{}", info.version), true)
            .await?
        {
            let v = from_attr(&AttributeValue::M(item.clone()));
            let text = |k: &str| {
                v.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            if !text("blob").is_empty() {
                blobs.insert(text("file"), text("blob"));
            }
            sources.push(SourceDoc {
                file: text("file"),
                text: text("text"),
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
        Ok(Some(Snapshot {
            version: info.version,
            commit: info.commit,
            synced_at: info.synced_at,
            sources,
            blobs,
            rejections: info.rejections,
        }))
    }

    /// Takes a GitHub delivery for processing: `false` when it was processed already or is
    /// being processed now (a claim left by a crash may be taken again after a minute).
    pub async fn claim_delivery(&self, id: &str, now: &Now) -> Result<bool, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("DELIVERY#{id}")))
            .item("sk", s("DELIVERY"))
            .item("itemType", s("github-delivery"))
            .item("state", s("working"))
            .item("leaseUntil", n(now.epoch + DELIVERY_LEASE_SECS))
            .item("expiresAt", n(now.epoch + DELIVERY_SECS))
            .condition_expression(
                "attribute_not_exists(pk) OR (#state = :working AND leaseUntil < :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":working", s("working"))
            .expression_attribute_values(":now", n(now.epoch))
            .send()
            .await;
        match conditional(result, CONDITION_FAILED, || {
            format!("delivery {id} was seen")
        }) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Marks a claimed delivery done (it is never processed again).
    pub async fn finish_delivery(&self, id: &str) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("DELIVERY#{id}")))
            .key("sk", s("DELIVERY"))
            .update_expression("SET #state = :done REMOVE leaseUntil")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":done", s("done"))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// Lets a redelivery of a claimed delivery try again (the sync failed on our side).
    pub async fn release_delivery(&self, id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("DELIVERY#{id}")))
            .key("sk", s("DELIVERY"))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }
}
