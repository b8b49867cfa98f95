//! The floor: what a submission and a detail read cannot do without, timed on the same
//! endpoint in the same run. A submission's floor is one TransactWriteItems of the request
//! and its tasks (the very items PAO writes, so the same sizes) and one FIFO SendMessage; a
//! detail read's is one strongly consistent Query of the request's partition.

use super::Spread;
use aws_sdk_dynamodb::types::TransactWriteItem;
use pao::queue::{Queue, TaskMessage};
use pao::store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One submission's bare work: its transaction and its first task's message.
pub struct Bare {
    pub writes: Vec<TransactWriteItem>,
    pub message: TaskMessage,
}

/// Runs `work` for every sample, `concurrency` at a time; the latency of each.
pub async fn timed<T, F, Fut>(samples: Vec<T>, concurrency: usize, work: F) -> Vec<Duration>
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let queue = Arc::new(tokio::sync::Mutex::new(samples.into_iter()));
    let work = Arc::new(work);
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (queue, work) = (queue.clone(), work.clone());
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            loop {
                let Some(sample) = queue.lock().await.next() else {
                    break;
                };
                let t = Instant::now();
                work(sample).await;
                times.push(t.elapsed());
            }
            times
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        if let Ok(times) = w.await {
            all.extend(times);
        }
    }
    all
}

/// The submission floor at `concurrency`.
pub async fn submissions(
    store: &Store,
    queue: &Queue,
    bare: Vec<Bare>,
    concurrency: usize,
) -> Spread {
    let (store, queue) = (store.clone(), queue.clone());
    Spread::of(
        timed(bare, concurrency, move |b: Bare| {
            let (store, queue) = (store.clone(), queue.clone());
            async move {
                if let Err(e) = store.transact_raw(b.writes).await {
                    panic!("floor transaction: {e}");
                }
                if let Err(e) = queue.enqueue(&b.message).await {
                    panic!("floor send: {e}");
                }
            }
        })
        .await,
    )
}

/// Transactions alone (to weigh what a few more items in them cost).
pub async fn transactions(store: &Store, writes: Vec<Vec<TransactWriteItem>>) -> Spread {
    let store = store.clone();
    Spread::of(
        timed(writes, 1, move |w: Vec<TransactWriteItem>| {
            let store = store.clone();
            async move {
                if let Err(e) = store.transact_raw(w).await {
                    panic!("floor transaction: {e}");
                }
            }
        })
        .await,
    )
}

/// The detail-read floor: one strongly consistent Query of each partition.
pub async fn reads(store: &Store, ids: Vec<pao::record::RequestId>, concurrency: usize) -> Spread {
    let store = store.clone();
    Spread::of(
        timed(ids, concurrency, move |id: pao::record::RequestId| {
            let store = store.clone();
            async move {
                if let Err(e) = store.partition_raw(&id).await {
                    panic!("floor read: {e}");
                }
            }
        })
        .await,
    )
}

/// The floor of the hop between two tasks: from the answer to a conditional write (the first
/// task's end), a FIFO send, the receive that gets it, and the next conditional write (the
/// second task's claim) to its answer; `n` times, one message group each, on `table` and
/// `queue`.
pub async fn hops(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    queue: &Queue,
    n: usize,
) -> Result<Spread, super::fixture::Error> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let write = |i: usize, sk: &'static str| {
        dynamo
            .update_item()
            .table_name(table)
            .key("pk", AttributeValue::S(format!("HOP#{i}")))
            .key("sk", AttributeValue::S(sk.into()))
            .update_expression("SET v = :v")
            .condition_expression("attribute_not_exists(v)")
            .expression_attribute_values(":v", AttributeValue::N(i.to_string()))
            .send()
    };
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        write(i, "end").await?;
        let started = Instant::now();
        queue
            .enqueue(&TaskMessage {
                request_id: pao::record::RequestId(format!("req-hop-{i}")),
                seq: 1,
                attempt: 1,
                correlation_id: "hop".into(),
            })
            .await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while queue.receive(1).await?.is_empty() {
            if Instant::now() > deadline {
                return Err("the floor's hop message never came".into());
            }
        }
        write(i, "claim").await?;
        samples.push(started.elapsed());
    }
    Ok(Spread::of(samples))
}
