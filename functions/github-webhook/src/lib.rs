//! The webhook function's handler (GitHub's and JIRA's webhooks, both without IAM): the API
//! Gateway event's raw body (decoded when API Gateway hands it base64-encoded), headers and
//! query go to [`pao::webhook::Webhook`], by path, whose answer becomes the HTTP response.

use lambda_http::{Body, Request, RequestExt, Response};
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
    let answer = if event.uri().path().ends_with("/webhooks/jira") {
        let query: Vec<(String, String)> = event
            .query_string_parameters_ref()
            .map(|q| {
                q.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        webhook
            .handle_jira(&query, &headers, event.body().as_ref())
            .await
    } else {
        webhook.handle(&headers, event.body().as_ref()).await
    };
    api::respond(answer)
}
