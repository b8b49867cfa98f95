//! Secrets Manager, read through a small cache: a secret is re-read once its entry is older
//! than the configured age (60 s by default), so rotating a value takes effect without a
//! restart. Secret values never appear in `Debug` output, logs or errors.

use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{0}")]
    BadName(String),
    #[error("secret {0} does not exist")]
    NotFound(String),
    #[error("secret {0} has no string value")]
    Empty(String),
    /// What a user may see: the secret and what went wrong, in PAO's words. The SDK's text
    /// (which names the role and the account) goes to the log only.
    #[error("secret {id} could not be read: {reason}")]
    Read { id: String, reason: &'static str },
}

/// Where the secrets catalog items name live: a name such as `cmdb-token` is read from
/// `<prefix>cmdb-token`, the prefix being the stack's `pao/<environment>/catalog/`. The worker's
/// role reads that prefix and nothing else a catalog author could name, so an item can never
/// send PAO's own secrets (the GitHub token, the JIRA instances, the cursor key) anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogSecrets {
    pub prefix: String,
}

impl CatalogSecrets {
    /// A read error about a catalog secret, naming it as its item does (`cmdb-token`), not
    /// by its full id under the prefix.
    pub fn describe(&self, error: &SecretError) -> String {
        error.to_string().replace(&self.prefix, "")
    }

    /// The secret id a catalog item's `name` stands for, the name checked again (a catalog
    /// stored before validation refused it must not reach Secrets Manager either).
    pub fn id(&self, name: &str) -> Result<String, String> {
        check_catalog_secret_name(name)?;
        Ok(format!("{}{name}", self.prefix))
    }
}

/// A catalog secret name: relative (resolved under the catalog prefix), letters, digits and
/// `/_+=.@-` (what Secrets Manager allows in a name; so no template and no ARN), no `.` or `..`
/// segment, no leading or trailing `/`, at most 256 characters.
pub fn check_catalog_secret_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a secret name is empty".into());
    }
    if name.len() > 256 {
        return Err("a secret name has at most 256 characters".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/_+=.@-".contains(*c)))
    {
        return Err(format!(
            "secret name {name:?}: {c:?} is not allowed (letters, digits and /_+=.@- only; a secret name is never a template)"
        ));
    }
    if name == "pao" || name.starts_with("pao/") {
        return Err(format!(
            "secret name {name:?}: names are relative to the stack's catalog prefix pao/<environment>/catalog/ (write \"cmdb-token\", not \"pao/cmdb-token\"); PAO's own secrets can never be named"
        ));
    }
    if name
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(format!(
            "secret name {name:?}: no empty, . or .. segment (it names a secret under the stack's catalog prefix)"
        ));
    }
    Ok(())
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
                let reason = match e.as_service_error().and_then(|s| s.meta().code()) {
                    Some("AccessDeniedException") => "access denied",
                    Some("DecryptionFailure") => "it could not be decrypted",
                    Some("InvalidRequestException") => "it is marked for deletion or disabled",
                    _ => "Secrets Manager did not answer",
                };
                tracing::warn!(
                    secret = %id,
                    error = %aws_sdk_secretsmanager::error::DisplayErrorContext(&e),
                    "reading a secret failed"
                );
                return Err(SecretError::Read {
                    id: id.into(),
                    reason,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_secret_names_stay_under_the_prefix() {
        let secrets = CatalogSecrets {
            prefix: "pao/prod/catalog/".into(),
        };
        assert_eq!(
            secrets.id("cmdb-token").as_deref(),
            Ok("pao/prod/catalog/cmdb-token")
        );
        assert_eq!(
            secrets.id("team/a_b+c=d.e@f").as_deref(),
            Ok("pao/prod/catalog/team/a_b+c=d.e@f")
        );
        for bad in [
            "",
            "../jira",
            "team/../../github-token",
            "./x",
            "/pao/prod/jira",
            "x/",
            "a//b",
            "{{.current.name}}",
            "arn:aws:secretsmanager:us-east-1:1:secret:pao/prod/jira",
            "pao prod",
            "pao/jira",
            "pao/prod/github-token",
            "pao",
            &"x".repeat(257),
        ] {
            assert!(secrets.id(bad).is_err(), "{bad:?} accepted");
        }
    }
}
