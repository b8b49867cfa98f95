//! Requests, their tasks and their audit events (`pk = REQ#<id>`): a request is written with
//! all its tasks and its first event in one transaction, read back in one Query, listed per
//! caller; tasks are found by state for the sweeper. How a task's state changes is in
//! [`super::tasks`].

use super::attr::{Item, from_item, is_expired, s, to_item};
use super::cursor::CursorKey;
use super::{GSI_BY_USER, MAX_TASKS, Page, Store, StoreError, dynamo};
use crate::clock::Now;
use crate::record::{Event, RequestDetail, RequestId, RequestRecord, TaskRecord};
use crate::request::RequestState;

/// How a read is made: `Strong` for reads that decide what runs (the worker, the sweeper),
/// `Eventual` for what people look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    Strong,
    Eventual,
}

use super::keys::{REQUEST_SK, request_pk, task_sk, team_pk, user_pk};

impl Store {
    /// Writes a request, all its tasks and its first event in one transaction (with the
    /// `Idempotency-Key` it answers, if any); fails with `Conflict` if the request id exists
    /// or the key is taken.
    pub async fn create_request(
        &self,
        request: &RequestRecord,
        tasks: &[TaskRecord],
        answered: Option<&super::idempotency::Answered<'_>>,
    ) -> Result<(), StoreError> {
        self.create_request_sealed(request, tasks, &Default::default(), answered)
            .await
    }

    /// [`Store::create_request`] with the request's sealed password values (ciphertext by
    /// field), written apart from every other record in the same transaction.
    pub async fn create_request_sealed(
        &self,
        request: &RequestRecord,
        tasks: &[TaskRecord],
        sealed: &std::collections::BTreeMap<String, Vec<u8>>,
        answered: Option<&super::idempotency::Answered<'_>>,
    ) -> Result<(), StoreError> {
        let mut writes = self.creation_writes(request, tasks, answered, true)?;
        writes.extend(self.sealed_put(&request.request_id, sealed)?);
        self.transact(writes, || {
            format!(
                "request {} already exists, or its Idempotency-Key is taken",
                request.request_id
            )
        })
        .await
    }

    /// The writes of [`Store::create_request`]'s transaction: the request (only if new), its
    /// tasks, with `with_event` its first event, and the answered key. The benchmark sends the
    /// bare request and tasks as the floor a submission cannot go below.
    pub fn creation_writes(
        &self,
        request: &RequestRecord,
        tasks: &[TaskRecord],
        answered: Option<&super::idempotency::Answered<'_>>,
        with_event: bool,
    ) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, StoreError> {
        if tasks.len() > MAX_TASKS {
            return Err(StoreError::TooManyTasks(tasks.len()));
        }
        let (mut request_item, task_items) = creation_items(request, tasks)?;
        if with_event {
            // The first event rides in the request's item.
            let event = Event {
                at: request.created_at.clone(),
                kind: "submitted".into(),
                message: match request.approval.as_ref().and_then(|a| a.stage()) {
                    None => format!("request submitted with {} tasks", tasks.len()),
                    Some(stage) => format!(
                        "request submitted with {} tasks; awaiting approval: stage {:?} ({} approvers: {})",
                        tasks.len(),
                        stage.id,
                        stage.require,
                        stage.approvers.describe()
                    ),
                },
                task_seq: None,
            };
            request_item.insert("events".into(), super::events_attr(&[event]));
        }
        let mut writes = vec![self.put_write(request_item, Some("attribute_not_exists(pk)"))?];
        for item in task_items {
            writes.push(self.put_write(item, None)?);
        }
        if let Some(team) = &request.team {
            writes.push(self.put_write(team_item(request, team), None)?);
        }
        if let Some(a) = answered {
            writes.push(self.answered_write(a)?);
        }
        Ok(writes)
    }

    /// Sends writes as one transaction (the benchmark's floor).
    pub async fn transact_raw(
        &self,
        writes: Vec<aws_sdk_dynamodb::types::TransactWriteItem>,
    ) -> Result<(), StoreError> {
        self.transact(writes, || "transaction cancelled".into())
            .await
    }

    /// One strongly consistent Query of a request's partition, items left raw (the
    /// benchmark's floor for a detail read).
    pub async fn partition_raw(&self, id: &RequestId) -> Result<usize, StoreError> {
        Ok(self.partition(&request_pk(id), true).await?.len())
    }

    /// The request with its tasks (in order) and events (oldest first), in one Query.
    pub async fn get_request(
        &self,
        id: &RequestId,
        now: &Now,
        read: Read,
    ) -> Result<Option<RequestDetail>, StoreError> {
        let mut request = None;
        let mut tasks = Vec::new();
        let mut events = Vec::new();
        for item in &self
            .partition(&request_pk(id), read == Read::Strong)
            .await?
        {
            if is_expired(item, now.epoch) {
                return Ok(None);
            }
            // Events ride in the items whose change they record.
            events.extend(super::events_of(item)?);
            match item
                .get("itemType")
                .and_then(|k| k.as_s().ok())
                .map(String::as_str)
            {
                Some("request") => request = Some(from_item::<RequestRecord>(item)?),
                Some("task") => tasks.push(from_item::<TaskRecord>(item)?),
                _ => {}
            }
        }
        // Oldest first, in the order they were written.
        events.sort_by(|a, b| (&a.1.at, &a.0).cmp(&(&b.1.at, &b.0)));
        Ok(request.map(|request| RequestDetail {
            request,
            tasks,
            events: events.into_iter().map(|(_, e)| e).collect(),
        }))
    }

    /// A single task, read strongly.
    pub async fn get_task(
        &self,
        id: &RequestId,
        seq: u32,
    ) -> Result<Option<TaskRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(request_pk(id)))
            .key("sk", s(task_sk(seq)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        out.item().map(from_item).transpose()
    }

    /// A caller's requests, newest first, optionally in one state. Cursors are sealed with
    /// `key` for this caller and filter.
    pub async fn list_requests(
        &self,
        caller: &crate::record::Principal,
        state: Option<RequestState>,
        limit: i32,
        cursor: Option<&str>,
        key: &CursorKey,
        now: &Now,
    ) -> Result<Page<RequestRecord>, StoreError> {
        let user_arn = &caller.arn;
        let scope = format!(
            "requests|{user_arn}|{}|{}",
            caller.id.as_deref().unwrap_or(""),
            state.map(|s| s.as_str()).unwrap_or("")
        );
        let start = cursor.map(|c| key.open_key(&scope, c)).transpose()?;
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI_BY_USER)
            .key_condition_expression("gsi1pk = :u")
            .expression_attribute_values(":u", s(user_pk(user_arn)))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 100))
            .set_exclusive_start_key(start);
        // The ARN's requests that are this principal's: `Principal::is` as a filter.
        let mut filters = Vec::new();
        q = q
            .expression_attribute_names("#u", "user")
            .expression_attribute_names("#id", "id");
        if let Some(id) = &caller.id {
            filters.push("(attribute_not_exists(#u.#id) OR #u.#id = :id)");
            q = q.expression_attribute_values(":id", s(id));
        } else {
            filters.push("attribute_not_exists(#u.#id)");
        }
        if let Some(state) = state {
            filters.push("#st = :st");
            q = q
                .expression_attribute_names("#st", "state")
                .expression_attribute_values(":st", s(state.as_str()));
        }
        q = q.filter_expression(filters.join(" AND "));
        let out = q.send().await.map_err(dynamo)?;
        let items = out
            .items()
            .iter()
            .filter(|i| !is_expired(i, now.epoch))
            .map(from_item)
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            next_cursor: out.last_evaluated_key().map(|k| key.seal_key(&scope, k)),
        })
    }

    /// The requests of a team (`team` tag at submission), newest first, optionally in one
    /// state (a page may then hold fewer than `limit`). One Query of the team's pointers and
    /// one BatchGetItem of the requests they name.
    pub async fn list_team_requests(
        &self,
        team: &str,
        state: Option<RequestState>,
        limit: i32,
        cursor: Option<&str>,
        key: &CursorKey,
        now: &Now,
    ) -> Result<Page<RequestRecord>, StoreError> {
        let scope = format!("team|{team}|{}", state.map(|s| s.as_str()).unwrap_or(""));
        let start = cursor.map(|c| key.open_key(&scope, c)).transpose()?;
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :t")
            .expression_attribute_values(":t", s(team_pk(team)))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 100))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(dynamo)?;
        let ids: Vec<String> = out
            .items()
            .iter()
            .filter(|i| !is_expired(i, now.epoch))
            .filter_map(|i| i.get("requestId").and_then(|v| v.as_s().ok()).cloned())
            .collect();
        let mut found = self.requests_by_id(&ids).await?;
        // In the pointers' order (newest first), what still exists and is in the state asked.
        let items = ids
            .iter()
            .filter_map(|id| found.remove(id.as_str()))
            .filter(|r| !state.is_some_and(|st| r.state != st))
            .collect();
        Ok(Page {
            items,
            next_cursor: out.last_evaluated_key().map(|k| key.seal_key(&scope, k)),
        })
    }

    /// Request items by id (at most 100), in one BatchGetItem (with what DynamoDB leaves
    /// unprocessed asked again, a bounded number of times).
    async fn requests_by_id(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, RequestRecord>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = std::collections::HashMap::new();
        if ids.is_empty() {
            return Ok(found);
        }
        let keys: Vec<Item> = ids
            .iter()
            .map(|id| {
                Item::from([
                    ("pk".to_string(), s(request_pk(&RequestId(id.clone())))),
                    ("sk".to_string(), s(REQUEST_SK)),
                ])
            })
            .collect();
        let mut ask = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .build()
                .map_err(super::build_error)?,
        );
        for _ in 0..4 {
            let Some(keys) = ask.take() else { break };
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, keys)
                .send()
                .await
                .map_err(dynamo)?;
            for item in out
                .responses()
                .and_then(|r| r.get(&self.table))
                .into_iter()
                .flatten()
            {
                let r: RequestRecord = from_item(item)?;
                found.insert(r.request_id.to_string(), r);
            }
            ask = out
                .unprocessed_keys()
                .and_then(|u| u.get(&self.table))
                .filter(|k| !k.keys().is_empty())
                .cloned();
        }
        Ok(found)
    }

    /// Appends an audit event to the request's item.
    pub async fn append_event(&self, id: &RequestId, event: &Event) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(request_pk(id)))
            .key("sk", s(REQUEST_SK))
            .update_expression(format!("SET {}", super::APPEND_EVENTS))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#ev", "events")
            .expression_attribute_values(
                ":none",
                aws_sdk_dynamodb::types::AttributeValue::L(vec![]),
            )
            .expression_attribute_values(":ev", super::events_attr(std::slice::from_ref(event)))
            .send()
            .await;
        super::conditional(result, super::CONDITION_FAILED, || {
            format!("request {id} does not exist")
        })
    }
}

/// The items a submission writes, checked against DynamoDB's size limits (each item, and
/// all of them in one transaction, with room for the event and the `Idempotency-Key`), so
/// a request too large to store is refused before anything is written.
pub fn check_creation(request: &RequestRecord, tasks: &[TaskRecord]) -> Result<(), StoreError> {
    creation_items(request, tasks).map(|_| ())
}

/// Whether a task with these `outputs` still fits one DynamoDB item (its attempts and
/// input are in it too).
pub fn check_completed(
    task: &TaskRecord,
    outputs: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), StoreError> {
    let mut done = task.clone();
    done.outputs = outputs.clone();
    let size = super::attr::item_size(&task_item(&done)?) + ROOM;
    if size > super::MAX_ITEM_BYTES {
        return Err(StoreError::TooLarge {
            what: "its outputs".into(),
            kib: size.div_ceil(1024),
            limit_kib: super::MAX_ITEM_BYTES / 1024,
        });
    }
    Ok(())
}

/// Kept for the event, the key's record and the attributes the store adds (TTL).
const ROOM: usize = 8 * 1024;

fn creation_items(
    request: &RequestRecord,
    tasks: &[TaskRecord],
) -> Result<(Item, Vec<Item>), StoreError> {
    let kib = |bytes: usize| bytes.div_ceil(1024);
    let too_large = |what: String, bytes: usize, limit: usize| StoreError::TooLarge {
        what,
        kib: kib(bytes),
        limit_kib: kib(limit),
    };
    let request_item = request_item(request)?;
    let mut total = super::attr::item_size(&request_item);
    if total + ROOM > super::MAX_ITEM_BYTES {
        return Err(too_large(
            "the request".into(),
            total + ROOM,
            super::MAX_ITEM_BYTES,
        ));
    }
    let mut task_items = Vec::with_capacity(tasks.len());
    for t in tasks {
        let item = task_item(t)?;
        let size = super::attr::item_size(&item);
        if size + ROOM > super::MAX_ITEM_BYTES {
            return Err(too_large(
                format!("task {} ({})", t.seq, t.item.id),
                size + ROOM,
                super::MAX_ITEM_BYTES,
            ));
        }
        total += size;
        task_items.push(item);
    }
    if total + ROOM > super::MAX_TRANSACTION_BYTES {
        return Err(too_large(
            format!("the request with its {} tasks", tasks.len()),
            total + ROOM,
            super::MAX_TRANSACTION_BYTES,
        ));
    }
    Ok((request_item, task_items))
}

fn request_item(r: &RequestRecord) -> Result<Item, StoreError> {
    let mut item = to_item(r)?;
    let id = &r.request_id;
    item.insert("pk".into(), s(request_pk(id)));
    item.insert("sk".into(), s(REQUEST_SK));
    item.insert("itemType".into(), s("request"));
    item.insert("gsi1pk".into(), s(user_pk(&r.user.arn)));
    item.insert("gsi1sk".into(), s(format!("{}#{id}", r.created_at)));
    if r.state == RequestState::AwaitingApproval {
        let (pk, sk) = super::keys::approval_index(id, &r.created_at);
        item.insert("gsi2pk".into(), s(pk));
        item.insert("gsi2sk".into(), s(sk));
    }
    Ok(item)
}

/// A request's pointer under its team's key: the id only, so the team's list reads the request
/// itself (its state now). It expires as a request's tasks do, from when it was written.
fn team_item(r: &RequestRecord, team: &str) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s(team_pk(team)));
    item.insert("sk".into(), s(format!("{}#{}", r.created_at, r.request_id)));
    item.insert("itemType".into(), s("teamRequest"));
    item.insert("requestId".into(), s(r.request_id.as_str()));
    item
}

fn task_item(t: &TaskRecord) -> Result<Item, StoreError> {
    let mut item = to_item(t)?;
    let id = &t.request_id;
    item.insert("pk".into(), s(request_pk(id)));
    item.insert("sk".into(), s(task_sk(t.seq)));
    item.insert("itemType".into(), s("task"));
    if let Some((pk, sk)) = super::keys::task_index(id, t.state, &t.updated_at) {
        item.insert("gsi2pk".into(), s(pk));
        item.insert("gsi2sk".into(), s(sk));
    }
    Ok(item)
}
