//! `Idempotency-Key` claims (`pk = IDEMP#<caller>#<key>`, `sk = IDEMP`). A claim holds a
//! SHA-256 of the body it was made for (never the body: it may carry passwords) and, once the
//! call is answered, the response. An unanswered claim expires shortly after the API
//! function's timeout, so a key whose first call died can be claimed again; an answered one is
//! kept for a day.

use super::attr::{from_attr, n, s};
use super::{Store, StoreError, dynamo};
use crate::clock::Now;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What an `Idempotency-Key` holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Idempotent {
    /// The key is new: it is now claimed for this body.
    Claimed,
    /// The same key and body were answered before: the stored response.
    Replay { status: u16, body: Value },
    /// The same key with another body.
    Mismatch,
    /// The first call with this key is still running.
    InProgress,
}

/// Seconds an answered idempotency key is remembered.
pub const IDEMPOTENCY_SECS: u64 = 86_400;
/// Seconds an unanswered claim holds: a little past the API function's 30 s timeout.
pub const IN_PROGRESS_SECS: u64 = 45;

/// What is stored of a body: its SHA-256, hex.
pub fn body_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

fn pk(caller: &str, key: &str) -> String {
    format!("IDEMP#{caller}#{key}")
}

/// A key answered in the same transaction as the request it created: claim and response at
/// once, so a submission under a key costs no call of its own.
#[derive(Debug, Clone, Copy)]
pub struct Answered<'a> {
    pub caller: &'a str,
    pub key: &'a str,
    pub body: &'a [u8],
    pub status: u16,
    pub response: &'a Value,
    pub now: &'a Now,
}

impl Store {
    /// Claims `key` for a body (per caller), or says what it already holds.
    pub async fn claim_idempotency(
        &self,
        caller: &str,
        key: &str,
        body: &[u8],
        now: &Now,
    ) -> Result<Idempotent, StoreError> {
        let pk = pk(caller, key);
        let hash = body_hash(body);
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&pk))
            .item("sk", s("IDEMP"))
            .item("itemType", s("idempotency"))
            .item("bodyHash", s(&hash))
            .item("expiresAt", n(now.epoch + IN_PROGRESS_SECS))
            // An expired claim (an abandoned call, or TTL not yet applied) may be taken again.
            .condition_expression("attribute_not_exists(pk) OR expiresAt < :now")
            .expression_attribute_values(":now", n(now.epoch))
            .send()
            .await;
        match put {
            Ok(_) => return Ok(Idempotent::Claimed),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(dynamo(e)),
        }
        Ok(self
            .idempotency_of(caller, key, body)
            .await?
            .unwrap_or(Idempotent::InProgress))
    }

    /// What `key` holds for this body, read strongly; `None` if nothing.
    pub async fn idempotency_of(
        &self,
        caller: &str,
        key: &str,
        body: &[u8],
    ) -> Result<Option<Idempotent>, StoreError> {
        let (pk, hash) = (pk(caller, key), body_hash(body));
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s("IDEMP"))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let stored = from_attr(&AttributeValue::M(item.clone()));
        // TTL deletes late: an expired record is gone for readers.
        if stored
            .get("expiresAt")
            .and_then(Value::as_u64)
            .is_some_and(|at| at < crate::clock::now_epoch())
        {
            return Ok(None);
        }
        if stored.get("bodyHash").and_then(Value::as_str) != Some(hash.as_str()) {
            return Ok(Some(Idempotent::Mismatch));
        }
        Ok(Some(
            match (
                stored.get("status").and_then(Value::as_u64),
                stored.get("response"),
            ) {
                (Some(status), Some(response)) => Idempotent::Replay {
                    status: status as u16,
                    body: response.clone(),
                },
                _ => Idempotent::InProgress,
            },
        ))
    }

    /// The answered key as one write of a transaction: only if the key is free (or its claim
    /// expired).
    pub(super) fn answered_write(
        &self,
        a: &Answered<'_>,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .item("pk", s(pk(a.caller, a.key)))
            .item("sk", s("IDEMP"))
            .item("itemType", s("idempotency"))
            .item("bodyHash", s(body_hash(a.body)))
            .item("status", n(u64::from(a.status)))
            .item("response", super::attr::to_attr(a.response))
            .item("expiresAt", n(a.now.epoch + IDEMPOTENCY_SECS))
            .condition_expression("attribute_not_exists(pk) OR expiresAt < :now")
            .expression_attribute_values(":now", n(a.now.epoch))
            .build()
            .map_err(super::build_error)?;
        Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .put(put)
            .build())
    }

    /// Records the response given to the call that claimed `key`; kept for a day.
    pub async fn finish_idempotency(
        &self,
        caller: &str,
        key: &str,
        status: u16,
        response: &Value,
        now: &Now,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk(caller, key)))
            .key("sk", s("IDEMP"))
            .update_expression("SET #st = :st, #r = :r, expiresAt = :e")
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#r", "response")
            .expression_attribute_values(":st", n(u64::from(status)))
            .expression_attribute_values(":r", super::attr::to_attr(response))
            .expression_attribute_values(":e", n(now.epoch + IDEMPOTENCY_SECS))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// Forgets a claim whose call failed on our side, so the caller can try again.
    pub async fn release_idempotency(&self, caller: &str, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk(caller, key)))
            .key("sk", s("IDEMP"))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }
}
