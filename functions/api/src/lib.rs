//! The API function's handler: an API Gateway REST API (v1) event becomes a [`pao::api::ApiRequest`]
//! with the IAM caller from the request context, and the answer becomes the HTTP response.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use pao::api::envelope::ApiResponse;
use pao::api::live::{SocketEvent, SocketKind};
use pao::api::{ApiRequest, App};

/// What Lambda (and the local runner) calls for every API event: the REST API's, and the
/// WebSocket API's routes (`$connect`, `$default`, `$disconnect`).
pub async fn handle(app: &App, event: Request) -> Result<Response<Body>, lambda_http::Error> {
    if let Some(socket) = to_socket_event(&event) {
        let reply = app.socket(&socket).await;
        let body = reply.message.map(|m| m.to_string()).unwrap_or_default();
        return Ok(Response::builder()
            .status(reply.status)
            .body(Body::Text(body))?);
    }
    let request = to_api_request(&event);
    respond(app.handle(&request).await)
}

/// A WebSocket route's event, if this is one.
pub fn to_socket_event(event: &Request) -> Option<SocketEvent> {
    let Some(RequestContext::WebSocket(ctx)) = event.request_context_ref() else {
        return None;
    };
    let kind = match ctx.event_type.as_deref() {
        Some("CONNECT") => SocketKind::Connect,
        Some("DISCONNECT") => SocketKind::Disconnect,
        _ => SocketKind::Message,
    };
    Some(SocketEvent {
        kind,
        connection_id: ctx.connection_id.clone().unwrap_or_default(),
        caller_arn: ctx.identity.user_arn.clone(),
        caller_id: ctx.identity.caller.clone(),
        home_account: ctx.account_id.clone(),
        body: event.body().to_vec(),
    })
}

/// An answer as the HTTP response Lambda returns.
pub fn respond(answer: ApiResponse) -> Result<Response<Body>, lambda_http::Error> {
    let mut response = Response::builder().status(answer.status);
    for (k, v) in &answer.headers {
        response = response.header(k, v);
    }
    Ok(response.body(Body::Text(answer.body.to_string()))?)
}

/// The transport-free view of an API Gateway event.
pub fn to_api_request(event: &Request) -> ApiRequest {
    let (stage, caller_arn, caller_id, request_id, home_account) = match event.request_context_ref()
    {
        Some(RequestContext::ApiGatewayV1(ctx)) => (
            ctx.stage.clone(),
            ctx.identity.user_arn.clone(),
            ctx.identity.caller.clone(),
            ctx.request_id.clone(),
            ctx.account_id.clone(),
        ),
        _ => (None, None, None, None, None),
    };
    let mut path = event.uri().path().to_string();
    // Without AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH the stage leads the path (`/Prod/api/v1/...`).
    if let Some(stage) = stage.filter(|s| !s.is_empty()) {
        if let Some(rest) = path.strip_prefix(&format!("/{stage}/")) {
            path = format!("/{rest}");
        }
    }
    let query = event.query_string_parameters();
    ApiRequest {
        method: event.method().as_str().to_string(),
        path,
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        headers: event
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    k.as_str().to_ascii_lowercase(),
                    v.to_str().ok()?.to_string(),
                ))
            })
            .collect(),
        body: event.body().as_ref().to_vec(),
        caller_arn,
        caller_id,
        request_id,
        home_account,
    }
}
