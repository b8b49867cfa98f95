//! PAO `worker` Lambda function: the SQS FIFO consumer that executes fulfillment tasks.
//! `main` builds clients and config once per container; the handler lives in the library.

// The worker future is deep (SDK calls inside tracing spans inside the batch loop).
#![recursion_limit = "256"]

use lambda_runtime::{Error, LambdaEvent, service_fn};
use pao::config::Config;
use pao::worker::Worker;

// Lambda hands a function one event at a time: one thread serves it (the SDK's and our
// concurrent calls still overlap), and none is spawned at start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    pao::logging::init();
    let config = Config::from_env()?;
    let sdk = pao::aws::load_sdk_config().await;
    let worker = Worker::from_config(&config, &sdk);
    let worker = &worker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        worker::handle(worker, event).await
    }))
    .await
}
