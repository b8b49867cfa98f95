//! PAO `events` Lambda function: the table's DynamoDB Stream in, every committed change
//! published to EventBridge. `main` builds clients and config once per container; the handler
//! lives in the library.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use pao::config::Config;
use pao::events::publish::Publisher;

// Lambda hands a function one event at a time: one thread serves it.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    pao::logging::init();
    let config = Config::from_env()?;
    let sdk = pao::aws::load_sdk_config().await;
    let publisher = Publisher::from_config(&config, &sdk);
    let publisher = &publisher;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        events::handle(publisher, event).await
    }))
    .await
}
