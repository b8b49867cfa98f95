//! The DynamoDB Stream event Lambda's event source mapping hands a function (and the local
//! runner builds the same way), and its answer: the partial batch response that names the
//! first record not handled, from which the mapping retries in order.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A batch of stream records, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    pub records: Vec<StreamRecord>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventID", default)]
    pub event_id: String,
    /// `INSERT`, `MODIFY` or `REMOVE`.
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    #[serde(
        rename = "eventSourceARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub event_source_arn: Option<String>,
    #[serde(default)]
    pub dynamodb: StreamData,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamData {
    /// Epoch seconds (Lambda sends a number; some emulators a date string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_creation_date_time: Option<Value>,
    #[serde(default)]
    pub keys: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_image: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_image: Option<Map<String, Value>>,
    #[serde(default)]
    pub sequence_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_view_type: Option<String>,
}

/// The partial batch response (`FunctionResponseTypes: [ReportBatchItemFailures]`): the
/// mapping retries from the lowest sequence number named.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

impl StreamResponse {
    /// Everything from `sequence` on is to come again.
    pub fn retry_from(sequence: &str) -> Self {
        Self {
            batch_item_failures: vec![ItemFailure {
                item_identifier: sequence.to_string(),
            }],
        }
    }
}

impl StreamRecord {
    /// When the change was committed, RFC 3339 (now, when the record does not say).
    pub fn committed_at(&self) -> String {
        match &self.dynamodb.approximate_creation_date_time {
            Some(Value::Number(n)) => n
                .as_f64()
                .map(|s| crate::clock::rfc3339(s as u64))
                .unwrap_or_else(crate::clock::now_rfc3339),
            Some(Value::String(s)) if crate::clock::epoch_of(s).is_some() => {
                crate::clock::rfc3339(crate::clock::epoch_of(s).unwrap_or_default())
            }
            _ => crate::clock::now_rfc3339(),
        }
    }
}

/// An image in DynamoDB's JSON (`{"S": "…"}`, `{"M": {…}}`) as plain JSON, the way the store
/// reads an item ([`crate::store::from_attr`]): numbers stay numbers, sets become lists.
pub fn image(attributes: &Map<String, Value>) -> Value {
    Value::Object(
        attributes
            .iter()
            .map(|(k, v)| (k.clone(), plain(v)))
            .collect(),
    )
}

fn plain(v: &Value) -> Value {
    let Some((kind, inner)) = v.as_object().and_then(|m| m.iter().next()) else {
        return Value::Null;
    };
    match (kind.as_str(), inner) {
        ("S", Value::String(s)) => Value::String(s.clone()),
        ("N", Value::String(n)) => n
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| {
                n.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or(Value::Null),
        ("BOOL", Value::Bool(b)) => Value::Bool(*b),
        ("M", Value::Object(m)) => image(m),
        ("L", Value::Array(items)) => Value::Array(items.iter().map(plain).collect()),
        ("SS", Value::Array(items)) => Value::Array(items.clone()),
        ("NS", Value::Array(items)) => Value::Array(
            items
                .iter()
                .map(|n| plain(&serde_json::json!({ "N": n })))
                .collect(),
        ),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn images_read_as_the_store_reads_items() {
        let attrs = json!({
            "pk": {"S": "REQ#r1"}, "n": {"N": "3"}, "f": {"N": "1.5"}, "ok": {"BOOL": true},
            "gone": {"NULL": true}, "m": {"M": {"a": {"L": [{"S": "x"}, {"N": "2"}]}}},
            "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}
        });
        let v = image(attrs.as_object().expect("object"));
        assert_eq!(
            v,
            json!({"pk": "REQ#r1", "n": 3, "f": 1.5, "ok": true, "gone": null,
                   "m": {"a": ["x", 2]}, "ss": ["a", "b"], "ns": [1, 2]})
        );
    }

    #[test]
    fn lambdas_stream_event_parses_and_the_answer_names_where_to_retry() {
        let event: StreamEvent =
            serde_json::from_str(include_str!("../../../events/dynamodb-stream-batch.json"))
                .expect("the sample event parses");
        assert_eq!(event.records.len(), 2);
        assert_eq!(event.records[0].event_name, "INSERT");
        assert_eq!(event.records[1].committed_at(), "2026-12-07T09:30:02Z");
        let answer = serde_json::to_value(StreamResponse::retry_from("200")).expect("json");
        assert_eq!(
            answer,
            json!({"batchItemFailures": [{"itemIdentifier": "200"}]})
        );
    }
}
