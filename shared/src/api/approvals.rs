//! Approval routes: what the caller may decide now (`GET /approvals/pending`), one request's
//! approval (`GET /approvals/{id}`, the id is the request's), and deciding it
//! (`POST /approvals/{id}/approve|reject`, once per `Idempotency-Key`). Who may decide is
//! [`crate::approval`]'s rule; the change is [`crate::store::Store::record_approval`], written
//! only if nobody decided since it was read (else read again: the loser of two `any`
//! approvals finds the request approved and answers 409).

use super::App;
use super::access::{Requester, is_support};
use super::envelope::{ApiError, ApiResponse};
use super::input::{caller, limit_param, parse_body};
use super::routes::Call;
use crate::approval::{Approval, Caller, Outcome, Refusal};
use crate::clock::Now;
use crate::problem::Problem;
use crate::queue::TaskMessage;
use crate::record::{Event, Principal, RequestDetail, RequestId, RequestRecord};
use crate::request::RequestState;
use crate::store::{Read, StoreError};
use serde_json::{Value, json};

/// How many times a decision reads again after another decision landed first.
const ATTEMPTS: usize = 4;
/// Pages of every shard the pending list reads for one answer at most.
const PENDING_ROUNDS: usize = 4;

/// `GET /approvals/pending`: the requests the caller may decide now, newest first.
pub(super) async fn pending(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let (req, who) = (call.req, caller(call.req)?);
    if let Some(bad) = req
        .query
        .iter()
        .map(|(k, _)| k.as_str())
        .find(|k| !matches!(*k, "limit" | "cursor"))
    {
        return Err(ApiError::Validation(vec![Problem::at(
            bad,
            "is not a parameter of this route (limit, cursor)",
        )]));
    }
    let limit = limit_param(req, 20)?;
    let key = app.cursor_key().await?;
    let scope = format!("approvals|{}", who.arn);
    let mut before = match req.query("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            key.open(&scope, c)?
                .as_str()
                .map(str::to_string)
                .ok_or(StoreError::BadCursor)?,
        ),
    };
    let requester = Requester::of(app, req)?;
    let now = Now::current();
    let mut items = Vec::new();
    let mut next = None;
    'rounds: for round in 0..PENDING_ROUNDS {
        let page = app
            .store
            .pending_approvals(before.as_deref(), 25, &now)
            .await?;
        for (position, r) in &page.requests {
            let Some(approval) = &r.approval else {
                continue;
            };
            if r.state != RequestState::AwaitingApproval {
                continue;
            }
            let me = requester
                .as_caller(who.id.clone(), approval.reads_tags())
                .await?;
            if may_decide(approval, &me, r).is_ok() {
                items.push(pending_view(r, approval, now.epoch));
                if items.len() == limit {
                    next = Some(position.clone());
                    break 'rounds;
                }
            }
        }
        match page.boundary {
            None => break,
            // Not filled after the last round: the caller reads on from here.
            Some(b) if round + 1 == PENDING_ROUNDS => next = Some(b),
            Some(b) => before = Some(b),
        }
    }
    let mut meta = call.meta();
    meta["nextCursor"] = json!(next.map(|p| key.seal(&scope, &Value::String(p))));
    Ok(ApiResponse::ok(200, Value::Array(items), meta))
}

/// `GET /approvals/{id}`: the request's approval, to its owner, support and the people its
/// stages name; to anyone else it does not exist.
pub(super) async fn detail(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let who = caller(call.req)?;
    let requester = Requester::of(app, call.req)?;
    let d = visible(app, call, &who, &requester, Read::Eventual).await?;
    let r = &d.request;
    let Some(approval) = &r.approval else {
        return Err(no_approval(r));
    };
    let me = requester
        .as_caller(who.id.clone(), approval.reads_tags())
        .await?;
    let now = crate::clock::now_epoch();
    let mut data = pending_view(r, approval, now);
    data["input"] = r.input.clone();
    data["approval"] = view(approval, now, r.state);
    data["tasks"] = d
        .tasks
        .iter()
        .map(|t| {
            // Each task's input as its item will see it (a bundle component's mapped input),
            // passwords masked as stored.
            json!({"seq": t.seq, "fulfillmentItemId": t.item.id, "type": t.item.action,
                   "catalogItemId": t.catalog_item_id, "component": t.component,
                   "input": t.current, "state": t.state})
        })
        .collect();
    match (r.state, may_decide(approval, &me, r)) {
        (RequestState::AwaitingApproval, Ok(())) => data["youMayDecide"] = json!(true),
        (RequestState::AwaitingApproval, Err(why)) => {
            data["youMayDecide"] = json!(false);
            data["why"] = json!(why.to_string());
        }
        _ => data["youMayDecide"] = json!(false),
    }
    Ok(ApiResponse::ok(200, data, call.meta()))
}

/// `POST /approvals/{id}/approve`.
pub(super) async fn approve(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let who = caller(call.req)?;
    super::idempotent::idempotent(app, call, &who, || decide(app, call, &who, true)).await
}

/// `POST /approvals/{id}/reject`: a comment is required.
pub(super) async fn reject(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let who = caller(call.req)?;
    super::idempotent::idempotent(app, call, &who, || decide(app, call, &who, false)).await
}

async fn decide(
    app: &App,
    call: &Call<'_>,
    who: &Principal,
    approve: bool,
) -> Result<ApiResponse, ApiError> {
    let comment = comment_of(call, approve)?;
    let requester = Requester::of(app, call.req)?;
    for _ in 0..ATTEMPTS {
        let d = visible(app, call, who, &requester, Read::Strong).await?;
        let r = &d.request;
        let Some(read) = &r.approval else {
            return Err(no_approval(r));
        };
        if r.state != RequestState::AwaitingApproval {
            return Err(ApiError::Conflict(format!(
                "request {} is {}: it no longer awaits approval",
                r.request_id, r.state
            )));
        }
        let me = requester
            .as_caller(who.id.clone(), read.reads_tags())
            .await?;
        let mut approval = read.clone();
        let now = Now::current();
        let stage = approval.stage().map(|s| s.id.clone()).unwrap_or_default();
        let outcome = approval
            .decide(
                &me,
                &owner_of(r),
                approve,
                comment.clone(),
                (now.rfc3339.clone(), now.epoch),
            )
            .map_err(refused)?;
        let (to, said) = match &outcome {
            Outcome::Counted { approvals, needed } => (
                RequestState::AwaitingApproval,
                format!("{approvals} of {needed}"),
            ),
            Outcome::NextStage(next) => (
                RequestState::AwaitingApproval,
                format!("stage approved; stage {next:?} decides next"),
            ),
            Outcome::Approved => (
                RequestState::Submitted,
                "every stage approved; the request runs".into(),
            ),
            Outcome::Rejected => (RequestState::Rejected, "the request ends rejected".into()),
        };
        let event = Event {
            at: now.rfc3339.clone(),
            kind: if approve {
                "approval-approved"
            } else {
                "approval-rejected"
            }
            .into(),
            message: format!(
                "{} by {} at stage {stage:?} ({said}){}",
                if approve { "approved" } else { "rejected" },
                who.arn,
                comment
                    .as_deref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            ),
            task_seq: None,
        };
        match app
            .store
            .record_approval(r, &d.tasks, &approval, to, &event, &now)
            .await
        {
            Ok(()) => {}
            // Someone decided (or the sweeper acted) since it was read: read it again.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
        if to == RequestState::Submitted {
            release(app, &d).await;
        }
        let mut data = json!({
            "requestId": r.request_id,
            "approvalId": r.request_id,
            "decision": if approve { "approved" } else { "rejected" },
            "stage": stage,
            "state": to,
            "approval": view(&approval, now.epoch, to),
        });
        if let Outcome::NextStage(next) = &outcome {
            data["nextStage"] = json!(next);
        }
        return Ok(ApiResponse::ok(200, data, call.meta()));
    }
    Err(ApiError::Conflict(
        "the approval kept changing while it was decided: read it again and decide".into(),
    ))
}

/// Sends the first task of a request its last approval released. A send that fails is not
/// an error: the task is `queued`, and the sweeper sends what was queued but never sent.
pub(crate) async fn release(app: &App, d: &RequestDetail) {
    let Some(first) = d.tasks.first() else { return };
    if let Err(e) = app
        .queue
        .enqueue(&TaskMessage::for_task(first, &d.request.correlation_id))
        .await
    {
        tracing::warn!(request_id = %d.request.request_id, error = %e, "approved request's first task written but not sent; the sweeper will send it");
    }
}

/// `{"comment": "…"}`: optional to approve, required to reject; nothing else.
fn comment_of(call: &Call<'_>, approve: bool) -> Result<Option<String>, ApiError> {
    let body = if call.req.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        parse_body(call.req)?
    };
    let Some(object) = body.as_object() else {
        return Err(ApiError::Validation(vec![Problem::at(
            "body",
            "must be a JSON object: {\"comment\": \"…\"}",
        )]));
    };
    if let Some(bad) = object.keys().find(|k| *k != "comment") {
        return Err(ApiError::Validation(vec![Problem::at(
            bad.as_str(),
            "is not a field of a decision (comment)",
        )]));
    }
    let comment = match object.get("comment") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(c.trim().to_string()).filter(|c| !c.is_empty()),
        Some(_) => {
            return Err(ApiError::Validation(vec![Problem::at(
                "comment",
                "must be a string",
            )]));
        }
    };
    if comment
        .as_ref()
        .is_some_and(|c| c.chars().count() > crate::approval::MAX_COMMENT)
    {
        return Err(ApiError::Validation(vec![Problem::at(
            "comment",
            format!(
                "must be at most {} characters",
                crate::approval::MAX_COMMENT
            ),
        )]));
    }
    if !approve && comment.is_none() {
        return Err(ApiError::Validation(vec![Problem::at(
            "comment",
            "is required to reject: say why, the requester reads it",
        )]));
    }
    Ok(comment)
}

/// The request, if the caller may see its approval: its owner, support staff, or someone a
/// stage names (as approver or escalation); to anyone else it does not exist.
async fn visible(
    app: &App,
    call: &Call<'_>,
    who: &Principal,
    requester: &Requester<'_>,
    read: Read,
) -> Result<RequestDetail, ApiError> {
    let id = call.param(0);
    let not_found = || ApiError::NotFound(format!("approval {id:?} does not exist"));
    if !id.starts_with("req-") || id.len() > 64 {
        return Err(not_found());
    }
    let d = app
        .store
        .get_request(&RequestId(id.to_string()), &Now::current(), read)
        .await?
        .ok_or_else(not_found)?;
    if who.is(&d.request.user) {
        return Ok(d);
    }
    if let Some(approval) = &d.request.approval {
        let me = requester
            .as_caller(who.id.clone(), approval.reads_tags())
            .await?;
        if approval.concerns(&me) {
            return Ok(d);
        }
    }
    if is_support(app, &who.arn, call.req.home_account.as_deref()).await {
        return Ok(d);
    }
    Err(not_found())
}

fn no_approval(r: &RequestRecord) -> ApiError {
    ApiError::NotFound(format!(
        "request {} needed no approval: its item has no stage that applied",
        r.request_id
    ))
}

fn owner_of(r: &RequestRecord) -> Caller {
    Caller {
        arn: r.user.arn.clone(),
        id: r.user.id.clone(),
        ..Caller::default()
    }
}

/// Whether `me` may decide the request's current stage now.
fn may_decide(approval: &Approval, me: &Caller, r: &RequestRecord) -> Result<(), Refusal> {
    match approval.stage() {
        Some(stage) => stage.may_decide(me, &owner_of(r), &approval.decisions, approval.escalated),
        None => Err(Refusal::AlreadyDecided {
            caller: me.arn.clone(),
            stage: "(every stage)".into(),
        }),
    }
}

/// A refusal as the API answers it: 409 for a second decision, 403 naming the rule else.
fn refused(why: Refusal) -> ApiError {
    match why {
        Refusal::AlreadyDecided { .. } => ApiError::Conflict(why.to_string()),
        _ => ApiError::Forbidden(why.to_string()),
    }
}

/// A pending approval as a list shows it.
fn pending_view(r: &RequestRecord, approval: &Approval, now: u64) -> Value {
    let mut v = json!({
        "approvalId": r.request_id,
        "requestId": r.request_id,
        "name": r.name,
        "state": r.state,
        "catalogVersion": r.catalog_version,
        "requestedBy": {"arn": r.user.arn, "email": r.user.email},
        "requestedAt": r.created_at,
        "links": {"self": format!("/api/v1/approvals/{}", r.request_id),
                  "request": format!("/api/v1/requests/{}", r.request_id)},
    });
    if let Some(object) = v.as_object_mut()
        && let Ok(Value::Object(target)) = serde_json::to_value(&r.target)
    {
        object.extend(target);
    }
    if let Some(stage) = current_stage_view(approval, now, r.state) {
        v["stage"] = stage;
    }
    v
}

/// The stage deciding now: none once the request no longer awaits approval.
fn current_stage_view(approval: &Approval, now: u64, state: RequestState) -> Option<Value> {
    if state != RequestState::AwaitingApproval {
        return None;
    }
    let stage = approval.stage()?;
    let (approvals, needed) = approval.progress().unwrap_or((0, 0));
    let mut v = json!({
        "id": stage.id,
        "require": stage.require,
        "approvals": approvals,
        "needed": needed,
        "deciders": approval.deciders().map(|g| g.describe()),
        "escalated": approval.escalated,
        "since": crate::clock::rfc3339(approval.since),
        "waitingSeconds": now.saturating_sub(approval.since),
    });
    if let Some(t) = stage.timeout_seconds {
        v["timeoutAt"] = json!(crate::clock::rfc3339(approval.since.saturating_add(t)));
        v["onTimeout"] = json!(if approval.escalated {
            crate::approval::OnTimeout::Reject
        } else {
            stage.on_timeout
        });
    }
    if let (Some(r), false) = (stage.remind_after_seconds, approval.reminded) {
        v["remindAt"] = json!(crate::clock::rfc3339(approval.since.saturating_add(r)));
    }
    Some(v)
}

/// A request's approval: every stage with where it stands, and every decision (who, when,
/// the comment). Shown by `GET /approvals/{id}` and `GET /requests/{id}`.
pub(super) fn view(approval: &Approval, now: u64, state: RequestState) -> Value {
    let stages: Vec<Value> = approval
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let status = match s.standing(&approval.decisions) {
                crate::approval::Standing::Rejected(_) => "rejected",
                _ if i < approval.current => "approved",
                // A timeout rejected it, or the requester stopped the request while it waited.
                _ if i == approval.current && state == RequestState::Rejected => "rejected",
                _ if state == RequestState::Aborted => "stopped",
                _ if i == approval.current => "deciding",
                _ => "waiting",
            };
            let mut v = json!({
                "id": s.id,
                "require": s.require,
                "approvers": s.approvers.describe(),
                "status": status,
            });
            if let Some(to) = &s.escalate_to {
                v["escalateTo"] = json!(to.describe());
            }
            v
        })
        .collect();
    let decisions: Vec<Value> = approval
        .decisions
        .iter()
        .map(|d| {
            json!({"stage": d.stage, "by": d.arn,
                   "decision": if d.approve { "approved" } else { "rejected" },
                   "comment": d.comment, "at": d.at})
        })
        .collect();
    json!({
        "stages": stages,
        "current": current_stage_view(approval, now, state),
        "decisions": decisions,
    })
}
