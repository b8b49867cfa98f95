//! The REST API against the local AWS endpoint: routes, the error envelope, bad input that
//! writes nothing, idempotency, and requests running to completion through the worker.

use pao::api::ApiRequest;
use pao_local::jira_standin::JiraStandIn;
use pao_system_tests::{
    TWO_TICKETS, TestEnv, api_request, api_send as send, app_for, drain_until, example_catalog_dir,
    worker_for, write_repo,
};
use serde_json::{Value, json};
use std::sync::Arc;

const DEV: &str = "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com";
const OTHER: &str = "arn:aws:sts::000000000000:assumed-role/Developer/other@example.com";

fn call(method: &str, path: &str, body: Option<Value>) -> ApiRequest {
    api_request(DEV, method, path, body)
}

fn seed_request() -> Value {
    json!({"items": [
        {"schemaVersion": "catalog/v1", "catalogItemId": "database-aurora-postgresql",
         "input": {"name": "my-database", "basic": {"instanceName": "prod-db-01", "instanceClass": "db.r5.large"},
                   "storage": {"storageSize": 100, "encrypted": true}}},
        {"schemaVersion": "catalog/v1", "bundleId": "full-application-stack",
         "input": {"name": "my-app-stack", "application": {"appName": "frontend", "containerImage": "myapp:latest"},
                   "database": {"instanceName": "app-db"}}}
    ]})
}

#[tokio::test]
async fn catalog_routes() {
    let env = TestEnv::new().await;
    let app = app_for(&env, &example_catalog_dir()).await;
    let (status, body) = send(&app, call("GET", "/api/v1/catalog", None)).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"].as_array().map(Vec::len), Some(9));
    assert_eq!(body["meta"]["catalogVersion"], json!("v1"));
    let (_, body) = send(&app, call("GET", "/api/v1/catalog?category=database", None)).await;
    let ids: Vec<&Value> = body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids, [&json!("database-aurora-postgresql")]);
    let (_, body) = send(&app, call("GET", "/api/v1/catalog?q=redis", None)).await;
    let ids: Vec<&Value> = body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(
        ids,
        [&json!("data-platform-starter"), &json!("cache-redis")]
    );
    let (_, page1) = send(&app, call("GET", "/api/v1/catalog?limit=4", None)).await;
    let cursor = page1["meta"]["nextCursor"]
        .as_str()
        .expect("cursor")
        .to_string();
    let (_, page3) = send(
        &app,
        call(
            "GET",
            &format!("/api/v1/catalog?limit=4&cursor={cursor}"),
            None,
        ),
    )
    .await;
    assert_eq!(page3["data"].as_array().map(Vec::len), Some(4));
    assert_ne!(page1["data"][0], page3["data"][0]);
    let (status, body) = send(&app, call("GET", "/api/v1/catalog?limit=0", None)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["details"][0]["field"], json!("limit"));

    let (status, body) = send(
        &app,
        call("GET", "/api/v1/catalog/full-application-stack", None),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["kind"], json!("CatalogBundle"));
    assert_eq!(body["data"]["components"].as_array().map(Vec::len), Some(5));
    let (status, body) = send(&app, call("GET", "/api/v1/catalog/cache-redis/form", None)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["data"]["groups"][0]["fields"][0]["path"],
        json!("cluster.clusterName")
    );
    let (status, body) = send(&app, call("GET", "/api/v1/catalog/nope", None)).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], json!("NOT_FOUND"));
    for (path, expected) in [
        ("/api/v1/health", 200),
        ("/api/v1/health/ready", 200),
        ("/api/v1/version", 200),
        ("/api/v1/nothing", 404),
    ] {
        assert_eq!(
            send(&app, call("GET", path, None)).await.0,
            expected,
            "{path}"
        );
    }
    env.cleanup().await;
}

#[tokio::test]
async fn submit_then_read_back() {
    let env = TestEnv::new().await;
    let app = app_for(&env, &example_catalog_dir()).await;
    let (status, body) = send(&app, call("POST", "/api/v1/requests", Some(seed_request()))).await;
    assert_eq!(status, 202, "{body}");
    let created = body["data"]["requests"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(created.len(), 2);
    assert_eq!(created[1]["totalTasks"], json!(8));
    let id = created[1]["requestId"].as_str().expect("id").to_string();

    let (status, detail) = send(&app, call("GET", &format!("/api/v1/requests/{id}"), None)).await;
    assert_eq!(status, 200);
    assert_eq!(detail["data"]["bundleId"], json!("full-application-stack"));
    assert_eq!(
        detail["data"]["progress"]["text"],
        json!("0 of 8 completed")
    );
    assert_eq!(detail["data"]["tasks"][0]["state"], json!("queued"));
    assert_eq!(detail["data"]["tasks"][1]["state"], json!("pending"));
    assert_eq!(detail["data"]["user"]["email"], json!("dev@example.com"));
    let (_, status_body) = send(
        &app,
        call("GET", &format!("/api/v1/requests/{id}/status"), None),
    )
    .await;
    assert_eq!(status_body["data"]["state"], json!("submitted"));
    assert_eq!(status_body["data"]["currentTask"]["seq"], json!(0));
    let (_, logs) = send(
        &app,
        call("GET", &format!("/api/v1/requests/{id}/logs"), None),
    )
    .await;
    assert_eq!(logs["data"][0]["kind"], json!("submitted"));

    // Someone else's request does not exist for them; an unsigned call is refused.
    let mut other = call("GET", &format!("/api/v1/requests/{id}"), None);
    other.caller_arn = Some(OTHER.into());
    assert_eq!(send(&app, other).await.0, 404);
    let mut unsigned = call("GET", "/api/v1/requests", None);
    unsigned.caller_arn = None;
    assert_eq!(send(&app, unsigned).await.0, 403);

    let (_, list) = send(
        &app,
        call("GET", "/api/v1/requests?fields=requestId,state", None),
    )
    .await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(list["data"][0].as_object().map(|o| o.len()), Some(2));
    let (status, bad) = send(&app, call("GET", "/api/v1/requests?fields=password", None)).await;
    assert_eq!(
        (status, bad["error"]["details"][0]["field"].clone()),
        (400, json!("fields"))
    );
    let (status, bad) = send(&app, call("GET", "/api/v1/requests?state=sleeping", None)).await;
    assert_eq!(
        (status, bad["error"]["details"][0]["field"].clone()),
        (400, json!("state"))
    );
    let (_, none) = send(&app, call("GET", "/api/v1/requests?state=completed", None)).await;
    assert_eq!(none["data"], json!([]));
    env.cleanup().await;
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_writes_nothing() {
    let env = TestEnv::new().await;
    let app = app_for(&env, &example_catalog_dir()).await;
    let item = |extra: Value| {
        let mut i = json!({"schemaVersion": "catalog/v1", "catalogItemId": "cache-redis", "input": {"name": "c", "cluster": {"clusterName": "hot-cache"}}});
        if let (Some(o), Some(e)) = (i.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                if v.is_null() {
                    o.remove(k);
                } else {
                    o.insert(k.clone(), v.clone());
                }
            }
        }
        i
    };
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"items": [item(json!({"schemaVersion": "catalog/v2"}))]}),
            400,
            "items[0].schemaVersion",
        ),
        (
            json!({"items": [item(json!({"bundleId": "full-application-stack"}))]}),
            400,
            "items[0]",
        ),
        (
            json!({"items": [item(json!({"catalogItemId": null}))]}),
            400,
            "items[0]",
        ),
        (
            json!({"items": [item(json!({"catalogItemId": "nope"}))]}),
            422,
            "items[0].catalogItemId",
        ),
        (
            json!({"items": [item(json!({"input": {"name": "c", "cluster": {"clusterName": "Bad Name"}}}))]}),
            422,
            "items[0].input.cluster.clusterName",
        ),
        (
            json!({"items": [item(json!({})), item(json!({"input": {"name": "c", "cluster": {"replicas": 9}}}))]}),
            422,
            "items[1].input.cluster.clusterName",
        ),
        (json!({"items": []}), 400, "items"),
    ];
    for (body, status, field) in cases {
        let (got, answer) = send(&app, call("POST", "/api/v1/requests", Some(body.clone()))).await;
        assert_eq!(got, status, "{body} -> {answer}");
        let fields: Vec<&Value> = answer["error"]["details"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| &d["field"])
            .collect();
        assert!(fields.contains(&&json!(field)), "{body} -> {answer}");
        assert!(answer["error"]["correlation_id"].is_string());
    }
    let mut malformed = call("POST", "/api/v1/requests", None);
    malformed.body = b"{\"items\": [".to_vec();
    let (status, answer) = send(&app, malformed).await;
    assert_eq!(
        (status, answer["error"]["details"][0]["field"].clone()),
        (400, json!("body"))
    );
    let mut huge = call("POST", "/api/v1/requests", None);
    huge.body = vec![b' '; pao::api::MAX_BODY + 1];
    assert_eq!(send(&app, huge).await.0, 413);

    let (_, list) = send(&app, call("GET", "/api/v1/requests", None)).await;
    assert_eq!(
        list["data"],
        json!([]),
        "a rejected submission wrote something"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn idempotency_key_replays_and_guards() {
    let env = TestEnv::new().await;
    let app = app_for(&env, &example_catalog_dir()).await;
    let with_key = |body: Value| {
        let mut r = call("POST", "/api/v1/requests", Some(body));
        r.headers.push(("idempotency-key".into(), "key-123".into()));
        r
    };
    let (s1, first) = send(&app, with_key(seed_request())).await;
    let (s2, second) = send(&app, with_key(seed_request())).await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(first["data"], second["data"]);
    let (_, list) = send(&app, call("GET", "/api/v1/requests", None)).await;
    assert_eq!(
        list["data"].as_array().map(Vec::len),
        Some(2),
        "the replay created requests"
    );
    let mut other_body = seed_request();
    other_body["items"][0]["input"]["name"] = json!("another");
    let (status, answer) = send(&app, with_key(other_body)).await;
    assert_eq!(status, 422);
    assert_eq!(
        answer["error"]["details"][0]["field"],
        json!("Idempotency-Key")
    );
    // The key is bound to the route too: the same key and (empty) body on another request's
    // decision is another call, refused, never a replay of the first answer (schemathesis
    // saw a key carried from one route to another answered as if the same call).
    let ids: Vec<String> = first["data"]["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(list["data"].as_array().into_iter().flatten())
        .filter_map(|r| r["requestId"].as_str().map(str::to_string))
        .collect();
    let other = ids
        .iter()
        .find(|id| **id != ids[0])
        .expect("two requests")
        .clone();
    let abort = |id: &str| {
        let mut r = call("POST", &format!("/api/v1/requests/{id}/abort"), None);
        r.headers.push(("idempotency-key".into(), "abort-1".into()));
        r
    };
    let (status, aborted) = send(&app, abort(&ids[0])).await;
    assert_eq!(
        (status, &aborted["data"]["state"]),
        (200, &json!("aborted"))
    );
    let (status, answer) = send(&app, abort(&other)).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(
        answer["error"]["details"][0]["field"],
        json!("Idempotency-Key")
    );
    let (_, still) = send(
        &app,
        call("GET", &format!("/api/v1/requests/{other}"), None),
    )
    .await;
    assert_ne!(still["data"]["state"], json!("aborted"), "{still}");
    // And the same call again is the first answer again.
    let (status, replayed) = send(&app, abort(&ids[0])).await;
    assert_eq!((status, &replayed["data"]), (200, &aborted["data"]));
    env.cleanup().await;
}

#[tokio::test]
async fn fifty_concurrent_submissions_all_complete_in_order() {
    let env = TestEnv::new().await;
    let repo = write_repo(&[("catalog/two.yaml", TWO_TICKETS)]);
    let app = Arc::new(app_for(&env, repo.path()).await);
    let jira = JiraStandIn::start(0, "pao@example.com", "token")
        .await
        .expect("JIRA");
    let worker = worker_for(&env, &jira.secret("default")).await;
    let mut handles = Vec::new();
    for n in 0..50 {
        let app = app.clone();
        handles.push(tokio::spawn(async move {
            let body = json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "two-tickets",
                                          "input": {"name": format!("r{n}"), "basic": {"instanceName": format!("db{n}")}}}]});
            let (status, answer) = send(&app, call("POST", "/api/v1/requests", Some(body))).await;
            assert_eq!(status, 202, "{answer}");
            answer["data"]["requests"][0]["requestId"].as_str().unwrap_or_default().to_string()
        }));
    }
    let mut ids = Vec::new();
    for h in handles {
        ids.push(pao::record::RequestId(h.await.expect("submitted")));
    }
    for id in &ids {
        let done = drain_until(&env, &worker, id, |d| {
            d.request.state == pao::request::RequestState::Completed
        })
        .await;
        let first = &done.tasks[0];
        let second = &done.tasks[1];
        assert!(
            first.finished_at <= second.started_at,
            "tasks of {id} overlapped"
        );
        let key = first
            .outputs
            .get("firstKey")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let ticket = jira
            .issues()
            .into_iter()
            .find(|i| {
                i.key
                    == second
                        .outputs
                        .get("secondKey")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
            })
            .expect("second ticket");
        assert_eq!(
            ticket.fields["summary"],
            json!(format!("Follow-up of {key}"))
        );
    }
    assert_eq!(jira.issues().len(), 100);
    let (_, status) = send(
        &app,
        call("GET", &format!("/api/v1/requests/{}/status", ids[0]), None),
    )
    .await;
    assert_eq!(
        status["data"]["progress"]["text"],
        json!("2 of 2 completed")
    );
    env.cleanup().await;
}

/// A known path called with a method it does not have answers 405 and says what is allowed;
/// an unknown path is 404.
/// Issue 23 point 8: after a key's record is gone (expired; TTL deletes late, so expired is
/// gone for readers too), the same key with another body is refused, never answered with
/// the old request's id; the same call again is still its answer.
#[tokio::test]
async fn a_key_reused_for_another_body_after_its_record_expired_is_refused() {
    let env = TestEnv::new().await;
    let app = app_for(&env, &example_catalog_dir()).await;
    let one = |name: &str| {
        json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "cache-redis",
                          "input": {"name": name, "cluster": {"clusterName": "hot-cache"}}}]})
    };
    // One item (answered in the request's transaction) and two items (claim first).
    // The first key's record is deleted (TTL did it), the second's only expired.
    for (key, first_body, other_body) in [
        ("reused-1", one("first"), one("second")),
        ("reused-2", seed_request(), {
            let mut b = seed_request();
            b["items"][1]["input"]["name"] = json!("other-stack");
            b
        }),
    ] {
        let with_key = |body: Value| {
            let mut r = call("POST", "/api/v1/requests", Some(body));
            r.headers.push(("idempotency-key".into(), key.into()));
            r
        };
        let (status, first) = send(&app, with_key(first_body.clone())).await;
        assert_eq!(status, 202, "{first}");
        let record = [
            (
                "pk".to_string(),
                aws_sdk_dynamodb::types::AttributeValue::S(format!("IDEMP#{DEV}#{key}")),
            ),
            (
                "sk".to_string(),
                aws_sdk_dynamodb::types::AttributeValue::S("IDEMP".into()),
            ),
        ]
        .into_iter()
        .collect::<std::collections::HashMap<_, _>>();
        if key == "reused-1" {
            env.dynamo
                .delete_item()
                .table_name(&env.table)
                .set_key(Some(record))
                .send()
                .await
                .expect("the key's record is gone");
        } else {
            env.dynamo
                .update_item()
                .table_name(&env.table)
                .set_key(Some(record))
                .update_expression("SET expiresAt = :past")
                .expression_attribute_values(
                    ":past",
                    aws_sdk_dynamodb::types::AttributeValue::N("1".into()),
                )
                .send()
                .await
                .expect("the key's record expired");
        }
        let (status, answer) = send(&app, with_key(other_body)).await;
        assert_eq!(status, 422, "{key}: {answer}");
        assert_eq!(
            answer["error"]["details"][0]["field"],
            json!("Idempotency-Key")
        );
        // The key is still the first call's: its repeat gets its answer, nothing twice.
        let (status, again) = send(&app, with_key(first_body)).await;
        assert_eq!(status, 202, "{key}: {again}");
        assert_eq!(again["data"]["requests"], first["data"]["requests"]);
    }
    env.cleanup().await;
}

#[tokio::test]
async fn a_wrong_method_answers_405_with_allow() {
    let env = TestEnv::new().await;
    let app = app_for(&env, &example_catalog_dir()).await;
    let response = app.handle(&call("DELETE", "/api/v1/requests", None)).await;
    assert_eq!(response.status, 405);
    let allow = response
        .headers
        .iter()
        .find(|(k, _)| k == "Allow")
        .map(|(_, v)| v.as_str());
    assert_eq!(allow, Some("POST, GET"));
    assert_eq!(response.body["error"]["code"], json!("METHOD_NOT_ALLOWED"));
    let response = app
        .handle(&call("POST", "/api/v1/catalog/cache-redis/form", None))
        .await;
    assert_eq!(response.status, 405);
    let (status, body) = send(&app, call("GET", "/api/v1/nothing/here", None)).await;
    assert_eq!(status, 404, "{body}");
    env.cleanup().await;
}

/// Issue 23 point 6: a template that would run too long or write too much stops at its
/// budget, and `POST /tools/test-variables` answers 422 naming the item and the template;
/// the API goes on answering.
#[tokio::test]
async fn a_template_past_its_budget_is_refused_by_name() {
    let env = TestEnv::new().await;
    let app = app_for(&env, &example_catalog_dir()).await;
    let document = r#"schemaVersion: catalog/v1
kind: CatalogItem
metadata: { id: heavy, name: Heavy, version: 1.0.0, category: testing, owner: team-test, description: Loops in loops. }
form:
  groups:
    - id: basic
      fields:
        - { id: team, type: string }
fulfillment:
  items:
    - id: hook
      type: webhook
      config:
        url: https://hooks.example.com/x
        payload:
          text: "{% for a in range(end=1000) %}{% for b in range(end=1000) %}{{ a }}{% endfor %}{% endfor %}"
"#;
    let (status, body) = send(
        &app,
        call(
            "POST",
            "/api/v1/tools/test-variables",
            Some(json!({"document": document, "input": {"name": "x", "basic": {"team": "a"}}})),
        ),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["details"][0]["issue"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("\"hook\"")
            && message.contains("payload.text")
            && message.contains("more than 100000 loop iterations"),
        "{body}"
    );
    let (status, _) = send(&app, call("GET", "/api/v1/catalog", None)).await;
    assert_eq!(status, 200);
    env.cleanup().await;
}

/// An item of `n` webhook calls with a free `json` field.
fn many_calls(n: usize) -> String {
    let mut doc = String::from(
        r#"schemaVersion: catalog/v1
kind: CatalogItem
metadata: { id: many-calls, name: Many calls, version: 1.0.0, category: testing, owner: team-test, description: One call per step. }
form:
  groups:
    - id: basic
      fields:
        - { id: blob, type: json }
fulfillment:
  items:
"#,
    );
    for i in 0..n {
        doc.push_str(&format!(
            "    - {{ id: call_{i}, type: webhook, config: {{ url: \"https://hooks.example.com/{i}\" }} }}\n"
        ));
    }
    doc
}

/// A catalog repository holding [`many_calls`]`(n)`, checked to load.
fn many_calls_repo(n: usize) -> tempfile::TempDir {
    let repo = write_repo(&[("catalog/many.yaml", &many_calls(n))]);
    let loaded = pao::catalog::load::load_dir(repo.path()).expect("catalog");
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    repo
}

fn many_calls_request(blob: Value) -> Value {
    json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "many-calls",
        "input": {"name": "many", "basic": {"blob": blob}}}]})
}

/// Issue 23 point 12: DynamoDB takes 100 items per transaction: a request of 97 tasks is
/// written with its event and its Idempotency-Key's record; 98 tasks answer 422 naming the
/// limit (before, 98 tasks with a key answered 500).
#[tokio::test]
async fn the_most_tasks_fit_one_transaction_with_a_key() {
    let env = TestEnv::new().await;
    for (n, expected) in [
        (pao::store::MAX_TASKS, 202),
        (pao::store::MAX_TASKS + 1, 422),
    ] {
        let repo = many_calls_repo(n);
        let app = app_for(&env, repo.path()).await;
        let mut r = call(
            "POST",
            "/api/v1/requests",
            Some(many_calls_request(json!({}))),
        );
        r.headers
            .push(("idempotency-key".into(), format!("many-{n}")));
        let (status, body) = send(&app, r).await;
        assert_eq!(status, expected, "{n} tasks: {body}");
        if status == 202 {
            let id = body["data"]["requests"][0]["requestId"]
                .as_str()
                .unwrap_or_default();
            let (_, detail) =
                send(&app, call("GET", &format!("/api/v1/requests/{id}"), None)).await;
            assert_eq!(detail["data"]["tasks"].as_array().map(Vec::len), Some(n));
        } else {
            let issue = body["error"]["details"][0]["issue"]
                .as_str()
                .unwrap_or_default();
            assert!(issue.contains("at most 97"), "{body}");
        }
    }
    env.cleanup().await;
}

/// Issue 23 point 12: every task copies the input, so a large input times many tasks passes
/// the 4 MB DynamoDB writes in one transaction: 422 naming the input and the limit, and
/// nothing is written.
#[tokio::test]
async fn an_input_too_large_to_store_is_refused_by_name() {
    let env = TestEnv::new().await;
    let repo = many_calls_repo(20);
    let app = app_for(&env, repo.path()).await;
    let blob = json!({"text": "x".repeat(240 * 1024)});
    let (status, body) = send(
        &app,
        call("POST", "/api/v1/requests", Some(many_calls_request(blob))),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["error"]["details"][0]["field"],
        json!("items[0].input")
    );
    let issue = body["error"]["details"][0]["issue"]
        .as_str()
        .unwrap_or_default();
    assert!(issue.contains("at most 4096 KiB"), "{issue}");
    let (_, list) = send(&app, call("GET", "/api/v1/requests", None)).await;
    assert_eq!(
        list["data"].as_array().map(Vec::len),
        Some(0),
        "nothing written"
    );
    // A small input on the same item is written.
    let (status, body) = send(
        &app,
        call(
            "POST",
            "/api/v1/requests",
            Some(many_calls_request(json!({"text": "small"}))),
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    env.cleanup().await;
}

/// Issue 23 point 7: ownership is the principal's unique id together with its ARN. A role
/// deleted and made again under the same name (a new id, the same ARN for the same session
/// name) does not see or decide on the old role's requests; the email shown and printed in
/// tickets comes only from a session name something pins (IAM Identity Center, or a role the
/// deployer lists), never from a name the caller chose.
#[tokio::test]
async fn ownership_is_the_principal_not_a_chosen_session_name() {
    let env = TestEnv::new().await;
    let mut app = app_for(&env, &example_catalog_dir()).await;
    let (status, body) = send(&app, call("POST", "/api/v1/requests", Some(seed_request()))).await;
    assert_eq!(status, 202, "{body}");
    let id = body["data"]["requests"][0]["requestId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let path = format!("/api/v1/requests/{id}");
    let (status, detail) = send(&app, call("GET", &path, None)).await;
    assert_eq!(status, 200);
    // The local stack trusts its Developer role's session names, as an identity provider
    // that pins them would be trusted.
    assert_eq!(detail["data"]["user"]["email"], json!("dev@example.com"));
    let recreated = |method: &str, path: &str| {
        let mut r = call(method, path, None);
        r.caller_id = Some("AROANEWROLEID0000001:dev@example.com".into());
        r
    };
    assert_eq!(send(&app, recreated("GET", &path)).await.0, 404);
    assert_eq!(
        send(&app, recreated("POST", &format!("{path}/abort")))
            .await
            .0,
        404
    );
    let (status, list) = send(&app, recreated("GET", "/api/v1/requests")).await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0), "{list}");
    // The same ARN and id still own it.
    let (_, list) = send(&app, call("GET", "/api/v1/requests", None)).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2), "{list}");
    // A role whose session names nobody pins gives no email, whatever the name says.
    app.settings.session_trust = pao::api::SessionTrust::default();
    let (_, body) = send(&app, call("POST", "/api/v1/requests", Some(seed_request()))).await;
    let other = body["data"]["requests"][0]["requestId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (_, detail) = send(
        &app,
        call("GET", &format!("/api/v1/requests/{other}"), None),
    )
    .await;
    assert_eq!(detail["data"]["user"]["email"], Value::Null, "{detail}");
    env.cleanup().await;
}
