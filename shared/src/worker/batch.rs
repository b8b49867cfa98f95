//! A FIFO batch as the event source mapping hands it over: records in order, a failure
//! holding back only the later records of its own message group, and records handed back
//! unstarted when the invocation's time runs short.

use super::{DEADLINE_MARGIN, Outcome, Record, Worker};
use crate::queue::TaskMessage;
use std::collections::HashSet;
use std::time::Instant;
use tracing::Instrument;

impl Worker {
    /// Processes a FIFO batch in order and returns the ids of the records to hand back.
    ///
    /// A record that fails holds back the later records of its own message group (order is
    /// per group), not other requests'. A record whose task needs more time than the
    /// invocation has left (its own action timeout plus a margin, decided once the task is
    /// read) is handed back unstarted with the rest of the batch, rather than cut off
    /// mid-action, and made visible again at once. Only a record that would really run is
    /// handed back: a duplicate, a finished task or one that is skipped is settled whatever
    /// the time left, so it does not spend a receive (each hand-back counts towards the
    /// queue's maxReceiveCount).
    pub async fn process_batch(
        &self,
        records: &[Record],
        deadline: Option<Instant>,
    ) -> Vec<String> {
        let mut failed = Vec::new();
        let mut held: HashSet<&str> = HashSet::new();
        for (i, record) in records.iter().enumerate() {
            if record.group_id.as_deref().is_some_and(|g| held.contains(g)) {
                failed.push(record.message_id.clone());
                continue;
            }
            if let Some(deadline) = deadline {
                // Not even the time to read a task and write what became of it.
                if deadline.saturating_duration_since(Instant::now()) < DEADLINE_MARGIN {
                    return self.hand_back(records, i, failed, &held).await;
                }
            }
            let result = match TaskMessage::parse(&record.body) {
                // A body that is not ours can never succeed: acknowledge it, loudly.
                Err(e) => {
                    tracing::error!(message_id = %record.message_id, error = %e, "dropping malformed message");
                    continue;
                }
                Ok(message) => {
                    // Every log line of this task carries the request's correlation id.
                    let span = tracing::info_span!(
                        "task",
                        correlation_id = %message.correlation_id,
                        request_id = %message.request_id,
                        seq = message.seq
                    );
                    // The last record holds up no other group: its request's next task runs
                    // here too ([`Worker::follow`]).
                    let last = i + 1 == records.len() && self.settings.follow_next_task;
                    let mut next = None;
                    let slot = last.then_some(&mut next);
                    let result = self
                        .handle_step(&message, deadline, slot)
                        .instrument(span)
                        .await;
                    if let (Ok(Outcome::Completed), Some(next)) = (&result, next) {
                        self.follow(next, deadline).await;
                    }
                    result
                }
            };
            match result {
                Ok(Outcome::HandedBack) => {
                    return self.hand_back(records, i, failed, &held).await;
                }
                Ok(outcome) => {
                    tracing::info!(message_id = %record.message_id, ?outcome, "message handled")
                }
                Err(e) => {
                    tracing::error!(message_id = %record.message_id, error = %e, "message failed; it goes back to the queue with the later messages of its group");
                    failed.push(record.message_id.clone());
                    match &record.group_id {
                        Some(g) => {
                            held.insert(g);
                        }
                        None => {
                            failed.extend(records[i + 1..].iter().map(|r| r.message_id.clone()));
                            return failed;
                        }
                    }
                }
            }
        }
        failed
    }

    /// Hands `records[from..]` back unstarted: reported as failures (so the event source
    /// mapping leaves them on the queue) and visible again now, not after the queue's
    /// visibility timeout (minutes, during which a FIFO group would wait). A record of a held
    /// group stays hidden with the failure that holds it.
    async fn hand_back(
        &self,
        records: &[Record],
        from: usize,
        mut failed: Vec<String>,
        held: &HashSet<&str>,
    ) -> Vec<String> {
        tracing::warn!(
            handed_back = records.len() - from,
            "invocation deadline near: handing the rest of the batch back"
        );
        failed.extend(records[from..].iter().map(|r| r.message_id.clone()));
        let unstarted: Vec<String> = records[from..]
            .iter()
            .filter(|r| !r.group_id.as_deref().is_some_and(|g| held.contains(g)))
            .filter_map(|r| r.receipt_handle.clone())
            .collect();
        if let Err(e) = self.queue.release(&unstarted).await {
            tracing::warn!(error = %e, "the handed-back records stay hidden until their visibility timeout");
        }
        failed
    }
}
