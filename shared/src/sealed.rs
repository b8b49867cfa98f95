//! Password values a requester typed. At submission each one is encrypted with the stack's KMS
//! key, bound by its encryption context to the request and the field (`requestId`, `field`),
//! and stored apart from every other record ([`crate::store`] keeps it under `SEALED#<id>`);
//! everything else PAO stores, logs or answers shows `********`. The worker opens a value just
//! before rendering the one `rest-api` or `webhook` action whose config reads it, and it lives
//! in that action's memory and in the list its errors are blanked with. The values go in the
//! same write that ends the request (completed, aborted, escalated); a failed request keeps
//! them for a while so a retry can use them.

use crate::kms::{Kms, KmsError};
use std::collections::BTreeMap;

/// A request's sealed values: ciphertext by the request's field (`group.field`), and, once the
/// request failed, until when they are kept (RFC 3339).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sealed {
    pub fields: BTreeMap<String, Vec<u8>>,
    pub kept_until: Option<String>,
}

/// The encryption context of one value: KMS opens its ciphertext only with the same.
pub fn context<'a>(request_id: &'a str, field: &'a str) -> BTreeMap<&'static str, &'a str> {
    BTreeMap::from([("requestId", request_id), ("field", field)])
}

/// Encrypts each `(field, value)` for `request_id`.
pub async fn seal(
    kms: &Kms,
    request_id: &str,
    values: &[(String, String)],
) -> Result<BTreeMap<String, Vec<u8>>, KmsError> {
    let mut sealed = BTreeMap::new();
    for (field, value) in values {
        let ciphertext = kms
            .encrypt(value.as_bytes(), &context(request_id, field))
            .await?;
        sealed.insert(field.clone(), ciphertext);
    }
    Ok(sealed)
}

/// Decrypts the values of `fields` (request fields) from `sealed`; a field not held is
/// reported by name.
pub async fn open(
    kms: &Kms,
    request_id: &str,
    sealed: &Sealed,
    fields: &[&str],
) -> Result<BTreeMap<String, String>, OpenError> {
    let mut open = BTreeMap::new();
    for field in fields {
        let ciphertext = sealed
            .fields
            .get(*field)
            .ok_or_else(|| OpenError::Gone(field.to_string()))?;
        let plain = kms
            .decrypt(ciphertext, &context(request_id, field))
            .await
            .map_err(|e| OpenError::Kms(field.to_string(), e))?;
        let plain = String::from_utf8(plain)
            .map_err(|_| OpenError::Gone(format!("{field} (not text once decrypted)")))?;
        open.insert(field.to_string(), plain);
    }
    Ok(open)
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "the typed value of password field {0} is no longer held (a failed request keeps it for a limited time): retry with it supplied again"
    )]
    Gone(String),
    #[error("password field {0} could not be decrypted: {1}")]
    Kms(String, KmsError),
}

/// The password fields `input` holds a typed value for (`group.field`, non-empty strings
/// other than the redaction mark), of the form's password `paths`.
pub fn typed(input: &serde_json::Value, paths: &[String]) -> Vec<(String, String)> {
    paths
        .iter()
        .filter_map(|p| {
            let (g, f) = p.split_once('.')?;
            let v = input.get(g)?.get(f)?.as_str()?;
            (!v.is_empty() && v != crate::form::REDACTED).then(|| (p.clone(), v.to_string()))
        })
        .collect()
}

/// For each of a task's password fields holding a typed value, the request field it came
/// from: the request field with the same value (a bundle's mapping copies a bundle password
/// into a component's password field; a component without a mapping has the same paths).
pub fn sources(
    task_current: &serde_json::Value,
    task_paths: &[String],
    request_values: &[(String, String)],
) -> BTreeMap<String, String> {
    typed(task_current, task_paths)
        .into_iter()
        .filter_map(|(path, value)| {
            let from = request_values
                .iter()
                .find(|(_, v)| *v == value)
                .map(|(f, _)| f.clone())?;
            Some((path, from))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_values_are_the_non_empty_unredacted_ones() {
        let input = json!({"db": {"pw": "s3cret-value", "empty": "", "shown": "********"}});
        let paths = ["db.pw", "db.empty", "db.shown", "db.missing", "nogroup"].map(String::from);
        assert_eq!(
            typed(&input, &paths),
            vec![("db.pw".to_string(), "s3cret-value".to_string())]
        );
    }

    #[test]
    fn a_components_password_comes_from_the_bundle_field_with_its_value() {
        let request = vec![(
            "database.masterPassword".to_string(),
            "pw-123456789".to_string(),
        )];
        let task = json!({"storage": {"masterPassword": "pw-123456789"}, "other": {"x": "y"}});
        let got = sources(&task, &["storage.masterPassword".into()], &request);
        assert_eq!(
            got.get("storage.masterPassword").map(String::as_str),
            Some("database.masterPassword")
        );
    }
}
