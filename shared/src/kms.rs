//! AWS KMS, Encrypt and Decrypt only, spoken over its real protocol (JSON 1.1, SigV4 signed
//! with the function's credentials) on the endpoint the SDK clients use. Not the SDK's KMS
//! crate: two operations did not justify its size in a function that must stay under 8 MiB.
//!
//! Every call carries an encryption context; KMS binds the ciphertext to it, so a ciphertext
//! decrypts only with the context it was made with (and the key policy can require its keys).

use aws_credential_types::provider::SharedCredentialsProvider;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// What may go wrong asking KMS. Never carries a plaintext.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    /// No key is configured (`PAO_SECRETS_KEY_ID`).
    #[error("no KMS key is configured for typed secrets (PAO_SECRETS_KEY_ID)")]
    NoKey,
    /// The role may not use the key this way (IAM or the key policy).
    #[error("KMS refused: {0}")]
    Denied(String),
    /// The ciphertext does not open with this key and context.
    #[error("KMS could not decrypt: {0}")]
    Invalid(String),
    #[error("KMS could not be asked: {0}")]
    Unreachable(String),
}

/// A KMS client bound to one key.
#[derive(Clone)]
pub struct Kms {
    endpoint: String,
    region: String,
    credentials: Option<SharedCredentialsProvider>,
    key_id: String,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms")
            .field("endpoint", &self.endpoint)
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// How long one KMS call may take.
const TIMEOUT: Duration = Duration::from_secs(5);

impl Kms {
    /// A client for `key_id` (a key id, key ARN, alias name or alias ARN; empty: none
    /// configured, every call fails with [`KmsError::NoKey`]) with the SDK configuration's
    /// region, endpoint and credentials.
    pub fn new(sdk: &crate::aws::SdkConfig, key_id: &str) -> Self {
        let region = sdk
            .region()
            .map(|r| r.as_ref().to_string())
            .unwrap_or_else(|| "us-east-1".into());
        let endpoint = std::env::var("AWS_ENDPOINT_URL_KMS")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| sdk.endpoint_url().map(str::to_string))
            .unwrap_or_else(|| format!("https://kms.{region}.amazonaws.com"));
        Self {
            endpoint: format!("{}/", endpoint.trim_end_matches('/')),
            region,
            credentials: sdk.credentials_provider(),
            key_id: key_id.trim().to_string(),
        }
    }

    pub fn configured(&self) -> bool {
        !self.key_id.is_empty()
    }

    /// The ciphertext of `plaintext` under the key, bound to `context`.
    pub async fn encrypt(
        &self,
        plaintext: &[u8],
        context: &BTreeMap<&str, &str>,
    ) -> Result<Vec<u8>, KmsError> {
        self.transform(
            ("Encrypt", "Plaintext", "CiphertextBlob"),
            plaintext,
            context,
        )
        .await
    }

    /// The plaintext of `ciphertext`, which must have been made under the key with `context`.
    pub async fn decrypt(
        &self,
        ciphertext: &[u8],
        context: &BTreeMap<&str, &str>,
    ) -> Result<Vec<u8>, KmsError> {
        self.transform(
            ("Decrypt", "CiphertextBlob", "Plaintext"),
            ciphertext,
            context,
        )
        .await
    }

    /// One of the two: `operation` sends `bytes` as `given` and answers them as `answered`.
    async fn transform(
        &self,
        (operation, given, answered): (&str, &str, &str),
        bytes: &[u8],
        context: &BTreeMap<&str, &str>,
    ) -> Result<Vec<u8>, KmsError> {
        self.check_key()?;
        let answer = self
            .call(
                operation,
                json!({"KeyId": self.key_id, given: STANDARD.encode(bytes),
                       "EncryptionContext": context}),
            )
            .await?;
        blob(&answer, answered)
    }

    fn check_key(&self) -> Result<(), KmsError> {
        if self.configured() {
            Ok(())
        } else {
            Err(KmsError::NoKey)
        }
    }

    /// One KMS operation (`Encrypt`, `CreateKey`, …) with its JSON body; the answer's JSON.
    /// The local stack provisions its key with it.
    pub async fn call(&self, operation: &str, body: Value) -> Result<Value, KmsError> {
        // KMS answers are small (a ciphertext of at most 4 KB of plaintext, base64).
        // The process's one client, built on its first call (not at a cold start).
        let (status, text) = crate::signing::signed_post(
            (crate::https::Https::shared().client(), TIMEOUT),
            &self.endpoint,
            ("kms", "application/x-amz-json-1.1"),
            &self.region,
            self.credentials.as_ref(),
            &[("x-amz-target", format!("TrentService.{operation}"))],
            body.to_string().into_bytes(),
        )
        .await
        .map_err(KmsError::Unreachable)?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(value);
        }
        Err(error_of(status, &value))
    }
}

/// KMS's error answer (`__type`, `message`) as a [`KmsError`]; the message names the key and
/// the operation, never a plaintext (KMS never echoes one).
fn error_of(status: u16, answer: &Value) -> KmsError {
    let kind = answer
        .get("__type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = kind.rsplit('#').next().unwrap_or(kind).to_string();
    let message = answer
        .get("message")
        .or_else(|| answer.get("Message"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let said: String = format!("{kind} {message}")
        .trim()
        .chars()
        .take(300)
        .collect();
    let said = if said.is_empty() {
        format!("HTTP {status}")
    } else {
        said
    };
    match kind.as_str() {
        "AccessDeniedException"
        | "AccessDenied"
        | "NotAuthorized"
        | "DisabledException"
        | "KMSInvalidStateException" => KmsError::Denied(said),
        "InvalidCiphertextException" | "IncorrectKeyException" | "NotFoundException" => {
            KmsError::Invalid(said)
        }
        _ if status == 403 => KmsError::Denied(said),
        _ => KmsError::Unreachable(said),
    }
}

fn blob(answer: &Value, field: &str) -> Result<Vec<u8>, KmsError> {
    answer
        .get(field)
        .and_then(Value::as_str)
        .and_then(|b| STANDARD.decode(b).ok())
        .ok_or_else(|| KmsError::Unreachable(format!("KMS answered without {field}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_told_apart_by_their_type() {
        let denied = error_of(
            400,
            &json!({"__type": "AccessDeniedException", "message": "not allowed"}),
        );
        assert!(matches!(denied, KmsError::Denied(m) if m.contains("not allowed")));
        let invalid = error_of(
            400,
            &json!({"__type": "com.amazon#InvalidCiphertextException"}),
        );
        assert!(matches!(invalid, KmsError::Invalid(m) if m == "InvalidCiphertextException"));
        assert!(matches!(error_of(500, &Value::Null), KmsError::Unreachable(m) if m == "HTTP 500"));
    }

    #[tokio::test]
    async fn no_key_no_call() {
        let kms = Kms::new(&crate::aws::sdk_config(), " ");
        let context = BTreeMap::from([("requestId", "r")]);
        assert!(matches!(
            kms.encrypt(b"x", &context).await,
            Err(KmsError::NoKey)
        ));
    }
}
