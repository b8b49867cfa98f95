//! Health routes: liveness, readiness (the table and the queue answer) and the version.

use super::App;
use super::envelope::{ApiError, ApiResponse};
use super::routes::Call;
use serde_json::json;

/// `GET /health`: the function runs.
pub(super) async fn live(_: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    Ok(ApiResponse::ok(200, json!({"status": "ok"}), call.meta()))
}

/// Whether the table and the queue answer. What went wrong is logged under the
/// correlation id; the answer only says which dependency is not ready.
pub(super) async fn ready(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    if let Err(e) = app.store.ready().await {
        tracing::error!(error = %e, "readiness: the table does not answer");
        return Err(ApiError::Unavailable(
            "not ready: the request table does not answer".into(),
        ));
    }
    if let Err(e) = app.queue.ready().await {
        tracing::error!(error = %e, "readiness: the task queue does not answer");
        return Err(ApiError::Unavailable(
            "not ready: the task queue does not answer".into(),
        ));
    }
    Ok(ApiResponse::ok(
        200,
        json!({"status": "ready"}),
        call.meta(),
    ))
}

/// `GET /version`: the deployed version and the API's.
pub(super) async fn version(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    Ok(ApiResponse::ok(
        200,
        json!({"version": app.settings.version, "api": "v1"}),
        call.meta(),
    ))
}
