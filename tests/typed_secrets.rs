//! Issue 25: a password the requester types reaches its target and nothing else. Sealed with
//! the stack's KMS key at submission (moto's KMS, real protocol), opened by the worker for the
//! one `rest-api` action that sends it, gone in the write that ends the request, kept for a
//! retry when it fails.

use pao::record::RequestId;
use pao::request::RequestState;
use pao_local::http_standin::HttpStandIn;
use pao_system_tests::{
    TestEnv, api_request, api_send, app_for, drain_until, dump_table, write_repo,
};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const DEV: &str = "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com";
const PASSWORD: &str = "Typed-Passw0rd-9q7x";

fn item(base: &str) -> String {
    format!(
        r#"schemaVersion: catalog/v1
kind: CatalogItem
metadata: {{ id: db-item, name: Database, version: 1.0.0, category: testing, owner: team-test, description: A database registered with its master password. }}
form:
  groups:
    - id: db
      fields:
        - {{ id: instance, type: string, required: true }}
        - {{ id: password, type: password, minLength: 12 }}
fulfillment:
  items:
    - id: register
      type: rest-api
      timeoutSeconds: 5
      config:
        method: POST
        url: "{base}/api/v1/databases"
        body: |
          {{"instance": "{{{{.current.db.instance}}}}", "masterPassword": "{{{{.current.db.password}}}}"}}
      outputs:
        dbId: /body/id
        echoed: /body/received
    - id: announce
      type: webhook
      timeoutSeconds: 5
      config:
        url: "{base}/hooks/chat"
        payload: {{ text: "database {{{{.output.dbId}}}} registered" }}
    - id: handover
      type: jira-ticket
      config:
        project: DBA
        issueType: Task
        summary: "Database {{{{.current.db.instance}}}} is ready ({{{{.output.dbId}}}})"
        description: "Requested as {{{{.current.name}}}}"
        waitForResolution: false
"#
    )
}

struct Setup {
    env: TestEnv,
    stand_in: HttpStandIn,
    jira: pao_local::jira_standin::JiraStandIn,
    worker: pao::worker::Worker,
    app: pao::api::App,
    _repo: tempfile::TempDir,
}

async fn setup() -> Setup {
    let env = TestEnv::new().await;
    let stand_in = HttpStandIn::start(0).await.expect("HTTP stand-in");
    let jira = pao_local::jira_standin::JiraStandIn::start(0, "pao@example.com", "jira-token-1")
        .await
        .expect("JIRA stand-in");
    let mut worker = pao_system_tests::worker_for(&env, &jira.secret("default")).await;
    worker.outbound =
        pao::action::http::Outbound::new(pao::action::http::Allowed::parse("127.0.0.1"));
    let repo = write_repo(&[("catalog/db.yaml", &item(&stand_in.base_url()))]);
    let app = app_for(&env, repo.path()).await;
    Setup {
        env,
        stand_in,
        jira,
        worker,
        app,
        _repo: repo,
    }
}

/// Submits the test item with `db` as its `db` group.
async fn post(s: &Setup, db: Value) -> (u16, Value) {
    api_send(
        &s.app,
        api_request(
            DEV,
            "POST",
            "/api/v1/requests",
            Some(
                json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "db-item",
                "input": {"name": "orders", "db": db}}]}),
            ),
        ),
    )
    .await
}

async fn submit(s: &Setup) -> RequestId {
    let (status, body) = post(s, json!({"instance": "orders-db", "password": PASSWORD})).await;
    assert_eq!(status, 202, "{body}");
    pao_system_tests::request_id_of(&body)
}

/// Every form of the password a store or a log could hold: as typed, base64 (with and without
/// padding), JSON-escaped is the same here.
fn forms() -> Vec<String> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(PASSWORD);
    vec![
        PASSWORD.to_string(),
        b64.trim_end_matches('=').to_string(),
        b64,
    ]
}

async fn assert_nowhere(s: &Setup, what: &str) -> Vec<String> {
    let items = dump_table(&s.env).await;
    for item in &items {
        for form in forms() {
            assert!(!item.contains(&form), "{what}: {form} stored in {item}");
        }
    }
    for issue in s.jira.issues() {
        let ticket = issue.fields.to_string();
        for form in forms() {
            assert!(
                !ticket.contains(&form),
                "{what}: {form} in a ticket: {ticket}"
            );
        }
    }
    items
}

fn sealed_items(items: &[String], id: &RequestId) -> usize {
    items
        .iter()
        .filter(|i| i.contains(&format!("SEALED#{id}")))
        .count()
}

async fn detail(s: &Setup, id: &RequestId) -> (u16, Value) {
    api_send(
        &s.app,
        api_request(DEV, "GET", &format!("/api/v1/requests/{id}"), None),
    )
    .await
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut l) = self.0.lock() {
            l.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of every test of this binary, as the functions write them (JSON): one
/// global subscriber, so no test's lines depend on which thread first met a log call.
fn logs() -> &'static Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        captured
    })
}

fn logged() -> String {
    String::from_utf8_lossy(&logs().0.lock().map(|l| l.clone()).unwrap_or_default()).into_owned()
}

/// Points 1, 2, 3 and 6: the stand-in receives the real password in the rendered body; the
/// ciphertext is held apart while the request runs; nothing else (no item, no log line, no
/// answer, no output the target echoed) holds the password or its base64; completion deletes
/// the ciphertext.
#[tokio::test]
async fn a_typed_password_reaches_its_target_and_nothing_else() {
    logs();
    let s = setup().await;
    let id = submit(&s).await;
    let items = assert_nowhere(&s, "after the submission").await;
    assert_eq!(sealed_items(&items, &id), 1, "the ciphertext is held apart");
    let (_, shown) = detail(&s, &id).await;
    for form in forms() {
        assert!(!shown.to_string().contains(&form), "{shown}");
    }

    let done = drain_until(&s.env, &s.worker, &id, |d| {
        d.request.state.is_terminal() || d.request.state == RequestState::Failed
    })
    .await;
    assert_eq!(
        done.request.state,
        RequestState::Completed,
        "{:?}",
        done.tasks
    );
    let calls = s.stand_in.calls();
    let register = calls
        .iter()
        .find(|c| c.target.starts_with("/api/v1/databases"))
        .expect("the target was called");
    assert_eq!(register.json()["masterPassword"], json!(PASSWORD));
    let announce = calls
        .iter()
        .find(|c| c.target.starts_with("/hooks/chat"))
        .expect("the webhook was called");
    assert!(!announce.body.contains(PASSWORD), "{}", announce.body);
    assert_eq!(s.jira.issues().len(), 1, "the hand-over ticket was made");
    // The target echoed the body back; the output that picked it shows the redaction mark.
    assert!(
        done.tasks[0].outputs["echoed"]
            .to_string()
            .contains("********"),
        "{:?}",
        done.tasks[0].outputs
    );

    let items = assert_nowhere(&s, "after completion").await;
    assert_eq!(
        sealed_items(&items, &id),
        0,
        "completion deletes the ciphertext"
    );
    let text = logged();
    assert!(
        text.contains("message handled") && text.contains(id.as_str()),
        "the worker's logs were captured"
    );
    for form in forms() {
        assert!(!text.contains(&form), "{form} logged");
    }
    s.env.cleanup().await;
}

/// A deployment without a key cannot seal: a submission carrying a password is refused with
/// a 503 that says so, and nothing is written; one without a password goes through.
#[tokio::test]
async fn without_a_key_a_password_is_refused_and_nothing_written() {
    logs();
    let mut s = setup().await;
    s.app.kms = pao::kms::Kms::new(&s.env.sdk_of(pao_local::identity::Function::Api), "");
    let (status, body) = post(&s, json!({"instance": "orders-db", "password": PASSWORD})).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("PAO_SECRETS_KEY_ID") && m.contains("nothing was written")),
        "{body}"
    );
    let items = dump_table(&s.env).await;
    assert!(items.iter().all(|i| !i.contains("REQ#")), "{items:?}");
    let (status, body) = post(&s, json!({"instance": "orders-db"})).await;
    assert_eq!(status, 202, "{body}");
    s.env.cleanup().await;
}

/// Point 3: aborting a request deletes its sealed values in the same write.
#[tokio::test]
async fn abort_deletes_the_sealed_values() {
    logs();
    let s = setup().await;
    let id = submit(&s).await;
    assert_eq!(sealed_items(&dump_table(&s.env).await, &id), 1);
    let (status, body) = api_send(
        &s.app,
        api_request(DEV, "POST", &format!("/api/v1/requests/{id}/abort"), None),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(sealed_items(&dump_table(&s.env).await, &id), 0);
    s.env.cleanup().await;
}

/// Point 3: a failed request keeps its values (until the keep time), and a retry sends them
/// without re-entry; its completion then deletes them.
#[tokio::test]
async fn a_retry_within_the_keep_time_sends_the_password_again() {
    logs();
    let s = setup().await;
    s.stand_in.fail_with(Some((503, "try later")));
    let id = submit(&s).await;
    let failed = drain_until(&s.env, &s.worker, &id, |d| {
        d.request.state == RequestState::Failed
    })
    .await;
    assert!(
        failed.tasks[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("503")),
        "{:?}",
        failed.tasks[0]
    );
    let held = s
        .env
        .store()
        .sealed_of(&id)
        .await
        .expect("read")
        .expect("still held");
    assert!(
        held.kept_until.is_some(),
        "a failed request keeps them until a time"
    );
    s.stand_in.fail_with(None);
    let (status, body) = api_send(
        &s.app,
        api_request(DEV, "POST", &format!("/api/v1/requests/{id}/retry"), None),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let done = drain_until(&s.env, &s.worker, &id, |d| d.request.state.is_terminal()).await;
    assert_eq!(done.request.state, RequestState::Completed);
    let sent: Vec<Value> = s
        .stand_in
        .calls()
        .iter()
        .filter(|c| c.target.starts_with("/api/v1/databases"))
        .map(|c| c.json()["masterPassword"].clone())
        .collect();
    assert_eq!(sent, vec![json!(PASSWORD), json!(PASSWORD)]);
    let items = assert_nowhere(&s, "after the retry").await;
    assert_eq!(sealed_items(&items, &id), 0);
    for form in forms() {
        assert!(!logged().contains(&form), "{form} logged");
    }
    s.env.cleanup().await;
}

/// Point 3: past the keep time a retry answers 409 naming the field; with the value supplied
/// again (`secrets`, checked against the form) it runs and sends it; the detail shows per
/// field whether the value is held and until when, never the value.
#[tokio::test]
async fn past_the_keep_time_a_retry_needs_the_password_again() {
    logs();
    let mut s = setup().await;
    // A deployment that keeps a failed request's values for no time at all.
    s.worker.store = s
        .worker
        .store
        .clone()
        .with_retention(pao::store::Retention {
            secrets: std::time::Duration::ZERO,
            ..Default::default()
        });
    s.stand_in.fail_with(Some((503, "try later")));
    let id = submit(&s).await;
    let (_, running) = detail(&s, &id).await;
    assert_eq!(
        running["data"]["secrets"],
        json!([{"field": "db.password", "held": true, "keptUntil": null}])
    );
    drain_until(&s.env, &s.worker, &id, |d| {
        d.request.state == RequestState::Failed
    })
    .await;
    let (_, failed) = detail(&s, &id).await;
    assert_eq!(
        failed["data"]["secrets"],
        json!([{"field": "db.password", "held": false, "keptUntil": null}]),
        "{failed}"
    );
    s.stand_in.fail_with(None);
    let retry = |body: Option<Value>| {
        api_request(DEV, "POST", &format!("/api/v1/requests/{id}/retry"), body)
    };
    let (status, body) = api_send(&s.app, retry(None)).await;
    assert_eq!(status, 409, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("db.password") && message.contains("secrets"),
        "{message}"
    );
    for (secrets, field) in [
        (json!({"db.password": "short"}), "secrets.db.password"),
        (
            json!({"db.instance": "x-long-enough-1"}),
            "secrets.db.instance",
        ),
        (json!({"db.password": 12}), "secrets.db.password"),
    ] {
        let (status, body) = api_send(&s.app, retry(Some(json!({"secrets": secrets})))).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["details"][0]["field"], json!(field), "{body}");
        assert!(!body.to_string().contains("x-long-enough-1"), "{body}");
    }
    let again = "Supplied-Again-42x";
    let (status, body) = api_send(
        &s.app,
        retry(Some(json!({"secrets": {"db.password": again}}))),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let (_, retrying) = detail(&s, &id).await;
    assert_eq!(
        retrying["data"]["secrets"],
        json!([{"field": "db.password", "held": true, "keptUntil": null}]),
        "{retrying}"
    );
    let done = drain_until(&s.env, &s.worker, &id, |d| d.request.state.is_terminal()).await;
    assert_eq!(done.request.state, RequestState::Completed);
    let last = s
        .stand_in
        .calls()
        .into_iter()
        .rfind(|c| c.target.starts_with("/api/v1/databases"))
        .expect("called again");
    assert_eq!(last.json()["masterPassword"], json!(again));
    let items = dump_table(&s.env).await;
    assert_eq!(sealed_items(&items, &id), 0);
    assert!(items.iter().all(|i| !i.contains(again)));
    s.env.cleanup().await;
}

/// The sealed values are read before the task is claimed: a store that cannot be read leaves
/// the message to be delivered again and the task `queued` (nothing sent), instead of failing
/// a task that never ran; the next delivery runs it.
#[tokio::test]
async fn a_sealed_read_that_fails_leaves_the_task_for_the_next_delivery() {
    logs();
    let s = setup().await;
    let id = submit(&s).await;
    let faults = pao_system_tests::Faults::default();
    let mut broken =
        pao_system_tests::faulty_worker(&s.env, &s.jira.secret("default"), &faults).await;
    broken.outbound =
        pao::action::http::Outbound::new(pao::action::http::Allowed::parse("127.0.0.1"));
    faults.fail(&["GetItem"], &["SEALED#"], 0);
    let message = pao::queue::TaskMessage {
        request_id: id.clone(),
        seq: 0,
        attempt: 1,
        correlation_id: "c".into(),
    };
    assert!(broken.handle(&message).await.is_err(), "left for SQS");
    let d = s
        .env
        .store()
        .get_request(&id, &pao::clock::Now::current(), pao::store::Read::Strong)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(d.tasks[0].state, pao::task::TaskState::Queued);
    assert!(s.stand_in.calls().is_empty(), "nothing sent");
    faults.clear();
    assert_eq!(
        broken.handle(&message).await.expect("handled"),
        pao::worker::Outcome::Completed
    );
    assert_eq!(
        s.stand_in.calls()[0].json()["masterPassword"],
        json!(PASSWORD)
    );
    s.env.cleanup().await;
}

/// An IAM user of the local endpoint that may only use DynamoDB: its access key and secret.
/// IAM's query protocol, signed as the administrator.
async fn identity_without_kms(env: &TestEnv) -> (String, String) {
    use aws_credential_types::provider::ProvideCredentials as _;
    let name = format!("no-kms-{}", &env.table[4..]);
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("a local endpoint");
    let endpoint = format!("{}/", endpoint.trim_end_matches('/'));
    let admin = env
        .sdk
        .credentials_provider()
        .expect("credentials")
        .provide_credentials()
        .await
        .expect("admin credentials");
    let credentials = pao::signing::Credentials {
        access_key_id: admin.access_key_id().into(),
        secret_access_key: admin.secret_access_key().into(),
        session_token: None,
    };
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}]}"#;
    let mut answers = Vec::new();
    for form in [
        format!("Action=CreateUser&Version=2010-05-08&UserName={name}"),
        format!(
            "Action=PutUserPolicy&Version=2010-05-08&UserName={name}&PolicyName=p&PolicyDocument={}",
            pao::signing::uri_encode(policy.as_bytes(), false)
        ),
        format!("Action=CreateAccessKey&Version=2010-05-08&UserName={name}"),
    ] {
        let headers = pao::signing::sign_for(
            ("iam", "application/x-www-form-urlencoded"),
            "POST",
            &endpoint,
            form.as_bytes(),
            &credentials,
            "us-east-1",
            std::time::SystemTime::now(),
        )
        .expect("signed");
        let mut call = reqwest::Client::new().post(&endpoint).body(form);
        for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
            call = call.header(k, v);
        }
        let answer = call.send().await.expect("IAM answers");
        assert!(answer.status().is_success(), "{:?}", answer.status());
        answers.push(answer.text().await.unwrap_or_default());
    }
    let field = |tag: &str| {
        regex::Regex::new(&format!("<{tag}>([^<]+)</{tag}>"))
            .ok()
            .and_then(|r| r.captures(&answers[2]).map(|c| c[1].to_string()))
            .expect("an access key")
    };
    (field("AccessKeyId"), field("SecretAccessKey"))
}

/// Point 6: a worker whose role may not decrypt fails the task saying so, and sends and
/// stores nothing of the password. (Only where IAM is enforced: `make test`.)
#[tokio::test]
async fn a_worker_that_may_not_decrypt_fails_the_task_clearly() {
    if std::env::var("PAO_IAM_KEYS").is_err() {
        eprintln!("IAM is not enforced on this endpoint: nothing to check");
        return;
    }
    logs();
    let mut s = setup().await;
    // A role with no KMS permission (not one of the functions', whose calls `make test`
    // checks against the template).
    let (key, secret) = identity_without_kms(&s.env).await;
    s.worker.kms = pao::kms::Kms::new(
        &pao::aws::with_keys(&s.env.sdk, &key, &secret),
        &s.env.stack.config.secrets_key_id,
    );
    let id = submit(&s).await;
    let failed = drain_until(&s.env, &s.worker, &id, |d| {
        d.request.state == RequestState::Failed
    })
    .await;
    let error = failed.tasks[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("db.password could not be decrypted") && error.contains("KMS refused"),
        "{error}"
    );
    assert!(s.stand_in.calls().is_empty(), "nothing was sent");
    assert_nowhere(&s, "after the refusal").await;
    for form in forms() {
        assert!(!logged().contains(&form), "{form} logged");
    }
    s.env.cleanup().await;
}
