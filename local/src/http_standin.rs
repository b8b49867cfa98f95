//! A stand-in for the HTTP services `rest-api` and `webhook` items call (a CMDB, a platform
//! API, a chat webhook): it records every call, answers a create with a JSON resource
//! (`{"id", "url", "primaryEndpoint", "status", "received"}`), honours `Idempotency-Key` as
//! well-behaved APIs do (the same key gets the first answer again and creates nothing), and
//! can be told to fail or to be slow. Used by the tests and the local stack; never deployed.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// One call the stand-in received.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Default)]
struct State {
    calls: Vec<Call>,
    /// Answers by idempotency key.
    answered: HashMap<String, (u16, Value)>,
    created: u32,
    fail_with: Option<(u16, String)>,
    delay: Duration,
}

/// A running stand-in; it stops when the handle is dropped.
pub struct HttpStandIn {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpStandIn {
    /// Starts on `127.0.0.1:<port>` (0: any free port).
    pub async fn start(port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(req, &state, addr).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every call received, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// How many resources were created (replays under a known idempotency key excluded).
    pub fn created(&self) -> u32 {
        self.state().created
    }

    /// Answers every call with `status` and `body` until told otherwise (`None`: succeed).
    pub fn fail_with(&self, failure: Option<(u16, &str)>) {
        self.state().fail_with = failure.map(|(s, b)| (s, b.to_string()));
    }

    /// Waits this long before answering.
    pub fn delay(&self, delay: Duration) {
        self.state().delay = delay;
    }
}

async fn handle(
    req: Request<Incoming>,
    state: &Mutex<State>,
    addr: SocketAddr,
) -> Response<Full<Bytes>> {
    let method = req.method().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    let delay = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        s.calls.push(Call {
            method: method.clone(),
            target: target.clone(),
            headers: headers.clone(),
            body: body.clone(),
        });
        s.delay
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (status, answer) = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((status, text)) = s.fail_with.clone() {
            (status, Value::String(text))
        } else if let Some(known) = headers
            .get("idempotency-key")
            .and_then(|k| s.answered.get(k))
        {
            known.clone()
        } else {
            s.created += 1;
            let id = format!("res-{}", s.created);
            let received: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let name = received
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("resource")
                .to_string();
            let answer = json!({
                "id": id,
                "url": format!("http://{addr}/resources/{id}"),
                "primaryEndpoint": format!("{name}.cache.local:6379"),
                "status": "created",
                "received": received,
            });
            let status = if method == "POST" { 201 } else { 200 };
            if let Some(key) = headers.get("idempotency-key") {
                s.answered.insert(key.clone(), (status, answer.clone()));
            }
            (status, answer)
        }
    };
    let text = match &answer {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}
