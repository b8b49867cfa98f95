//! Request routes: submitting (once per `Idempotency-Key`), listing, and reading one request.

use super::access::{acting, owned};
use super::envelope::{ApiError, ApiResponse};
use super::idempotent::{earlier_answer, fingerprint, idempotency_key, idempotent, key_reused};
use super::input::{caller, item_field, limit_param, parse_body};
use super::routes::Call;
use super::views::{Created, RequestView, SUMMARY_FIELDS, StatusView, Submitted, Summary, to_data};
use super::{ApiRequest, App};
use crate::clock::Now;
use crate::problem::Problem;
use crate::queue::TaskMessage;
use crate::record::{Event, Principal};
use crate::request::{RequestState, Submission};
use crate::store::Read;
use crate::task::TaskState;
use serde_json::{Value, json};

/// `POST /requests`: validates every item, then writes and queues each as a request.
pub(super) async fn submit(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let caller = caller(call.req)?;
    match one_item_key(call.req)? {
        // One item under a key (the usual case): the key is answered in the request's own
        // transaction, so the submission costs one transaction and one send.
        Some(key) => create(app, call.req, &caller, call.correlation_id, Some(key)).await,
        None => {
            idempotent(app, call, &caller, || {
                create(app, call.req, &caller, call.correlation_id, None)
            })
            .await
        }
    }
}

/// The `Idempotency-Key` of a submission of exactly one item (checked), if it has one.
fn one_item_key(req: &ApiRequest) -> Result<Option<&str>, ApiError> {
    let Some(key) = idempotency_key(req)? else {
        return Ok(None);
    };
    let one = serde_json::from_slice::<Value>(&req.body)
        .ok()
        .and_then(|b| b.get("items").and_then(Value::as_array).map(Vec::len))
        == Some(1);
    Ok(one.then_some(key))
}

/// Validates and builds every item, then writes each. `answer_key`: a one-item submission's
/// key, answered in the request's own transaction.
async fn create(
    app: &App,
    req: &ApiRequest,
    caller: &Principal,
    cid: &str,
    answer_key: Option<&str>,
) -> Result<ApiResponse, ApiError> {
    let body = parse_body(req)?;
    let submission = Submission::parse(&body).map_err(ApiError::Validation)?;
    let current = app.catalog().await?;
    let catalog = &current.catalog;
    // Under an Idempotency-Key every id derives from caller and key: a retry after a
    // partial failure finds what the first attempt wrote and writes each item once.
    let seed = req
        .header("idempotency-key")
        .filter(|k| !k.is_empty())
        .map(|k| format!("{}#{k}", caller.arn));
    let mut user = caller.clone();
    user.email = app.settings.session_trust.email_of(&caller.arn);
    let requester = super::access::Requester::of(app, req)?;
    let ctx = crate::submission::Context {
        team: requester.team().await,
        user,
        correlation_id: cid.to_string(),
        submission_id: crate::submission::Context::new_submission_id(seed.as_deref()),
        now: crate::clock::now_rfc3339(),
        region: app.settings.region.clone(),
        environment: app.settings.environment.clone(),
        idempotency_seed: seed,
        catalog_commit: current.commit.clone(),
    };
    // Who may request each item is asked first: a refused item writes nothing, and its answer
    // is a 403 naming the item and the rule.
    for (i, item) in submission.items.iter().enumerate() {
        let Some(entry) = catalog.get(item.target.id()) else {
            continue; // the build below names it
        };
        if let Some(rule) = requester.refused(&entry.document).await? {
            return Err(ApiError::Forbidden(format!(
                "items[{i}]: you may not request {} {:?}: {rule}",
                if matches!(entry.document, crate::catalog::Document::Bundle(_)) {
                    "bundle"
                } else {
                    "catalog item"
                },
                item.target.id()
            )));
        }
    }
    // Every item is validated before anything is written: one bad item writes none.
    let mut built = Vec::new();
    let mut issues = Vec::new();
    for (i, item) in submission.items.iter().enumerate() {
        match crate::submission::build(catalog, item, i, &ctx) {
            Ok(records) => built.push(records),
            Err(found) => issues.extend(
                found
                    .into_iter()
                    .map(|f| Problem::at(item_field(i, &f.path), f.message)),
            ),
        }
    }
    if !issues.is_empty() {
        return Err(ApiError::Unprocessable(issues));
    }
    let response = ApiResponse::ok(
        202,
        to_data(Submitted {
            submission_id: &ctx.submission_id,
            requests: built.iter().map(|(r, _)| Created::of(r)).collect(),
        }),
        json!({"correlationId": cid}),
    );
    let now = Now::current();
    let call_print = fingerprint(app, req).await?;
    let keyed = req.header("idempotency-key").is_some_and(|k| !k.is_empty());
    let print = keyed.then(|| crate::store::idempotency::body_hash(&call_print));
    for (request, _) in &mut built {
        request.call_print = print.clone();
    }
    let answered = answer_key.map(|key| crate::store::Answered {
        caller: &caller.arn,
        key,
        body: &call_print,
        status: response.status,
        response: &response.body,
        now: &now,
    });
    // Every password value is sealed before anything is written: a refusal writes nothing.
    let mut sealed = Vec::with_capacity(built.len());
    for ((request, _), item) in built.iter().zip(&submission.items) {
        let values = crate::sealed::typed(&item.input, &request.sealed_fields);
        sealed.push(crate::sealed::seal(&app.kms, request.request_id.as_str(), &values).await?);
    }
    for ((request, tasks), sealed) in built.iter().zip(&sealed) {
        let written = crate::submission::write(
            &app.store,
            &app.queue,
            (request, tasks),
            sealed,
            answered.as_ref(),
        )
        .await?;
        if let (Some(key), crate::submission::Written::AlreadyWritten) = (answer_key, &written) {
            // This key was answered before (or is being): that answer stands. With no answer
            // left (expired), the request written under the key says whether it was this call.
            return match app
                .store
                .idempotency_of(&caller.arn, key, &call_print)
                .await?
            {
                Some(held) => earlier_answer(held),
                None => {
                    same_call(app, request, print.as_deref()).await?;
                    Ok(response.clone())
                }
            };
        }
        if matches!(written, crate::submission::Written::AlreadyWritten) && keyed {
            same_call(app, request, print.as_deref()).await?;
        }
        app.metrics
            .count(&[("CatalogItem", request.target.id())], "RequestsSubmitted");
    }
    Ok(response)
}

/// A request an earlier call wrote under the same `Idempotency-Key` (the ids derive from
/// caller and key): it must have been this very call, or the key was reused for another one
/// after its record expired (422, nothing written).
async fn same_call(
    app: &App,
    request: &crate::record::RequestRecord,
    print: Option<&str>,
) -> Result<(), ApiError> {
    let stored = app
        .store
        .get_request(&request.request_id, &Now::current(), Read::Strong)
        .await?;
    match stored {
        Some(d) if d.request.call_print.as_deref() == print => Ok(()),
        _ => Err(key_reused()),
    }
}

/// `GET /requests`: the caller's requests (or with `scope=team` their team's), newest first,
/// optionally by state.
pub(super) async fn list(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let (req, caller, mut meta) = (call.req, caller(call.req)?, call.meta());
    let state = match req.query("state") {
        None => None,
        Some(s) => Some(RequestState::parse(s).ok_or_else(|| {
            let known: Vec<&str> = RequestState::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::Validation(vec![Problem::at(
                "state",
                format!("must be one of: {}", known.join(", ")),
            )])
        })?),
    };
    let fields: Option<Vec<&str>> = req
        .query("fields")
        .filter(|f| !f.is_empty())
        .map(|f| f.split(',').map(|f| f.trim_matches(' ')).collect());
    if let Some(fields) = &fields {
        if let Some(bad) = fields.iter().find(|f| !SUMMARY_FIELDS.contains(f)) {
            return Err(ApiError::Validation(vec![Problem::at(
                "fields",
                format!("{bad:?} is not one of: {}", SUMMARY_FIELDS.join(", ")),
            )]));
        }
    }
    let limit = limit_param(req, 20)? as i32;
    let cursor = req.query("cursor").filter(|c| !c.is_empty());
    let (key, now) = (app.cursor_key().await?, Now::current());
    let page = match req.query("scope") {
        None | Some("mine") => {
            app.store
                .list_requests(&caller, state, limit, cursor, &key, &now)
                .await?
        }
        // The requests of every principal whose `team` tag is the caller's (as tagged when
        // each was submitted).
        Some("team") => {
            let requester = super::access::Requester::of(app, req)?;
            let team = requester.team_now().await?.ok_or_else(|| {
                ApiError::Unprocessable(vec![Problem::at(
                    "scope",
                    "team lists your team's requests, and your IAM principal carries no `team` tag",
                )])
            })?;
            app.store
                .list_team_requests(&team, state, limit, cursor, &key, &now)
                .await?
        }
        Some(_) => {
            return Err(ApiError::Validation(vec![Problem::at(
                "scope",
                "must be mine (your requests, the default) or team (your team's)",
            )]));
        }
    };
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|r| {
            let full = to_data(Summary::of(r));
            match &fields {
                None => full,
                Some(fields) => Value::Object(
                    full.as_object()
                        .map(|o| {
                            o.iter()
                                .filter(|(k, _)| fields.contains(&k.as_str()))
                                .map(|(k, v)| (k.clone(), v.clone()))
                                .collect()
                        })
                        .unwrap_or_default(),
                ),
            }
        })
        .collect();
    meta["nextCursor"] = json!(page.next_cursor);
    Ok(ApiResponse::ok(200, Value::Array(items), meta))
}

/// `GET /requests/{id}`: the request with its tasks.
pub(super) async fn detail(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let d = owned(app, call).await?.shown();
    let mut data = to_data(RequestView::of(&d));
    let refs: Vec<&crate::record::ExternalRef> = d
        .tasks
        .iter()
        .filter_map(super::tickets::ticket_of)
        .collect();
    if !refs.is_empty() {
        let live = super::tickets::live(app, &refs).await;
        for (i, t) in d.tasks.iter().enumerate() {
            if let Some(r) = super::tickets::ticket_of(t) {
                super::tickets::attach(&mut data["tasks"][i], r, &live);
            }
        }
    }
    if let Some(approval) = &d.request.approval {
        data["approval"] =
            super::approvals::view(approval, crate::clock::now_epoch(), d.request.state);
    }
    if !d.request.sealed_fields.is_empty() {
        let sealed = app.store.sealed_of(&d.request.request_id).await?;
        data["secrets"] =
            super::sealed::view(&d.request, sealed.as_ref(), crate::clock::now_epoch());
    }
    Ok(ApiResponse::ok(200, data, call.meta()))
}

/// `GET /requests/{id}/status`: state, progress and the task it is at.
pub(super) async fn status(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let d = owned(app, call).await?.shown();
    let mut data = to_data(StatusView::of(&d));
    if let Some(approval) = &d.request.approval {
        data["approval"] =
            super::approvals::view(approval, crate::clock::now_epoch(), d.request.state);
    }
    if let Some(r) = super::views::current_task(&d).and_then(super::tickets::ticket_of) {
        let live = super::tickets::live(app, &[r]).await;
        super::tickets::attach(&mut data["currentTask"], r, &live);
    }
    Ok(ApiResponse::ok(200, data, call.meta()))
}

/// `GET /requests/{id}/logs`: the request's audit events, oldest first.
pub(super) async fn logs(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let d = owned(app, call).await?;
    let events: Vec<Value> = d
        .events
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
        .collect();
    Ok(ApiResponse::ok(200, Value::Array(events), call.meta()))
}

/// `POST /requests/{id}/retry`: the failed (or stuck) task runs again as a new attempt;
/// completed tasks keep their outputs and never run again.
pub(super) async fn retry(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let who = caller(call.req)?;
    idempotent(app, call, &who, || decide_retry(app, call, &who)).await
}

async fn decide_retry(
    app: &App,
    call: &Call<'_>,
    who: &Principal,
) -> Result<ApiResponse, ApiError> {
    let body = if call.req.body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        parse_body(call.req)?
    };
    let from_task = match body.get("fromTask") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if !t.is_empty() => Some(t.clone()),
        Some(_) => {
            return Err(ApiError::Validation(vec![Problem::at(
                "fromTask",
                "must be a task's id (its fulfillment item id, `component.item` in a bundle, or its number)",
            )]));
        }
    };
    let supplied = super::sealed::supplied(&body)?;
    let d = owned(app, call).await?;
    let r = &d.request;
    if r.state != RequestState::Failed {
        return Err(ApiError::Conflict(format!(
            "request {} is {}: only a failed request can be retried",
            r.request_id, r.state
        )));
    }
    let Some(task) = d
        .tasks
        .iter()
        .find(|t| matches!(t.state, TaskState::Failed | TaskState::Stuck))
    else {
        return Err(ApiError::Conflict(format!(
            "request {} has no failed task to retry",
            r.request_id
        )));
    };
    let from = match &from_task {
        None => task,
        Some(name) => d
            .tasks
            .iter()
            .filter(|t| t.seq <= task.seq)
            .find(|t| {
                t.item.id == *name
                    || t.seq.to_string() == *name
                    || t.component
                        .as_deref()
                        .is_some_and(|c| format!("{c}.{}", t.item.id) == *name)
            })
            .ok_or_else(|| {
                ApiError::Validation(vec![Problem::at(
                    "fromTask",
                    format!("{name:?} is not the failed task or one before it"),
                )])
            })?,
    };
    let resealed = super::sealed::for_retry(app, r, &supplied).await?;
    let now = Now::current();
    let event = Event::about(
        from,
        "request-retried",
        format!(
            "retried by {} from task {} ({}), attempt {}",
            acting(who, &d),
            from.seq,
            from.item.id,
            from.attempt + 1
        ),
    );
    let attempt = if from.seq == task.seq {
        app.store
            .retry_task(r, task, &now, &event, &resealed)
            .await?
    } else {
        app.store
            .restart_from(r, &d.tasks, from.seq, &now, &event, &resealed)
            .await?
    };
    let task = from;
    let mut queued = task.clone();
    queued.attempt = attempt;
    // If the send fails the task is queued all the same: the sweeper sends it.
    if let Err(e) = app
        .queue
        .enqueue(&TaskMessage::for_task(&queued, &r.correlation_id))
        .await
    {
        tracing::warn!(request_id = %r.request_id, error = %e, "retried task written but not sent; the sweeper will send it");
    }
    Ok(ApiResponse::ok(
        202,
        json!({"requestId": r.request_id, "state": RequestState::Retrying, "task": task.seq, "attempt": attempt}),
        call.meta(),
    ))
}

/// `POST /requests/{id}/abort`: the request stops; what has not run never will.
pub(super) async fn abort(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let who = caller(call.req)?;
    idempotent(app, call, &who, || decide_abort(app, call, &who)).await
}

async fn decide_abort(
    app: &App,
    call: &Call<'_>,
    who: &Principal,
) -> Result<ApiResponse, ApiError> {
    let d = owned(app, call).await?;
    let r = &d.request;
    if !r.state.can_become(RequestState::Aborted) {
        return Err(ApiError::Conflict(format!(
            "request {} is {}: only a request awaiting approval, submitted, processing, retrying or failed can be aborted",
            r.request_id, r.state
        )));
    }
    let event = Event {
        at: crate::clock::now_rfc3339(),
        kind: "request-aborted".into(),
        message: format!("aborted by {} (it was {})", acting(who, &d), r.state),
        task_seq: None,
    };
    let skipped = app
        .store
        .abort_request(r, &d.tasks, &Now::current(), &event)
        .await?;
    // Whoever works a ticket a task waits on is told it is no longer needed (best effort: the
    // abort stands whatever JIRA says).
    let told = super::tickets::tell_aborted(app, &d, &who.arn).await;
    Ok(ApiResponse::ok(
        200,
        json!({"requestId": r.request_id, "state": RequestState::Aborted, "skippedTasks": skipped,
               "ticketsTold": told}),
        call.meta(),
    ))
}

/// `POST /requests/{id}/escalate`: the failed task and every task not yet run become linked
/// JIRA tickets for people to finish; the request becomes `escalated`.
pub(super) async fn escalate(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let who = caller(call.req)?;
    idempotent(app, call, &who, || decide_escalate(app, call, &who)).await
}

async fn decide_escalate(
    app: &App,
    call: &Call<'_>,
    who: &Principal,
) -> Result<ApiResponse, ApiError> {
    let d = owned(app, call).await?;
    let current = app.catalog().await?;
    let tickets = crate::escalation::escalate(
        &app.store,
        &app.jira,
        &app.secrets,
        &app.escalation,
        &current.catalog,
        &d,
        who,
        // Per JIRA call, and for the whole call: inside API Gateway's 29 s.
        std::time::Duration::from_secs(5),
        std::time::Duration::from_secs(22),
    )
    .await?;
    Ok(ApiResponse::ok(
        200,
        json!({"requestId": d.request.request_id, "state": RequestState::Escalated, "tickets": tickets}),
        call.meta(),
    ))
}
