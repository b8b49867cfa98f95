//! JSON ↔ DynamoDB attribute mapping: records are serde types, stored attribute for attribute
//! (numbers stay numbers, maps stay maps), so an item reads like the JSON the API shows.

use super::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// TTL is applied late (and never by moto): expired items are filtered on read.
pub(crate) fn is_expired(item: &Item, now_epoch: u64) -> bool {
    item.get("expiresAt")
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<u64>().ok())
        .is_some_and(|at| at <= now_epoch)
}

pub(crate) fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    match serde_json::to_value(value).map_err(|e| StoreError::Malformed(e.to_string()))? {
        Value::Object(map) => Ok(map.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect()),
        _ => Err(StoreError::Malformed("not an object".into())),
    }
}

pub(crate) fn from_item<T: serde::de::DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    let map: Map<String, Value> = item
        .iter()
        .map(|(k, v)| (k.clone(), from_attr(v)))
        .collect();
    serde_json::from_value(Value::Object(map)).map_err(|e| StoreError::Malformed(e.to_string()))
}

/// An item's size as DynamoDB counts it (names and values in UTF-8; a number counted as its
/// text, which is never less than DynamoDB's count).
pub(crate) fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + attr_size(v)).sum()
}

fn attr_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(items) => 3 + items.iter().map(|i| 1 + attr_size(i)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + attr_size(v))
                .sum::<usize>()
        }
        AttributeValue::Ss(v) | AttributeValue::Ns(v) => v.iter().map(String::len).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

/// JSON → DynamoDB attribute (numbers stay numbers, maps stay maps).
pub fn to_attr(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attr).collect()),
        Value::Object(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
        }
    }
}

/// DynamoDB attribute → JSON.
pub fn from_attr(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(n) => n
            .parse::<i64>()
            .map(Value::from)
            .ok()
            .or_else(|| {
                n.parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or(Value::Null),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::L(items) => Value::Array(items.iter().map(from_attr).collect()),
        AttributeValue::M(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), from_attr(v))).collect())
        }
        AttributeValue::Ss(items) => {
            Value::Array(items.iter().cloned().map(Value::String).collect())
        }
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attributes_round_trip() {
        let v = json!({"a": [1, 2.5, "x", null, true], "m": {"k": "v"}, "e": ""});
        assert_eq!(from_attr(&to_attr(&v)), v);
    }
}
