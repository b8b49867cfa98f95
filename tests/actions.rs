//! The `rest-api` and `webhook` fulfillment items against the local AWS endpoint and the HTTP
//! stand-in: outputs feeding a later task, auth and signatures, idempotency keys, clean
//! failures (4xx, 5xx, timeout, refused connection), and URLs that must not be called.

use hmac::{Hmac, KeyInit, Mac};
use pao::record::RequestId;
use pao::request::RequestState;
use pao_local::http_standin::HttpStandIn;
use pao_system_tests::{TestEnv, drain_until, write_repo};
use serde_json::{Value, json};

const TOKEN: &str = "cmdb-token-3f9a";
const SIGNING: &str = "chat-signing-key-77";

/// The test item: a REST call to `url` (`{base}` replaced by the stand-in's address), then a
/// signed webhook.
fn item(base: &str, url: &str) -> String {
    let url = url.replace("{base}", base);
    format!(
        r#"schemaVersion: catalog/v1
kind: CatalogItem
metadata: {{ id: http-item, name: HTTP item, version: 1.0.0, category: testing, owner: team-test, description: A REST call then a webhook. }}
form:
  groups:
    - id: target
      fields:
        - {{ id: url, type: string }}
        - {{ id: ns, type: string }}
        - {{ id: app, type: string }}
        - {{ id: size, type: integer, default: 20 }}
fulfillment:
  items:
    - id: register
      type: rest-api
      timeoutSeconds: 2
      config:
        method: POST
        url: "{url}"
        headers: {{ X-Correlation-Id: "{{{{.system.correlationId}}}}" }}
        query: {{ dryRun: "false" }}
        auth: {{ type: bearer, secret: test/cmdb-token }}
        body:
          name: "{{{{.name}}}}"
          size: "{{{{.current.target.size | json}}}}"
      outputs:
        resourceId: /body/id
        resourceUrl: /body/url
    - id: announce
      type: webhook
      timeoutSeconds: 2
      config:
        url: "{base}/hooks/chat"
        payload:
          text: "Created {{{{.output.resourceId}}}} at {{{{.output.resourceUrl}}}}"
        signingSecret: test/chat-signing
      outputs:
        announced: /status
"#
    )
    .replace("{{.name}}", "{{.current.name}}")
}

struct Http {
    env: TestEnv,
    stand_in: HttpStandIn,
    worker: pao::worker::Worker,
    catalog: pao::catalog::Catalog,
    _repo: tempfile::TempDir,
}

const DATABASES: &str = "{base}/api/v1/databases";

async fn setup(url: &str) -> Http {
    let env = TestEnv::new().await;
    let stand_in = HttpStandIn::start(0).await.expect("HTTP stand-in");
    let mut worker = pao_system_tests::worker_for(&env, r#"{"instances": {}}"#).await;
    // The stand-in listens on loopback over http: allowed here as the local stack allows it.
    worker.outbound =
        pao::action::http::Outbound::new(pao::action::http::Allowed::parse("127.0.0.1"));
    for (id, value) in [("test/cmdb-token", TOKEN), ("test/chat-signing", SIGNING)] {
        // Catalog secret names are relative: the stack reads them under its catalog prefix.
        let id = format!("{}{id}", env.stack.config.catalog_secret_prefix);
        pao_local::provision::put_secret(&env.secrets, &id, value)
            .await
            .expect("secret");
    }
    let repo = write_repo(&[("catalog/http.yaml", &item(&stand_in.base_url(), url))]);
    let loaded = pao::catalog::load::load_dir(repo.path()).expect("catalog");
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    Http {
        env,
        stand_in,
        worker,
        catalog: loaded.catalog,
        _repo: repo,
    }
}

async fn submit(h: &Http, input: Value) -> RequestId {
    pao_system_tests::submit_item(
        &h.env,
        &h.catalog,
        pao::catalog::Target::CatalogItem("http-item".into()),
        input,
    )
    .await
}

fn ended(d: &pao::record::RequestDetail) -> bool {
    matches!(
        d.request.state,
        RequestState::Completed | RequestState::Failed
    )
}

#[tokio::test]
async fn a_rest_call_feeds_a_signed_webhook() {
    let h = setup(DATABASES).await;
    let id = submit(&h, json!({"name": "orders-db", "target": {"size": 50}})).await;
    let done = drain_until(&h.env, &h.worker, &id, ended).await;
    assert_eq!(
        done.request.state,
        RequestState::Completed,
        "{:?}",
        done.request.error
    );
    let calls = h.stand_in.calls();
    assert_eq!(calls.len(), 2);
    // The REST call: method, rendered path and query, auth from the secret, idempotency key.
    let rest = &calls[0];
    assert_eq!(rest.method, "POST");
    assert_eq!(rest.target, "/api/v1/databases?dryRun=false");
    assert_eq!(
        rest.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        rest.header("idempotency-key"),
        Some(format!("{id}-0-1").as_str())
    );
    assert_eq!(rest.header("x-correlation-id"), Some("corr-test"));
    assert_eq!(rest.json(), json!({"name": "orders-db", "size": 50}));
    // Its outputs fed the webhook, which is signed over timestamp and body.
    let hook = &calls[1];
    let text = format!("Created res-1 at {}/resources/res-1", h.stand_in.base_url());
    assert_eq!(hook.json(), json!({"text": text}));
    let timestamp = hook.header("x-pao-timestamp").expect("timestamp");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SIGNING.as_bytes()).expect("key");
    mac.update(format!("{timestamp}.{}", hook.body).as_bytes());
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(hook.header("x-pao-signature-256"), Some(expected.as_str()));
    assert_eq!(
        done.tasks[0].outputs.get("resourceId"),
        Some(&json!("res-1"))
    );
    assert_eq!(done.tasks[1].outputs.get("announced"), Some(&json!(201)));
    h.env.cleanup().await;
}

#[tokio::test]
async fn a_redelivered_message_calls_once() {
    let h = setup(DATABASES).await;
    let id = submit(&h, json!({"name": "once", "target": {}})).await;
    let message = pao::queue::TaskMessage {
        request_id: id.clone(),
        seq: 0,
        attempt: 1,
        correlation_id: "corr-http".into(),
    };
    h.worker.handle(&message).await.expect("first delivery");
    h.worker.handle(&message).await.expect("second delivery");
    let rest_calls = h
        .stand_in
        .calls()
        .iter()
        .filter(|c| c.target.starts_with("/api/v1/databases"))
        .count();
    assert_eq!(rest_calls, 1);
    assert_eq!(h.stand_in.created(), 1);
    h.env.cleanup().await;
}

/// Each way a target can fail fails the task and the request with the target's own answer,
/// never the token.
#[tokio::test]
async fn failures_name_the_target_and_never_the_secret() {
    let h = setup(DATABASES).await;
    type Case<'a> = (&'a str, Option<(u16, &'a str)>, std::time::Duration);
    let cases: [Case; 3] = [
        (
            "4xx",
            Some((
                422,
                "{\"error\": \"name taken\", \"auth\": \"cmdb-token-3f9a\"}",
            )),
            std::time::Duration::ZERO,
        ),
        (
            "5xx",
            Some((503, "upstream is down")),
            std::time::Duration::ZERO,
        ),
        ("timeout", None, std::time::Duration::from_secs(4)),
    ];
    for (name, failure, delay) in cases {
        h.stand_in.fail_with(failure);
        h.stand_in.delay(delay);
        let id = submit(&h, json!({"name": format!("fail-{name}"), "target": {}})).await;
        let done = drain_until(&h.env, &h.worker, &id, ended).await;
        assert_eq!(done.request.state, RequestState::Failed, "{name}");
        let error = done.tasks[0].error.clone().unwrap_or_default();
        match name {
            "4xx" => {
                assert!(
                    error.contains(
                        "POST 127.0.0.1/api/v1/databases answered 422: {\"error\": \"name taken\""
                    ),
                    "{error}"
                );
                assert!(!error.contains(TOKEN), "{error}");
            }
            "5xx" => assert!(error.contains("answered 503: upstream is down"), "{error}"),
            _ => assert!(error.contains("no answer within 2 seconds"), "{error}"),
        }
    }
    h.stand_in.fail_with(None);
    h.stand_in.delay(std::time::Duration::ZERO);
    h.env.cleanup().await;
}

#[tokio::test]
async fn a_refused_connection_fails_cleanly() {
    // A port nothing listens on (allowed host, so only the connection fails).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let h = setup(&format!("http://127.0.0.1:{port}/x")).await;
    let id = submit(&h, json!({"name": "refused", "target": {}})).await;
    let done = drain_until(&h.env, &h.worker, &id, ended).await;
    assert_eq!(done.request.state, RequestState::Failed);
    let error = done.tasks[0].error.clone().unwrap_or_default();
    assert!(error.contains("could not reach 127.0.0.1"), "{error}");
    h.env.cleanup().await;
}

/// A URL the catalog author writes cannot reach the metadata service or loopback either (no
/// requester value can choose a host: see the next test).
#[tokio::test]
async fn internal_addresses_are_never_called() {
    let h = setup(DATABASES).await;
    let port = h.stand_in.addr.port();
    for url in [
        "https://169.254.169.254/latest/meta-data/iam/security-credentials/".to_string(),
        "http://169.254.169.254/latest/meta-data/".to_string(),
        format!("https://localhost:{port}/api"),
        format!("https://[::1]:{port}/api"),
    ] {
        let e = rest_call(&h, &json!({"method": "GET", "url": url}), "k-ssrf", 2)
            .await
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("internal address") || e.contains("must use https"),
            "{url}: {e}"
        );
        let e = deliver(&h, &json!({"url": url}), "k-ssrf", 2)
            .await
            .expect_err("refused")
            .to_string();
        assert!(
            e.contains("internal address") || e.contains("must use https"),
            "{url}: {e}"
        );
    }
    assert!(h.stand_in.calls().is_empty(), "{:?}", h.stand_in.calls());
    h.env.cleanup().await;
}

/// Issue 23 point 1: the scheme and host of a URL are the catalog's literal text. An item
/// whose URL starts with a template is refused when the catalog is loaded, naming the field.
#[test]
fn a_url_template_never_chooses_the_host() {
    for url in [
        "{{.current.target.url}}",
        "https://{{.current.target.ns}}.example.com/api",
        "https://cmdb.example.com{{.current.target.ns}}",
    ] {
        let repo = write_repo(&[("catalog/http.yaml", &item("https://cmdb.example.com", url))]);
        let loaded = pao::catalog::load::load_dir(repo.path()).expect("catalog");
        let problems = format!("{:?}", loaded.problems);
        assert!(
            problems.contains("fulfillment.items[0].config.url")
                && problems.contains("URL's scheme or host"),
            "{url}: {problems}"
        );
        assert!(loaded.catalog.get("http-item").is_none(), "{url}");
    }
}

/// Issue 23 point 1: a value typed into a form fills one path segment or query value. `/`,
/// `..`, `?` and `#` cannot move the call to another team's resource: such a value fails the
/// task before anything is sent, and the rest is percent-encoded.
#[tokio::test]
async fn requester_input_fills_one_path_segment() {
    let h = setup("{base}/api/namespaces/{{.current.target.ns}}/services/{{.current.target.app}}")
        .await;
    for (ns, why) in [
        ("other-team/services/their-app#", "contains `/`"),
        ("..", "`.` or `..` segment"),
        ("", "is empty"),
    ] {
        let id = submit(&h, json!({"name": "x", "target": {"ns": ns, "app": "web"}})).await;
        let done = drain_until(&h.env, &h.worker, &id, ended).await;
        assert_eq!(done.request.state, RequestState::Failed, "{ns:?}");
        let error = done.tasks[0].error.clone().unwrap_or_default();
        assert!(error.contains(why), "{ns:?}: {error}");
        assert!(!error.contains("their-app"), "{error}");
    }
    assert!(h.stand_in.calls().is_empty(), "{:?}", h.stand_in.calls());
    let id = submit(
        &h,
        json!({"name": "x", "target": {"ns": "team a", "app": "web?admin=1#%2e%2e"}}),
    )
    .await;
    let done = drain_until(&h.env, &h.worker, &id, ended).await;
    assert_eq!(
        done.request.state,
        RequestState::Completed,
        "{:?}",
        done.tasks[0].error
    );
    assert_eq!(
        h.stand_in.calls()[0].target,
        "/api/namespaces/team%20a/services/web%3Fadmin%3D1%23%252e%252e?dryRun=false"
    );
    h.env.cleanup().await;
}

/// A catalog that slipped past validation (stored before the rule, or written to the table by
/// hand) still cannot make the worker read PAO's own secrets: the action refuses the name
/// before Secrets Manager is asked, and nothing is sent.
#[tokio::test]
async fn the_worker_refuses_a_secret_name_outside_the_catalog_prefix() {
    let h = setup(DATABASES).await;
    let jira_secret = &h.env.stack.config.jira_secret_id;
    pao_local::provision::put_secret(&h.env.secrets, jira_secret, "jira-secret-value-42")
        .await
        .expect("JIRA secret");
    let relative = format!("../{}", jira_secret.rsplit('/').next().unwrap_or("jira"));
    for name in [
        relative.as_str(),
        jira_secret.as_str(),
        "{{.current.name}}",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:pao/x/jira",
    ] {
        let before = h.stand_in.calls().len();
        let rest = json!({"method": "POST", "url": format!("{}/cmdb.example.com/api", h.stand_in.base_url()),
                          "auth": {"type": "bearer", "secret": name}});
        let e = rest_call(&h, &rest, "k-1", 2).await.expect_err("refused");
        assert!(e.to_string().contains("auth.secret"), "{name}: {e}");
        assert!(!e.to_string().contains("jira-secret-value-42"), "{e}");
        let hook =
            json!({"url": format!("{}/hooks/chat", h.stand_in.base_url()), "signingSecret": name});
        let e = deliver(&h, &hook, "k-2", 2).await.expect_err("refused");
        assert!(e.to_string().contains("signingSecret"), "{name}: {e}");
        assert_eq!(
            h.stand_in.calls().len(),
            before,
            "{name}: something was sent"
        );
    }
    // A valid name whose secret cannot be read is named as the item names it, in PAO's words:
    // no prefix, no ARN, no SDK text (which would name the role and the account).
    let rest = json!({"method": "POST", "url": format!("{}/cmdb.example.com/api", h.stand_in.base_url()),
                      "auth": {"type": "bearer", "secret": "team/missing-token"}});
    let e = rest_call(&h, &rest, "k-3", 2)
        .await
        .expect_err("no such secret")
        .to_string();
    assert_eq!(
        e,
        "invalid configuration: auth.secret: secret team/missing-token does not exist"
    );
    h.env.cleanup().await;
}

/// Issue 23 point 10, part: an answer past 1 MiB is not read whole: the call fails saying so
/// (it would fill the function's memory, and could not be stored with the task).
#[tokio::test]
async fn an_answer_past_the_cap_fails_the_call() {
    let h = setup(DATABASES).await;
    let hook =
        json!({"url": format!("{}/hooks/chat", h.stand_in.base_url()), "payload": {"text": "hi"}});
    let huge = "x".repeat(pao::action::http::MAX_ANSWER + 1);
    h.stand_in.fail_with(Some((200, &huge)));
    let e = deliver(&h, &hook, "k-big", 5)
        .await
        .expect_err("too big")
        .to_string();
    assert!(e.contains("answered more than 1024 KiB"), "{e}");
    // Up to the cap it is read.
    let fits = "y".repeat(pao::action::http::MAX_ANSWER / 2);
    h.stand_in.fail_with(Some((200, &fits)));
    let ok = deliver(&h, &hook, "k-fits", 5).await.expect("read whole");
    assert_eq!(ok.result["body"].as_str().map(str::len), Some(fits.len()));
    h.stand_in.fail_with(None);
    h.env.cleanup().await;
}

/// The test stack's catalog secrets (the worker's prefix).
fn catalog_secrets(h: &Http) -> pao::secrets::CatalogSecrets {
    pao::secrets::CatalogSecrets {
        prefix: h.env.stack.config.catalog_secret_prefix.clone(),
    }
}

/// A `rest-api` action as the worker runs it, `seconds` to answer.
async fn rest_call(
    h: &Http,
    config: &Value,
    key: &str,
    seconds: u64,
) -> Result<pao::action::ActionResult, pao::action::ActionError> {
    pao::action::rest::call(
        &h.worker.outbound,
        &h.worker.secrets,
        &catalog_secrets(h),
        config,
        key,
        std::time::Duration::from_secs(seconds),
        &[],
    )
    .await
}

/// A `webhook` action as the worker runs it, `seconds` to answer.
async fn deliver(
    h: &Http,
    config: &Value,
    key: &str,
    seconds: u64,
) -> Result<pao::action::ActionResult, pao::action::ActionError> {
    pao::action::webhook::deliver(
        &h.worker.outbound,
        &h.worker.secrets,
        &catalog_secrets(h),
        config,
        key,
        std::time::Duration::from_secs(seconds),
        &[],
    )
    .await
}

/// Issue 23 point 10: outputs too large to store with the task fail it saying so, instead of
/// a write that DynamoDB refuses (the task used to end "interrupted").
#[tokio::test]
async fn outputs_too_large_to_store_fail_the_task_by_name() {
    let h = setup(DATABASES).await;
    let item = format!(
        r#"schemaVersion: catalog/v1
kind: CatalogItem
metadata: {{ id: big-answer, name: Big answer, version: 1.0.0, category: testing, owner: team-test, description: Keeps the whole answer. }}
form:
  groups:
    - id: target
      fields:
        - {{ id: size, type: integer, default: 1 }}
fulfillment:
  items:
    - id: fetch
      type: rest-api
      config: {{ method: GET, url: "{}/api/v1/big" }}
      outputs:
        everything: /body
"#,
        h.stand_in.base_url()
    );
    let repo = write_repo(&[("catalog/big.yaml", &item)]);
    let loaded = pao::catalog::load::load_dir(repo.path()).expect("catalog");
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let big = format!("{{\"blob\": \"{}\"}}", "x".repeat(600 * 1024));
    h.stand_in.fail_with(Some((200, &big)));
    let id = pao_system_tests::submit_item(
        &h.env,
        &loaded.catalog,
        pao::catalog::Target::CatalogItem("big-answer".into()),
        json!({"name": "big", "target": {}}),
    )
    .await;
    let done = drain_until(&h.env, &h.worker, &id, ended).await;
    h.stand_in.fail_with(None);
    assert_eq!(done.request.state, RequestState::Failed);
    let error = done.tasks[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("the action succeeded, but its outputs would store")
            && error.contains("at most 400 KiB"),
        "{error}"
    );
    h.env.cleanup().await;
}
