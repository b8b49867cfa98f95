//! `pao-local`: the whole PAO stack on one machine. Run it through `make dev`, which starts
//! the local AWS endpoint first.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    pao::logging::init();
    if std::env::var("AWS_ENDPOINT_URL")
        .map(|v| v.is_empty())
        .unwrap_or(true)
    {
        eprintln!(
            "pao-local: AWS_ENDPOINT_URL is not set; start it with `make dev` (moto_server) or point it at LocalStack"
        );
        return ExitCode::from(2);
    }
    let opts = match pao_local::runner::Options::from_env() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("pao-local: {e}");
            return ExitCode::from(2);
        }
    };
    let catalog = opts.catalog_dir.display().to_string();
    let running = match pao_local::runner::start(opts).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pao-local: {e}");
            return ExitCode::FAILURE;
        }
    };
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    println!("PAO local stack is up:");
    println!(
        "  API            http://{}/api/v1   (SigV4: service execute-api, region us-east-1)",
        running.api_addr
    );
    println!(
        "  description    http://{}/api/v1/openapi.json   (OpenAPI 3.1, signed like every call)",
        running.api_addr
    );
    println!(
        "  identity       AKIAPAOLOCALDEV00001 / pao-local-dev-secret (more in local/identities.json)"
    );
    println!("  AWS endpoint   {endpoint}");
    println!("  task queue     {}", running.stack.queues.queue);
    println!("  dead letters   {}", running.stack.queues.dlq);
    println!(
        "  JIRA stand-in  {}  (secret pao/jira, instance \"default\"; escalations go to project {})",
        running.jira.base_url(),
        running.stack.config.escalation_project
    );
    println!(
        "  GitHub stand-in {}  (repository {}, from {catalog})",
        running.github.api_url(),
        running.github.repository
    );
    println!(
        "  HTTP stand-in  {}  (plays the services rest-api and webhook items call)",
        running.http.base_url()
    );
    println!(
        "  catalog repo   {}  (edit, then `make catalog-push`)",
        running.github.dir.display()
    );
    println!(
        "  webhook        POST http://{}/api/v1/webhooks/github  (HMAC secret {})",
        running.api_addr,
        pao_local::runner::LOCAL_WEBHOOK_SECRET
    );
    println!(
        "  catalog        {} documents at commit {}",
        running.first_sync.added.len(),
        &running.first_sync.commit[..running.first_sync.commit.len().min(12)]
    );
    println!("Ctrl-C stops it.");
    let _ = tokio::signal::ctrl_c().await;
    println!("stopping");
    drop(running);
    ExitCode::SUCCESS
}
