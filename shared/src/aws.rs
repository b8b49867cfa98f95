//! AWS SDK configuration, built once per process from the environment Lambda (and the local
//! stack) provides: `AWS_REGION`, the credentials in `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, `AWS_MAX_ATTEMPTS`, and `AWS_ENDPOINT_URL`
//! (moto_server or LocalStack locally). Nothing is read from files and nothing is fetched:
//! `aws-config`'s provider chain (profiles, SSO, STS, IMDS) is not linked, which keeps the
//! binaries small and a cold start free of I/O; a Lambda function's role credentials are
//! exactly these variables.

use aws_credential_types::Credentials;
use aws_credential_types::provider::{
    ProvideCredentials, SharedCredentialsProvider, error::CredentialsError, future,
};
pub use aws_types::SdkConfig;

/// Credentials from the environment, read when a client first signs (and again after they
/// expire, which Lambda's never do within a container's life).
#[derive(Debug)]
struct EnvironmentCredentials;

impl EnvironmentCredentials {
    fn read() -> Result<Credentials, CredentialsError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => Ok(Credentials::new(
                id,
                secret,
                var("AWS_SESSION_TOKEN"),
                None,
                "environment",
            )),
            _ => Err(CredentialsError::not_loaded(
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set",
            )),
        }
    }
}

impl ProvideCredentials for EnvironmentCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Self::read())
    }
}

/// The SDK configuration every client is built from.
pub fn sdk_config() -> SdkConfig {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".into());
    let attempts = var("AWS_MAX_ATTEMPTS")
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(3);
    let mut builder = SdkConfig::builder()
        .region(aws_types::region::Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(EnvironmentCredentials))
        .behavior_version(
            aws_smithy_runtime_api::client::behavior_version::BehaviorVersion::latest(),
        )
        .retry_config(aws_types::sdk_config::RetryConfig::standard().with_max_attempts(attempts))
        .http_client(https_client())
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        .time_source(aws_smithy_async::time::SystemTimeSource::new());
    if let Some(url) = var("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(url);
    }
    builder.build()
}

/// The SDK's HTTPS client: hyper and rustls with ring (the SDK's default brings aws-lc,
/// about 740 KB more in every function), built as the SDK builds its default otherwise,
/// proxies from `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` included. The system trust store
/// is read once per process when the first SDK client is built from this configuration (in
/// `main`: part of the cold start `make bench` measures), never fetched.
fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut connector =
            ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::Ring));
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

/// [`sdk_config`], for callers written against the async loader.
pub async fn load_sdk_config() -> SdkConfig {
    sdk_config()
}

/// `sdk` signing with other static keys (the local stack gives each function its own IAM
/// identity, as each function has its own role when deployed).
pub fn with_keys(sdk: &SdkConfig, access_key_id: &str, secret_access_key: &str) -> SdkConfig {
    sdk.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            access_key_id,
            secret_access_key,
            None,
            None,
            "pao-local-identity",
        )))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_decides() {
        let c = super::sdk_config();
        assert!(c.region().is_some());
        assert!(c.credentials_provider().is_some());
        assert!(c.retry_config().is_some_and(|r| r.max_attempts() >= 1));
    }

    /// The SDK's HTTPS client speaks TLS (rustls with ring, no other provider linked): an
    /// `https://` endpoint gets a TLS ClientHello first.
    #[test]
    fn https_endpoints_get_a_tls_handshake() {
        let hello = crate::https::first_bytes_to_a_listener(|url| async move {
            let config = aws_sdk_dynamodb::config::Builder::from(&super::sdk_config())
                .endpoint_url(url)
                .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
                .retry_config(aws_types::sdk_config::RetryConfig::disabled())
                .build();
            let client = aws_sdk_dynamodb::Client::from_conf(config);
            let _ = client.list_tables().send().await;
        });
        assert_eq!(
            &hello[..2],
            &[0x16, 0x03],
            "a TLS handshake record: {hello:?}"
        );
    }
}
