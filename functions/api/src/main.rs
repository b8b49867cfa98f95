//! PAO `api` Lambda function: every `/api/v1` route except the webhook. `main` builds the
//! clients and config once per container; the handler lives in the library.

use lambda_http::{Error, Request, service_fn};
use pao::api::App;
use pao::config::Config;

// Lambda hands a function one event at a time: one thread serves it (the SDK's and our
// concurrent calls still overlap), and none is spawned at start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    pao::logging::init();
    let config = Config::from_env()?;
    let sdk = pao::aws::load_sdk_config().await;
    let app = App::from_config(&config, &sdk);
    let app = &app;
    lambda_http::run(service_fn(move |event: Request| async move {
        api::handle(app, event).await
    }))
    .await
}
