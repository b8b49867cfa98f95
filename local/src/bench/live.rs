//! Live status timed on the local stack: from a commit to the WebSocket message a subscriber
//! receives (stream read by the emulated mapping, the events function publishing, marking,
//! finding the subscribers and pushing), beside the floor of the same run: a bare stream
//! record read at the mapping's cadence and pushed straight to the connection.

use super::fixture::{Error, ITEM};
use super::{Row, Spread};
use crate::provision;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: std::net::SocketAddr) -> Result<Socket, Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let me = crate::sigv4::default_identity();
    let mut request = format!("ws://{addr}/live").into_client_request()?;
    let credentials = pao::signing::Credentials {
        access_key_id: me.access_key_id,
        secret_access_key: me.secret_access_key,
        session_token: None,
    };
    let signed = pao::signing::sign(
        "GET",
        &format!("http://{addr}/live"),
        b"",
        &credentials,
        "us-east-1",
        std::time::SystemTime::now(),
    )?;
    for (k, v) in signed.iter().filter(|(k, _)| k != "host") {
        request.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes())?,
            v.parse()?,
        );
    }
    Ok(tokio_tungstenite::connect_async(request).await?.0)
}

/// Reads until a message satisfies `wanted` (30 s at most; `what` names it in the error).
async fn until(
    socket: &mut Socket,
    what: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Result<Instant, Error> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let next = tokio::time::timeout_at(deadline, socket.next())
            .await
            .map_err(|_| format!("live benchmark: no {what} in 30 s"))?;
        let Some(Ok(Message::Text(text))) = next else {
            return Err("the live socket closed".into());
        };
        let v: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
        if wanted(&v) {
            return Ok(Instant::now());
        }
    }
}

/// `samples` catalog changes timed from commit to message, and as many floor records.
pub async fn rows(samples: usize) -> Result<Vec<Row>, Error> {
    let (opts, dir) = super::fixture::stack_options("live", 1)?;
    let git_dir = opts.catalog_git_dir.clone();
    let running = crate::runner::start(opts).await?;
    let sdk = pao::aws::load_sdk_config().await;
    let store = pao::store::Store::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        &running.stack.config.table_name,
    );
    let mut socket = connect(running.api_addr).await?;
    socket
        .send(Message::text(
            json!({"action": "subscribe", "topic": "catalog"}).to_string(),
        ))
        .await?;
    until(&mut socket, "subscription answer", |m| {
        m["type"] == "subscribed"
    })
    .await?;
    let docs = vec![pao::catalog::SourceDoc {
        file: "catalog/bench.yaml".into(),
        text: ITEM.into(),
        owners: vec![],
    }];
    let mut pao_times = Vec::with_capacity(samples);
    for i in 0..samples {
        let version = format!("live-{i}");
        store
            .put_catalog(&version, &docs, &pao::clock::Now::current())
            .await?;
        let committed = Instant::now();
        let got = until(&mut socket, &format!("Catalog Changed {version}"), |m| {
            m["detailType"] == "Catalog Changed" && m["detail"]["version"] == version.as_str()
        })
        .await?;
        pao_times.push(got - committed);
    }

    // The floor: a record on a table's stream, read at the mapping's cadence, pushed at once
    // to the same connection through the same management API.
    let connection = store
        .subscribers(&pao::live::Topic::Catalog)
        .await?
        .first()
        .map(|s| s.connection_id.clone())
        .ok_or("the benchmark's connection is not subscribed")?;
    let floor_stack = provision::stack(&sdk, &provision::Names::unique("lfloor")).await?;
    let mapping = provision::SamTemplate::repository()?.stream_mapping()?;
    let mut poller = crate::stream_esm::StreamPoller::new(
        &sdk,
        &floor_stack.names.table,
        &floor_stack.events_dlq,
        mapping,
    )
    .await?;
    let pusher = pao::live::push::Pusher::new(
        &sdk,
        &format!("http://{}{}", running.api_addr, crate::live::LIVE_PATH),
    );
    // Read as the mapping reads (again at once after records, after its idle wait when
    // none came), each floor record pushed straight to the connection as it is read.
    let floor_reader = tokio::spawn(async move {
        loop {
            match poller.read_once().await {
                Ok(records) if !records.is_empty() => {
                    for r in records {
                        if let Some(i) = r
                            .pointer("/dynamodb/Keys/pk/S")
                            .and_then(Value::as_str)
                            .and_then(|k| k.strip_prefix("FLOOR#"))
                            .and_then(|i| i.parse::<usize>().ok())
                        {
                            let _ = pusher
                                .post(&connection, &json!({"type": "floor", "i": i}))
                                .await;
                        }
                    }
                }
                _ => tokio::time::sleep(crate::stream_esm::IDLE_POLL).await,
            }
        }
    });
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let mut floor_times = Vec::with_capacity(samples);
    for i in 0..samples {
        dynamo
            .put_item()
            .table_name(&floor_stack.names.table)
            .item(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("FLOOR#{i}")),
            )
            .item("sk", aws_sdk_dynamodb::types::AttributeValue::S("x".into()))
            .send()
            .await
            .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
        let committed = Instant::now();
        let got = until(&mut socket, &format!("floor message {i}"), |m| {
            m["type"] == "floor" && m["i"] == i
        })
        .await?;
        floor_times.push(got - committed);
    }
    floor_reader.abort();
    floor_stack.delete(&sdk).await;
    let stack = running.stack.clone();
    drop(running);
    let _ = std::fs::remove_dir_all(git_dir);
    let _ = std::fs::remove_dir_all(&dir);
    stack.delete(&sdk).await;

    let (ours, floor) = (Spread::of(pao_times), Spread::of(floor_times));
    Ok(vec![Row::new(
        format!("live: commit -> event published -> WebSocket message, {samples} catalog changes p50/p95/p99"),
        ours.ms(),
    )
    .goal("p95 <= 1 s", ours.p95 <= Duration::from_secs(1))
    .floor(format!(
        "{} (a bare stream record read as the mapping reads, {} ms idle wait, pushed straight to the connection)",
        floor.ms(),
        crate::stream_esm::IDLE_POLL.as_millis()
    ))])
}
