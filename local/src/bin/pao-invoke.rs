//! `make invoke EVENT=events/<file>.json`: feeds one event to its function's handler, the
//! way Lambda would, against the local AWS endpoint. API Gateway events go to the API
//! handler, SQS batches to the worker handler; the table, queues, catalog
//! (`PAO_CATALOG_DIR`, default `examples/catalog`) and a JIRA stand-in are set up first.

use pao_local::identity::{Function, sdk_for};
use pao_local::jira_standin::JiraStandIn;
use pao_local::provision;
use serde_json::Value;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pao-invoke: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<(), String> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: pao-invoke EVENT.json")?;
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let event: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: not JSON: {e}"))?;
    if std::env::var("AWS_ENDPOINT_URL")
        .map(|v| v.is_empty())
        .unwrap_or(true)
    {
        return Err("AWS_ENDPOINT_URL is not set: run `make invoke EVENT=...`".into());
    }
    let sdk = pao::aws::load_sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    // A stack of its own, named as template.yaml names an environment's resources.
    let names = provision::Names::of_environment("invoke");
    let config = provision::stack(&sdk, &names)
        .await
        .map_err(|e| e.to_string())?
        .config;
    let store = pao::store::Store::new(aws_sdk_dynamodb::Client::new(&sdk), &names.table);
    let catalog_dir = std::env::var("PAO_CATALOG_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/catalog").into());
    let loaded =
        pao::catalog::load_dir(std::path::Path::new(&catalog_dir)).map_err(|e| e.to_string())?;
    store
        .put_catalog("invoke", &loaded.sources, &pao::clock::Now::current())
        .await
        .map_err(|e| e.to_string())?;

    if event.get("httpMethod").is_some() {
        let request = lambda_http::request::from_str(&text)
            .map_err(|e| format!("{path}: not an API Gateway event: {e}"))?;
        // API Gateway sends the webhook route to its own function.
        let webhook_route =
            event.get("path").and_then(Value::as_str) == Some("/api/v1/webhooks/github");
        let response = if webhook_route {
            // The events in events/ are signed with this secret.
            provision::put_secret(
                &secrets,
                &names.github_webhook_secret,
                "events-webhook-secret",
            )
            .await
            .map_err(|e| e.to_string())?;
            let webhook = pao::webhook::Webhook::from_config(
                &config,
                &sdk_for(&sdk, Function::GithubWebhook)?,
            );
            github_webhook::handle(&webhook, request).await
        } else {
            let app = pao::api::App::from_config(&config, &sdk_for(&sdk, Function::Api)?);
            api::handle(&app, request).await
        }
        .map_err(|e| e.to_string())?;
        println!("HTTP {}", response.status());
        for (k, v) in response.headers() {
            println!("{k}: {}", v.to_str().unwrap_or_default());
        }
        println!();
        let body = String::from_utf8_lossy(response.body().as_ref()).into_owned();
        let pretty = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or(body);
        println!("{pretty}");
        return Ok(());
    }
    if event
        .pointer("/Records/0/eventSource")
        .and_then(Value::as_str)
        == Some("aws:sqs")
    {
        let batch: aws_lambda_events::event::sqs::SqsEvent =
            serde_json::from_value(event).map_err(|e| format!("{path}: not an SQS event: {e}"))?;
        let jira = JiraStandIn::start(0, "pao@example.com", "invoke-token")
            .await
            .map_err(|e| e.to_string())?;
        provision::put_secret(&secrets, &names.jira_secret, &jira.secret("default"))
            .await
            .map_err(|e| e.to_string())?;
        let worker = pao::worker::Worker::from_config(&config, &sdk_for(&sdk, Function::Worker)?);
        let response = worker::handle_batch(&worker, &batch, None).await;
        println!(
            "{}",
            serde_json::to_string_pretty(&response).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    Err(format!(
        "{path}: neither an API Gateway REST event nor an SQS batch"
    ))
}
