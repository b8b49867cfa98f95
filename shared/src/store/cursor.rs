//! List cursors: opaque to callers and authenticated. A cursor is the position to resume from
//! (DynamoDB's last evaluated key, or an offset) sealed with HMAC-SHA256 under the
//! deployment's cursor key and bound to a scope (the list, the caller, the filter). A cursor
//! that was altered, made by another deployment, or given out to another caller or for
//! another filter does not open: the API answers 400, never 500.

use super::StoreError;
use super::attr::{Item, from_attr, to_attr};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

/// Longest cursor accepted.
const MAX_CURSOR: usize = 4096;

/// The key cursors are sealed with (from Secrets Manager in a deployment).
#[derive(Clone)]
pub struct CursorKey(Vec<u8>);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(********)")
    }
}

impl CursorKey {
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        Self(secret.as_ref().to_vec())
    }

    fn mac(&self, scope: &str, payload: &str) -> Vec<u8> {
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) else {
            // HMAC takes keys of any length; this cannot happen.
            return Vec::new();
        };
        mac.update(scope.as_bytes());
        mac.update(b"\n");
        mac.update(payload.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Seals a position for `scope`.
    pub fn seal(&self, scope: &str, position: &Value) -> String {
        let payload = URL_SAFE_NO_PAD.encode(position.to_string());
        let tag = URL_SAFE_NO_PAD.encode(self.mac(scope, &payload));
        format!("{payload}.{tag}")
    }

    /// Opens a cursor sealed for `scope`; anything else is `BadCursor`.
    pub fn open(&self, scope: &str, cursor: &str) -> Result<Value, StoreError> {
        if cursor.len() > MAX_CURSOR {
            return Err(StoreError::BadCursor);
        }
        let (payload, tag) = cursor.split_once('.').ok_or(StoreError::BadCursor)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| StoreError::BadCursor)?;
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) else {
            return Err(StoreError::BadCursor);
        };
        mac.update(scope.as_bytes());
        mac.update(b"\n");
        mac.update(payload.as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&tag).map_err(|_| StoreError::BadCursor)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| StoreError::BadCursor)?;
        serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)
    }

    /// A DynamoDB last evaluated key as a cursor.
    pub(crate) fn seal_key(&self, scope: &str, key: &Item) -> String {
        let map: Map<String, Value> = key.iter().map(|(k, v)| (k.clone(), from_attr(v))).collect();
        self.seal(scope, &Value::Object(map))
    }

    /// A cursor back into the key to start from.
    pub(crate) fn open_key(&self, scope: &str, cursor: &str) -> Result<Item, StoreError> {
        let value = self.open(scope, cursor)?;
        let map = value.as_object().ok_or(StoreError::BadCursor)?;
        if map.is_empty() || map.values().any(|v| !v.is_string()) {
            return Err(StoreError::BadCursor);
        }
        Ok(map.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cursors_round_trip_only_under_their_key_and_scope() {
        let key = CursorKey::new("k1");
        let c = key.seal("requests|alice", &json!({"pk": "REQ#1"}));
        assert_eq!(
            key.open("requests|alice", &c).ok(),
            Some(json!({"pk": "REQ#1"}))
        );
        // Another caller, another deployment's key, a tampered payload: all refused.
        assert!(key.open("requests|bob", &c).is_err());
        assert!(CursorKey::new("k2").open("requests|alice", &c).is_err());
        let (_, tag) = c.split_once('.').unwrap_or_default();
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(r#"{"pk":"REQ#2"}"#));
        assert!(key.open("requests|alice", &forged).is_err());
        for bad in ["", "zz", "a.b.c", "7b7d", &"00".repeat(3000)] {
            assert!(key.open("requests|alice", bad).is_err(), "{bad}");
        }
        assert!(!format!("{key:?}").contains("k1"));
    }

    #[test]
    fn keys_round_trip() {
        let key = CursorKey::new("k");
        let item: Item = [("pk".to_string(), crate::store::attr::s("REQ#1"))].into();
        let c = key.seal_key("s", &item);
        assert_eq!(key.open_key("s", &c).ok(), Some(item));
    }
}
