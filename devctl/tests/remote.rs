//! devctl's signed API commands against a running local stack.

use pao_local::runner::start;
use pao_system_tests::{TWO_TICKETS, local_options, stop_local, write_repo};
use serde_json::Value;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn devctl(api: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_devctl"))
        .args(args)
        .env("PAO_API_URL", api)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .expect("devctl runs")
}

/// Runs devctl off the async runtime (it blocks while the local stack answers on this one).
async fn run(api: &str, args: &[&str]) -> Output {
    let api = api.to_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        devctl(&api, &args)
    })
    .await
    .expect("devctl ran")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_and_follow_a_request() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "run with make test"
    );
    let repo = write_repo(&[("catalog/two.yaml", TWO_TICKETS)]);
    let opts = local_options(repo.path());
    let running = start(opts.clone()).await.expect("local stack");
    let api = format!("http://{}/api/v1", running.api_addr);
    let dir = tempfile::tempdir().expect("temp dir");

    let out = run(&api, &["catalog", "--q", "two"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cards: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(cards[0]["id"], "two-tickets");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"items":[{"schemaVersion":"catalog/v1","catalogItemId":"two-tickets","input":{"name":"x","basic":{}}}]}"#).expect("write");
    let bad = bad.to_string_lossy().into_owned();
    let out = run(&api, &["submit", &bad]).await;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains("items[0].input.basic.instanceName: is required"),
        "{stderr}"
    );

    let good = dir.path().join("good.json");
    std::fs::write(&good, r#"{"items":[{"schemaVersion":"catalog/v1","catalogItemId":"two-tickets","input":{"name":"x","basic":{"instanceName":"db"}}}]}"#).expect("write");
    let good = good.to_string_lossy().into_owned();
    let out = run(&api, &["submit", &good, "--idempotency-key", "k1"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let id = created["requests"][0]["requestId"]
        .as_str()
        .expect("id")
        .to_string();

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = run(&api, &["status", &id]).await;
        let status: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if status["state"] == "completed" {
            break;
        }
        assert!(Instant::now() < deadline, "not completed: {status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop_local(running).await;
    let out = run(&api, &["requests"]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "the stack is stopped: devctl cannot reach it"
    );
}
