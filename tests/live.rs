//! Issue 28, point 3: live status over the WebSocket API, as the local stack serves it on the
//! API's port (SigV4 on the upgrade, the API function answering the routes, the events
//! function pushing through the management API). A subscription is refused for someone
//! else's request; the owner's carries the current state and every change after it.

use pao_local::sigv4::{Identity, default_identity, operator_identity};
use pao_system_tests::{
    LiveClient, TWO_TICKETS, local_options, signed_call, stop_local, write_repo,
};
use serde_json::json;

const DEV: (&str, &str) = ("AKIAPAOLOCALDEV00001", "pao-local-dev-secret");
const EVE: (&str, &str) = ("AKIAPAOLOCALEVE00001", "pao-local-eve-secret");

fn eve() -> Identity {
    Identity {
        access_key_id: EVE.0.into(),
        secret_access_key: EVE.1.into(),
        arn: "arn:aws:sts::000000000000:assumed-role/Developer/eve@example.com".into(),
        tags: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_follows_a_request_live_and_nobody_else_may() {
    let repo = write_repo(&[("catalog/two.yaml", TWO_TICKETS)]);
    let mut opts = local_options(repo.path());
    opts.identities = vec![default_identity(), operator_identity(), eve()];
    let running = pao_local::runner::start(opts)
        .await
        .expect("local stack starts");
    let addr = running.api_addr;

    // Unsigned and wrongly signed upgrades are refused as API Gateway refuses them.
    assert_eq!(
        LiveClient::connect(addr, (DEV.0, "wrong")).await.err(),
        Some(403)
    );

    // Subscribed before the request exists? No: first submit, then follow.
    let (status, body) = signed_call(
        &format!("http://{addr}"),
        "POST",
        "/api/v1/requests",
        Some(
            json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "two-tickets",
            "input": {"name": "live", "basic": {"instanceName": "orders-db"}}}]}),
        ),
        DEV,
        std::time::SystemTime::now(),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let id = body["data"]["requests"][0]["requestId"]
        .as_str()
        .expect("id")
        .to_string();

    let mut other = LiveClient::connect(addr, EVE).await.expect("eve connects");
    other
        .send(json!({"action": "subscribe", "topic": "request", "requestId": id}))
        .await;
    let refused = other.until("eve's answer", |m| m["type"] != "event").await;
    assert_eq!(refused["type"], "error");
    assert_eq!(
        refused["status"], 404,
        "another's request does not exist for her"
    );
    other
        .send(json!({"action": "subscribe", "topic": "everything"}))
        .await;
    let bad = other
        .until("a bad message's answer", |m| m["type"] == "error")
        .await;
    assert!(
        bad["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("topic:"),
        "{bad}"
    );

    let mut me = LiveClient::connect(addr, DEV)
        .await
        .expect("the owner connects");
    me.send(json!({"action": "subscribe", "topic": "request", "requestId": id}))
        .await;
    me.send(json!({"action": "subscribe", "topic": "notices"}))
        .await;
    let subscribed = me
        .until("the subscription", |m| m["type"] == "subscribed")
        .await;
    assert_eq!(subscribed["requestId"], id.as_str());
    assert!(
        subscribed["status"]["state"].is_string(),
        "the current state: {subscribed}"
    );
    // Every change is pushed as it commits, up to the end.
    if subscribed["status"]["state"] != "completed" {
        me.until("the completion", |m| {
            m["type"] == "event"
                && m["detailType"] == "Request State Changed"
                && m["detail"]["state"] == "completed"
        })
        .await;
    }
    let notice = me
        .until("the completion notice", |m| m["type"] == "notice")
        .await;
    assert!(
        notice["text"].as_str().unwrap_or_default().contains(&id),
        "{notice}"
    );
    assert!(
        other
            .seen
            .iter()
            .all(|m| m["type"] != "event" && m["type"] != "notice"),
        "eve saw nothing of it: {:?}",
        other.seen
    );
    me.send(json!({"action": "ping"})).await;
    me.until("pong", |m| m["type"] == "pong").await;
    me.close().await;
    other.close().await;

    // A closed connection's subscriptions go with it ($disconnect)...
    let store = pao::store::Store::new(
        aws_sdk_dynamodb::Client::new(&pao::aws::load_sdk_config().await),
        &running.stack.config.table_name,
    );
    let topic = pao::live::Topic::Request(id.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !store.subscribers(&topic).await.expect("read").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the closed connection's subscription stayed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // ...and one the gateway no longer knows (its $disconnect lost) is dropped at the next
    // push, on the gateway's 410 (GoneException).
    let ghost = pao::live::Subscriber {
        connection_id: "R2hvc3RDb25uZWN0aW9u".into(),
        arn: "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com".into(),
        caller_id: None,
        tags: Default::default(),
        support: false,
    };
    let expires = pao::clock::now_epoch() + 3600;
    store
        .put_connection(&ghost.connection_id, &ghost.arn, None, expires)
        .await
        .expect("connection");
    store
        .subscribe(&ghost, &topic, expires)
        .await
        .expect("subscribed");
    let broadcaster = pao::broadcast::Broadcaster {
        store: store.clone(),
        // Signed as the events function, the one allowed to push.
        pusher: pao::live::push::Pusher::new(
            &pao_local::identity::sdk_for(
                &pao::aws::load_sdk_config().await,
                pao_local::identity::Function::Events,
            )
            .expect("the events function's keys"),
            &format!("http://{addr}/live"),
        ),
    };
    let event = pao::events::Event {
        id: "e-ghost-0".into(),
        detail_type: pao::events::DetailType::RequestStateChanged,
        request_id: Some(id.clone()),
        time: pao::clock::now_rfc3339(),
        detail: json!({"requestId": id, "state": "completed"}),
    };
    let pushed = broadcaster.push(&[event], &[]).await;
    assert_eq!((pushed.messages, pushed.dropped), (0, 1));
    assert!(store.subscribers(&topic).await.expect("read").is_empty());
    assert_eq!(
        store.connection(&ghost.connection_id).await.expect("read"),
        None
    );
    stop_local(running).await;
}
