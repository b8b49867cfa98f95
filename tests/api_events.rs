//! The API handler fed the API Gateway REST events in `events/`, against the local AWS
//! endpoint: what Lambda would answer.

use lambda_http::Body;
use pao::api::App;
use pao_system_tests::{TestEnv, app_for, example_catalog_dir};
use serde_json::{Value, json};

fn event(name: &str) -> lambda_http::Request {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("event file");
    lambda_http::request::from_str(&text).expect("an API Gateway event")
}

async fn answer(app: &App, name: &str) -> (u16, Value, lambda_http::http::HeaderMap) {
    let response = api::handle(app, event(name)).await.expect("handled");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = match response.body() {
        Body::Text(t) => serde_json::from_str(t).expect("JSON body"),
        other => panic!("unexpected body {other:?}"),
    };
    (status, body, headers)
}

#[tokio::test]
async fn every_api_event_gets_its_answer() {
    let env = TestEnv::new().await;
    let app = app_for(&env, &example_catalog_dir()).await;

    // The staged path (/Prod/api/v1/...) routes like the plain one.
    let (status, body, headers) = answer(&app, "api-catalog-list.json").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["id"], json!("database-aurora-postgresql"));
    // Without an X-Correlation-Id of the caller's, API Gateway's request id is the correlation
    // id: the access log's requestId finds the call's log lines.
    let context: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../events/api-catalog-list.json"),
        )
        .expect("event"),
    )
    .expect("JSON");
    assert_eq!(
        headers
            .get("x-correlation-id")
            .and_then(|v| v.to_str().ok()),
        context["requestContext"]["requestId"].as_str()
    );

    let (status, body, _) = answer(&app, "api-submit.json").await;
    assert_eq!(status, 202, "{body}");
    let id = body["data"]["requests"][0]["requestId"]
        .as_str()
        .expect("request id")
        .to_string();
    // The caller is the IAM principal of the request context.
    let detail = env
        .store()
        .get_request(
            &pao::record::RequestId(id),
            &pao::clock::Now::current(),
            pao::store::Read::Strong,
        )
        .await
        .expect("query")
        .expect("stored");
    assert_eq!(
        detail.request.user.arn,
        "arn:aws:sts::123456789012:assumed-role/Developer/dev@example.com"
    );
    assert_eq!(
        detail.request.user.email.as_deref(),
        Some("dev@example.com")
    );
    // The same event again (same Idempotency-Key and body) answers the same.
    let (_, again, _) = answer(&app, "api-submit.json").await;
    assert_eq!(again["data"], body["data"]);

    let (status, body, _) = answer(&app, "api-submit-invalid.json").await;
    assert_eq!(status, 422);
    assert_eq!(
        body["error"]["details"][0]["field"],
        json!("items[0].input.basic.instanceName")
    );

    let (status, body, _) = answer(&app, "api-request-detail.json").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], json!("NOT_FOUND"));
    env.cleanup().await;
}

/// The live WebSocket API's route events (`websocket-*.json`) through the same handler.
#[tokio::test]
async fn the_live_apis_routes_get_their_answers() {
    let env = TestEnv::new().await;
    let app = app_for(&env, &example_catalog_dir()).await;
    let text_of = |response: lambda_http::Response<Body>| match response.body() {
        Body::Text(t) => t.clone(),
        Body::Empty => String::new(),
        other => panic!("unexpected body {other:?}"),
    };
    let connected = api::handle(&app, event("websocket-connect.json"))
        .await
        .expect("handled");
    assert_eq!(connected.status().as_u16(), 200, "the IAM caller connects");
    let subscribed = api::handle(&app, event("websocket-subscribe.json"))
        .await
        .expect("handled");
    let answer: Value = serde_json::from_str(&text_of(subscribed)).expect("JSON answer");
    assert_eq!(answer, json!({"topic": "catalog", "type": "subscribed"}));
    let closed = api::handle(&app, event("websocket-disconnect.json"))
        .await
        .expect("handled");
    assert_eq!(closed.status().as_u16(), 200);
    // The connection is gone with its subscriptions: a late message is told so.
    let late = api::handle(&app, event("websocket-subscribe.json"))
        .await
        .expect("handled");
    let answer: Value = serde_json::from_str(&text_of(late)).expect("JSON answer");
    assert_eq!(answer["status"], 410, "{answer}");
    assert!(
        env.store()
            .subscribers(&pao::live::Topic::Catalog)
            .await
            .expect("read")
            .is_empty()
    );
    env.cleanup().await;
}
