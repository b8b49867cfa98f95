//! Tasks waiting outside PAO (a GitHub workflow run, a JIRA ticket someone works): a task
//! whose action goes on outside PAO stays `processing` with its external reference, recorded
//! for lookup (`EXTREF#<key>`, for the webhook that reports the end, see
//! [`crate::record::ExternalRef::lookup`]), and has `byState` keys of its
//! own ([`keys::WAITING`], sharded), ordered by when it was last polled: the sweeper's stuck
//! detection never sees it, and its polls go round every waiting task in turn.

use super::attr::{n, s};
use super::keys::{self, request_pk, task_sk};
use super::{Change, Expiry, StateUpdate, Store, StoreError};
use crate::clock::Now;
use crate::record::{Event, ExternalRef, RequestId, TaskRecord};
use crate::task::TaskState;

/// A `processing` task's entry moved to the waiting family, as polled at `now` (its state
/// and everything else unchanged).
fn waiting(task: &TaskRecord, now: &Now) -> StateUpdate {
    let id = &task.request_id;
    StateUpdate {
        key: (request_pk(id), task_sk(task.seq)),
        from: vec![TaskState::Processing.to_string()],
        sets: Vec::new(),
        changes: Vec::new(),
        index: Some(Some(keys::waiting_index(id, &now.rfc3339))),
        events: Vec::new(),
        unchanged_since: None,
        expiry: Expiry::UnderRequest,
        at: now.epoch,
        sealed: None,
        approval_version: None,
    }
}

impl Store {
    /// A task starts waiting: its external reference, the lookup record and the event in one
    /// transaction, and its `byState` entry moves to [`keys::WAITING`].
    pub async fn wait_task(
        &self,
        task: &TaskRecord,
        external: &ExternalRef,
        now: &Now,
        event: &Event,
    ) -> Result<(), StoreError> {
        let id = &task.request_id;
        let mut update = waiting(task, now);
        update.changes.push(Change::ExternalRef(external.clone()));
        update.events.push(event.clone());
        let lookup = std::collections::HashMap::from([
            (
                "pk".to_string(),
                s(format!("EXTREF#{}", external.lookup(task.item.action))),
            ),
            ("sk".to_string(), s("EXTREF")),
            ("itemType".to_string(), s("external-ref")),
            ("requestId".to_string(), s(id.as_str())),
            ("seq".to_string(), n(u64::from(task.seq))),
        ]);
        let writes = vec![self.update_write(update)?, self.put_write(lookup, None)?];
        self.transact(writes, || {
            format!("task {} of {id} is no longer processing", task.seq)
        })
        .await
    }

    /// A waiting task was polled at `now` (the run goes on): it goes to the back of the poll
    /// order; with `overdue`, it is also marked overdue (`overdueSince`) with that event.
    /// Changes nothing else; a task that moved on meanwhile is left alone (so of two sweepers
    /// one marks it).
    pub async fn polled(
        &self,
        task: &TaskRecord,
        now: &Now,
        overdue: Option<&Event>,
    ) -> Result<(), StoreError> {
        let mut update = waiting(task, now);
        update.unchanged_since = Some(task.updated_at.clone());
        if let Some(event) = overdue {
            update.changes.push(Change::Overdue(now.rfc3339.clone()));
            update.events.push(event.clone());
        }
        match self.apply(update).await {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The task waiting on an external reference (`run-<id>`, a ticket's URL), if one is
    /// recorded.
    pub async fn task_of_external(
        &self,
        key: &str,
    ) -> Result<Option<(RequestId, u32)>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("EXTREF#{key}")))
            .key("sk", s("EXTREF"))
            .consistent_read(true)
            .send()
            .await
            .map_err(super::dynamo)?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let request = item.get("requestId").and_then(|v| v.as_s().ok()).cloned();
        let seq = item
            .get("seq")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<u32>().ok());
        Ok(request.zip(seq).map(|(r, q)| (RequestId(r), q)))
    }
}
