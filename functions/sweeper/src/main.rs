//! PAO `sweeper` Lambda function, fired by an EventBridge schedule. `main` builds clients and
//! config once per container; the handler lives in the library.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use pao::config::Config;
use pao::sweeper::Sweeper;
use serde_json::Value;

// Lambda hands a function one event at a time: one thread serves it (the SDK's and our
// concurrent calls still overlap), and none is spawned at start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    pao::logging::init();
    let config = Config::from_env()?;
    let sdk = pao::aws::load_sdk_config().await;
    let sweeper = Sweeper::from_config(&config, &sdk);
    let sweeper = &sweeper;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        sweeper::handle(sweeper, event).await
    }))
    .await
}
