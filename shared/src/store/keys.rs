//! The table's keys, in one place: which partition key every item and every index entry
//! lives under, so the layout can be read (and its write load computed, see [`load`]) from
//! here alone.
//!
//! Per-request data stays in the request's partition (`REQ#<id>`). The only keys many
//! requests share are the `byState` index's, and they are sparse and sharded: a task is in it
//! only while someone must look at it (`queued`, `processing`, waiting on a run, `stuck`),
//! under `TASK#<state>#<shard>` with [`SHARDS`] shards, and for an hour after it ended under
//! `TASK#ended#<hour>#<shard>` (the operators' "finished in the last hour"), so no key's
//! writes grow with the number of requests ever made, and readers query every shard.

pub mod load;

use crate::record::RequestId;
use crate::task::TaskState;

/// Shards of each `byState` key of unfinished tasks: at 1,000 two-task requests a second
/// each takes 250 writes a second (see [`load`]).
pub const SHARDS: u32 = 16;
/// Shards of each hour of finished tasks (one write per task that ends).
pub const ENDED_SHARDS: u32 = 4;

pub(super) fn request_pk(id: &RequestId) -> String {
    format!("REQ#{id}")
}

pub(super) const REQUEST_SK: &str = "#REQUEST";

pub(super) fn task_sk(seq: u32) -> String {
    format!("TASK#{seq:04}")
}

/// A request's sealed password values: a partition of their own, so that no read of the
/// request's partition (detail, worker, escalation) ever carries them.
pub(super) fn sealed_pk(id: &RequestId) -> String {
    format!("SEALED#{id}")
}

pub(super) const SEALED_SK: &str = "SEALED";

/// The `byUser` key of a caller's requests.
pub(super) fn user_pk(arn: &str) -> String {
    format!("USER#{arn}")
}

/// The key of a team's request pointers (`GET /requests?scope=team`): one small item per
/// request, `sk = <createdAt>#<id>`, written with the request.
pub(super) fn team_pk(team: &str) -> String {
    format!("TEAM#{team}")
}

/// A request's shard: FNV-1a of its id, so every writer and reader agrees without a lookup.
pub fn shard_of(id: &RequestId, shards: u32) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in id.as_str().bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % shards
}

/// Where a task's state puts it in `byState`: the name of its key family, or `None` for a
/// task nobody needs to find by state (pending: its predecessor's change queues it;
/// completed, failed, skipped: finished, counted under the hour it ended).
pub fn indexed(state: TaskState) -> Option<&'static str> {
    match state {
        TaskState::Queued => Some("queued"),
        TaskState::Processing => Some("processing"),
        TaskState::Stuck => Some("stuck"),
        _ => None,
    }
}

/// The family of tasks waiting on an external run (they are `processing`).
pub const WAITING: &str = "waiting";
/// The family of tasks that ended (by the hour they ended).
pub const ENDED: &str = "ended";

/// `TASK#<family>#<shard>`.
pub fn state_pk(family: &str, shard: u32) -> String {
    format!("TASK#{family}#{shard:02}")
}

/// Every shard's key of a family.
pub fn state_pks(family: &str) -> Vec<String> {
    (0..SHARDS).map(|s| state_pk(family, s)).collect()
}

/// `TASK#ended#<yyyy-mm-ddThh>#<shard>`: `at` is RFC 3339.
pub fn ended_pk(at: &str, shard: u32) -> String {
    format!("TASK#{ENDED}#{}#{shard}", hour_of(at))
}

/// The ended keys of the hour `at` falls in, every shard.
pub fn ended_pks(at: &str) -> Vec<String> {
    (0..ENDED_SHARDS).map(|s| ended_pk(at, s)).collect()
}

fn hour_of(at: &str) -> &str {
    at.get(..13).unwrap_or(at)
}

// A `byState` sort key is the time the task got where it is, nothing more: an index sort key
// need not be unique (a read's position carries the table's key too), and every byte of it
// is stored, and paid for, twice.

/// A task's `byState` keys after a change to `state` at `at` (RFC 3339): `None` removes it.
pub fn task_index(id: &RequestId, state: TaskState, at: &str) -> Option<(String, String)> {
    if let Some(family) = indexed(state) {
        return Some((state_pk(family, shard_of(id, SHARDS)), at.to_string()));
    }
    matches!(state, TaskState::Completed | TaskState::Failed)
        .then(|| (ended_pk(at, shard_of(id, ENDED_SHARDS)), at.to_string()))
}

/// A waiting task's keys: its own family, ordered by when it was last polled.
pub fn waiting_index(id: &RequestId, polled: &str) -> (String, String) {
    (state_pk(WAITING, shard_of(id, SHARDS)), polled.to_string())
}

/// A request awaiting approval, in `byState` under `APPROVAL#<shard>` (its request item, not
/// a task), by when it was submitted and its id: the pending list reads newest first, the
/// sweeper reads them all for due timeouts and reminders. Written once when it starts
/// waiting, removed by the change that ends the wait.
pub fn approval_index(id: &RequestId, created_at: &str) -> (String, String) {
    (
        approval_pk(shard_of(id, SHARDS)),
        format!("{created_at}#{id}"),
    )
}

/// The key of one shard of requests awaiting approval.
pub fn approval_pk(shard: u32) -> String {
    format!("APPROVAL#{shard:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_spread_and_agree() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..400 {
            let id = RequestId::generate();
            let s = shard_of(&id, SHARDS);
            assert_eq!(s, shard_of(&id, SHARDS));
            assert!(s < SHARDS);
            seen.insert(s);
        }
        assert_eq!(seen.len(), SHARDS as usize, "400 ids reach every shard");
    }

    #[test]
    fn only_unfinished_tasks_are_found_by_state() {
        let id = RequestId("req-1".into());
        let at = "2026-12-06T10:11:12Z";
        assert!(task_index(&id, TaskState::Pending, at).is_none());
        assert!(task_index(&id, TaskState::Skipped, at).is_none());
        let (pk, sk) = task_index(&id, TaskState::Queued, at).expect("queued");
        assert!(pk.starts_with("TASK#queued#"), "{pk}");
        assert_eq!(sk, at);
        let (pk, sk) = task_index(&id, TaskState::Completed, at).expect("ended");
        assert!(pk.starts_with("TASK#ended#2026-12-06T10#"), "{pk}");
        assert_eq!(sk, at);
    }
}
