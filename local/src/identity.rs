//! Which IAM identity a function's AWS calls are signed with on the local endpoint. Deployed,
//! each function runs under its own role; locally, scripts/with-local-aws.sh gives each one an
//! IAM user with that role's policy on moto_server (IAM enforced) and names the key file in
//! `PAO_IAM_KEYS`. Without it (LocalStack, `PAO_IAM=off`) every function signs as the caller.

use std::collections::HashMap;

/// A PAO function, as template.yaml declares them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Api,
    Worker,
    GithubWebhook,
    Sweeper,
    Events,
}

impl Function {
    /// Its name in the key file (scripts/deploy_check.py `FUNCTIONS`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Worker => "worker",
            Self::GithubWebhook => "github-webhook",
            Self::Sweeper => "sweeper",
            Self::Events => "events",
        }
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Key {
    access_key_id: String,
    secret_access_key: String,
}

/// `sdk` signing as `function` when the endpoint enforces IAM per function; `sdk` as it is
/// otherwise. A key file that is named but unreadable is an error: silently running as the
/// administrator would hide the very denials the enforcement is there to show.
pub fn sdk_for(
    sdk: &pao::aws::SdkConfig,
    function: Function,
) -> Result<pao::aws::SdkConfig, String> {
    let Some(path) = std::env::var("PAO_IAM_KEYS").ok().filter(|p| !p.is_empty()) else {
        return Ok(sdk.clone());
    };
    let keys: HashMap<String, Key> = std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
        .map_err(|e| format!("PAO_IAM_KEYS={path}: {e}"))?;
    let key = keys
        .get(function.name())
        .ok_or_else(|| format!("PAO_IAM_KEYS={path} has no key for {}", function.name()))?;
    Ok(pao::aws::with_keys(
        sdk,
        &key.access_key_id,
        &key.secret_access_key,
    ))
}
