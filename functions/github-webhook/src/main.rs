//! PAO `github-webhook` Lambda function: catalog sync from GitHub pushes.
//!
//! Catalog sync is not implemented yet. Until it is, every delivery is answered
//! `501 NOT_IMPLEMENTED` in the API's error envelope (GitHub shows it on the webhook's
//! deliveries page) and nothing changes: no catalog update without a verified signature.

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    pao::logging::init();
    lambda_http::run(service_fn(|_event: Request| async {
        let correlation_id = format!("gh-{}", pao::clock::now_rfc3339());
        tracing::warn!(correlation_id = %correlation_id, "GitHub delivery ignored: catalog sync is not implemented yet");
        let body = serde_json::json!({"error": {"code": "NOT_IMPLEMENTED", "message": "catalog sync from GitHub is not implemented yet",
                                                "details": [], "correlation_id": correlation_id}});
        Response::builder()
            .status(501)
            .header("Content-Type", "application/json")
            .header("X-Correlation-Id", correlation_id)
            .body(Body::Text(body.to_string()))
            .map_err(Error::from)
    }))
    .await
}
