//! A stand-in for Slack's Web API as PAO's notices use it: `chat.postMessage` (JSON body,
//! `Authorization: Bearer <bot token>`) and `users.lookupByEmail` (`?email=`), answering as
//! Slack does: HTTP 200 with `{"ok": true, …}` or `{"ok": false, "error": "…"}`
//! (`invalid_auth`, `channel_not_found`, `users_not_found`). It records every message, and a
//! channel can be made dead. Used by the tests and the local stack; never deployed.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// One message Slack was asked to post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// As given: `#channel`, or a user id from `users.lookupByEmail`.
    pub channel: String,
    pub text: String,
}

#[derive(Debug, Default)]
struct State {
    messages: Vec<Message>,
    dead: HashSet<String>,
    unknown_users: HashSet<String>,
}

pub struct SlackStandIn {
    pub addr: SocketAddr,
    /// The bot token it accepts.
    pub token: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SlackStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The user id Slack has for `email` (stable, as Slack's are).
pub fn user_id_of(email: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in email.to_ascii_lowercase().bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("U{h:08X}")
}

impl SlackStandIn {
    /// Starts on `127.0.0.1:<port>` (0: any free port), accepting `token`.
    pub async fn start(port: u16, token: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let (shared, token_owned) = (state.clone(), token.to_string());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (state, token) = (shared.clone(), token_owned.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let (state, token) = (state.clone(), token.clone());
                        async move { Ok::<_, Infallible>(answer(&state, &token, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            addr,
            token: token.to_string(),
            state,
            task,
        })
    }

    /// The base URL PAO is configured with (`PAO_SLACK_API_URL`).
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// The secret value PAO reads the token from.
    pub fn secret(&self) -> String {
        json!({"botToken": self.token}).to_string()
    }

    pub fn messages(&self) -> Vec<Message> {
        self.state
            .lock()
            .map(|s| s.messages.clone())
            .unwrap_or_default()
    }

    /// Posts to `channel` fail from now on (`channel_not_found`, as for an archived one).
    pub fn kill_channel(&self, channel: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.dead.insert(channel.to_string());
        }
    }

    /// `email` has no Slack account (`users_not_found`).
    pub fn forget_user(&self, email: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.unknown_users.insert(email.to_ascii_lowercase());
        }
    }
}

async fn answer(
    state: &Mutex<State>,
    token: &str,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {token}"));
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let reply = |v: Value| {
        Response::builder()
            .header("content-type", "application/json; charset=utf-8")
            .body(Full::new(Bytes::from(v.to_string())))
            .unwrap_or_default()
    };
    if !authorized {
        return reply(json!({"ok": false, "error": "invalid_auth"}));
    }
    let Ok(mut s) = state.lock() else {
        return reply(json!({"ok": false, "error": "internal_error"}));
    };
    match path.as_str() {
        "/api/chat.postMessage" => {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let channel = v["channel"].as_str().unwrap_or_default().to_string();
            let Some(text) = v["text"].as_str().filter(|t| !t.is_empty()) else {
                return reply(json!({"ok": false, "error": "no_text"}));
            };
            if channel.is_empty() || s.dead.contains(&channel) {
                return reply(json!({"ok": false, "error": "channel_not_found"}));
            }
            s.messages.push(Message {
                channel: channel.clone(),
                text: text.to_string(),
            });
            let ts = format!("{}.{:06}", pao::clock::now_epoch(), s.messages.len());
            reply(
                json!({"ok": true, "channel": channel, "ts": ts, "message": {"text": text, "ts": ts}}),
            )
        }
        "/api/users.lookupByEmail" => {
            let email = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("email="))
                .map(|e| e.replace("%40", "@"))
                .unwrap_or_default();
            if !email.contains('@') || s.unknown_users.contains(&email.to_ascii_lowercase()) {
                return reply(json!({"ok": false, "error": "users_not_found"}));
            }
            reply(
                json!({"ok": true, "user": {"id": user_id_of(&email), "profile": {"email": email}}}),
            )
        }
        _ => reply(json!({"ok": false, "error": "unknown_method"})),
    }
}
