//! Secrets Manager, read through a small cache: a secret is re-read once its entry is older
//! than the configured age (60 s by default), so rotating a value takes effect without a
//! restart. Secret values never appear in `Debug` output, logs or errors.

use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {0} does not exist")]
    NotFound(String),
    #[error("secret {0} has no string value")]
    Empty(String),
    #[error("reading secret {id}: {message}")]
    Read { id: String, message: String },
}

pub struct SecretCache {
    client: aws_sdk_secretsmanager::Client,
    max_age: Duration,
    entries: Mutex<HashMap<String, (Instant, String)>>,
}

impl std::fmt::Debug for SecretCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretCache")
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl SecretCache {
    pub fn new(client: aws_sdk_secretsmanager::Client, max_age: Duration) -> Self {
        Self {
            client,
            max_age,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The secret's string value, from the cache while it is fresh.
    pub async fn get(&self, id: &str) -> Result<String, SecretError> {
        if let Some((at, value)) = self.entries.lock().await.get(id) {
            if at.elapsed() < self.max_age {
                return Ok(value.clone());
            }
        }
        let out = self.client.get_secret_value().secret_id(id).send().await;
        let value = match out {
            Ok(o) => o
                .secret_string
                .ok_or_else(|| SecretError::Empty(id.into()))?,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Err(SecretError::NotFound(id.into()));
            }
            Err(e) => {
                return Err(SecretError::Read {
                    id: id.into(),
                    message: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
                });
            }
        };
        self.entries
            .lock()
            .await
            .insert(id.to_string(), (Instant::now(), value.clone()));
        Ok(value)
    }
}
