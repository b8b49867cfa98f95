//! The DynamoDB Stream event source mapping, emulated for the local stack, the tests and the
//! benchmark as Lambda runs it for the events function: read a shard in order (signed as the
//! function's role, which is what reads the stream in AWS), drop what the mapping's filter
//! does not let through, hand a batch to the function's own handler, and on a partial batch
//! response retry from the record it names; after the last retry describe the batch in the
//! events dead-letter queue (as the mapping's on-failure destination) and go on after it.

use crate::provision::StreamMapping;
use pao::aws_json::AwsJson;
use pao::events::stream::{StreamEvent, StreamRecord};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How long one invocation may run (the events function's timeout in template.yaml).
const INVOCATION: Duration = Duration::from_secs(60);

struct Shard {
    id: String,
    /// Where the next read starts.
    iterator: Option<String>,
    /// Failed invocations of the batch starting where `iterator` points.
    attempts: u32,
    /// After a failure: not before then (Lambda backs off between retries).
    retry_at: Option<Instant>,
}

/// One stream, followed.
pub struct StreamPoller {
    streams: AwsJson,
    sqs: aws_sdk_sqs::Client,
    dlq_url: String,
    stream_arn: String,
    mapping: StreamMapping,
    shards: Vec<Shard>,
}

impl StreamPoller {
    /// Follows `table`'s stream from its horizon. `sdk` signs as the events function.
    pub async fn new(
        sdk: &pao::aws::SdkConfig,
        table: &str,
        dlq_url: &str,
        mapping: StreamMapping,
    ) -> Result<Self, String> {
        let streams = AwsJson::new(
            sdk,
            ("dynamodb", "DYNAMODB_STREAMS", "streams.dynamodb"),
            Duration::from_secs(10),
        );
        // The table's latest stream, as the mapping is given it (`PaoTable.StreamArn`).
        let stream_arn = call(&streams, "ListStreams", json!({"TableName": table}))
            .await?
            .get("Streams")
            .and_then(Value::as_array)
            .and_then(|s| s.last())
            .and_then(|s| s.get("StreamArn"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("table {table} has no stream"))?
            .to_string();
        let mut poller = Self {
            streams,
            sqs: aws_sdk_sqs::Client::new(sdk),
            dlq_url: dlq_url.to_string(),
            stream_arn,
            mapping,
            shards: Vec::new(),
        };
        let described = call(
            &poller.streams,
            "DescribeStream",
            json!({"StreamArn": poller.stream_arn}),
        )
        .await?;
        for s in described
            .pointer("/StreamDescription/Shards")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let id = s
                .get("ShardId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let iterator = poller.iterator(&id, "TRIM_HORIZON", None).await?;
            poller.shards.push(Shard {
                id,
                iterator: Some(iterator),
                attempts: 0,
                retry_at: None,
            });
        }
        Ok(poller)
    }

    async fn iterator(
        &self,
        shard: &str,
        kind: &str,
        sequence: Option<&str>,
    ) -> Result<String, String> {
        let mut body =
            json!({"StreamArn": self.stream_arn, "ShardId": shard, "ShardIteratorType": kind});
        if let Some(s) = sequence {
            body["SequenceNumber"] = json!(s);
        }
        call(&self.streams, "GetShardIterator", body)
            .await?
            .get("ShardIterator")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| "GetShardIterator gave no iterator".to_string())
    }

    /// One read of every shard, each batch handed to the events function: how many records
    /// were handed over.
    pub async fn poll_once(&mut self, handler: &events::Handler) -> Result<usize, String> {
        let mut handed = 0;
        for i in 0..self.shards.len() {
            handed += self.poll_shard(i, handler).await?;
        }
        Ok(handed)
    }

    /// One read of every shard, the records as the stream gives them (the benchmark's floor:
    /// a record read, nothing done with it).
    pub async fn read_once(&mut self) -> Result<Vec<Value>, String> {
        let mut out = Vec::new();
        for i in 0..self.shards.len() {
            let Some(iterator) = self.shards[i].iterator.clone() else {
                continue;
            };
            let answer = call(
                &self.streams,
                "GetRecords",
                json!({"ShardIterator": iterator, "Limit": self.mapping.batch_size}),
            )
            .await?;
            out.extend(
                answer
                    .get("Records")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
            );
            self.shards[i].iterator = answer
                .get("NextShardIterator")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        Ok(out)
    }

    async fn poll_shard(&mut self, i: usize, handler: &events::Handler) -> Result<usize, String> {
        let Some(iterator) = self.shards[i].iterator.clone() else {
            return Ok(0);
        };
        if self.shards[i]
            .retry_at
            .is_some_and(|at| Instant::now() < at)
        {
            return Ok(0);
        }
        let answer = call(
            &self.streams,
            "GetRecords",
            json!({"ShardIterator": iterator, "Limit": self.mapping.batch_size}),
        )
        .await?;
        let read: Vec<Value> = answer
            .get("Records")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let next = answer
            .get("NextShardIterator")
            .and_then(Value::as_str)
            .map(str::to_string);
        let Some(last) = read.last().map(sequence_of) else {
            self.shards[i].iterator = next;
            return Ok(0);
        };
        let records: Vec<StreamRecord> = read
            .iter()
            .filter(|r| {
                r.pointer("/dynamodb/Keys")
                    .and_then(Value::as_object)
                    .is_some_and(|k| self.mapping.admits(k))
            })
            .filter_map(|r| lambda_record(r, &self.stream_arn))
            .collect();
        if records.is_empty() {
            self.shards[i].iterator = next;
            return Ok(0);
        }
        let batch = StreamEvent { records };
        let response =
            events::handle_batch(handler, &batch, Some(Instant::now() + INVOCATION)).await;
        let shard_id = self.shards[i].id.clone();
        let Some(failed) = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .min_by(|a, b| cmp_sequence(a, b))
        else {
            self.shards[i].iterator = next;
            self.shards[i].attempts = 0;
            self.shards[i].retry_at = None;
            return Ok(batch.records.len());
        };
        let shard = &mut self.shards[i];
        shard.attempts += 1;
        if shard.attempts > self.mapping.max_retries {
            // Retries exhausted: the batch is described on the on-failure destination and
            // the mapping goes on after it.
            let info = json!({
                "requestContext": {"condition": "RetryAttemptsExhausted",
                                   "approximateInvokeCount": shard.attempts},
                "DDBStreamBatchInfo": {"shardId": shard_id, "startSequenceNumber": failed,
                    "endSequenceNumber": last, "batchSize": batch.records.len(),
                    "streamArn": self.stream_arn},
            });
            shard.attempts = 0;
            self.sqs
                .send_message()
                .queue_url(&self.dlq_url)
                .message_body(info.to_string())
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
            tracing::error!(shard = %shard_id, from = %failed, to = %last, "stream batch given up after its retries; described in the events dead-letter queue");
            let after = self
                .iterator(&shard_id, "AFTER_SEQUENCE_NUMBER", Some(&last))
                .await?;
            self.shards[i].iterator = Some(after);
            self.shards[i].retry_at = None;
        } else {
            let at = self
                .iterator(&shard_id, "AT_SEQUENCE_NUMBER", Some(&failed))
                .await?;
            let backoff = Duration::from_millis(100 << self.shards[i].attempts.min(6));
            self.shards[i].iterator = Some(at);
            self.shards[i].retry_at = Some(Instant::now() + backoff);
        }
        Ok(batch.records.len())
    }
}

fn sequence_of(r: &Value) -> String {
    r.pointer("/dynamodb/SequenceNumber")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Sequence numbers are decimal strings of any length.
fn cmp_sequence(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// A record as Lambda hands it over (what the stream gives, and the stream's ARN).
fn lambda_record(r: &Value, stream_arn: &str) -> Option<StreamRecord> {
    let mut r = r.clone();
    r["eventSourceARN"] = json!(stream_arn);
    r["eventVersion"] = json!("1.1");
    serde_json::from_value(r).ok()
}

async fn call(api: &AwsJson, operation: &str, body: Value) -> Result<Value, String> {
    api.target(
        &format!("DynamoDBStreams_20120810.{operation}"),
        "application/x-amz-json-1.0",
        &body,
    )
    .await
    .map_err(|e| format!("DynamoDB Streams {operation}: {e}"))
}

/// How long the mapping waits before reading an idle shard again.
pub const IDLE_POLL: Duration = Duration::from_millis(50);

/// What the mapping does all the time: poll, and when nothing came, look again shortly.
pub async fn follow(mut poller: StreamPoller, handler: std::sync::Arc<events::Handler>) {
    loop {
        match poller.poll_once(&handler).await {
            Ok(0) => tokio::time::sleep(IDLE_POLL).await,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "reading the table's stream");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Every record on `table`'s stream so far, as one batch in the shape Lambda hands over
/// (tests redeliver it to the events function as the mapping would after a crash).
pub async fn read_all(sdk: &pao::aws::SdkConfig, table: &str) -> Result<StreamEvent, String> {
    let mapping = StreamMapping {
        batch_size: 1000,
        max_retries: 0,
        pk_filters: Vec::new(),
    };
    let poller = StreamPoller::new(sdk, table, "", mapping).await?;
    let mut records = Vec::new();
    for shard in &poller.shards {
        let mut iterator = shard.iterator.clone();
        while let Some(it) = iterator {
            let answer = call(
                &poller.streams,
                "GetRecords",
                json!({"ShardIterator": it, "Limit": 1000}),
            )
            .await?;
            let read = answer
                .get("Records")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if read.is_empty() {
                break;
            }
            records.extend(
                read.iter()
                    .filter_map(|r| lambda_record(r, &poller.stream_arn)),
            );
            iterator = answer
                .get("NextShardIterator")
                .and_then(Value::as_str)
                .map(str::to_string);
        }
    }
    Ok(StreamEvent { records })
}
