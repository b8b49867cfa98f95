//! Pushing a message to a WebSocket connection: API Gateway's management API,
//! `POST <endpoint>/@connections/<id>` signed with SigV4 (service `execute-api`), where the
//! endpoint is the WebSocket API's stage URL over https (`PAO_LIVE_ENDPOINT`; the local stack
//! serves the same path). 410 is a connection that is gone.

use std::time::Duration;

/// How long one push may take.
const TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// The connection is closed (`GoneException`): drop it.
    #[error("the connection is gone")]
    Gone,
    #[error("push failed: {0}")]
    Failed(String),
}

#[derive(Clone)]
pub struct Pusher {
    /// The stage URL (`https://<api>.execute-api.<region>.amazonaws.com/live`); empty: off.
    endpoint: String,
    region: String,
    credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
}

impl std::fmt::Debug for Pusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pusher")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Pusher {
    pub fn new(sdk: &crate::aws::SdkConfig, endpoint: &str) -> Self {
        Self {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            region: sdk
                .region()
                .map(|r| r.as_ref().to_string())
                .unwrap_or_else(|| "us-east-1".into()),
            credentials: sdk.credentials_provider(),
        }
    }

    pub fn configured(&self) -> bool {
        !self.endpoint.is_empty()
    }

    /// Sends `message` to the connection.
    pub async fn post(
        &self,
        connection_id: &str,
        message: &serde_json::Value,
    ) -> Result<(), PushError> {
        // A connection id is API Gateway's (base64: letters, digits, `-_+/=`); anything
        // else never was one, and is not sent anywhere.
        if connection_id.is_empty()
            || connection_id.len() > 128
            || !connection_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '=' | '+' | '/'))
        {
            return Err(PushError::Gone);
        }
        let url = format!(
            "{}/@connections/{}",
            self.endpoint,
            crate::signing::uri_encode(connection_id.as_bytes(), false)
        );
        // The process's one client, built on its first call (not at a cold start).
        let (status, text) = crate::signing::signed_post(
            (crate::https::Https::shared().client(), TIMEOUT),
            &url,
            ("execute-api", "application/json"),
            &self.region,
            self.credentials.as_ref(),
            &[],
            message.to_string().into_bytes(),
        )
        .await
        .map_err(PushError::Failed)?;
        match status {
            200..=299 => Ok(()),
            410 => Err(PushError::Gone),
            _ => Err(PushError::Failed(format!(
                "HTTP {status}: {}",
                text.chars().take(200).collect::<String>()
            ))),
        }
    }
}
