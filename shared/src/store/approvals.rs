//! Requests awaiting approval: the change one decision (or the sweeper's timeout or reminder)
//! makes, and the sharded `APPROVAL#<shard>` key they are found by. Every change is
//! conditional on the request still awaiting approval with the approval's `version` as read,
//! so of two decisions on the same state one lands and the other reads again; the change that
//! releases a request queues its first task in the same transaction.

use super::attr::{from_item, is_expired, s};
use super::keys::{SHARDS, approval_pk};
use super::tasks::{request_update, task_update};
use super::{Change, GSI_BY_STATE, Store, StoreError, dynamo};
use crate::approval::Approval;
use crate::clock::Now;
use crate::record::{Event, RequestRecord, TaskRecord};
use crate::request::RequestState;
use crate::task::TaskState;

/// One page of requests awaiting approval across every shard, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingPage {
    /// Each with its position (`<createdAt>#<id>`), the cursor of what follows it.
    pub requests: Vec<(String, RequestRecord)>,
    /// Every request newer than this position (`<createdAt>#<id>`) was read: the next page
    /// starts below it. None: there is nothing older.
    pub boundary: Option<String>,
}

impl Store {
    /// Records `approval` on a request read as `request` (awaiting approval), moving it to
    /// `to`: still `awaiting_approval` (a decision counted, a reminder, an escalation),
    /// `submitted` (its first task is queued in the same transaction), `rejected` (its
    /// tasks skipped) or `aborted`. Conflict when the request changed since it was read.
    pub async fn record_approval(
        &self,
        request: &RequestRecord,
        tasks: &[TaskRecord],
        approval: &Approval,
        to: RequestState,
        event: &Event,
        now: &Now,
    ) -> Result<(), StoreError> {
        let id = &request.request_id;
        let read_version = request.approval.as_ref().map(|a| a.version).unwrap_or(0);
        let value =
            serde_json::to_value(approval).map_err(|e| StoreError::Dynamo(e.to_string()))?;
        let mut changes = vec![Change::Approval(value)];
        if to == RequestState::Rejected {
            changes.push(Change::Error(event.message.clone()));
        }
        let mut update = request_update(id, &[RequestState::AwaitingApproval], to, now, changes)?;
        update.approval_version = Some(read_version);
        if to != RequestState::AwaitingApproval {
            update = update.sealing(id, !request.sealed_fields.is_empty(), to);
        }
        let mut updates = vec![update];
        match to {
            RequestState::Submitted => {
                if let Some(first) = tasks.first() {
                    let mut queued = task_update(
                        id,
                        first.seq,
                        &[TaskState::Pending],
                        TaskState::Queued,
                        now,
                        vec![],
                    )?;
                    queued.unchanged_since = Some(first.updated_at.clone());
                    updates.push(queued);
                }
            }
            RequestState::Rejected | RequestState::Aborted => {
                for t in tasks
                    .iter()
                    .filter(|t| t.state.can_become(TaskState::Skipped))
                {
                    updates.push(task_update(
                        id,
                        t.seq,
                        &[t.state],
                        TaskState::Skipped,
                        now,
                        vec![],
                    )?);
                }
            }
            _ => {}
        }
        if updates.len() == 1 && updates[0].sealed.is_none() {
            let mut only = updates.remove(0);
            only.events.push(event.clone());
            return self.apply(only).await;
        }
        self.change_together(updates, std::slice::from_ref(event), || {
            format!("request {id} changed since it was read")
        })
        .await
    }

    /// Requests awaiting approval submitted before `before` (a position from an earlier
    /// page), newest first: up to `per_shard` from each shard, merged, cut where a shard's
    /// read stopped (so nothing newer than the boundary is missed).
    pub async fn pending_approvals(
        &self,
        before: Option<&str>,
        per_shard: i32,
        now: &Now,
    ) -> Result<PendingPage, StoreError> {
        let mut all: Vec<(String, RequestRecord)> = Vec::new();
        // The oldest position each full shard reached: below it, that shard has more.
        let mut cut: Option<String> = None;
        for shard in 0..SHARDS {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(GSI_BY_STATE)
                .scan_index_forward(false)
                .limit(per_shard.clamp(1, 100))
                .expression_attribute_values(":pk", s(approval_pk(shard)));
            q = match before {
                Some(b) => q
                    .key_condition_expression("gsi2pk = :pk AND gsi2sk < :before")
                    .expression_attribute_values(":before", s(b)),
                None => q.key_condition_expression("gsi2pk = :pk"),
            };
            let out = q.send().await.map_err(dynamo)?;
            let mut last = None;
            for item in out.items() {
                let position = item
                    .get("gsi2sk")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                last = Some(position.clone());
                if is_expired(item, now.epoch) {
                    continue;
                }
                all.push((position, from_item::<RequestRecord>(item)?));
            }
            if out.last_evaluated_key().is_some()
                && let Some(last) = last
                && cut.as_ref().is_none_or(|c| &last > c)
            {
                cut = Some(last);
            }
        }
        all.sort_by(|a, b| b.0.cmp(&a.0));
        if let Some(c) = &cut {
            all.retain(|(p, _)| p >= c);
        }
        Ok(PendingPage {
            requests: all,
            boundary: cut,
        })
    }
}
