//! `devctl watch` over the live WebSocket: connect (the upgrade SigV4-signed, as API
//! Gateway's IAM authorization on `$connect` wants), subscribe to the request, show its state
//! from the subscription's answer and again at every change pushed. Where: `PAO_LIVE_URL`
//! (the stack's output `LiveUrl`), or, against the local stack, `ws://<its address>/live`.

use crate::remote::{Shown, Target, print_answer, send_async};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};
use tokio_tungstenite::tungstenite::Message;

/// How a live watch ended.
pub enum Followed {
    Ended(ExitCode),
    /// No live status (no URL, refused, dropped): poll instead.
    Unavailable(String),
}

/// The live API's URL: `PAO_LIVE_URL`, or the local stack's beside its REST API.
pub fn live_url(target: &Target) -> Option<String> {
    if let Some(url) = std::env::var("PAO_LIVE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        return Some(url.trim().trim_end_matches('/').to_string());
    }
    let rest = target.api.strip_prefix("http://")?;
    let host = rest.split('/').next()?;
    (host.starts_with("127.0.0.1") || host.starts_with("localhost"))
        .then(|| format!("ws://{host}/live"))
}

/// Follows the request over the socket until it ends.
pub fn follow(target: &Target, request_id: &str, shown: &mut Shown) -> Followed {
    let Some(url) = live_url(target) else {
        return Followed::Unavailable(
            "no live URL: set PAO_LIVE_URL to the stack's LiveUrl".into(),
        );
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return Followed::Unavailable(e.to_string()),
    };
    runtime.block_on(follow_async(target, &url, request_id, shown))
}

async fn follow_async(target: &Target, url: &str, request_id: &str, shown: &mut Shown) -> Followed {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let Ok(mut request) = url.into_client_request() else {
        return Followed::Unavailable(format!("{url} is not a WebSocket URL"));
    };
    // Signed as the https (or http) GET the upgrade is.
    let signed_url = url
        .replacen("wss://", "https://", 1)
        .replacen("ws://", "http://", 1);
    let headers = match pao::signing::sign(
        "GET",
        &signed_url,
        b"",
        &target.credentials,
        &target.region,
        SystemTime::now(),
    ) {
        Ok(h) => h,
        Err(e) => return Followed::Unavailable(format!("cannot sign: {e}")),
    };
    for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
        if let (Ok(name), Ok(value)) = (
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()),
            v.parse(),
        ) {
            request.headers_mut().insert(name, value);
        }
    }
    let connected = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(request),
    )
    .await;
    let mut socket = match connected {
        Ok(Ok((socket, _))) => socket,
        Ok(Err(e)) => return Followed::Unavailable(format!("{url}: {e}")),
        Err(_) => return Followed::Unavailable(format!("{url}: no answer in 10 s")),
    };
    let subscribe = json!({"action": "subscribe", "topic": "request", "requestId": request_id});
    if socket
        .send(Message::text(subscribe.to_string()))
        .await
        .is_err()
    {
        return Followed::Unavailable("the connection closed".into());
    }
    loop {
        // API Gateway drops a connection idle for 10 minutes: a ping every minute keeps it.
        let next = match tokio::time::timeout(Duration::from_secs(60), socket.next()).await {
            Err(_) => {
                let ping = json!({"action": "ping"}).to_string();
                if socket.send(Message::text(ping)).await.is_err() {
                    return Followed::Unavailable("the connection closed".into());
                }
                continue;
            }
            Ok(next) => next,
        };
        let text = match next {
            Some(Ok(Message::Text(t))) => t.to_string(),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                return Followed::Unavailable("the connection closed".into());
            }
            Some(Ok(_)) => continue,
        };
        let m: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match m["type"].as_str() {
            Some("subscribed") => {
                if let Some(code) = shown.show(&m["status"]) {
                    return Followed::Ended(code);
                }
            }
            Some("error") => {
                let status = m["status"]
                    .as_u64()
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(500);
                return Followed::Ended(print_answer(status, &m, false));
            }
            Some("event") => {
                // A change: show the request as it stands now.
                let path = format!("/requests/{request_id}/status");
                match send_async(target, "GET", &path, None, None).await {
                    Ok((200, answer)) => {
                        if let Some(code) = shown.show(&answer["data"]) {
                            return Followed::Ended(code);
                        }
                    }
                    Ok((status, answer)) => {
                        return Followed::Ended(print_answer(status, &answer, false));
                    }
                    Err(code) => return Followed::Ended(code),
                }
            }
            _ => {}
        }
    }
}
