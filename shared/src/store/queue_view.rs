//! The one state change an operator's redrive makes. (What operators see of the queue comes
//! from the tasks' own records, [`super::by_state`]: SQS cannot say how old the oldest
//! waiting task is nor which tasks wait, and receiving from the task queue to find out would
//! count towards `maxReceiveCount` and hold back the message group.)

use super::tasks::{request_update, task_update};
use super::{Change, Store, StoreError};
use crate::clock::Now;
use crate::record::{Event, RequestRecord, TaskRecord};
use crate::request::RequestState;
use crate::task::TaskState;

impl Store {
    /// An operator's redrive of a task the sweeper marked stuck while its message lay in the
    /// dead-letter queue: the task goes back to `queued` (or to `processing` if it had
    /// started, so that the worker's recovery finds what it did instead of running it blind),
    /// and its request from `failed` back to `processing`, with the event, all or nothing,
    /// only if neither changed since they were read.
    pub async fn redrive_task(
        &self,
        request: &RequestRecord,
        task: &TaskRecord,
        now: &Now,
        event: &Event,
    ) -> Result<TaskState, StoreError> {
        let id = &task.request_id;
        let to = if task.started_at.is_some() {
            TaskState::Processing
        } else {
            TaskState::Queued
        };
        let mut back = task_update(
            id,
            task.seq,
            &[TaskState::Stuck],
            to,
            now,
            vec![Change::NoError],
        )?;
        back.unchanged_since = Some(task.updated_at.clone());
        let mut updates = vec![back];
        if request.state == RequestState::Failed {
            let mut running = request_update(
                id,
                &[RequestState::Failed],
                RequestState::Processing,
                now,
                vec![Change::NoError],
            )?
            .sealing(
                id,
                !request.sealed_fields.is_empty(),
                RequestState::Processing,
            );
            running.unchanged_since = Some(request.updated_at.clone());
            updates.push(running);
        }
        self.change_together(updates, std::slice::from_ref(event), || {
            format!(
                "task {} of {id} or its request changed since it was read",
                task.seq
            )
        })
        .await?;
        Ok(to)
    }
}
