//! DynamoDB write units measured from the writes a run made ([`super::calls::Sent`], the
//! bodies as they went over the wire) and the items they left (their sizes read back): each
//! write costs its item's size in 1 KB units, twice inside a transaction, and again in every
//! index it touches (an entry that moves costs a delete and a put; both indexes project
//! whole items). The floor is what DESIGN.md requires and no less, priced by the same rules.

use super::calls::Sent;
use serde_json::Value;
use std::collections::HashMap;

type Key = (String, String);

/// Write units, by where they land.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Units {
    pub table: f64,
    pub by_user: f64,
    pub by_state: f64,
}

impl Units {
    pub fn total(&self) -> f64 {
        self.table + self.by_user + self.by_state
    }

    pub fn scaled(&self, by: f64) -> Self {
        Self {
            table: self.table * by,
            by_user: self.by_user * by,
            by_state: self.by_state * by,
        }
    }

    /// `N WU (table a, byUser b, byState c)`.
    pub fn describe(&self) -> String {
        format!(
            "{:.1} WU (table {:.1}, byUser {:.1}, byState {:.1})",
            self.total(),
            self.table,
            self.by_user,
            self.by_state
        )
    }
}

fn kb(bytes: usize) -> f64 {
    bytes.div_ceil(1024).max(1) as f64
}

fn string(v: &Value) -> Option<String> {
    v.get("S").and_then(Value::as_str).map(str::to_string)
}

/// One item a write changes: its key, whether it enters (`Some(Some)`) or leaves
/// (`Some(None)`) a `byState` position or leaves it alone (`None`), and whether it is a put.
struct Change {
    key: Key,
    state_index: Option<Option<Key>>,
    put: bool,
}

fn put_change(item: &Value) -> Option<Change> {
    let key = (string(item.get("pk")?)?, string(item.get("sk")?)?);
    let index = item
        .get("gsi2pk")
        .and_then(string)
        .zip(item.get("gsi2sk").and_then(string));
    Some(Change {
        key,
        state_index: Some(index),
        put: true,
    })
}

fn update_change(update: &Value) -> Option<Change> {
    let k = update.get("Key")?;
    let key = (string(k.get("pk")?)?, string(k.get("sk")?)?);
    let expression = update.get("UpdateExpression")?.as_str()?;
    let names = update.get("ExpressionAttributeNames");
    let values = update.get("ExpressionAttributeValues");
    let placeholder = |attr: &str| -> String {
        names
            .and_then(Value::as_object)
            .and_then(|m| m.iter().find(|(_, v)| v.as_str() == Some(attr)))
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| attr.to_string())
    };
    let (pk, sk) = (placeholder("gsi2pk"), placeholder("gsi2sk"));
    let (set, remove) = match expression.split_once("REMOVE") {
        Some((set, remove)) => (set, remove),
        None => (expression, ""),
    };
    let assigned = |name: &str| -> Option<String> {
        let rest = set.split(&format!("{name} = ")).nth(1)?;
        let value_name = rest.split([',', ' ']).next()?;
        values.and_then(|v| v.get(value_name)).and_then(string)
    };
    let state_index = if remove.contains(&pk) {
        Some(None)
    } else {
        assigned(&pk).zip(assigned(&sk)).map(Some)
    };
    Some(Change {
        key,
        state_index,
        put: false,
    })
}

/// The items each write changes, and whether it was a transaction.
fn changes(sent: &Sent) -> (Vec<Change>, bool) {
    match sent.op.as_str() {
        "PutItem" => (
            sent.body
                .get("Item")
                .and_then(put_change)
                .into_iter()
                .collect(),
            false,
        ),
        "UpdateItem" => (update_change(&sent.body).into_iter().collect(), false),
        "TransactWriteItems" => {
            let items = sent
                .body
                .get("TransactItems")
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|i| {
                            i.get("Put")
                                .and_then(|p| p.get("Item"))
                                .and_then(put_change)
                                .or_else(|| i.get("Update").and_then(update_change))
                        })
                        .collect()
                })
                .unwrap_or_default();
            (items, true)
        }
        _ => (Vec::new(), false),
    }
}

/// The write units of `writes`, items sized by `sizes` (bytes, as they are at the end).
pub fn measure(writes: &[Sent], sizes: &HashMap<Key, usize>) -> Units {
    let mut units = Units::default();
    let mut positions: HashMap<Key, Option<Key>> = HashMap::new();
    for sent in writes {
        let (items, transactional) = changes(sent);
        for change in items {
            let size = sizes.get(&change.key).copied().unwrap_or(0);
            let u = kb(size);
            units.table += if transactional { 2.0 * u } else { u };
            if change.key.1 == "#REQUEST" {
                // In `byUser` from its put on; every write rewrites the whole-item projection.
                units.by_user += u;
            }
            let before = positions.get(&change.key).cloned().flatten();
            let after = match &change.state_index {
                Some(to) => to.clone(),
                None if change.put => None,
                None => before.clone(),
            };
            units.by_state += match (&before, &after) {
                (None, None) => 0.0,
                (Some(a), Some(b)) if a != b => 2.0 * u,
                _ => u,
            };
            positions.insert(change.key, after);
        }
    }
    units
}

/// The floor of a two-task request, from its items' sizes (bytes): the submission's request
/// and tasks in one transaction, one single write per task state change (five: each task
/// claimed and completed, the second queued), one write for the request's end; the request
/// in its principal's list when written and when it ends, each task change reflected once in
/// a by-state index, index entries at their smallest (1 unit).
pub fn floor(request: usize, task: usize) -> Units {
    let (r, t) = (kb(request), kb(task));
    Units {
        table: 2.0 * (r + 2.0 * t) + 5.0 * t + r,
        by_user: 2.0,
        by_state: 6.0,
    }
}

/// The hop between a two-task request's tasks in `writes`: from the answer to the first
/// task's completion (its transaction) to the answer to the second task's claim.
pub fn hop(writes: &[Sent], id: &pao::record::RequestId) -> Option<std::time::Duration> {
    let pk = format!("REQ#{id}");
    // An update of the task (its put is the submission's).
    let touches = |c: &Change, sk: &str| !c.put && c.key.0 == pk && c.key.1 == sk;
    let completion = writes.iter().find(|w| {
        w.op == "TransactWriteItems" && changes(w).0.iter().any(|c| touches(c, "TASK#0000"))
    })?;
    let claim = writes.iter().find(|w| {
        w.op == "UpdateItem"
            && changes(w).0.iter().any(|c| touches(c, "TASK#0001"))
            && w.body.to_string().contains("startedAt")
    })?;
    claim.answered?.checked_duration_since(completion.answered?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sent(op: &str, body: Value) -> Sent {
        Sent {
            op: op.into(),
            body,
            sent: std::time::Instant::now(),
            answered: None,
        }
    }

    #[test]
    fn writes_are_priced_by_size_transaction_and_index() {
        let s = |v: &str| json!({"S": v});
        let sizes = HashMap::from([
            (("REQ#1".to_string(), "#REQUEST".to_string()), 900),
            (("REQ#1".to_string(), "TASK#0000".to_string()), 1500),
        ]);
        let writes = vec![
            sent(
                "TransactWriteItems",
                json!({"TransactItems": [
                    {"Put": {"Item": {"pk": s("REQ#1"), "sk": s("#REQUEST")}}},
                    {"Put": {"Item": {"pk": s("REQ#1"), "sk": s("TASK#0000"),
                                      "gsi2pk": s("TASK#queued#01"), "gsi2sk": s("t1")}}}]}),
            ),
            sent(
                "UpdateItem",
                json!({"Key": {"pk": s("REQ#1"), "sk": s("TASK#0000")},
                       "UpdateExpression": "SET #a0 = :v0, #ipk = :ipk, #isk = :isk",
                       "ExpressionAttributeNames": {"#ipk": "gsi2pk", "#isk": "gsi2sk"},
                       "ExpressionAttributeValues": {":ipk": s("TASK#processing#01"), ":isk": s("t2")}}),
            ),
            sent(
                "UpdateItem",
                json!({"Key": {"pk": s("REQ#1"), "sk": s("TASK#0000")},
                       "UpdateExpression": "SET #a0 = :v0 REMOVE gsi2pk, gsi2sk"}),
            ),
        ];
        let u = measure(&writes, &sizes);
        // Transaction: 2 x (1 + 2); two updates of a 2-unit task.
        assert_eq!(u.table, 6.0 + 2.0 + 2.0);
        assert_eq!(u.by_user, 1.0);
        // The task enters (2), moves (2 x 2), leaves (2).
        assert_eq!(u.by_state, 2.0 + 4.0 + 2.0);
        assert_eq!(floor(900, 900).total(), 6.0 + 5.0 + 1.0 + 8.0);
    }

    #[test]
    fn the_hop_runs_from_the_first_completion_to_the_second_claim() {
        let s = |v: &str| json!({"S": v});
        let at = |w: Value, op: &str, ms: u64, start: std::time::Instant| Sent {
            op: op.into(),
            body: w,
            sent: start,
            answered: Some(start + std::time::Duration::from_millis(ms)),
        };
        let t = std::time::Instant::now();
        let task = |sk: &str| json!({"pk": s("REQ#1"), "sk": s(sk)});
        let writes = vec![
            // The submission puts the first task: not its completion.
            at(
                json!({"TransactItems": [{"Put": {"Item": task("TASK#0000")}}]}),
                "TransactWriteItems",
                1,
                t,
            ),
            at(
                json!({"Key": task("TASK#0000"), "UpdateExpression": "SET #a0 = :v0",
                      "ExpressionAttributeNames": {"#a0": "startedAt"}}),
                "UpdateItem",
                5,
                t,
            ),
            at(
                json!({"TransactItems": [{"Update": {"Key": task("TASK#0000"), "UpdateExpression": "SET x = :x"}},
                                        {"Update": {"Key": task("TASK#0001"), "UpdateExpression": "SET x = :x"}}]}),
                "TransactWriteItems",
                10,
                t,
            ),
            at(
                json!({"Key": task("TASK#0001"), "UpdateExpression": "SET #a0 = :v0",
                      "ExpressionAttributeNames": {"#a0": "startedAt"}}),
                "UpdateItem",
                17,
                t,
            ),
        ];
        assert_eq!(
            hop(&writes, &pao::record::RequestId("1".into())),
            Some(std::time::Duration::from_millis(7))
        );
    }
}
