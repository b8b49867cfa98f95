//! AWS SDK configuration, loaded once per process. The SDK reads the region, credentials and
//! `AWS_ENDPOINT_URL` (moto_server or LocalStack locally) from the environment.

/// The shared SDK configuration for every client.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}
pub use aws_config::SdkConfig;
