use super::*;
use serde_json::json;

fn request(state: &str) -> Value {
    json!({"pk": "REQ#r1", "sk": "#REQUEST", "requestId": "r1", "state": state,
           "catalogItemId": "aurora", "name": "orders", "user": {"arn": "arn:aws:iam::1:user/a"},
           "input": {"db": {"password": "********"}}, "totalTasks": 2, "completedTasks": 0,
           "createdAt": "2026-12-07T09:00:00Z", "correlationId": "c1", "team": "payments"})
}

fn change<'a>(old: Option<&'a Value>, new: Option<&'a Value>) -> Change<'a> {
    Change {
        record_id: "rec1",
        sequence: "42",
        at: "2026-12-07T09:00:01Z",
        old,
        new,
    }
}

fn kinds(events: &[Event]) -> Vec<&'static str> {
    events.iter().map(|e| e.detail_type.as_str()).collect()
}

#[test]
fn a_written_request_and_each_state_it_takes_are_one_event_each() {
    let new = request("submitted");
    let events = events_of(&change(None, Some(&new)));
    assert_eq!(kinds(&events), ["Request State Changed"]);
    let d = &events[0].detail;
    assert_eq!(d["schemaVersion"], "1");
    assert_eq!(d["eventId"], "rec1-0");
    assert_eq!(events[0].id, "rec1-0");
    assert_eq!(d["sequence"], format!("{:0>40}.00", 42));
    assert_eq!(d["requestId"], "r1");
    assert_eq!(d["previousState"], Value::Null);
    assert_eq!(d["state"], "submitted");
    assert_eq!(d["request"]["catalogItemId"], "aurora");
    assert_eq!(d["request"]["links"]["devctl"], "devctl status r1");
    assert!(
        d["request"].get("input").is_none(),
        "no input in events: {d}"
    );

    let failed = request("failed");
    let events = events_of(&change(Some(&new), Some(&failed)));
    assert_eq!(kinds(&events), ["Request State Changed"]);
    assert_eq!(events[0].detail["previousState"], "submitted");
    // A write that leaves the state as it was tells nobody anything.
    assert!(events_of(&change(Some(&failed), Some(&failed))).is_empty());
    // Nor does an item going away (TTL).
    assert!(events_of(&change(Some(&failed), None)).is_empty());
}

#[test]
fn tasks_tell_their_state_their_retries_and_when_they_are_overdue() {
    let task = |state: &str, attempt: u32| {
        json!({"pk": "REQ#r1", "sk": "TASK#0001", "requestId": "r1", "seq": 1, "state": state,
               "attempt": attempt, "catalogItemId": "aurora", "current": {"password": "x"},
               "item": {"id": "ticket", "type": "jira-ticket", "config": {"secret": "s"}}})
    };
    let (queued, processing) = (task("queued", 1), task("processing", 1));
    let events = events_of(&change(Some(&queued), Some(&processing)));
    assert_eq!(kinds(&events), ["Task State Changed"]);
    let t = &events[0].detail["task"];
    assert_eq!(t["seq"], 1);
    assert_eq!(t["type"], "jira-ticket");
    assert_eq!(t["state"], "processing");
    assert!(
        t.get("current").is_none() && t.get("config").is_none(),
        "{t}"
    );

    let mut overdue = processing.clone();
    overdue["overdueSince"] = json!("2026-12-08T00:00:00Z");
    assert_eq!(
        kinds(&events_of(&change(Some(&processing), Some(&overdue)))),
        ["Task Overdue"]
    );
    // A retry of a failed task starts a new attempt.
    let (failed, retried) = (task("failed", 1), task("queued", 2));
    assert_eq!(
        kinds(&events_of(&change(Some(&failed), Some(&retried)))),
        ["Task State Changed"]
    );
}

fn stage() -> Value {
    json!({"id": "dba", "approvers": {"tags": {"team": ["dba"]}}, "require": 1,
           "timeoutSeconds": 7200, "onTimeout": "escalate",
           "escalateTo": {"arns": ["arn:aws:iam::1:role/Lead"]}})
}

#[test]
fn approvals_are_requested_escalated_reminded_and_decided() {
    let mut waiting = request("awaiting_approval");
    waiting["approval"] = json!({"stages": [stage()], "current": 0, "since": 1_796_635_800u64,
                                 "decisions": [], "version": 0});
    let events = events_of(&change(None, Some(&waiting)));
    assert_eq!(
        kinds(&events),
        ["Request State Changed", "Approval Requested"]
    );
    let d = &events[1].detail;
    assert_eq!(d["reason"], "requested");
    assert_eq!(d["stage"]["id"], "dba");
    assert_eq!(d["deciders"], json!({"tags": {"team": ["dba"]}}));
    assert_eq!(d["timeoutAt"], "2026-12-07T11:30:00Z");
    assert_eq!(d["links"]["devctl"], "devctl approval r1");
    assert_eq!(events[1].id, "rec1-1");

    let mut reminded = waiting.clone();
    reminded["approval"]["reminded"] = json!(true);
    let e = events_of(&change(Some(&waiting), Some(&reminded)));
    assert_eq!(kinds(&e), ["Approval Requested"]);
    assert_eq!(e[0].detail["reason"], "reminder");

    let mut escalated = reminded.clone();
    escalated["approval"]["escalated"] = json!(true);
    let e = events_of(&change(Some(&reminded), Some(&escalated)));
    assert_eq!(e[0].detail["reason"], "escalated");
    assert_eq!(
        e[0].detail["deciders"],
        json!({"arns": ["arn:aws:iam::1:role/Lead"]})
    );

    let mut approved = request("submitted");
    approved["approval"] = escalated["approval"].clone();
    approved["approval"]["current"] = json!(1);
    approved["approval"]["decisions"] = json!([{"stage": "dba", "arn": "arn:aws:iam::1:role/Lead",
        "approve": true, "comment": "fine", "at": "2026-12-07T10:00:00Z"}]);
    let e = events_of(&change(Some(&escalated), Some(&approved)));
    assert_eq!(kinds(&e), ["Request State Changed", "Approval Decided"]);
    assert_eq!(e[1].detail["decision"], "approved");
    assert_eq!(e[1].detail["by"], "arn:aws:iam::1:role/Lead");
    assert_eq!(e[1].detail["comment"], "fine");
    assert_eq!(e[1].detail["requestState"], "submitted");

    let mut timed_out = request("rejected");
    timed_out["approval"] = escalated["approval"].clone();
    timed_out["events"] = json!([{"kind": "approval-timed-out", "at": "2026-12-07T12:00:00Z",
                                  "message": "stage \"dba\" timed out"}]);
    let e = events_of(&change(Some(&escalated), Some(&timed_out)));
    assert_eq!(kinds(&e), ["Request State Changed", "Approval Decided"]);
    assert_eq!(e[1].detail["decision"], "timed-out");
    assert_eq!(e[1].detail["stage"]["id"], "dba");
}

#[test]
fn a_sync_that_changed_the_catalog_is_told_and_one_that_did_not_is_not() {
    let pointer = |v: &str| {
        json!({"pk": "CATALOG", "sk": "CURRENT", "version": v, "commit": "abc", "count": 7,
               "syncedAt": "2026-12-07T09:00:00Z", "rejections": [{"file": "x.yaml"}]})
    };
    let (a, b) = (pointer("v1"), pointer("v2"));
    let e = events_of(&change(Some(&a), Some(&b)));
    assert_eq!(kinds(&e), ["Catalog Changed"]);
    assert_eq!(e[0].request_id, None);
    assert_eq!(e[0].detail["previousVersion"], "v1");
    assert_eq!(e[0].detail["documents"], 7);
    assert_eq!(e[0].detail["rejected"], 1);
    assert!(events_of(&change(Some(&b), Some(&b))).is_empty());
}

#[test]
fn items_nobody_is_told_about_make_no_events() {
    for (pk, sk) in [
        ("EVENT#rec1-0", "PUBLISHED"),
        ("IDEMP#a#k", "IDEMP"),
        ("CATALOG#v1", "DOC#00001"),
        ("DELIVERY#d", "DELIVERY"),
        ("SEALED#r1", "SEALED"),
    ] {
        let item = json!({"pk": pk, "sk": sk, "state": "failed"});
        assert!(events_of(&change(None, Some(&item))).is_empty(), "{pk}");
    }
}

#[test]
fn every_detail_type_has_its_name_once() {
    for t in DetailType::ALL {
        assert_eq!(DetailType::parse(t.as_str()), Some(t));
    }
}
