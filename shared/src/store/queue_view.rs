//! What operators see of the queue in the table, and the one state change a redrive makes.
//! SQS cannot say how old the oldest waiting task is nor which tasks wait, and receiving
//! from the task queue to find out would count towards `maxReceiveCount` and hold back the
//! message group, so both come from the tasks' own records (GSI byState, whose sort key
//! starts with the time the task entered its state).

use super::attr::s;
use super::tasks::{request_update, task_update};
use super::{Change, CursorKey, GSI_BY_STATE, Page, Store, StoreError, dynamo};
use crate::clock::Now;
use crate::record::{Event, RequestRecord, TaskRecord};
use crate::request::RequestState;
use crate::task::TaskState;
use aws_sdk_dynamodb::types::Select;

impl Store {
    /// How many tasks are in `state`, counting only those that entered it at or after
    /// `since` (RFC 3339) when given. Index reads, eventually consistent.
    pub async fn count_tasks(
        &self,
        state: TaskState,
        since: Option<&str>,
    ) -> Result<u64, StoreError> {
        self.count_key(format!("TASK#{state}"), since).await
    }

    /// How many `processing` tasks wait on a workflow run (their own index key).
    pub async fn count_waiting(&self) -> Result<u64, StoreError> {
        self.count_key(super::waiting::WAITING.to_string(), None)
            .await
    }

    async fn count_key(&self, key: String, since: Option<&str>) -> Result<u64, StoreError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI_BY_STATE)
            .select(Select::Count)
            .expression_attribute_values(":p", s(key));
        q = match since {
            Some(since) => q
                .key_condition_expression("gsi2pk = :p AND gsi2sk >= :since")
                .expression_attribute_values(":since", s(since)),
            None => q.key_condition_expression("gsi2pk = :p"),
        };
        let mut count = 0u64;
        let mut start = None;
        loop {
            let out = q
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(dynamo)?;
            count += out.count.max(0) as u64;
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(count);
            }
        }
    }

    /// Tasks in `state`, longest there first, a page at a time (cursors sealed with `key`).
    pub async fn tasks_page(
        &self,
        state: TaskState,
        limit: i32,
        cursor: Option<&str>,
        key: &CursorKey,
    ) -> Result<Page<TaskRecord>, StoreError> {
        self.page_of(format!("TASK#{state}"), limit, cursor, key)
            .await
    }

    /// Tasks waiting on a workflow run (`processing`), least recently polled first.
    pub async fn waiting_page(
        &self,
        limit: i32,
        cursor: Option<&str>,
        key: &CursorKey,
    ) -> Result<Page<TaskRecord>, StoreError> {
        self.page_of(super::waiting::WAITING.to_string(), limit, cursor, key)
            .await
    }

    async fn page_of(
        &self,
        index_key: String,
        limit: i32,
        cursor: Option<&str>,
        key: &CursorKey,
    ) -> Result<Page<TaskRecord>, StoreError> {
        let scope = format!("tasks|{index_key}");
        let start = cursor.map(|c| key.open_key(&scope, c)).transpose()?;
        let out = self.by_key(&index_key, limit.clamp(1, 100), start).await?;
        let items = out
            .items()
            .iter()
            .map(super::attr::from_item)
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            next_cursor: out.last_evaluated_key().map(|k| key.seal_key(&scope, k)),
        })
    }

    /// The task longest in `state`.
    pub async fn oldest_task(&self, state: TaskState) -> Result<Option<TaskRecord>, StoreError> {
        let out = self.by_key(&format!("TASK#{state}"), 1, None).await?;
        out.items().first().map(super::attr::from_item).transpose()
    }

    async fn by_key(
        &self,
        index_key: &str,
        limit: i32,
        start: Option<super::attr::Item>,
    ) -> Result<aws_sdk_dynamodb::operation::query::QueryOutput, StoreError> {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(GSI_BY_STATE)
            .key_condition_expression("gsi2pk = :p")
            .expression_attribute_values(":p", s(index_key))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(dynamo)
    }

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
            )?;
            running.unchanged_since = Some(request.updated_at.clone());
            updates.push(running);
        }
        self.change_together(id, updates, std::slice::from_ref(event), || {
            format!(
                "task {} of {id} or its request changed since it was read",
                task.seq
            )
        })
        .await?;
        Ok(to)
    }
}
