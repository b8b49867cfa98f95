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

/// The SDK's HTTPS client: the process's reqwest client ([`crate::https::Https::shared`]:
/// rustls with ring, HTTP/1.1, proxies from `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`, built
/// on the first call, so a cold start reads no trust store and makes no connection),
/// not the SDK's own hyper client, whose TLS feature also turns HTTP/2 on: one HTTP stack in
/// every function instead of two, about 250 KB less in each (docs/performance.md). DynamoDB,
/// SQS and Secrets Manager calls have small bodies held in memory; a streaming body is
/// refused.
fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_smithy_runtime_api::client::http::SharedHttpClient::new(SdkHttp {
        http: crate::https::Https::shared(),
    })
}

/// [`https_client`]: reqwest as the SDK's `HttpClient`.
#[derive(Debug, Clone)]
struct SdkHttp {
    http: crate::https::Https,
}

impl aws_smithy_runtime_api::client::http::HttpClient for SdkHttp {
    fn http_connector(
        &self,
        settings: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
        _components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
    ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
        aws_smithy_runtime_api::client::http::SharedHttpConnector::new(SdkConnector {
            http: self.http.clone(),
            // The SDK's read timeout bounds the whole exchange here (its bodies are small).
            timeout: settings.read_timeout(),
        })
    }
}

#[derive(Debug, Clone)]
struct SdkConnector {
    http: crate::https::Https,
    timeout: Option<std::time::Duration>,
}

impl aws_smithy_runtime_api::client::http::HttpConnector for SdkConnector {
    fn call(
        &self,
        request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
    ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
        let (http, timeout) = (self.http.clone(), self.timeout);
        aws_smithy_runtime_api::client::http::HttpConnectorFuture::new(async move {
            send(http.client(), timeout, request).await
        })
    }
}

/// One SDK request over reqwest; transport failures classified as the SDK's retry policy
/// expects (a timeout or an I/O error is retried, a request that could not be built is not).
async fn send(
    http: &reqwest::Client,
    timeout: Option<std::time::Duration>,
    request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
) -> Result<
    aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    aws_smithy_runtime_api::client::result::ConnectorError,
> {
    use aws_smithy_runtime_api::client::result::ConnectorError;
    let user = |why: String| ConnectorError::user(why.into());
    let method = reqwest::Method::from_bytes(request.method().as_bytes())
        .map_err(|e| user(format!("method: {e}")))?;
    let body = request
        .body()
        .bytes()
        .ok_or_else(|| user("a streaming request body is not supported".into()))?
        .to_vec();
    let mut builder = http.request(method, request.uri()).body(body);
    for (name, value) in request.headers() {
        builder = builder.header(name, value);
    }
    if let Some(t) = timeout {
        builder = builder.timeout(t);
    }
    let classify = |e: reqwest::Error| {
        if e.is_timeout() {
            ConnectorError::timeout(e.into())
        } else if e.is_builder() {
            ConnectorError::user(e.into())
        } else {
            ConnectorError::io(e.into())
        }
    };
    let answer = builder.send().await.map_err(classify)?;
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    let bytes = answer.bytes().await.map_err(classify)?;
    let status = aws_smithy_runtime_api::http::StatusCode::try_from(status)
        .map_err(|e| ConnectorError::other(e.into(), None))?;
    let mut response = aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
        status,
        aws_smithy_types::body::SdkBody::from(bytes),
    );
    for (name, value) in &headers {
        // A header that is not text is no header the SDK reads.
        if let Ok(value) = value.to_str() {
            let _ = response
                .headers_mut()
                .try_append(name.as_str().to_string(), value.to_string());
        }
    }
    Ok(response)
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
