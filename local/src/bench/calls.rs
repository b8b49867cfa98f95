//! AWS calls counted at the wire: an SDK interceptor on the DynamoDB and SQS clients that
//! counts each operation (`X-Amz-Target`), so a figure is counted, never estimated.

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Calls per operation, shared by every client it is installed on, and every DynamoDB
/// write's body as sent ([`super::units`] prices them).
#[derive(Debug, Clone, Default)]
pub struct Calls(Arc<Mutex<BTreeMap<String, u64>>>, Arc<Mutex<Vec<Sent>>>);

/// A DynamoDB write as it went over the wire.
#[derive(Debug, Clone)]
pub struct Sent {
    pub op: String,
    pub body: serde_json::Value,
    /// When it was sent, and when its answer came.
    pub sent: std::time::Instant,
    pub answered: Option<std::time::Instant>,
}

/// Which [`Sent`] a call in flight is (kept in the call's config bag between its hooks).
#[derive(Debug, Clone, Copy)]
struct WriteNo(usize);

impl aws_smithy_types::config_bag::Storable for WriteNo {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

/// The DynamoDB operations that write.
const WRITES: [&str; 5] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
];

impl Calls {
    /// The writes answered so far, from the `from`th on.
    pub fn writes(&self, from: usize) -> Vec<Sent> {
        self.1
            .lock()
            .map(|w| w.get(from..).map(<[Sent]>::to_vec).unwrap_or_default())
            .unwrap_or_default()
    }

    /// How many writes were answered so far.
    pub fn writes_so_far(&self) -> usize {
        self.1.lock().map(|w| w.len()).unwrap_or(0)
    }

    /// A snapshot of the counts.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Calls made since `before`, per operation.
    pub fn since(&self, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
        self.snapshot()
            .into_iter()
            .map(|(op, n)| {
                let was = before.get(&op).copied().unwrap_or(0);
                (op, n - was)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    pub fn dynamo(&self, sdk: &pao::aws::SdkConfig) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(sdk)
                .interceptor(self.clone())
                .build(),
        )
    }

    pub fn sqs(&self, sdk: &pao::aws::SdkConfig) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(sdk)
                .interceptor(self.clone())
                .build(),
        )
    }
}

/// The total of a count map.
pub fn total(counts: &BTreeMap<String, u64>) -> u64 {
    counts.values().sum()
}

/// `Op×n, Op×n` for the table.
pub fn describe(counts: &BTreeMap<String, u64>, per: f64) -> String {
    counts
        .iter()
        .map(|(op, n)| format!("{op} {:.2}", *n as f64 / per))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "call-counter"
    }

    fn read_after_transmit(
        &self,
        _: &aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if let (Some(WriteNo(i)), Ok(mut w)) = (cfg.load::<WriteNo>().copied(), self.1.lock()) {
            if let Some(sent) = w.get_mut(i) {
                sent.answered = Some(std::time::Instant::now());
            }
        }
        Ok(())
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let op = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown")
            .to_string();
        if WRITES.contains(&op.as_str()) {
            // Priced whether or not its condition holds: DynamoDB bills a refused write too.
            let body = context
                .request()
                .body()
                .bytes()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or_default();
            if let Ok(mut w) = self.1.lock() {
                cfg.interceptor_state().store_put(WriteNo(w.len()));
                w.push(Sent {
                    op: op.clone(),
                    body,
                    sent: std::time::Instant::now(),
                    answered: None,
                });
            }
        }
        if let Ok(mut m) = self.0.lock() {
            *m.entry(op).or_insert(0) += 1;
        }
        Ok(())
    }
}
