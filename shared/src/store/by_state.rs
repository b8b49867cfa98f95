//! Reading tasks by state from the sparse, sharded `byState` index ([`super::keys`]): every
//! read queries each shard of the family at once and merges them, oldest first. The sweeper
//! reads only what is due (a bounded number per shard); operators count and page through
//! unfinished tasks, and count what ended in the last hour from its hour's keys.

use super::attr::{Item, from_attr, from_item, s, to_attr};
use super::keys::{self, SHARDS};
use super::{CursorKey, GSI_BY_STATE, Page, Store, StoreError, dynamo};
use crate::record::TaskRecord;
use crate::task::TaskState;
use aws_sdk_dynamodb::types::Select;
use serde_json::Value;

/// The least a due read takes from each shard (see [`Store::tasks_in_state`]).
const FAIR_SHARE: usize = 25;

/// The index key attributes that position a read in `byState`.
const POSITION: [&str; 4] = ["pk", "sk", "gsi2pk", "gsi2sk"];

fn sort_key(item: &Item) -> &str {
    item.get("gsi2sk")
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or("")
}

fn position(item: &Item) -> Value {
    Value::Object(
        POSITION
            .iter()
            .filter_map(|k| item.get(*k).map(|v| (k.to_string(), from_attr(v))))
            .collect(),
    )
}

/// A shard's page: its items (in index order) and whether it has more after them.
struct ShardPage {
    items: Vec<Item>,
    more: bool,
}

impl Store {
    /// One query of one `byState` key: items with a sort key before `before` (when given),
    /// from `start`, at most `limit`.
    async fn shard_page(
        &self,
        pk: &str,
        before: Option<&str>,
        limit: i32,
        start: Option<Item>,
    ) -> Result<ShardPage, StoreError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI_BY_STATE)
            .expression_attribute_values(":p", s(pk))
            .limit(limit)
            .set_exclusive_start_key(start);
        q = match before {
            Some(b) => q
                .key_condition_expression("gsi2pk = :p AND gsi2sk < :b")
                .expression_attribute_values(":b", s(b)),
            None => q.key_condition_expression("gsi2pk = :p"),
        };
        let out = q.send().await.map_err(dynamo)?;
        Ok(ShardPage {
            more: out.last_evaluated_key.is_some(),
            items: out.items.unwrap_or_default(),
        })
    }

    /// Tasks of `family` (a [`keys::indexed`] state or [`keys::WAITING`]) whose sort key is
    /// before `before`, oldest first, at most `limit`: every shard at once, the oldest
    /// `limit / shards` of each (at least 25, or `limit` when smaller).
    async fn due(
        &self,
        family: &str,
        before: &str,
        limit: usize,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        // A share of the bound from each shard (and never fewer than `FAIR_SHARE`, or the
        // bound when smaller): what a sweep reads stays near `limit` however many shards
        // there are; a shard with more due than its share waits for the next sweep.
        let share = limit.div_ceil(SHARDS as usize).max(limit.min(FAIR_SHARE));
        let per_shard = i32::try_from(share.clamp(1, 1000)).unwrap_or(1000);
        let pages =
            futures_util::future::try_join_all(keys::state_pks(family).into_iter().map(
                |pk| async move { self.shard_page(&pk, Some(before), per_shard, None).await },
            ))
            .await?;
        let mut items: Vec<Item> = pages.into_iter().flat_map(|p| p.items).collect();
        items.sort_by(|a, b| sort_key(a).cmp(sort_key(b)));
        items.truncate(limit);
        items.iter().map(from_item).collect()
    }

    /// Tasks in `state` since before `before` (RFC 3339), oldest first, at most `limit`: the
    /// sweeper's view (eventually consistent: every change it makes is conditional on what it
    /// saw). Only `queued`, `processing` and `stuck` tasks are indexed.
    pub async fn tasks_in_state(
        &self,
        state: TaskState,
        before: &str,
        limit: usize,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        match keys::indexed(state) {
            Some(family) => self.due(family, before, limit).await,
            None => Ok(Vec::new()),
        }
    }

    /// Tasks waiting on a workflow run, least recently polled first, polled before `before`.
    pub async fn waiting_tasks(
        &self,
        before: &str,
        limit: usize,
    ) -> Result<Vec<TaskRecord>, StoreError> {
        self.due(keys::WAITING, before, limit).await
    }

    /// How many items one key holds (with a sort key at or after `since`, of `state`).
    async fn count_key(
        &self,
        pk: String,
        since: Option<&str>,
        state: Option<TaskState>,
    ) -> Result<u64, StoreError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI_BY_STATE)
            .select(Select::Count)
            .expression_attribute_values(":p", s(pk));
        q = match since {
            Some(since) => q
                .key_condition_expression("gsi2pk = :p AND gsi2sk >= :since")
                .expression_attribute_values(":since", s(since)),
            None => q.key_condition_expression("gsi2pk = :p"),
        };
        if let Some(state) = state {
            q = q
                .filter_expression("#st = :st")
                .expression_attribute_names("#st", "state")
                .expression_attribute_values(":st", s(state.as_str()));
        }
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

    async fn count_family(&self, family: &str) -> Result<u64, StoreError> {
        let counts = futures_util::future::try_join_all(
            keys::state_pks(family)
                .into_iter()
                .map(|pk| self.count_key(pk, None, None)),
        )
        .await?;
        Ok(counts.iter().sum())
    }

    /// How many tasks are `queued`, `processing` (not waiting on a run) or `stuck`.
    pub async fn count_tasks(&self, state: TaskState) -> Result<u64, StoreError> {
        match keys::indexed(state) {
            Some(family) => self.count_family(family).await,
            None => Ok(0),
        }
    }

    /// How many `processing` tasks wait on a workflow run.
    pub async fn count_waiting(&self) -> Result<u64, StoreError> {
        self.count_family(keys::WAITING).await
    }

    /// How many tasks ended `completed` or `failed` at or after `since` (at most an hour
    /// before `now`; both RFC 3339): the hours' keys, every shard.
    pub async fn count_ended(
        &self,
        state: TaskState,
        since: &str,
        now: &str,
    ) -> Result<u64, StoreError> {
        let mut pks = keys::ended_pks(since);
        for pk in keys::ended_pks(now) {
            if !pks.contains(&pk) {
                pks.push(pk);
            }
        }
        let counts = futures_util::future::try_join_all(
            pks.into_iter()
                .map(|pk| self.count_key(pk, Some(since), Some(state))),
        )
        .await?;
        Ok(counts.iter().sum())
    }

    /// The task longest in `state` (queued, processing, stuck).
    pub async fn oldest_task(&self, state: TaskState) -> Result<Option<TaskRecord>, StoreError> {
        let Some(family) = keys::indexed(state) else {
            return Ok(None);
        };
        let pages = futures_util::future::try_join_all(
            keys::state_pks(family)
                .into_iter()
                .map(|pk| async move { self.shard_page(&pk, None, 1, None).await }),
        )
        .await?;
        pages
            .iter()
            .flat_map(|p| p.items.first())
            .min_by(|a, b| sort_key(a).cmp(sort_key(b)))
            .map(from_item)
            .transpose()
    }

    /// Tasks in `state`, longest there first, a page at a time (cursors sealed with `key`).
    pub async fn tasks_page(
        &self,
        state: TaskState,
        limit: i32,
        cursor: Option<&str>,
        key: &CursorKey,
    ) -> Result<Page<TaskRecord>, StoreError> {
        match keys::indexed(state) {
            Some(family) => self.page_of(family, limit, cursor, key).await,
            None => Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            }),
        }
    }

    /// Tasks waiting on a workflow run (`processing`), least recently polled first.
    pub async fn waiting_page(
        &self,
        limit: i32,
        cursor: Option<&str>,
        key: &CursorKey,
    ) -> Result<Page<TaskRecord>, StoreError> {
        self.page_of(keys::WAITING, limit, cursor, key).await
    }

    /// One page merged from every shard: each shard is read from where the last page left it
    /// (`limit` items), the oldest `limit` of them are the page, and the cursor keeps each
    /// shard's position (the last item it gave, or `true` once it has nothing more).
    async fn page_of(
        &self,
        family: &str,
        limit: i32,
        cursor: Option<&str>,
        key: &CursorKey,
    ) -> Result<Page<TaskRecord>, StoreError> {
        let limit = limit.clamp(1, 100);
        let scope = format!("tasks|{family}");
        let mut positions = match cursor {
            Some(c) => match key.open(&scope, c)? {
                Value::Array(p) if p.len() == SHARDS as usize => p,
                _ => return Err(StoreError::BadCursor),
            },
            None => vec![Value::Null; SHARDS as usize],
        };
        let starts = positions
            .iter()
            .map(|p| match p {
                Value::Null => Ok(Some(None)),
                Value::Bool(true) => Ok(None),
                Value::Object(m)
                    if POSITION
                        .iter()
                        .all(|k| m.get(*k).is_some_and(Value::is_string)) =>
                {
                    Ok(Some(Some(
                        m.iter()
                            .map(|(k, v)| (k.clone(), to_attr(v)))
                            .collect::<Item>(),
                    )))
                }
                _ => Err(StoreError::BadCursor),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let pages = futures_util::future::try_join_all(
            keys::state_pks(family)
                .into_iter()
                .zip(starts)
                .map(|(pk, start)| async move {
                    match start {
                        Some(start) => self.shard_page(&pk, None, limit, start).await.map(Some),
                        None => Ok(None),
                    }
                }),
        )
        .await?;
        let mut merged: Vec<(usize, usize, &Item)> = Vec::new();
        for (shard, page) in pages.iter().enumerate() {
            if let Some(page) = page {
                merged.extend(
                    page.items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| (shard, i, item)),
                );
            }
        }
        merged.sort_by(|a, b| sort_key(a.2).cmp(sort_key(b.2)));
        merged.truncate(limit as usize);
        let mut taken = vec![0usize; SHARDS as usize];
        for (shard, i, _) in &merged {
            taken[*shard] = taken[*shard].max(i + 1);
        }
        for (shard, page) in pages.iter().enumerate() {
            let Some(page) = page else { continue };
            let n = taken[shard];
            positions[shard] = if n == page.items.len() && !page.more {
                Value::Bool(true)
            } else if n > 0 {
                position(&page.items[n - 1])
            } else {
                positions[shard].clone()
            };
        }
        let more = positions.iter().any(|p| *p != Value::Bool(true));
        let items = merged
            .iter()
            .map(|(_, _, item)| from_item(item))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            next_cursor: more.then(|| key.seal(&scope, &Value::Array(positions))),
        })
    }
}
