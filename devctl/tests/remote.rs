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
    // `watch` follows it to the end: exit 0 for a completed request, one line per change.
    let out = run(&api, &["watch", &id, "--interval", "1"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(shown.contains("2/2 completed"), "{shown}");

    // Operators (locally: the identity tagged pao-role=operator, which queue commands sign as
    // by default) see the queue as tables or JSON; the developer is refused at the gateway.
    let out = run(&api, &["queue", "stats"]).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("QUEUE         VISIBLE  IN FLIGHT  DELAYED"),
        "{text}"
    );
    assert!(text.contains("last 5 min   2"), "{text}");
    let out = run(&api, &["--json", "queue", "stats"]).await;
    let stats: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(stats["data"]["last5Minutes"]["completed"], 2, "{stats}");
    let out = run(&api, &["queue", "dlq"]).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "no dead letters\n");
    let out = run(&api, &["queue", "messages", &id]).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.starts_with(&format!("request {id} is completed")),
        "{text}"
    );
    let out = run(&api, &["queue", "redrive", "no-such-message"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("404"));
    let as_developer = {
        let api = api.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_devctl"))
                .args(["queue", "stats"])
                .env("PAO_API_URL", &api)
                .env("AWS_ACCESS_KEY_ID", "AKIAPAOLOCALDEV00001")
                .env("AWS_SECRET_ACCESS_KEY", "pao-local-dev-secret")
                .env_remove("AWS_SESSION_TOKEN")
                .output()
                .expect("devctl runs")
        })
        .await
        .expect("devctl ran")
    };
    assert_eq!(as_developer.status.code(), Some(1));
    let refused = String::from_utf8_lossy(&as_developer.stderr).into_owned();
    assert!(
        refused.contains("403") && refused.contains("Developer"),
        "{refused}"
    );
    stop_local(running).await;
    let out = run(&api, &["requests"]).await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "the stack is stopped: devctl cannot reach it"
    );
}

/// `validate`, `preview` and `render` with `--api` (the API's /tools routes) say what the
/// offline commands say, on the example catalog and on a broken document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_routes_agree_with_the_offline_commands() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "run with make test"
    );
    let examples = pao_system_tests::example_catalog_dir();
    let opts = local_options(&examples);
    let running = start(opts.clone()).await.expect("local stack");
    let api = format!("http://{}/api/v1", running.api_addr);
    let examples_arg = examples.to_string_lossy().into_owned();
    let both = |args: Vec<String>| {
        let api = api.clone();
        async move {
            let plain: Vec<&str> = args.iter().map(String::as_str).collect();
            let offline = run(&api, &plain).await;
            let mut remote_args = vec!["--api", api.as_str()];
            remote_args.extend(plain.iter().copied());
            let remote = run(&api, &remote_args).await;
            (offline, remote)
        }
    };
    let json = |out: &Output| -> Value {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "not JSON: {} / {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    };

    // The example catalog: valid both ways.
    let (offline, remote) = both(vec![
        "validate".into(),
        "--json".into(),
        examples_arg.clone(),
    ])
    .await;
    assert_eq!(offline.status.code(), Some(0));
    assert_eq!(
        remote.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&remote.stderr)
    );
    assert_eq!(json(&offline)["documents"], json(&remote)["documents"]);

    // A broken document: the same problems, file, path and message.
    let broken = write_repo(&[(
        "catalog/storage/s3-bucket.yaml",
        &std::fs::read_to_string(examples.join("catalog/storage/s3-bucket.yaml"))
            .expect("example")
            .replace("version: 1.1.0", "version: one")
            .replace("type: boolean", "type: yes-no"),
    )]);
    let broken_arg = broken.path().to_string_lossy().into_owned();
    let (offline, remote) =
        both(vec!["validate".into(), "--json".into(), broken_arg.clone()]).await;
    assert_eq!(offline.status.code(), Some(1));
    assert_eq!(
        remote.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&remote.stderr)
    );
    let strip = |v: Value| -> Vec<(String, String)> {
        v["problems"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let file = p["file"].as_str().unwrap_or_default();
                // Offline names the file as found on disk; the API as a repository path.
                let file = file.rsplit("catalog/").next().unwrap_or(file).to_string();
                (
                    format!("{file}:{}", p["path"].as_str().unwrap_or_default()),
                    p["message"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let (o, r) = (strip(json(&offline)), strip(json(&remote)));
    assert!(!o.is_empty());
    assert_eq!(o, r);

    // Preview and render of an example document: the same form and the same configs.
    let item = examples
        .join("catalog/storage/s3-bucket.yaml")
        .to_string_lossy()
        .into_owned();
    let (offline, remote) = both(vec!["preview".into(), "--json".into(), item.clone()]).await;
    assert_eq!(
        remote.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&remote.stderr)
    );
    assert_eq!(json(&offline)["form"], json(&remote)["data"]["form"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("input.json");
    std::fs::write(
        &input,
        r#"{"name": "logs", "bucket": {"bucketName": "team-logs", "accessTeams": ["analytics"]}}"#,
    )
    .expect("write");
    let input = input.to_string_lossy().into_owned();
    let (offline, remote) = both(vec![
        "render".into(),
        "--json".into(),
        item.clone(),
        "--input".into(),
        input,
    ])
    .await;
    assert_eq!(
        offline.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    assert_eq!(
        remote.status.code(),
        Some(0),
        "{} {}",
        String::from_utf8_lossy(&remote.stdout),
        String::from_utf8_lossy(&remote.stderr)
    );
    let configs = |steps: &Value| -> Vec<Value> {
        steps
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| s["config"].clone())
            .collect()
    };
    assert_eq!(
        configs(&json(&offline)),
        configs(&json(&remote)["data"]["steps"])
    );
    stop_local(running).await;
}

/// Issue 25 point 5: a password field's value comes from an environment variable or standard
/// input, never the command line; the API holds it sealed (the request lists the field) and
/// shows it nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_come_from_the_environment_or_stdin() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "run with make test"
    );
    const PW: &str = "Devctl-Typed-Pw-55";
    let repo = write_repo(&[("catalog/two.yaml", TWO_TICKETS)]);
    let running = start(local_options(repo.path()))
        .await
        .expect("local stack");
    let api = format!("http://{}/api/v1", running.api_addr);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("r.json");
    std::fs::write(&file, r#"{"items":[{"schemaVersion":"catalog/v1","catalogItemId":"two-tickets","input":{"name":"x","basic":{"instanceName":"db"}}}]}"#).expect("write");
    let file = file.to_string_lossy().into_owned();
    let devctl_with = |args: Vec<String>,
                       env: Option<(&'static str, &'static str)>,
                       stdin: Option<&'static str>| {
        let api = api.clone();
        tokio::task::spawn_blocking(move || {
            use std::io::Write as _;
            let mut command = Command::new(env!("CARGO_BIN_EXE_devctl"));
            command
                .args(&args)
                .env("PAO_API_URL", &api)
                .env_remove("AWS_ACCESS_KEY_ID")
                .env_remove("AWS_SECRET_ACCESS_KEY")
                .env_remove("AWS_SESSION_TOKEN")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            if let Some((k, v)) = env {
                command.env(k, v);
            }
            let mut child = command.spawn().expect("devctl runs");
            if let Some(mut input) = child.stdin.take() {
                let _ = input.write_all(stdin.unwrap_or_default().as_bytes());
            }
            child.wait_with_output().expect("devctl ran")
        })
    };
    let args = |extra: &[&str]| -> Vec<String> {
        ["submit", file.as_str()]
            .iter()
            .chain(extra)
            .map(|a| a.to_string())
            .collect()
    };
    for (extra, env, stdin) in [
        (
            vec!["--secret-from-env", "basic.secret=PAO_TEST_PW"],
            Some(("PAO_TEST_PW", PW)),
            None,
        ),
        (
            vec!["--secret-stdin", "basic.secret"],
            None,
            Some("Devctl-Typed-Pw-55\n"),
        ),
    ] {
        let out = devctl_with(args(&extra), env, stdin).await.expect("ran");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!stdout.contains(PW), "{stdout}");
        let created: Value = serde_json::from_str(&stdout).expect("JSON");
        let id = created["requests"][0]["requestId"]
            .as_str()
            .expect("id")
            .to_string();
        let out = run(&api, &["get", &id]).await;
        let shown = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!shown.contains(PW), "{shown}");
        let detail: Value = serde_json::from_str(&shown).expect("JSON");
        assert_eq!(detail["input"]["basic"]["secret"], "********", "{detail}");
        assert_eq!(
            detail["secrets"][0]["field"], "basic.secret",
            "the value was typed: {detail}"
        );
    }
    // A variable that is not set is a usage error; nothing is sent.
    let out = devctl_with(
        args(&["--secret-from-env", "basic.secret=PAO_TEST_UNSET"]),
        None,
        None,
    )
    .await
    .expect("ran");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("PAO_TEST_UNSET is not set"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stop_local(running).await;
}

const GATED: &str = r#"schemaVersion: catalog/v1
kind: CatalogItem
metadata: { id: gated, name: Gated, version: 1.0.0, category: testing, owner: team-test, description: d }
approval:
  stages:
    - { id: dba, approvers: { arns: ["arn:aws:sts::*:assumed-role/DBA/*"] }, require: any, when: "{{ .current.basic.environment == 'prod' }}" }
form:
  groups:
    - id: basic
      fields:
        - { id: environment, type: select, options: [dev, prod], default: dev }
fulfillment:
  items:
    - { id: t, type: jira-ticket, config: { project: OPS, issueType: Task, summary: s, waitForResolution: false } }
"#;

/// Issue 27 point 9: a DBA lists, reads and decides approvals with devctl; the requester's
/// `devctl watch` follows the request once it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvers_decide_with_devctl() {
    let repo = write_repo(&[("catalog/gated.yaml", GATED)]);
    let mut opts = local_options(repo.path());
    let (key, secret) = ("AKIAPAOTESTDBA000001", "pao-test-dba-secret");
    opts.identities.push(pao_local::sigv4::Identity {
        access_key_id: key.into(),
        secret_access_key: secret.into(),
        arn: "arn:aws:sts::000000000000:assumed-role/DBA/dana@example.com".into(),
        tags: Default::default(),
    });
    let running = start(opts.clone()).await.expect("local stack");
    let api = format!("http://{}/api/v1", running.api_addr);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("prod.json");
    std::fs::write(&file, r#"{"items":[{"schemaVersion":"catalog/v1","catalogItemId":"gated","input":{"name":"orders","basic":{"environment":"prod"}}}]}"#).expect("write");
    let file = file.to_string_lossy().into_owned();
    let out = run(&api, &["submit", &file]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(created["requests"][0]["state"], "awaiting_approval");
    let id = created["requests"][0]["requestId"]
        .as_str()
        .expect("id")
        .to_string();

    let as_dba = |args: Vec<String>| {
        let api = api.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_devctl"))
                .args(&args)
                .env("PAO_API_URL", &api)
                .env("AWS_ACCESS_KEY_ID", key)
                .env("AWS_SECRET_ACCESS_KEY", secret)
                .env_remove("AWS_SESSION_TOKEN")
                .output()
                .expect("devctl runs")
        })
    };
    let out = as_dba(vec!["approvals".into()]).await.expect("ran");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&id) && text.contains("dba (0 of 1)") && text.contains("orders (gated)"),
        "{text}"
    );
    let out = as_dba(vec!["approval".into(), id.clone()])
        .await
        .expect("ran");
    let detail: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(detail["youMayDecide"], true, "{detail}");

    // The requester may not approve their own; a rejection needs a comment (clap says so).
    let out = run(&api, &["approve", &id]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = as_dba(vec!["reject".into(), id.clone()])
        .await
        .expect("ran");
    assert_eq!(out.status.code(), Some(2), "--comment is required");

    let out = as_dba(vec![
        "approve".into(),
        id.clone(),
        "--comment".into(),
        "fine".into(),
    ])
    .await
    .expect("ran");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("approved") && text.contains("the request runs"),
        "{text}"
    );
    let out = run(&api, &["watch", &id, "--interval", "1"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    stop_local(running).await;
}

/// Runs devctl with extra environment variables, off the async runtime.
async fn run_with(api: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let api = api.to_string();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_devctl"))
            .args(&args)
            .env("PAO_API_URL", &api)
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .envs(env)
            .output()
            .expect("devctl runs")
    })
    .await
    .expect("devctl ran")
}

const WAITING: &str = r#"schemaVersion: catalog/v1
kind: CatalogItem
metadata: { id: worked, name: Worked, version: 1.0.0, category: testing, owner: team-test, description: d }
form:
  groups:
    - id: basic
      fields:
        - { id: instanceName, type: string, required: true }
fulfillment:
  items:
    - { id: ticket, type: jira-ticket, config: { project: OPS, issueType: Task, summary: "{{ .current.basic.instanceName }}" } }
"#;

/// Issue 28: `devctl watch` takes each change from the live socket as it is pushed, and polls
/// when the socket cannot be reached; the same lines and exit status either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_follows_the_live_socket_and_polls_when_it_is_down() {
    let repo = write_repo(&[("catalog/worked.yaml", WAITING)]);
    let running = start(local_options(repo.path()))
        .await
        .expect("local stack");
    let api = format!("http://{}/api/v1", running.api_addr);
    let dir = tempfile::tempdir().expect("temp dir");
    let submit = |name: &str| {
        let file = dir.path().join(format!("{name}.json"));
        std::fs::write(&file, format!(r#"{{"items":[{{"schemaVersion":"catalog/v1","catalogItemId":"worked","input":{{"name":"{name}","basic":{{"instanceName":"{name}"}}}}}}]}}"#)).expect("write");
        file.to_string_lossy().into_owned()
    };
    for (name, live) in [("live", None), ("polled", Some("ws://127.0.0.1:9/live"))] {
        let out = run(&api, &["submit", &submit(name)]).await;
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
        // The ticket is worked a few seconds later (the stand-in resolves it): watch starts
        // while the request runs and ends when it completes.
        let env: Vec<(&str, &str)> = live.map(|url| ("PAO_LIVE_URL", url)).into_iter().collect();
        let out = run_with(&api, &["watch", &id, "--interval", "1"], &env).await;
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert_eq!(out.status.code(), Some(0), "{name}: {stdout}\n{stderr}");
        assert!(
            stdout.trim_end().ends_with("1/1 completed"),
            "{name}: {stdout}"
        );
        assert!(
            stdout.lines().count() >= 2,
            "{name}: a line per change: {stdout}"
        );
        if live.is_some() {
            assert!(stderr.contains("live status unavailable"), "{stderr}");
            assert!(stderr.contains("polling every 1s"), "{stderr}");
        } else {
            assert!(!stderr.contains("unavailable"), "followed live: {stderr}");
        }
    }
    // Someone else's request: refused over the socket as over the API.
    let out = run(
        &api,
        &[
            "watch",
            "req-00000000000000000000000000000000",
            "--interval",
            "1",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("404"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stop_local(running).await;
}
