//! PAO `github-webhook` Lambda function: catalog sync from GitHub pushes (HMAC-checked, no
//! IAM). `main` builds the clients and config once per container; the handler lives in the
//! library.

use lambda_http::{Error, Request, service_fn};
use pao::config::Config;
use pao::webhook::Webhook;

// Lambda hands a function one event at a time: one thread serves it (the SDK's and our
// concurrent calls still overlap), and none is spawned at start.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    pao::logging::init();
    let config = Config::from_env()?;
    let sdk = pao::aws::load_sdk_config().await;
    let webhook = Webhook::from_config(&config, &sdk);
    let webhook = &webhook;
    lambda_http::run(service_fn(move |event: Request| async move {
        github_webhook::handle(webhook, event).await
    }))
    .await
}
