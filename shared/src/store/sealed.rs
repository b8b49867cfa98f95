//! A request's sealed password values (`SEALED#<id>` / `SEALED`, see [`crate::sealed`]): put
//! in the submission's transaction, deleted in the write that ends the request, given a keep
//! time in the write that fails it, read only by the worker that sends one and by the detail
//! that says whether they are still held (never the ciphertext).

use super::attr::{Item, s};
use super::keys::{SEALED_SK, sealed_pk};
use super::{StateUpdate, Store, StoreError, build_error, dynamo};
use crate::record::Event;
use crate::record::RequestId;
use crate::request::RequestState;
use crate::sealed::Sealed;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use std::collections::{BTreeMap, HashMap};

/// What a change of a request's state does to its sealed values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SealedChange {
    /// The request ended: the values go.
    Delete,
    /// The request failed: kept for the deployment's keep time, for a retry.
    Keep,
    /// The request runs again: kept as long as it runs.
    Hold,
}

fn key(id: &RequestId) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_string(), s(sealed_pk(id))),
        ("sk".to_string(), s(SEALED_SK)),
    ])
}

impl Store {
    /// The put of a request's sealed values (in its submission's transaction, or a retry's
    /// that supplies them again); `None` when there are none.
    pub(super) fn sealed_put(
        &self,
        id: &RequestId,
        fields: &BTreeMap<String, Vec<u8>>,
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        if fields.is_empty() {
            return Ok(None);
        }
        let mut item: Item = key(id);
        item.insert("itemType".into(), s("sealed"));
        item.insert(
            "fields".into(),
            AttributeValue::M(
                fields
                    .iter()
                    .map(|(f, c)| (f.clone(), AttributeValue::B(c.clone().into())))
                    .collect(),
            ),
        );
        // A backstop: a request that never ends still loses them with its records.
        item.insert(
            "expiresAt".into(),
            AttributeValue::N(
                (crate::clock::now_epoch() + self.retention.failed.as_secs()).to_string(),
            ),
        );
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(build_error)?;
        Ok(Some(TransactWriteItem::builder().put(put).build()))
    }

    /// The write that goes with a request's state change (see [`SealedChange`]), at `at`
    /// (epoch seconds).
    pub(super) fn sealed_write(
        &self,
        id: &RequestId,
        change: SealedChange,
        at: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        match change {
            SealedChange::Delete => {
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(id)))
                    .build()
                    .map_err(build_error)?;
                Ok(TransactWriteItem::builder().delete(delete).build())
            }
            SealedChange::Keep | SealedChange::Hold => {
                let (expression, values) = if change == SealedChange::Keep {
                    let until = at + self.retention.secrets.as_secs();
                    (
                        "SET keptUntil = :until, expiresAt = :expires",
                        HashMap::from([
                            (":until".to_string(), s(crate::clock::rfc3339(until))),
                            (":expires".to_string(), AttributeValue::N(until.to_string())),
                        ]),
                    )
                } else {
                    let backstop = at + self.retention.failed.as_secs();
                    (
                        "SET expiresAt = :expires REMOVE keptUntil",
                        HashMap::from([(
                            ":expires".to_string(),
                            AttributeValue::N(backstop.to_string()),
                        )]),
                    )
                };
                // Where the values are gone already this leaves an item without `fields`:
                // it holds nothing and expires.
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(id)))
                    .update_expression(expression)
                    .set_expression_attribute_values(Some(values))
                    .build()
                    .map_err(build_error)?;
                Ok(TransactWriteItem::builder().update(update).build())
            }
        }
    }

    /// A request's sealed values, read strongly (the worker about to send one, a retry).
    pub async fn sealed_of(&self, id: &RequestId) -> Result<Option<Sealed>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        Ok(out.item.map(|item| sealed_of_item(&item)))
    }
}

fn sealed_of_item(item: &Item) -> Sealed {
    let fields = item
        .get("fields")
        .and_then(|v| v.as_m().ok())
        .map(|m| {
            m.iter()
                .filter_map(|(f, v)| Some((f.clone(), v.as_b().ok()?.as_ref().to_vec())))
                .collect()
        })
        .unwrap_or_default();
    Sealed {
        fields,
        kept_until: item.get("keptUntil").and_then(|v| v.as_s().ok()).cloned(),
    }
}

impl Store {
    /// A retry's changes (the request first) in one transaction, with the password values
    /// supplied again (`resealed`, non-empty) put in place of the held ones.
    pub(super) async fn retry_together(
        &self,
        id: &RequestId,
        mut updates: Vec<StateUpdate>,
        event: &Event,
        resealed: &std::collections::BTreeMap<String, Vec<u8>>,
    ) -> Result<(), StoreError> {
        let put = self.sealed_put(id, resealed)?;
        if put.is_some() {
            // The put replaces the item: no update of it in the same transaction.
            if let Some(first) = updates.first_mut() {
                first.sealed = None;
                first.events.push(event.clone());
            }
        } else if let Some(first) = updates.first_mut() {
            first.events.push(event.clone());
        }
        let mut writes = updates
            .into_iter()
            .map(|u| self.update_writes(u))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect::<Vec<_>>();
        writes.extend(put);
        self.transact(writes, || {
            format!("request {id} changed since it was read: retry it again if it is still failed")
        })
        .await
    }
}

impl StateUpdate {
    /// A request's change to `to` with what it does to the request's sealed password values
    /// when it holds some (`sealed`): deleted in the write that ends it, kept for the keep
    /// time by the write that fails it, held again by the write that runs it again.
    pub(super) fn sealing(mut self, id: &RequestId, sealed: bool, to: RequestState) -> Self {
        let change = match to {
            t if t.is_terminal() => Some(SealedChange::Delete),
            RequestState::Failed => Some(SealedChange::Keep),
            RequestState::Retrying | RequestState::Processing => Some(SealedChange::Hold),
            _ => None,
        };
        if sealed {
            self.sealed = change.map(|c| (id.clone(), c));
        }
        self
    }
}
