//! Nothing leaks and nothing is written twice: idempotency claims that expire, retried
//! submissions that write each item once, authenticated cursors, readiness without internals,
//! and a scan of everything a run writes (table and logs) for passwords and secrets.

use pao_system_tests::{
    Faults, TestEnv, api_request, api_send, app_for, drain_until, dump_table, example_catalog_dir,
    worker_for, write_repo,
};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const DEV: &str = "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com";
const OTHER: &str = "arn:aws:sts::000000000000:assumed-role/Developer/other@example.com";
const PASSWORD: &str = "Sup3r-Secret-Passw0rd";

fn two_items() -> Value {
    json!({"items": [
        {"schemaVersion": "catalog/v1", "catalogItemId": "database-aurora-postgresql",
         "input": {"name": "my-database", "basic": {"instanceName": "prod-db-01"},
                   "storage": {"masterPassword": PASSWORD}}},
        {"schemaVersion": "catalog/v1", "bundleId": "full-application-stack",
         "input": {"name": "my-app-stack", "application": {"appName": "frontend", "containerImage": "myapp:latest"},
                   "database": {"instanceName": "app-db", "masterPassword": PASSWORD}}}
    ]})
}

async fn get(app: &pao::api::App, caller: &str, path: &str) -> (u16, Value) {
    api_send(app, api_request(caller, "GET", path, None)).await
}

fn with_key(caller: &str, key: &str, body: Value) -> pao::api::ApiRequest {
    let mut r = api_request(caller, "POST", "/api/v1/requests", Some(body));
    r.headers.push(("idempotency-key".into(), key.into()));
    r
}

/// Item 9: a claim whose call died is free again shortly after the function's timeout.
#[tokio::test]
async fn an_abandoned_idempotency_claim_expires() {
    let env = TestEnv::new().await;
    let store = env.store();
    let t = pao::clock::now_epoch();
    use pao::store::Idempotent;
    assert_eq!(
        store
            .claim_idempotency(DEV, "k1", b"{}", &pao::clock::Now::at(t))
            .await
            .expect("claim"),
        Idempotent::Claimed
    );
    assert_eq!(
        store
            .claim_idempotency(DEV, "k1", b"{}", &pao::clock::Now::at(t + 10))
            .await
            .expect("claim"),
        Idempotent::InProgress
    );
    let later = t + pao::store::IN_PROGRESS_SECS + 1;
    assert_eq!(
        store
            .claim_idempotency(DEV, "k1", b"{}", &pao::clock::Now::at(later))
            .await
            .expect("claim"),
        Idempotent::Claimed
    );
    env.cleanup().await;
}

/// Item 10: the second item's write fails; the client retries with the same key; each item
/// exists once.
#[tokio::test]
async fn a_retried_submission_writes_each_item_once() {
    let env = TestEnv::new().await;
    let mut app = app_for(&env, &example_catalog_dir()).await;
    let faults = Faults::default();
    app.store = pao::store::Store::new(faults.dynamo(&env), &env.table);
    faults.fail(&["TransactWriteItems"], &[], 1);
    let (status, _) = api_send(&app, with_key(DEV, "retry-1", two_items())).await;
    assert_eq!(status, 500);
    faults.clear();
    let (status, body) = api_send(&app, with_key(DEV, "retry-1", two_items())).await;
    assert_eq!(status, 202, "{body}");
    let (_, list) = get(&app, DEV, "/api/v1/requests").await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2), "{list}");
    let listed: Vec<&Value> = list["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| &r["requestId"])
        .collect();
    for r in body["data"]["requests"].as_array().into_iter().flatten() {
        assert!(
            listed.contains(&&r["requestId"]),
            "{r} not among {listed:?}"
        );
    }
    env.cleanup().await;
}

/// Item 13: cursors only open for who they were given to, as they were given.
#[tokio::test]
async fn tampered_and_foreign_cursors_answer_400() {
    let env = TestEnv::new().await;
    let app = app_for(&env, &example_catalog_dir()).await;
    for key in ["c1", "c2"] {
        let (status, _) = api_send(&app, with_key(DEV, key, two_items())).await;
        assert_eq!(status, 202);
    }
    let (_, page) = get(&app, DEV, "/api/v1/requests?limit=1").await;
    let cursor = page["meta"]["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let (status, _) = get(&app, DEV, &format!("/api/v1/requests?cursor={cursor}")).await;
    assert_eq!(status, 200);
    let mut tampered = cursor.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap_or_default();
    for (caller, c) in [
        (DEV, tampered.as_str()),
        (OTHER, cursor.as_str()),
        (DEV, "7b7d"),
    ] {
        let (status, body) = get(&app, caller, &format!("/api/v1/requests?cursor={c}")).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["details"][0]["field"], json!("cursor"));
    }
    let (_, catalog) = get(&app, DEV, "/api/v1/catalog?limit=2").await;
    let next = catalog["meta"]["nextCursor"]
        .as_str()
        .expect("more")
        .to_string();
    let (status, _) = get(&app, DEV, &format!("/api/v1/catalog?limit=2&cursor={next}")).await;
    assert_eq!(status, 200);
    let (status, _) = get(&app, DEV, "/api/v1/catalog?cursor=o2").await;
    assert_eq!(status, 400);
    env.cleanup().await;
}

/// Item 14: a failing dependency is named, its error text is not.
#[tokio::test]
async fn readiness_never_shows_sdk_errors() {
    let env = TestEnv::new().await;
    let mut app = app_for(&env, &example_catalog_dir()).await;
    app.store = pao::store::Store::new(env.dynamo.clone(), "no-such-table-pao");
    let (status, body) = get(&app, DEV, "/api/v1/health/ready").await;
    assert_eq!(status, 503);
    let text = body.to_string();
    for leak in [
        "no-such-table-pao",
        "ResourceNotFound",
        "DynamoDB:",
        "service error",
    ] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
    env.cleanup().await;
}

/// Captures every log line of a test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const NOTES_ITEM: &str = r#"
schemaVersion: catalog/v1
kind: CatalogItem
metadata: { id: notes, name: Notes, version: 1.0.0, category: testing, owner: team-test, description: A ticket with notes. }
form:
  groups:
    - id: basic
      fields:
        - { id: notes, type: text }
        - { id: secret, type: password }
fulfillment:
  items:
    - { id: ticket, type: jira-ticket, config: { project: OPS, issueType: Task, summary: "Notes: {{.current.basic.notes}}", waitForResolution: false } }
"#;

/// Items 11 and 12, and the scan: a run with passwords (typed into password fields, and
/// copied by the caller into a plain field) and a JIRA token leaves neither in any item of
/// the table nor in any log line.
#[tokio::test]
async fn no_password_or_secret_is_stored_or_logged() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let env = TestEnv::new().await;
    let jira =
        pao_local::jira_standin::JiraStandIn::start(0, "pao@example.com", "jira-Token-XYZ-123")
            .await
            .expect("JIRA stand-in");
    let worker = worker_for(&env, &jira.secret("default")).await;
    let repo = write_repo(&[("catalog/notes.yaml", NOTES_ITEM)]);
    let notes_app = app_for(&env, repo.path()).await;
    let (status, body) = api_send(
        &notes_app,
        with_key(DEV, "leak-1", json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "notes",
            "input": {"name": "n", "basic": {"notes": format!("my password is {PASSWORD}"), "secret": PASSWORD}}}]})),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = pao_system_tests::request_id_of(&body);
    drain_until(&env, &worker, &id, |d| {
        d.request.state.is_terminal() || d.request.state == pao::request::RequestState::Failed
    })
    .await;
    // The ticket did not get it either.
    for issue in jira.issues() {
        assert!(
            !issue.fields.to_string().contains(PASSWORD),
            "{:?}",
            issue.fields
        );
    }

    let app = app_for(&env, &example_catalog_dir()).await;
    let (status, _) = api_send(&app, with_key(DEV, "leak-2", two_items())).await;
    assert_eq!(status, 202);
    while pao_local::esm::poll_once(&worker.queue, &worker, 0)
        .await
        .expect("poll")
        > 0
    {}

    let items = dump_table(&env).await;
    assert!(
        items.iter().any(|i| i.contains("IDEMP#")),
        "the claims are there"
    );
    for item in &items {
        assert!(!item.contains(PASSWORD), "password stored: {item}");
        assert!(!item.contains("jira-Token-XYZ-123"), "token stored: {item}");
    }
    let text =
        String::from_utf8_lossy(&logs.0.lock().map(|l| l.clone()).unwrap_or_default()).into_owned();
    assert!(text.contains("message handled"), "logs were captured");
    assert!(!text.contains(PASSWORD), "password logged");
    assert!(!text.contains("jira-Token-XYZ-123"), "token logged");
    env.cleanup().await;
}

/// Issue 23 point 16: what the store keeps of a body under an Idempotency-Key is keyed with
/// the deployment's key: the plain SHA-256 of the call (body with its passwords included)
/// is nowhere in the table, so a copy of it is no oracle to test password guesses against.
#[tokio::test]
async fn the_idempotency_fingerprint_is_keyed() {
    use sha2::Digest;
    let env = TestEnv::new().await;
    let app = app_for(&env, &example_catalog_dir()).await;
    let body = two_items();
    let (status, answer) = api_send(&app, with_key(DEV, "keyed-1", body.clone())).await;
    assert_eq!(status, 202, "{answer}");
    let mut call = b"POST /api/v1/requests\n".to_vec();
    call.extend_from_slice(body.to_string().as_bytes());
    let plain = hex::encode(sha2::Sha256::digest(&call));
    let plain_twice = hex::encode(sha2::Sha256::digest(sha2::Sha256::digest(&call)));
    let table = dump_table(&env).await.join("\n");
    assert!(table.contains("IDEMP#"), "no key record was written");
    assert!(
        !table.contains(&plain),
        "the plain hash of the call is stored"
    );
    assert!(!table.contains(&plain_twice));
    env.cleanup().await;
}

/// Issue 23 point 13: a JIRA server that quotes the credentials it was sent (broken or
/// hostile) in its error never gets them into the task's error: the API token, the Basic
/// header's base64 and `email:token` are all blanked.
#[tokio::test]
async fn a_jira_error_that_echoes_the_credentials_is_blanked() {
    let env = TestEnv::new().await;
    let jira =
        pao_local::jira_standin::JiraStandIn::start(0, "pao@example.com", "jira-Secret-Token-42")
            .await
            .expect("JIRA stand-in");
    let worker = worker_for(&env, &jira.secret("default")).await;
    let repo = write_repo(&[("catalog/two.yaml", pao_system_tests::TWO_TICKETS)]);
    let loaded = pao::catalog::load::load_dir(repo.path()).expect("catalog");
    jira.echo_credentials(true);
    jira.fail_with(Some(400));
    let id = pao_system_tests::submit_item(
        &env,
        &loaded.catalog,
        pao::catalog::Target::CatalogItem("two-tickets".into()),
        json!({"name": "orders", "basic": {"instanceName": "orders-db"}}),
    )
    .await;
    let done = drain_until(&env, &worker, &id, |d| {
        d.request.state == pao::request::RequestState::Failed
    })
    .await;
    let error = done.tasks[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("answered 400") && error.contains("********"),
        "{error}"
    );
    let basic = pao_local::jira_standin::base64(b"pao@example.com:jira-Secret-Token-42");
    for leaked in [
        "jira-Secret-Token-42",
        basic.as_str(),
        &basic[..basic.len() - 2],
    ] {
        assert!(!error.contains(leaked), "{leaked} in {error}");
    }
    env.cleanup().await;
}
