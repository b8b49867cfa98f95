//! The AWS bill per million fulfilled requests, from what this run counted and measured:
//! calls per submission and per task (counted at the wire), DynamoDB units from the sizes of
//! the items this run wrote, Lambda time from the measured handler durations at 128 MB on
//! arm64. Prices are on-demand, us-east-1, as published on the date below.

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// When the prices below were read from aws.amazon.com/…/pricing.
pub const PRICES_AS_OF: &str = "2025-06";
/// Lambda, arm64: per GB-second, and per request.
pub const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
pub const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
/// API Gateway REST API, per request (first 333 million a month).
pub const APIGW_REST_REQUEST: f64 = 3.50 / 1e6;
/// DynamoDB on demand: per write request unit, per read request unit.
pub const DDB_WRU: f64 = 0.625 / 1e6;
pub const DDB_RRU: f64 = 0.125 / 1e6;
/// SQS FIFO, per request (each 64 KB of a request counts as one).
pub const SQS_FIFO_REQUEST: f64 = 0.50 / 1e6;
/// Memory the functions are priced at here.
pub const MEMORY_GB: f64 = 0.125;

/// DynamoDB's size of an item: attribute names plus values (numbers about one byte per two
/// digits, maps and lists three bytes plus their members), as the pricing pages describe.
pub fn item_bytes(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_bytes(v)).sum()
}

fn value_bytes(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + value_bytes(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::L(l) => 3 + l.iter().map(|v| value_bytes(v) + 1).sum::<usize>(),
        AttributeValue::Ss(s) => s.iter().map(String::len).sum(),
        AttributeValue::Ns(n) => n.iter().map(|x| x.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(b) => b.iter().map(|x| x.as_ref().len()).sum(),
        _ => 0,
    }
}

/// Write units of writing an item of `bytes` (1 KB each, doubled in a transaction).
pub fn wru(bytes: usize, transactional: bool) -> f64 {
    let units = bytes.div_ceil(1024).max(1) as f64;
    if transactional { 2.0 * units } else { units }
}

/// Read units of a strongly consistent read of `bytes` (4 KB each).
pub fn rru(bytes: usize) -> f64 {
    bytes.div_ceil(4096).max(1) as f64
}

/// The measured sizes of one two-task request's items.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sizes {
    pub request: usize,
    pub task: usize,
    pub idempotency: usize,
    /// The whole partition when the request has ended (what the last read sees).
    pub partition: usize,
}

/// Every item of the table with its size (what each write is priced by).
pub async fn item_sizes(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<HashMap<(String, String), usize>, super::fixture::Error> {
    let mut sizes = HashMap::new();
    let mut start = None;
    loop {
        let out = dynamo
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        for item in out.items() {
            let key = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
            if let (Some(pk), Some(sk)) = (key("pk"), key("sk")) {
                sizes.insert((pk, sk), item_bytes(item));
            }
        }
        start = out.last_evaluated_key;
        if start.is_none() {
            return Ok(sizes);
        }
    }
}

/// Read units of one two-task request: each task's worker reads the request's partition
/// once, strongly (at most its final size).
pub fn read_units(s: &Sizes, tasks: usize) -> f64 {
    tasks as f64 * rru(s.partition)
}

/// The bill for one request, by service.
#[derive(Debug, Clone, Copy, Default)]
pub struct Bill {
    pub api_gateway: f64,
    pub lambda: f64,
    pub dynamodb: f64,
    pub sqs: f64,
}

impl Bill {
    pub fn total(&self) -> f64 {
        self.api_gateway + self.lambda + self.dynamodb + self.sqs
    }

    /// `$x.xx (API Gateway $a, DynamoDB $b, SQS $c, Lambda $d)` per million.
    pub fn per_million(&self) -> String {
        format!(
            "${:.2} (API Gateway ${:.2}, DynamoDB ${:.2}, SQS ${:.2}, Lambda ${:.2})",
            self.total() * 1e6,
            self.api_gateway * 1e6,
            self.dynamodb * 1e6,
            self.sqs * 1e6,
            self.lambda * 1e6
        )
    }
}

/// What one two-task request costs: one API call, its Lambda time (the API's handler time
/// and each task's, billed per millisecond at [`MEMORY_GB`]; worker invocations shared by
/// their batch), its DynamoDB units and its SQS requests (per submission and per task, as
/// counted).
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub api_ms: f64,
    pub task_ms: f64,
    pub tasks: usize,
    pub worker_invocations_per_task: f64,
    pub sqs_per_submission: f64,
    pub sqs_per_task: f64,
    pub sizes: Sizes,
    /// Write units per request, measured ([`super::units`]).
    pub write_units: f64,
}

pub fn bill(u: &Usage) -> Bill {
    let gb_s = |ms: f64| MEMORY_GB * ms.ceil() / 1000.0 * LAMBDA_GB_SECOND;
    let lambda = LAMBDA_REQUEST * (1.0 + u.tasks as f64 * u.worker_invocations_per_task)
        + gb_s(u.api_ms)
        + u.tasks as f64 * gb_s(u.task_ms);
    let (w, r) = (u.write_units, read_units(&u.sizes, u.tasks));
    Bill {
        api_gateway: APIGW_REST_REQUEST,
        lambda,
        dynamodb: w * DDB_WRU + r * DDB_RRU,
        sqs: (u.sqs_per_submission + u.tasks as f64 * u.sqs_per_task) * SQS_FIFO_REQUEST,
    }
}

/// Item sizes of one finished two-task request, from the table.
pub async fn sizes_of(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    id: &pao::record::RequestId,
) -> Result<Sizes, super::fixture::Error> {
    let out = dynamo
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("REQ#{id}")),
        )
        .send()
        .await?;
    let mut s = Sizes::default();
    for item in out.items() {
        let bytes = item_bytes(item);
        s.partition += bytes;
        match item
            .get("itemType")
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
        {
            Some("request") => s.request = bytes,
            Some("task") => s.task = s.task.max(bytes),
            _ => {}
        }
    }
    let keys = dynamo
        .scan()
        .table_name(table)
        .filter_expression("itemType = :t")
        .expression_attribute_values(
            ":t",
            aws_sdk_dynamodb::types::AttributeValue::S("idempotency".into()),
        )
        .limit(200)
        .send()
        .await?;
    s.idempotency = keys.items().iter().map(item_bytes).max().unwrap_or(0);
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_item_sizes() {
        assert_eq!(wru(100, false), 1.0);
        assert_eq!(wru(1025, true), 4.0);
        assert_eq!(rru(4097), 2.0);
        let item = HashMap::from([
            ("pk".to_string(), AttributeValue::S("REQ#1".into())),
            ("n".to_string(), AttributeValue::N("12345".into())),
        ]);
        assert_eq!(item_bytes(&item), 2 + 5 + 1 + 4);
    }

    #[test]
    fn a_bill_adds_up_its_services() {
        let sizes = Sizes {
            request: 900,
            task: 900,
            idempotency: 300,
            partition: 5000,
        };
        let b = bill(&Usage {
            api_ms: 20.0,
            task_ms: 30.0,
            tasks: 2,
            worker_invocations_per_task: 1.0,
            sqs_per_submission: 1.0,
            sqs_per_task: 1.5,
            sizes,
            write_units: 20.0,
        });
        assert!((b.api_gateway - 3.5e-6).abs() < 1e-12);
        assert!((b.sqs - 4.0 * 0.5e-6).abs() < 1e-12);
        assert!(b.total() > b.dynamodb && b.dynamodb > 0.0);
    }
}
