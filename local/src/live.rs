//! The WebSocket API, served by the local stack on the API's port as API Gateway serves it:
//! `GET /live` upgraded after a SigV4 check of the upgrade request (IAM on `$connect`), each
//! route handed to the API function's own handler as the WebSocket proxy event API Gateway
//! builds (`$connect`, `$default`, `$disconnect`), its answer sent back; and the management
//! API, `POST /live/@connections/{id}` (SigV4, as the events function signs it), which
//! pushes to a connection or answers 410 for one that is gone.

use crate::sigv4::{self, Identity, SignedRequest};
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use pao::api::App;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

/// The stage path of the WebSocket API.
pub const LIVE_PATH: &str = "/live";

/// The open connections: where to push to each.
#[derive(Clone, Default)]
pub struct Sockets(Arc<Mutex<HashMap<String, mpsc::UnboundedSender<String>>>>);

impl Sockets {
    fn add(&self, id: &str, tx: mpsc::UnboundedSender<String>) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(id.to_string(), tx);
        }
    }

    fn remove(&self, id: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(id);
        }
    }

    /// Pushes `text` to `id`: false when it is gone.
    fn push(&self, id: &str, text: String) -> bool {
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(id).cloned())
            .is_some_and(|tx| tx.send(text).is_ok())
    }
}

fn plain(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r
}

/// A connection id as API Gateway makes them (`GeD7OdYvIAMCJpQ=`: URL-safe base64 of 11
/// random bytes).
fn connection_id() -> String {
    let bytes = uuid::Uuid::new_v4();
    crate::jira_standin::base64(&bytes.as_bytes()[..11])
        .replace('+', "-")
        .replace('/', "_")
}

/// The WebSocket proxy event API Gateway hands the function for a route.
fn socket_event(route: &str, id: &str, identity: &Identity, body: Option<&str>) -> Value {
    let kind = match route {
        "$connect" => "CONNECT",
        "$disconnect" => "DISCONNECT",
        _ => "MESSAGE",
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let mut event = json!({
        "requestContext": {
            "routeKey": route, "eventType": kind, "messageDirection": "IN", "stage": "live",
            "connectedAt": now_ms, "requestTimeEpoch": now_ms, "requestId": format!("local-{now_ms}"),
            "extendedRequestId": format!("local-{now_ms}"), "domainName": "127.0.0.1",
            "connectionId": id, "apiId": "local-live", "accountId": "000000000000",
            "identity": {"userArn": identity.arn, "accessKey": identity.access_key_id,
                         "caller": sigv4::principal_id(&identity.arn), "user": sigv4::principal_id(&identity.arn),
                         "sourceIp": "127.0.0.1"},
        },
        "isBase64Encoded": false,
    });
    if let Some(b) = body {
        event["body"] = json!(b);
        event["requestContext"]["messageId"] = json!(format!("m-{now_ms}"));
    }
    event
}

/// Hands a route's event to the API function; its status and the text it sends back.
async fn route(app: &App, event: &Value) -> (u16, String) {
    match lambda_http::request::from_str(&event.to_string()) {
        Ok(request) => match api::handle(app, request).await {
            Ok(response) => (
                response.status().as_u16(),
                String::from_utf8_lossy(response.body().as_ref()).to_string(),
            ),
            Err(e) => (
                502,
                json!({"message": format!("handler error: {e}")}).to_string(),
            ),
        },
        Err(e) => (
            500,
            json!({"message": format!("local runner: {e}")}).to_string(),
        ),
    }
}

/// Whether `req` asks to become a WebSocket.
pub fn is_upgrade(req: &Request<Incoming>) -> bool {
    req.uri().path() == LIVE_PATH
        && req
            .headers()
            .get("upgrade")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// `GET /live` with `Upgrade: websocket`: checked, connected, then served until closed.
pub async fn upgrade(
    app: Arc<App>,
    sockets: Sockets,
    identities: &[Identity],
    region: &str,
    mut req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let query = req.uri().query().unwrap_or_default().to_string();
    let signed = SignedRequest {
        method: "GET",
        path: LIVE_PATH,
        query: &query,
        headers: &headers,
        body: b"",
    };
    let identity = match sigv4::verify(&signed, identities, region, pao::clock::now_epoch()) {
        Ok(i) => i.clone(),
        Err(e) => return plain(StatusCode::FORBIDDEN, json!({"message": e.to_string()})),
    };
    let Some(key) = req
        .headers()
        .get("sec-websocket-key")
        .and_then(|v| v.to_str().ok())
        .map(|k| tokio_tungstenite::tungstenite::handshake::derive_accept_key(k.as_bytes()))
    else {
        return plain(
            StatusCode::BAD_REQUEST,
            json!({"message": "no Sec-WebSocket-Key"}),
        );
    };
    let id = connection_id();
    let (status, _) = route(&app, &socket_event("$connect", &id, &identity, None)).await;
    if status != 200 {
        return plain(StatusCode::FORBIDDEN, json!({"message": "Forbidden"}));
    }
    let upgrading = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrading.await else {
            return;
        };
        let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            None,
        )
        .await;
        let (mut out, mut incoming) = ws.split();
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        sockets.add(&id, tx);
        loop {
            tokio::select! {
                pushed = rx.recv() => match pushed {
                    Some(text) => if out.send(Message::text(text)).await.is_err() { break },
                    None => break,
                },
                message = incoming.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        let event = socket_event("$default", &id, &identity, Some(text.as_str()));
                        let (_, reply) = route(&app, &event).await;
                        if !reply.is_empty() && out.send(Message::text(reply)).await.is_err() {
                            break;
                        }
                    }
                    Some(Ok(Message::Ping(p))) => { let _ = out.send(Message::Pong(p)).await; }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
            }
        }
        sockets.remove(&id);
        let _ = route(&app, &socket_event("$disconnect", &id, &identity, None)).await;
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-accept", key)
        .body(Full::new(Bytes::new()))
        .unwrap_or_default()
}

/// What the management API needs: the open connections and who may push.
#[derive(Clone, Default)]
pub struct Management {
    pub sockets: Sockets,
    pub pushers: Vec<Identity>,
}

/// `POST /live/@connections/{id}` signed by a function allowed to push: pushed, or 410.
pub fn manage(
    sockets: &Sockets,
    pushers: &[Identity],
    region: &str,
    signed: &SignedRequest<'_>,
) -> Option<Response<Full<Bytes>>> {
    let id = signed.path.strip_prefix("/live/@connections/")?;
    if signed.method != "POST" {
        return Some(plain(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({"message": "POST only"}),
        ));
    }
    if !pushers.is_empty()
        && let Err(e) = sigv4::verify(signed, pushers, region, pao::clock::now_epoch())
    {
        return Some(plain(
            StatusCode::FORBIDDEN,
            json!({"message": e.to_string()}),
        ));
    }
    let id = sigv4::percent_decode(id);
    let text = String::from_utf8_lossy(signed.body).to_string();
    Some(if sockets.push(&id, text) {
        plain(StatusCode::OK, json!({}))
    } else {
        plain(StatusCode::GONE, json!({"message": "GoneException"}))
    })
}

/// The identities allowed to push: the events function's key when IAM is enforced locally
/// (`PAO_IAM_KEYS`); none (any signed call) otherwise.
pub fn pushers() -> Vec<Identity> {
    let Some(path) = std::env::var("PAO_IAM_KEYS").ok().filter(|p| !p.is_empty()) else {
        return Vec::new();
    };
    let keys: HashMap<String, Value> = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    keys.get(crate::identity::Function::Events.name())
        .map(|k| Identity {
            access_key_id: k["AccessKeyId"].as_str().unwrap_or_default().into(),
            secret_access_key: k["SecretAccessKey"].as_str().unwrap_or_default().into(),
            arn: "arn:aws:iam::123456789012:user/pao-events".into(),
            tags: Default::default(),
        })
        .into_iter()
        .collect()
}
