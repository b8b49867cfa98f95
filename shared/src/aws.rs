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
        .sleep_impl(aws_smithy_async::rt::sleep::TokioSleep::new())
        .time_source(aws_smithy_async::time::SystemTimeSource::new());
    if let Some(url) = var("AWS_ENDPOINT_URL") {
        builder = builder.endpoint_url(url);
    }
    builder.build()
}

/// [`sdk_config`], for callers written against the async loader.
pub async fn load_sdk_config() -> SdkConfig {
    sdk_config()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_environment_decides() {
        let c = super::sdk_config();
        assert!(c.region().is_some());
        assert!(c.credentials_provider().is_some());
        assert!(c.retry_config().is_some_and(|r| r.max_attempts() >= 1));
    }
}
