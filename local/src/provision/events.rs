//! The stack's event bus (`EventBus`) and the events dead-letter queue
//! (`EventsDeadLetterQueue`), as template.yaml declares them.

use super::{ProvisionError, SamTemplate, aws_sqs, queue_attributes};
use pao::aws_json::AwsJson;
use std::time::Duration;

fn eventbridge(sdk: &pao::aws::SdkConfig) -> AwsJson {
    AwsJson::new(
        sdk,
        ("events", "EVENTBRIDGE", "events"),
        Duration::from_secs(10),
    )
}

/// One EventBridge operation (`CreateEventBus`, `PutRule`, …) with its JSON body.
pub async fn eventbridge_call(
    sdk: &pao::aws::SdkConfig,
    operation: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, ProvisionError> {
    eventbridge(sdk)
        .target(
            &format!("AWSEvents.{operation}"),
            "application/x-amz-json-1.1",
            &body,
        )
        .await
        .map_err(|e| ProvisionError::Aws(format!("EventBridge {operation}: {e}")))
}

/// The bus `name`, unless it exists.
pub async fn create_event_bus(sdk: &pao::aws::SdkConfig, name: &str) -> Result<(), ProvisionError> {
    let exists = eventbridge_call(sdk, "DescribeEventBus", serde_json::json!({"Name": name}))
        .await
        .is_ok();
    if !exists {
        eventbridge_call(sdk, "CreateEventBus", serde_json::json!({"Name": name})).await?;
    }
    Ok(())
}

pub async fn delete_event_bus(sdk: &pao::aws::SdkConfig, name: &str) {
    let _ = eventbridge_call(sdk, "DeleteEventBus", serde_json::json!({"Name": name})).await;
}

/// The events dead-letter queue under `name`: its URL.
pub async fn create_events_dlq(
    client: &aws_sdk_sqs::Client,
    template: &SamTemplate,
    name: &str,
) -> Result<String, ProvisionError> {
    let id = "EventsDeadLetterQueue";
    let props = template.properties(id)?;
    client
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(queue_attributes(template, props, id)?))
        .send()
        .await
        .map_err(aws_sqs)?
        .queue_url
        .ok_or_else(|| ProvisionError::Aws(format!("{id}: no queue URL returned")))
}

/// How template.yaml's stream event source mapping (`EventsFunction`'s `Stream` event)
/// hands records over: batch size, retries, and which partition keys its filter lets through.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamMapping {
    pub batch_size: usize,
    pub max_retries: u32,
    /// `pk` values let through: exact, or by prefix (empty: every record).
    pub pk_filters: Vec<PkFilter>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PkFilter {
    Exact(String),
    Prefix(String),
}

impl StreamMapping {
    /// Whether the filter lets a record with these keys (DynamoDB JSON) through.
    pub fn admits(&self, keys: &serde_json::Map<String, serde_json::Value>) -> bool {
        let pk = keys
            .get("pk")
            .and_then(|v| v.get("S"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        self.pk_filters.is_empty()
            || self.pk_filters.iter().any(|f| match f {
                PkFilter::Exact(v) => pk == v,
                PkFilter::Prefix(p) => pk.starts_with(p.as_str()),
            })
    }
}

impl SamTemplate {
    /// The events function's stream mapping as declared.
    pub fn stream_mapping(&self) -> Result<StreamMapping, ProvisionError> {
        let id = "EventsFunction";
        let p = self.properties(id)?;
        let stream = p
            .pointer("/Events/Stream/Properties")
            .ok_or_else(|| super::bad(id, "no Events.Stream"))?;
        let number = |k: &str, default: u64| {
            stream
                .get(k)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(default)
        };
        let mut pk_filters = Vec::new();
        for f in stream
            .pointer("/FilterCriteria/Filters")
            .and_then(serde_json::Value::as_array)
            .into_iter()
            .flatten()
        {
            let pattern: serde_json::Value = f
                .get("Pattern")
                .and_then(serde_json::Value::as_str)
                .and_then(|p| serde_json::from_str(p).ok())
                .ok_or_else(|| super::bad(id, "a filter's Pattern is not JSON"))?;
            for v in pattern
                .pointer("/dynamodb/Keys/pk/S")
                .and_then(serde_json::Value::as_array)
                .ok_or_else(|| {
                    super::bad(
                        id,
                        "the local stack reads filters on dynamodb.Keys.pk.S only",
                    )
                })?
            {
                match (
                    v.as_str(),
                    v.get("prefix").and_then(serde_json::Value::as_str),
                ) {
                    (Some(exact), _) => pk_filters.push(PkFilter::Exact(exact.into())),
                    (None, Some(prefix)) => pk_filters.push(PkFilter::Prefix(prefix.into())),
                    _ => return Err(super::bad(id, format!("unsupported filter value {v}"))),
                }
            }
        }
        Ok(StreamMapping {
            batch_size: usize::try_from(number("BatchSize", 100)).unwrap_or(100),
            max_retries: u32::try_from(number("MaximumRetryAttempts", 10)).unwrap_or(10),
            pk_filters,
        })
    }
}

/// Makes `address` a verified SES identity (SES sends from verified identities only).
pub async fn verify_sender(sdk: &pao::aws::SdkConfig, address: &str) -> Result<(), ProvisionError> {
    let ses = AwsJson::new(sdk, ("ses", "SESV2", "email"), Duration::from_secs(10));
    match ses
        .post(
            "/v2/email/identities",
            &serde_json::json!({"EmailIdentity": address}),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(pao::aws_json::AwsJsonError::Refused { kind, .. })
            if kind.contains("AlreadyExists") =>
        {
            Ok(())
        }
        Err(e) => Err(ProvisionError::Aws(format!("SES identity {address}: {e}"))),
    }
}
