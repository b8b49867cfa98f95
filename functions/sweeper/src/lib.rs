//! The sweeper function's handler: one scheduled run re-sends tasks written but never sent and
//! marks tasks stuck (see `pao::sweeper`); it answers with what it did.

use lambda_runtime::LambdaEvent;
use pao::sweeper::Sweeper;
use serde_json::Value;
use tracing::Instrument;

/// What Lambda (and the local runner) calls on every scheduled event.
pub async fn handle(
    sweeper: &Sweeper,
    event: LambdaEvent<Value>,
) -> Result<Value, lambda_runtime::Error> {
    let id = event
        .payload
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    // Every log line of the run carries the scheduled event's id.
    let span = tracing::info_span!("sweep", correlation_id = %id);
    let report = sweeper
        .sweep(pao::clock::now_epoch())
        .instrument(span)
        .await?;
    Ok(serde_json::to_value(report)?)
}
