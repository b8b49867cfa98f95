//! PAO `sweeper` Lambda function, fired by an EventBridge schedule.
//!
//! The stuck-task checks are not implemented yet. Until they are, each run logs that it
//! checked nothing and succeeds, so the schedule does not raise error alarms.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    pao::logging::init();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let id = event
            .payload
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        tracing::warn!(event_id = %id, "sweeper ran: stuck-task checks are not implemented yet");
        Ok::<Value, Error>(serde_json::json!({"checked": 0, "implemented": false}))
    }))
    .await
}
