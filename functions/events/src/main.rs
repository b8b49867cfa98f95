//! PAO `events` Lambda function: the table's DynamoDB Stream in, every committed change
//! published to EventBridge and the people it concerns told. `main` builds clients and config once per container; the handler
//! lives in the library.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use pao::config::Config;

// Lambda hands a function one event at a time: one thread serves it.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    pao::logging::init();
    let config = Config::from_env()?;
    let sdk = pao::aws::load_sdk_config().await;
    let handler = events::Handler::from_config(&config, &sdk);
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        events::handle(handler, event).await
    }))
    .await
}
