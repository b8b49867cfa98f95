//! Cold starts: each release binary is started against a stub of the Lambda Runtime API on
//! loopback, and timed from exec to its first `GET /runtime/invocation/next` (config and
//! clients built, ready for an event). Its AWS endpoint is a listener that only counts
//! connections: a function that fetched anything before its first event would show there.
//! A second run hands it one event twice: the first answer's extra time over the second is
//! what the first invocation pays (catalog load, secret fetch).

use super::{Row, Spread};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

/// What the stub saw, in order.
#[derive(Debug, Default)]
struct Seen {
    nexts: Vec<Instant>,
    responses: Vec<Instant>,
}

struct Stub {
    event: Option<Value>,
    seen: Mutex<Seen>,
    first_next: tokio::sync::Notify,
    done: tokio::sync::Notify,
}

/// How a start went.
#[derive(Debug, Clone, Copy)]
pub struct Start {
    /// Exec to the first `next`.
    pub ready: Duration,
    /// Connections to the AWS endpoint before the first `next`.
    pub early_connections: usize,
}

async fn serve(
    stub: Arc<Stub>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let _ = req.into_body().collect().await;
    let now = Instant::now();
    if path.ends_with("/invocation/next") {
        let n = {
            let mut seen = stub.seen.lock().await;
            seen.nexts.push(now);
            seen.nexts.len()
        };
        if n == 1 {
            stub.first_next.notify_one();
        }
        match &stub.event {
            Some(event) if n <= 2 => {
                let deadline = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() + 30_000)
                    .unwrap_or(0);
                let mut r = Response::new(Full::new(Bytes::from(event.to_string())));
                let h = r.headers_mut();
                let set = |h: &mut hyper::HeaderMap, k: &'static str, v: String| {
                    if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
                        h.insert(k, v);
                    }
                };
                set(h, "lambda-runtime-aws-request-id", format!("bench-{n}"));
                set(h, "lambda-runtime-deadline-ms", deadline.to_string());
                set(
                    h,
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:000000000000:function:bench".into(),
                );
                set(
                    h,
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000".into(),
                );
                set(h, "content-type", "application/json".into());
                return Ok(r);
            }
            // Hold the call: the bench ends the process.
            _ => std::future::pending::<()>().await,
        }
    }
    if path.ends_with("/response") || path.ends_with("/error") {
        let n = {
            let mut seen = stub.seen.lock().await;
            seen.responses.push(now);
            seen.responses.len()
        };
        if n == 2 {
            stub.done.notify_one();
        }
    }
    let mut r = Response::new(Full::new(Bytes::from_static(b"{}")));
    *r.status_mut() = hyper::StatusCode::ACCEPTED;
    Ok(r)
}

async fn start_stub(event: Option<Value>) -> std::io::Result<(Arc<Stub>, String)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stub = Arc::new(Stub {
        event,
        seen: Mutex::new(Seen::default()),
        first_next: tokio::sync::Notify::new(),
        done: tokio::sync::Notify::new(),
    });
    let s = stub.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(
                        TokioIo::new(stream),
                        service_fn(move |r| serve(s.clone(), r)),
                    )
                    .await;
            });
        }
    });
    Ok((stub, addr.to_string()))
}

/// A listener that counts the connections made to it (and answers nothing).
async fn counting_endpoint() -> std::io::Result<(Arc<AtomicUsize>, String)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    Ok((count, format!("http://{addr}")))
}

fn command(binary: &Path, runtime_api: &str, env: &[(String, String)]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(binary);
    c.env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    c
}

/// Starts `binary` `runs` times with no event: exec to first `next`, and the connections
/// its AWS endpoint saw before it.
pub async fn starts(
    binary: &Path,
    env: &[(String, String)],
    runs: usize,
) -> Result<Vec<Start>, String> {
    let mut out = Vec::new();
    for _ in 0..runs {
        let (stub, api) = start_stub(None).await.map_err(|e| e.to_string())?;
        let (count, endpoint) = counting_endpoint().await.map_err(|e| e.to_string())?;
        let mut env = env.to_vec();
        env.retain(|(k, _)| k != "AWS_ENDPOINT_URL");
        env.push(("AWS_ENDPOINT_URL".into(), endpoint));
        let started = Instant::now();
        let mut child = command(binary, &api, &env)
            .spawn()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let waited =
            tokio::time::timeout(Duration::from_secs(10), stub.first_next.notified()).await;
        let early = count.load(Ordering::SeqCst);
        let _ = child.kill().await;
        if waited.is_err() {
            return Err(format!("{} never asked for an event", binary.display()));
        }
        let seen = stub.seen.lock().await;
        let first = seen.nexts.first().copied().unwrap_or_else(Instant::now);
        out.push(Start {
            ready: first.saturating_duration_since(started),
            early_connections: early,
        });
    }
    Ok(out)
}

/// [`first_invocation`] `runs` times, each in a fresh process: the medians of the first
/// answer, of the second, and of the first's extra time over the second.
pub async fn first_invocations(
    binary: &Path,
    env: &[(String, String)],
    event: &Value,
    runs: usize,
) -> Result<(Duration, Duration, Duration), String> {
    let (mut first, mut second, mut extra) = (vec![], vec![], vec![]);
    for _ in 0..runs.max(1) {
        let (a, b) = first_invocation(binary, env, event.clone()).await?;
        first.push(a);
        second.push(b);
        extra.push(a.saturating_sub(b));
    }
    let p50 = |v: Vec<Duration>| super::Spread::of(v).p50;
    Ok((p50(first), p50(second), p50(extra)))
}

/// Hands `binary` `event` twice against the real endpoint in `env`: (first answer, second
/// answer) durations.
pub async fn first_invocation(
    binary: &Path,
    env: &[(String, String)],
    event: Value,
) -> Result<(Duration, Duration), String> {
    let (stub, api) = start_stub(Some(event)).await.map_err(|e| e.to_string())?;
    let mut child = command(binary, &api, env)
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let waited = tokio::time::timeout(Duration::from_secs(30), stub.done.notified()).await;
    let _ = child.kill().await;
    if waited.is_err() {
        return Err(format!("{} did not answer two events", binary.display()));
    }
    let seen = stub.seen.lock().await;
    match (seen.nexts.as_slice(), seen.responses.as_slice()) {
        ([n1, n2, ..], [r1, r2, ..]) => Ok((r1.duration_since(*n1), r2.duration_since(*n2))),
        _ => Err("the stub saw too few calls".into()),
    }
}

/// Fresh processes per function for the first invocation's extra time.
const FIRST_RUNS: usize = 5;

/// The rows of each function's release binary in `bin_dir`: its size (goal: at most 8 MiB),
/// its cold start (median of `cold_runs`; goal: at most 15 ms and no AWS call before the first
/// event) and its first invocation's extra time, handed the event file of `events/` named
/// beside it. `env` is what the deployed function would get.
pub async fn binary_rows(
    bin_dir: &Path,
    functions: &[(&str, &str)],
    env: &[(String, String)],
    cold_runs: usize,
) -> Result<Vec<Row>, super::fixture::Error> {
    let mut rows = Vec::new();
    for (function, event_file) in functions.iter().copied() {
        let binary = bin_dir.join(function);
        let Ok(meta) = std::fs::metadata(&binary) else {
            rows.push(Row::new(
                format!("{function}: binary"),
                format!("not built ({})", binary.display()),
            ));
            continue;
        };
        let mib = meta.len() as f64 / 1_048_576.0;
        rows.push(
            Row::new(
                format!("{function}: stripped release binary"),
                format!("{mib:.2} MiB ({} bytes)", meta.len()),
            )
            .goal("<= 8 MiB", meta.len() <= 8 * 1_048_576),
        );
        match starts(&binary, env, cold_runs).await {
            Ok(starts) => {
                let ready = Spread::of(starts.iter().map(|s| s.ready).collect());
                let early = starts
                    .iter()
                    .map(|s| s.early_connections)
                    .max()
                    .unwrap_or(0);
                rows.push(
                    Row::new(
                        format!(
                            "{function}: cold start, exec to first /next (median of {cold_runs})"
                        ),
                        format!(
                            "{} ms; AWS connections before the first event: {early}",
                            super::short(ready.p50)
                        ),
                    )
                    .goal(
                        "<= 15 ms, no call",
                        ready.p50 <= Duration::from_millis(15) && early == 0,
                    ),
                );
            }
            Err(e) => rows.push(Row::new(
                format!("{function}: cold start"),
                format!("failed: {e}"),
            )),
        }
        let event_path =
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../events")).join(event_file);
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&event_path)?)?;
        // Each run is a fresh process handed the event twice; medians, since one sample
        // against a busy endpoint swings by tens of milliseconds.
        match first_invocations(&binary, env, &event, FIRST_RUNS).await {
            Ok((first, second, extra)) => rows.push(Row::new(
                format!(
                    "{function}: first invocation's extra time ({event_file}, median of {FIRST_RUNS})"
                ),
                format!(
                    "{} ms (first {} ms, second {} ms)",
                    super::short(extra),
                    super::short(first),
                    super::short(second)
                ),
            )),
            Err(e) => rows.push(Row::new(
                format!("{function}: first invocation"),
                format!("failed: {e}"),
            )),
        }
    }
    Ok(rows)
}
