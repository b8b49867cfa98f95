//! PAO `api` Lambda function: every `/api/v1` route except the webhook. `main` builds the
//! clients and config once per container; the handler lives in the library.

use lambda_http::{Error, Request, service_fn};
use pao::api::{ApiSettings, App};
use pao::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    pao::logging::init();
    let config = Config::from_env()?;
    let sdk = pao::aws::load_sdk_config().await;
    let app = App::new(
        pao::store::Store::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name),
        pao::queue::Queue::new(aws_sdk_sqs::Client::new(&sdk), &config.task_queue_url),
        ApiSettings {
            region: config.region.clone(),
            environment: config.environment.clone(),
            catalog_cache: config.catalog_cache,
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
    );
    let app = &app;
    lambda_http::run(service_fn(move |event: Request| async move {
        api::handle(app, event).await
    }))
    .await
}
