//! The local API Gateway: what a deployed REST API does before PAO's functions see a call.
//! SigV4 checked like the `AWS_IAM` authorizer (unsigned or wrongly signed: 403), the
//! template's resource policy for the operator routes, the webhook route without IAM to its
//! own function, and the API Gateway REST (v1) proxy event handed to the very handlers Lambda
//! calls.

use crate::sigv4::{self, Identity, SignedRequest};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use pao::api::App;
use pao::clock::now_epoch;
use serde_json::{Value, json};

fn json_response(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

/// The routes the template's resource policy keeps for operators.
const QUEUE_PATHS: [&str; 3] = ["api", "v1", "queue"];
const REFRESH_PATH: [&str; 4] = ["api", "v1", "catalog", "refresh"];

/// The routes API Gateway sends to the webhook function, without IAM.
pub(crate) const WEBHOOK_PATH: &str = "/api/v1/webhooks/github";
pub(crate) const JIRA_WEBHOOK_PATH: &str = "/api/v1/webhooks/jira";

/// One HTTP call: the webhook route goes to the webhook function's handler (it checks its
/// HMAC signature itself); every other call is checked for SigV4 like API Gateway's AWS_IAM
/// authorizer does, then goes to the API handler.
pub(crate) async fn serve(
    app: &App,
    webhook: &pao::webhook::Webhook,
    (identities, live): (&[Identity], &crate::live::Management),
    region: &str,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    // Read a little past the API's limit so that it can answer 413 itself.
    let body = match Limited::new(body, pao::api::MAX_BODY + 1024)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"message": "Request Too Long"}),
            );
        }
    };
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or_default().to_string();
    if parts.method == hyper::Method::POST && (path == WEBHOOK_PATH || path == JIRA_WEBHOOK_PATH) {
        let event = apigw_event(parts.method.as_str(), &path, &query, &headers, &body, None);
        return match lambda_http::request::from_str(&event.to_string()) {
            Ok(request) => http_response(github_webhook::handle(webhook, request).await),
            Err(e) => json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"message": format!("local runner: {e}")}),
            ),
        };
    }
    let signed = SignedRequest {
        method: parts.method.as_str(),
        path: &path,
        query: &query,
        headers: &headers,
        body: &body,
    };
    // The WebSocket API's management API (the events function pushes through it).
    if let Some(answer) = crate::live::manage(&live.sockets, &live.pushers, region, &signed) {
        return answer;
    }
    let identity = match sigv4::verify(&signed, identities, region, now_epoch()) {
        Ok(i) => i,
        // API Gateway's own shape for authorizer refusals.
        Err(e) => return json_response(StatusCode::FORBIDDEN, json!({"message": e.to_string()})),
    };
    // The template's resource policy: the queue routes and the catalog refresh only for
    // operators (by ARN or tag).
    let segments: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if segments.starts_with(&QUEUE_PATHS) || segments == REFRESH_PATH {
        let tags: Vec<(String, String)> = identity
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !app.operators.admit(&identity.arn, &tags) {
            return json_response(
                StatusCode::FORBIDDEN,
                json!({"Message": format!(
                    "User: {} is not authorized to perform: execute-api:Invoke on resource: {} {path} with an explicit deny",
                    identity.arn, parts.method
                )}),
            );
        }
    }
    let event = apigw_event(
        parts.method.as_str(),
        &path,
        &query,
        &headers,
        &body,
        Some(identity),
    );
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(r) => r,
        Err(e) => {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"message": format!("local runner: {e}")}),
            );
        }
    };
    http_response(api::handle(app, request).await)
}

/// A handler's Lambda response as the HTTP response API Gateway would give.
fn http_response(
    answer: Result<lambda_http::Response<lambda_http::Body>, lambda_http::Error>,
) -> Response<Full<Bytes>> {
    match answer {
        Ok(response) => {
            let (parts, body) = response.into_parts();
            let mut out = Response::new(Full::new(Bytes::from(body.as_ref().to_vec())));
            *out.status_mut() = parts.status;
            *out.headers_mut() = parts.headers;
            out
        }
        Err(e) => json_response(
            StatusCode::BAD_GATEWAY,
            json!({"message": format!("handler error: {e}")}),
        ),
    }
}

/// The API Gateway REST API (v1) proxy event a deployed API would send, stage `local`.
fn apigw_event(
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
    identity: Option<&Identity>,
) -> Value {
    let mut single = serde_json::Map::new();
    let mut multi = serde_json::Map::new();
    for (k, v) in headers {
        single.insert(k.clone(), json!(v));
        if let Some(a) = multi
            .entry(k.clone())
            .or_insert_with(|| json!([]))
            .as_array_mut()
        {
            a.push(json!(v));
        }
    }
    let mut qs = serde_json::Map::new();
    let mut mqs = serde_json::Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k), decode(v));
        qs.insert(k.clone(), json!(v));
        if let Some(a) = mqs.entry(k).or_insert_with(|| json!([])).as_array_mut() {
            a.push(json!(v));
        }
    }
    let text = std::str::from_utf8(body).ok();
    json!({
        "resource": path, "path": path, "httpMethod": method,
        "headers": single, "multiValueHeaders": multi,
        "queryStringParameters": if qs.is_empty() { Value::Null } else { Value::Object(qs) },
        "multiValueQueryStringParameters": if mqs.is_empty() { Value::Null } else { Value::Object(mqs) },
        "pathParameters": null, "stageVariables": null,
        "requestContext": {
            "accountId": "000000000000", "resourceId": "local", "stage": "local",
            "requestId": uuid_like(), "httpMethod": method, "path": format!("/local{path}"), "resourcePath": path,
            "protocol": "HTTP/1.1", "apiId": "local", "domainName": "127.0.0.1",
            "identity": match identity {
                Some(i) => json!({"userArn": i.arn, "accessKey": i.access_key_id, "caller": sigv4::principal_id(&i.arn), "user": sigv4::principal_id(&i.arn), "sourceIp": "127.0.0.1"}),
                None => json!({"sourceIp": "127.0.0.1"}),
            },
        },
        "body": if body.is_empty() { Value::Null } else { json!(text.map(str::to_string).unwrap_or_else(|| crate::jira_standin::base64(body))) },
        "isBase64Encoded": !body.is_empty() && text.is_none(),
    })
}

/// A query-string component: `+` is a space, then `%XX` escapes.
fn decode(s: &str) -> String {
    sigv4::percent_decode(&s.replace('+', " "))
}

fn uuid_like() -> String {
    format!("local-{}", now_epoch())
}
