//! The GitHub webhook function's handler: the API Gateway event's raw body (decoded when API
//! Gateway hands it base64-encoded) and headers go to [`pao::webhook::Webhook`], whose answer
//! becomes the HTTP response.

use lambda_http::{Body, Request, Response};
use pao::webhook::Webhook;

/// What Lambda (and the local runner) calls for every delivery.
pub async fn handle(
    webhook: &Webhook,
    event: Request,
) -> Result<Response<Body>, lambda_http::Error> {
    let headers: Vec<(String, String)> = event
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    // lambda_http has already decoded an `isBase64Encoded` body: these are the signed bytes.
    let answer = webhook.handle(&headers, event.body().as_ref()).await;
    api::respond(answer)
}
