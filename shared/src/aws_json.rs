//! AWS services spoken over their JSON protocols with SigV4 (the function's credentials, the
//! endpoint the SDK clients use): EventBridge (`AWSEvents.PutEvents`), SES v2 (REST JSON) and,
//! for the local stack's stream poller, DynamoDB Streams. Not the SDK's crates: one or two
//! operations each did not justify their size in functions that must stay under 8 MiB (the
//! same choice as [`crate::kms`]).

use aws_credential_types::provider::SharedCredentialsProvider;
use serde_json::Value;
use std::time::Duration;

/// What may go wrong calling a service. Carries the service's own error name and message,
/// which never echo a request's body.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AwsJsonError {
    /// No answer (connection refused, timeout, no credentials).
    #[error("{service} could not be reached: {message}")]
    Unreachable {
        service: &'static str,
        message: String,
    },
    /// The service answered with an error.
    #[error("{service} refused ({status} {kind}): {message}")]
    Refused {
        service: &'static str,
        status: u16,
        kind: String,
        message: String,
    },
}

impl AwsJsonError {
    /// Throttling or a server error: worth another try later.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } => true,
            Self::Refused { status, kind, .. } => {
                *status >= 500 || *status == 429 || kind.contains("Throttl")
            }
        }
    }
}

/// One AWS service at its endpoint.
#[derive(Clone)]
pub struct AwsJson {
    timeout: Duration,
    endpoint: String,
    region: String,
    credentials: Option<SharedCredentialsProvider>,
    /// The SigV4 signing name (`events`, `ses`, `dynamodb`).
    service: &'static str,
}

impl std::fmt::Debug for AwsJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsJson")
            .field("service", &self.service)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl AwsJson {
    /// `service` signs as `signing_name`; its endpoint is `AWS_ENDPOINT_URL_<env_suffix>`, else
    /// the SDK configuration's endpoint (`AWS_ENDPOINT_URL`), else
    /// `https://<host_prefix>.<region>.amazonaws.com`.
    pub fn new(
        sdk: &crate::aws::SdkConfig,
        (signing_name, env_suffix, host_prefix): (&'static str, &str, &str),
        timeout: Duration,
    ) -> Self {
        let region = sdk
            .region()
            .map(|r| r.as_ref().to_string())
            .unwrap_or_else(|| "us-east-1".into());
        let endpoint = std::env::var(format!("AWS_ENDPOINT_URL_{env_suffix}"))
            .ok()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| sdk.endpoint_url().map(str::to_string))
            .unwrap_or_else(|| format!("https://{host_prefix}.{region}.amazonaws.com"));
        Self {
            timeout,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region,
            credentials: sdk.credentials_provider(),
            service: signing_name,
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// An operation of a JSON RPC protocol (`x-amz-target: <target>`), posted to `/`.
    pub async fn target(
        &self,
        target: &str,
        content_type: &str,
        body: &Value,
    ) -> Result<Value, AwsJsonError> {
        self.send(
            "/",
            content_type,
            &[("x-amz-target", target.to_string())],
            body,
        )
        .await
    }

    /// A REST JSON operation: `body` posted to `path`.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, AwsJsonError> {
        self.send(path, "application/json", &[], body).await
    }

    async fn send(
        &self,
        path: &str,
        content_type: &str,
        headers: &[(&str, String)],
        body: &Value,
    ) -> Result<Value, AwsJsonError> {
        // The process's one client, built on its first call (not at a cold start).
        let (status, text) = crate::signing::signed_post(
            (crate::https::Https::shared().client(), self.timeout),
            &format!("{}{path}", self.endpoint),
            (self.service, content_type),
            &self.region,
            self.credentials.as_ref(),
            headers,
            body.to_string().into_bytes(),
        )
        .await
        .map_err(|message| AwsJsonError::Unreachable {
            service: self.service,
            message,
        })?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let kind = value
            .get("__type")
            .or_else(|| value.get("code"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let kind = kind.rsplit('#').next().unwrap_or(kind).to_string();
        let message = value
            .get("message")
            .or_else(|| value.get("Message"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        Err(AwsJsonError::Refused {
            service: self.service,
            status,
            kind,
            message,
        })
    }
}
