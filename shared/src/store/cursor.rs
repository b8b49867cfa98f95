//! List cursors: opaque to callers and authenticated. A cursor is the position to resume from
//! (DynamoDB's last evaluated key, or an offset), encrypted and then authenticated with keys
//! derived from the deployment's cursor secret, and bound to a scope (the list, the caller,
//! the filter). Encryption is HMAC-SHA256 in counter mode over a random nonce; the tag is
//! HMAC-SHA256 over scope, nonce and ciphertext (encrypt-then-MAC), compared in constant time.
//! A cursor that was altered, made by another deployment, or given out to another caller or
//! for another filter does not open: the API answers 400, never 500. Nothing in a cursor is
//! readable without the key.

use super::StoreError;
use super::attr::{Item, from_attr, to_attr};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

/// Longest cursor accepted.
const MAX_CURSOR: usize = 4096;
const NONCE: usize = 16;
const TAG: usize = 32;

/// The secret cursors are sealed with (from Secrets Manager in a deployment).
#[derive(Clone)]
pub struct CursorKey {
    encrypt: Vec<u8>,
    authenticate: Vec<u8>,
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(********)")
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    // HMAC takes keys of any length: `new_from_slice` cannot fail here.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
    for p in parts {
        mac.update(p);
    }
    mac
}

impl CursorKey {
    /// A keyed fingerprint of `data` for `purpose` (an `Idempotency-Key`'s call): what the
    /// store keeps of a body that may hold passwords, so a copy of the table or a backup is no
    /// oracle to test guesses against without the deployment's key.
    pub fn fingerprint(&self, purpose: &str, data: &[u8]) -> Vec<u8> {
        hmac(
            &self.authenticate,
            &[b"fingerprint\0", purpose.as_bytes(), b"\0", data],
        )
        .finalize()
        .into_bytes()
        .to_vec()
    }

    /// Derives the encryption and authentication keys from the secret.
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        let secret = secret.as_ref();
        Self {
            encrypt: hmac(secret, &[b"pao cursor encryption"])
                .finalize()
                .into_bytes()
                .to_vec(),
            authenticate: hmac(secret, &[b"pao cursor authentication"])
                .finalize()
                .into_bytes()
                .to_vec(),
        }
    }

    /// XORs `data` with the keystream of `nonce`.
    fn apply_keystream(&self, nonce: &[u8], data: &mut [u8]) {
        for (block, chunk) in data.chunks_mut(32).enumerate() {
            let counter = (block as u32).to_be_bytes();
            let stream = hmac(&self.encrypt, &[nonce, &counter])
                .finalize()
                .into_bytes();
            for (b, k) in chunk.iter_mut().zip(stream.iter()) {
                *b ^= k;
            }
        }
    }

    fn tag(&self, scope: &str, nonce: &[u8], ciphertext: &[u8]) -> Hmac<Sha256> {
        hmac(
            &self.authenticate,
            &[scope.as_bytes(), b"\n", nonce, ciphertext],
        )
    }

    /// Seals a position for `scope`.
    pub fn seal(&self, scope: &str, position: &Value) -> String {
        let nonce = *uuid::Uuid::new_v4().as_bytes();
        let mut data = position.to_string().into_bytes();
        self.apply_keystream(&nonce, &mut data);
        let tag = self.tag(scope, &nonce, &data).finalize().into_bytes();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        out.extend_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Opens a cursor sealed for `scope`; anything else is `BadCursor`.
    pub fn open(&self, scope: &str, cursor: &str) -> Result<Value, StoreError> {
        if cursor.len() > MAX_CURSOR {
            return Err(StoreError::BadCursor);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| StoreError::BadCursor)?;
        if bytes.len() < NONCE + TAG {
            return Err(StoreError::BadCursor);
        }
        let (nonce, rest) = bytes.split_at(NONCE);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG);
        self.tag(scope, nonce, ciphertext)
            .verify_slice(tag)
            .map_err(|_| StoreError::BadCursor)?;
        let mut data = ciphertext.to_vec();
        self.apply_keystream(nonce, &mut data);
        serde_json::from_slice(&data).map_err(|_| StoreError::BadCursor)
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
        // Flipping any byte breaks it; nothing of the position is readable.
        let mut bytes = URL_SAFE_NO_PAD.decode(&c).unwrap_or_default();
        for i in [0, NONCE + 1, bytes.len() - 1] {
            bytes[i] ^= 1;
            assert!(
                key.open("requests|alice", &URL_SAFE_NO_PAD.encode(&bytes))
                    .is_err()
            );
            bytes[i] ^= 1;
        }
        assert!(!String::from_utf8_lossy(&bytes).contains("REQ#1"));
        assert_ne!(
            c,
            key.seal("requests|alice", &json!({"pk": "REQ#1"})),
            "fresh nonce"
        );
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
