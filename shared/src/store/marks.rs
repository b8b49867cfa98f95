//! Marks of what was done once for an event: `EVENT#<id>` / `<what>` (`PUBLISHED`, or
//! `SENT#<recipient>` for a notification), kept two days (the stream keeps a record one), so a
//! redelivered stream record publishes and sends nothing a second time. Marks are written
//! after what they mark succeeded: a crash in between repeats it (at least once), never loses
//! it. The events function ignores these items on the stream.

use super::attr::{Item, n, s};
use super::{Store, StoreError, dynamo};
use aws_sdk_dynamodb::types::KeysAndAttributes;
use std::collections::{HashMap, HashSet};

/// How long a mark is kept: longer than a stream record (24 hours) can come back.
pub const MARK_SECS: u64 = 2 * 86_400;
/// DynamoDB's limits per call.
const GET_BATCH: usize = 100;

fn key(event_id: &str, what: &str) -> Item {
    HashMap::from([
        ("pk".to_string(), s(format!("EVENT#{event_id}"))),
        ("sk".to_string(), s(what)),
    ])
}

impl Store {
    /// Which of `ids` carry the mark `what`.
    pub async fn marked(&self, ids: &[String], what: &str) -> Result<HashSet<String>, StoreError> {
        let mut found = HashSet::new();
        for chunk in ids.chunks(GET_BATCH) {
            let mut keys: Vec<Item> = chunk.iter().map(|id| key(id, what)).collect();
            for _ in 0..8 {
                if keys.is_empty() {
                    break;
                }
                let wanted = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .projection_expression("pk")
                    .consistent_read(true)
                    .build()
                    .map_err(super::build_error)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, wanted)
                    .send()
                    .await
                    .map_err(dynamo)?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    if let Some(id) = item
                        .get("pk")
                        .and_then(|v| v.as_s().ok())
                        .and_then(|pk| pk.strip_prefix("EVENT#"))
                    {
                        found.insert(id.to_string());
                    }
                }
                keys = out
                    .unprocessed_keys
                    .and_then(|mut m| m.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
            }
            if !keys.is_empty() {
                return Err(StoreError::Dynamo(
                    "BatchGetItem left keys unprocessed after 8 tries".into(),
                ));
            }
        }
        Ok(found)
    }

    /// Marks `ids` with `what`.
    pub async fn mark(&self, ids: &[String], what: &str) -> Result<(), StoreError> {
        let expires = crate::clock::now_epoch() + MARK_SECS;
        let items = ids
            .iter()
            .map(|id| {
                let mut item = key(id, what);
                item.insert("expiresAt".into(), n(expires));
                item
            })
            .collect();
        self.put_items(items).await
    }
}
