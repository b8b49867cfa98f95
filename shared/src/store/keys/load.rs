//! The write load each partition key takes, computed exactly from the key design (no timing):
//! [`two_task_request`] lists what a fulfilled two-task request writes, key by key, as the
//! store writes it; [`per_key`] scales that to a rate of submissions. DynamoDB takes at most
//! 1,000 write units a second on one partition key, of the table or of an index, and an
//! index key whose sort key only grows (a time) cannot be split for heat.

use super::{ENDED_SHARDS, SHARDS};

/// Which keys a write lands on, by how they are shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyClass {
    /// `REQ#<id>` (the request, its tasks, their events): one request's.
    Request,
    /// `IDEMP#<caller>#<key>`: one call's.
    Idempotency,
    /// `byUser` `USER#<arn>`: one principal's requests.
    User,
    /// `byState` `TASK#<state>#<shard>` of unfinished tasks, shared by all requests.
    State(&'static str),
    /// `byState` `TASK#ended#<hour>#<shard>`, shared by all requests.
    Ended,
}

impl KeyClass {
    /// How many keys of the class the writes spread over (per principal for `User`).
    pub fn keys(self) -> u32 {
        match self {
            Self::State(_) => SHARDS,
            Self::Ended => ENDED_SHARDS,
            _ => 1,
        }
    }

    /// Whether every request shares it (rather than one request, call or principal).
    pub fn shared(self) -> bool {
        matches!(self, Self::State(_) | Self::Ended)
    }

    pub fn describe(self) -> String {
        match self {
            Self::Request => "REQ#<id> (table)".into(),
            Self::Idempotency => "IDEMP#<caller>#<key> (table)".into(),
            Self::User => "USER#<arn> (byUser), per principal".into(),
            Self::State(s) => format!("TASK#{s}#<shard> (byState, {SHARDS} shards)"),
            Self::Ended => format!("TASK#ended#<hour>#<shard> (byState, {ENDED_SHARDS} shards)"),
        }
    }
}

/// One write of one key: what it is, and its write units.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyWrite {
    pub step: &'static str,
    pub key: KeyClass,
    pub units: f64,
}

fn w(step: &'static str, key: KeyClass, units: f64) -> KeyWrite {
    KeyWrite { step, key, units }
}

/// Write units of writing each kind of item once (its size in 1 KB units); both indexes
/// project whole items, so an index entry costs its item's units too.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemUnits {
    pub request: f64,
    /// The first task's and the second's.
    pub tasks: [f64; 2],
    pub key: f64,
}

impl ItemUnits {
    /// Items under 1 KB.
    pub const ONE: Self = Self {
        request: 1.0,
        tasks: [1.0, 1.0],
        key: 1.0,
    };
}

/// [`two_task_request_of`] with items under 1 KB.
pub fn two_task_request() -> Vec<KeyWrite> {
    two_task_request_of(ItemUnits::ONE)
}

/// What a two-task request writes from submission to completion, as the store writes it:
/// the submission's transaction (request, two tasks, the answered `Idempotency-Key`; the
/// request enters `byUser`, the first task `queued`); each claim one conditional update (the
/// task moves from `queued` to `processing`); the first completion one transaction with the
/// next task's queueing (the two must agree); the last completion one transaction with the
/// request's end. A task that ends moves to the hour it ended. A transaction counts twice on
/// the table; an index entry that moves is a delete and a put.
pub fn two_task_request_of(u: ItemUnits) -> Vec<KeyWrite> {
    use KeyClass::*;
    let (r, [t1, t2]) = (u.request, u.tasks);
    let mut plan = vec![
        w(
            "submission: request, tasks (transaction)",
            Request,
            2.0 * (r + t1 + t2),
        ),
        w(
            "submission: answered key (transaction)",
            Idempotency,
            2.0 * u.key,
        ),
        w("submission: request in byUser", User, r),
        w("submission: task 1 queued", State("queued"), t1),
    ];
    for (last, t) in [(false, t1), (true, t2)] {
        plan.extend([
            w("claim: task (update)", Request, t),
            w("claim: leaves queued", State("queued"), t),
            w("claim: enters processing", State("processing"), t),
        ]);
        if last {
            plan.extend([
                w(
                    "completion: task, request (transaction)",
                    Request,
                    2.0 * (t + r),
                ),
                w("completion: request's end in byUser", User, r),
            ]);
        } else {
            plan.extend([
                w(
                    "completion: task, next task (transaction)",
                    Request,
                    2.0 * (t + t2),
                ),
                w("completion: next task queued", State("queued"), t2),
            ]);
        }
        plan.extend([
            w("completion: leaves processing", State("processing"), t),
            w("completion: enters its hour", Ended, t),
        ]);
    }
    plan
}

/// Write units a second on the busiest key of each class at `rate` two-task requests a
/// second, `per_principal` of them from the busiest principal.
pub fn per_key(rate: f64, per_principal: f64) -> Vec<(KeyClass, f64)> {
    let mut by: std::collections::BTreeMap<KeyClass, f64> = Default::default();
    for write in two_task_request() {
        *by.entry(write.key).or_default() += write.units;
    }
    by.into_iter()
        .map(|(key, per_request)| {
            let per_second = match key {
                // One request's or one call's writes come within its own life: a handful.
                KeyClass::Request | KeyClass::Idempotency => per_request,
                KeyClass::User => per_request * per_principal,
                _ => per_request * rate / f64::from(key.keys()),
            };
            (key, per_second)
        })
        .collect()
}

/// DynamoDB's limit per partition key.
pub const KEY_LIMIT: f64 = 1000.0;

/// The table `make bench` prints: each key class at 100, 1,000 and 10,000 requests a second.
pub fn table(per_principal: f64) -> String {
    let rates = [100.0, 1000.0, 10_000.0];
    let mut out = format!(
        "| key | units per request | {} |\n|---|---|---|---|---|\n",
        rates
            .iter()
            .map(|r| format!("WU/s at {r} req/s"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let columns: Vec<_> = rates.iter().map(|r| per_key(*r, per_principal)).collect();
    for (i, (key, _)) in columns[0].iter().enumerate() {
        let per_request: f64 = two_task_request()
            .iter()
            .filter(|w| w.key == *key)
            .map(|w| w.units)
            .sum();
        let cells: Vec<String> = columns
            .iter()
            .map(|c| {
                let v = c[i].1;
                if v > KEY_LIMIT {
                    format!("{v:.0} OVER")
                } else {
                    format!("{v:.0}")
                }
            })
            .collect();
        out.push_str(&format!(
            "| {} | {per_request:.0} | {} |\n",
            key.describe(),
            cells.join(" | ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The busiest principal in the model: a portal or a CI system submitting for many.
    const BUSIEST_PRINCIPAL: f64 = 100.0;

    #[test]
    fn no_key_takes_more_than_its_limit_at_1000_requests_a_second() {
        for (key, per_second) in per_key(1000.0, BUSIEST_PRINCIPAL) {
            assert!(
                per_second <= KEY_LIMIT,
                "{} takes {per_second} WU/s at 1,000 requests/s:\n{}",
                key.describe(),
                table(BUSIEST_PRINCIPAL)
            );
        }
    }

    #[test]
    fn shared_keys_grow_with_the_rate_not_with_history_and_one_request_stays_small() {
        let at = |rate| per_key(rate, BUSIEST_PRINCIPAL);
        for ((key, low), (_, high)) in at(100.0).into_iter().zip(at(1000.0)) {
            if key.shared() {
                assert!(
                    (high / low - 10.0).abs() < 1e-9,
                    "{key:?} scales with the rate"
                );
            } else {
                assert_eq!(low, high, "{key:?} does not depend on other requests");
            }
        }
        // One principal alone: its own key holds 2 WU per request, 500 requests a second.
        let user: f64 = two_task_request()
            .iter()
            .filter(|w| w.key == KeyClass::User)
            .map(|w| w.units)
            .sum();
        assert!(KEY_LIMIT / user >= 500.0);
    }

    #[test]
    fn the_table_marks_keys_over_the_limit() {
        let t = table(BUSIEST_PRINCIPAL);
        assert!(t.contains("TASK#queued#<shard>"), "{t}");
        assert_eq!(t.lines().count(), 2 + per_key(1.0, 1.0).len());
        let over_at_1000 = per_key(1000.0, BUSIEST_PRINCIPAL)
            .iter()
            .any(|(_, v)| *v > KEY_LIMIT);
        assert!(!over_at_1000);
    }
}
