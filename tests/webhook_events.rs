//! The GitHub webhook function's handler fed the API Gateway events in `events/` (bodies
//! base64-encoded, as API Gateway hands them over), against the local AWS endpoint.

use pao_system_tests::TestEnv;
use serde_json::Value;

const SECRET: &str = "events-webhook-secret";

fn event(name: &str) -> (Value, String) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("event file");
    (serde_json::from_str(&text).expect("JSON"), text)
}

async fn webhook(env: &TestEnv) -> pao::webhook::Webhook {
    let mut config = env.stack.config.clone();
    config.catalog_repository = "acme/platform-catalog".into();
    pao_local::provision::put_secret(&env.secrets, &config.github_webhook_secret_id, SECRET)
        .await
        .expect("webhook secret");
    pao_local::provision::put_secret(&env.secrets, &config.github_token_secret_id, "ghp_test")
        .await
        .expect("token secret");
    // Nothing listens there: the sync's first GitHub call fails.
    config.github_api_url = "http://127.0.0.1:9".into();
    pao::webhook::Webhook::from_config(
        &config,
        &env.sdk_of(pao_local::identity::Function::GithubWebhook),
    )
}

async fn answer(hook: &pao::webhook::Webhook, event: &Value) -> (u16, Value) {
    let request = lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event");
    let response = github_webhook::handle(hook, request)
        .await
        .expect("handled");
    let status = response.status().as_u16();
    let body = serde_json::from_slice(response.body().as_ref()).expect("JSON body");
    (status, body)
}

#[tokio::test]
async fn a_base64_encoded_ping_is_verified_on_its_raw_bytes() {
    let env = TestEnv::new().await;
    let hook = webhook(&env).await;
    let (ping, _) = event("github-ping.json");
    assert_eq!(ping["isBase64Encoded"], Value::Bool(true));
    let (status, body) = answer(&hook, &ping).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["pong"], Value::Bool(true));
    // The same event with one byte of the body changed is refused.
    let mut altered = ping.clone();
    let b64 = altered["body"].as_str().unwrap_or_default().to_string();
    let flipped = if b64.starts_with('e') {
        b64.replacen('e', "f", 1)
    } else {
        format!("e{}", &b64[1..])
    };
    altered["body"] = Value::String(flipped);
    let (status, body) = answer(&hook, &altered).await;
    assert_eq!(status, 401, "{body}");
    env.cleanup().await;
}

#[tokio::test]
async fn a_push_to_the_followed_branch_reaches_github() {
    let env = TestEnv::new().await;
    let hook = webhook(&env).await;
    let (push, _) = event("github-push.json");
    // The signature holds; the sync then asks GitHub, which is not there: 502, and the
    // delivery is released so that GitHub's redelivery may try again.
    let (status, body) = answer(&hook, &push).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(
        body["error"]["code"],
        Value::String("UPSTREAM_ERROR".into())
    );
    let (status, _) = answer(&hook, &push).await;
    assert_eq!(status, 502, "a released delivery is tried again");
    env.cleanup().await;
}

/// A signed delivery that is not a JSON object is refused whatever its event (schemathesis
/// found unknown events answered 202 without the body being read).
#[tokio::test]
async fn a_signed_body_that_is_not_a_json_object_is_refused_for_any_event() {
    let env = TestEnv::new().await;
    let hook = webhook(&env).await;
    let (ping, _) = event("github-ping.json");
    for (kind, body) in [
        ("ping", &b"\x00\xffnot json"[..]),
        ("issues", b"[1, 2]"),
        ("+", b""),
    ] {
        let mut delivery = ping.clone();
        delivery["isBase64Encoded"] = Value::Bool(false);
        delivery["body"] = Value::String(String::from_utf8_lossy(body).into_owned());
        let sent = String::from_utf8_lossy(body).into_owned();
        delivery["headers"]["X-Hub-Signature-256"] =
            Value::String(pao::webhook::sign(SECRET.as_bytes(), sent.as_bytes()));
        delivery["headers"]["X-GitHub-Event"] = Value::String(kind.into());
        delivery["multiValueHeaders"] = Value::Null;
        let (status, answer) = self::answer(&hook, &delivery).await;
        assert_eq!(status, 400, "{kind}: {answer}");
        assert_eq!(answer["error"]["details"][0]["field"], "body", "{answer}");
    }
    // And one that does not name its event.
    let mut unnamed = ping.clone();
    unnamed["headers"]["X-GitHub-Event"] = Value::String(String::new());
    unnamed["multiValueHeaders"] = Value::Null;
    let (status, answer) = self::answer(&hook, &unnamed).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["details"][0]["field"], "X-GitHub-Event");
    env.cleanup().await;
}
