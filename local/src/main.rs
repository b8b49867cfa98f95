//! `pao-local`: the whole PAO stack on one machine. Run it through `make dev`, which starts
//! the local AWS endpoint first.

use std::process::ExitCode;

/// The local endpoint's administrator key, when IAM is enforced (scripts/with-local-aws.sh):
/// for the aws CLI against the local stack.
fn admin_key() -> Option<String> {
    let path = std::env::var("PAO_IAM_KEYS").ok()?;
    let keys: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let admin = keys.get("admin")?;
    Some(format!(
        "AWS_ACCESS_KEY_ID={} AWS_SECRET_ACCESS_KEY={}",
        admin.get("AccessKeyId")?.as_str()?,
        admin.get("SecretAccessKey")?.as_str()?
    ))
}

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
    let identities = opts.identities.clone();
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
    println!("  identities     (local/identities.json; tags are their roles' tags in IAM)");
    for i in &identities {
        let who = i.arn.rsplit(':').next().unwrap_or(&i.arn);
        let tags: Vec<String> = i.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "    {} / {}  {who}  {}",
            i.access_key_id,
            i.secret_access_key,
            tags.join(" ")
        );
    }
    println!(
        "  live status    ws://{}/live   (WebSocket, SigV4 on the upgrade; devctl watch uses it)",
        running.api_addr
    );
    println!("  AWS endpoint   {endpoint}");
    if let Some(admin) = admin_key() {
        println!(
            "  AWS keys       {admin}  (IAM enforced: each function signs as its own role; these are the administrator's)"
        );
    }
    println!("  task queue     {}", running.stack.queues.queue);
    println!("  dead letters   {}", running.stack.queues.dlq);
    let config = &running.stack.config;
    match &running.jira {
        Some(jira) => println!(
            "  JIRA           stand-in {}  (secret {}, instance \"default\"; escalations go to project {})",
            jira.base_url(),
            config.jira_secret_id,
            config.escalation_project
        ),
        None => println!(
            "  JIRA           REAL instances from the environment (secret {}; escalations go to project {})",
            config.jira_secret_id, config.escalation_project
        ),
    }
    match &running.github {
        Some(github) => {
            println!(
                "  GitHub         stand-in {}  (repository {}, from {catalog})",
                github.api_url(),
                github.repository
            );
            println!(
                "  catalog repo   {}  (edit, then `make catalog-push`)",
                github.dir.display()
            );
        }
        None => println!(
            "  GitHub         REAL {}  (catalog {} on {}; token from GITHUB_TOKEN)",
            config.github_api_url, config.catalog_repository, config.catalog_branch
        ),
    }
    println!(
        "  HTTP stand-in  {}  (plays the services rest-api and webhook items call)",
        running.http.base_url()
    );
    println!(
        "  events         bus {} (every change, source pao; read them with a rule to a queue)",
        config.event_bus_name
    );
    println!(
        "  notices        Slack stand-in {}  (records what it is sent); email via SES on the endpoint from {}",
        running.slack.api_url(),
        config.notify_from
    );
    println!(
        "  webhook        POST http://{}/api/v1/webhooks/github  (HMAC secret {})",
        running.api_addr,
        pao_local::runner::LOCAL_WEBHOOK_SECRET
    );
    println!(
        "  JIRA webhook   POST http://{}/api/v1/webhooks/jira?instance=default  (X-Hub-Signature secret {})",
        running.api_addr,
        pao_local::runner::LOCAL_JIRA_WEBHOOK_SECRET
    );
    if running.jira.is_some() {
        match std::env::var("PAO_JIRA_AUTO_RESOLVE_SECONDS")
            .ok()
            .as_deref()
        {
            Some("0") => println!(
                "  tickets        stay open until resolved by hand: make jira-resolve KEY=DBA-1 [RESOLUTION=\"Won't Do\"] [FIELDS='{{\"customfield_10050\": \"db.example.com\"}}']"
            ),
            _ => println!(
                "  tickets        resolve themselves (Done) a few seconds after they are made (PAO_JIRA_AUTO_RESOLVE_SECONDS=0: by hand, make jira-resolve KEY=…)"
            ),
        }
    }
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
