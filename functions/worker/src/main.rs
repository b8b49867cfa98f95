//! PAO `worker` Lambda function: the SQS FIFO consumer that executes fulfillment tasks.
//! `main` builds clients and config once per container; the handler lives in the library.

// The worker future is deep (SDK calls inside tracing spans inside the batch loop).
#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent, service_fn};
use pao::config::Config;
use pao::worker::{Worker, WorkerSettings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    pao::logging::init();
    let config = Config::from_env()?;
    let sdk = pao::aws::load_sdk_config().await;
    let worker = Worker {
        store: pao::store::Store::new(aws_sdk_dynamodb::Client::new(&sdk), &config.table_name),
        queue: pao::queue::Queue::new(aws_sdk_sqs::Client::new(&sdk), &config.task_queue_url),
        secrets: pao::secrets::SecretCache::new(
            aws_sdk_secretsmanager::Client::new(&sdk),
            config.secret_cache,
        ),
        jira: pao::action::jira::JiraClient::new(reqwest::Client::new()),
        settings: WorkerSettings {
            jira_secret_id: config.jira_secret_id.clone(),
            environment: config.environment.clone(),
            region: config.region.clone(),
            action_timeout: config.action_timeout,
        },
    };
    let worker = &worker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        worker::handle(worker, event).await
    }))
    .await
}
