//! Queue routes, for operators only (see [`crate::operations::Operators`]): statistics, what
//! waits on the task queue, the dead-letter queue, and redriving dead letters.

use super::App;
use super::envelope::{ApiError, ApiResponse};
use super::input::limit_param;
use super::routes::Call;
use super::views::to_data;
use crate::clock::Now;
use crate::operations::{self, OperationsError, TaskList};
use crate::problem::Problem;
use crate::record::{Principal, RequestId};
use crate::task::TaskState;
use serde_json::{Value, json};

impl From<OperationsError> for ApiError {
    fn from(e: OperationsError) -> Self {
        match e {
            OperationsError::Store(s) => s.into(),
            OperationsError::Queue(q) => q.into(),
            OperationsError::NotFound(m) => Self::NotFound(m),
            OperationsError::NotATask(_) => {
                Self::Unprocessable(vec![Problem::at("messageId", e.to_string())])
            }
        }
    }
}

/// The caller, if an operator.
fn operator(app: &App, call: &Call<'_>) -> Result<Principal, ApiError> {
    super::input::operator(app, call.req, "the queue routes")
}

/// `GET /queue/stats`.
pub(super) async fn stats(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    operator(app, call)?;
    let stats =
        operations::stats(&app.store, &app.queue, &app.dead_letters, &Now::current()).await?;
    Ok(ApiResponse::ok(200, to_data(stats), call.meta()))
}

/// The task states `/queue/messages?state=` takes.
const LISTED: [TaskState; 3] = [TaskState::Queued, TaskState::Processing, TaskState::Stuck];

/// `GET /queue/messages?state=queued|processing|stuck|waiting&limit=&cursor=`: from the
/// tasks' records, never by receiving from the task queue (`waiting`: processing tasks that
/// wait on a workflow run).
pub(super) async fn messages(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    operator(app, call)?;
    let req = call.req;
    let list = match req.query("state") {
        None => TaskList::In(TaskState::Queued),
        Some("waiting") => TaskList::WaitingOnRuns,
        Some(s) => TaskState::parse(s)
            .filter(|s| LISTED.contains(s))
            .map(TaskList::In)
            .ok_or_else(|| {
                ApiError::Validation(vec![Problem::at(
                    "state",
                    "must be one of: queued, processing, stuck, waiting",
                )])
            })?,
    };
    let page = operations::tasks_in(
        &app.store,
        list,
        limit_param(req, 50)? as i32,
        req.query("cursor").filter(|c| !c.is_empty()),
        &app.cursor_key().await?,
        &Now::current(),
    )
    .await?;
    let mut meta = call.meta();
    meta["nextCursor"] = json!(page.next_cursor);
    Ok(ApiResponse::ok(200, to_data(page.items), meta))
}

/// `GET /queue/messages/{requestId}`: one request's tasks on the queue or held up there.
pub(super) async fn of_request(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    operator(app, call)?;
    let id = RequestId(call.param(0).to_string());
    let Some((detail, tasks)) = operations::tasks_of(&app.store, &id, &Now::current()).await?
    else {
        return Err(ApiError::NotFound(format!("no request {id}")));
    };
    Ok(ApiResponse::ok(
        200,
        json!({"requestId": id, "requestState": detail.request.state, "tasks": to_data(tasks)}),
        call.meta(),
    ))
}

/// `GET /queue/dlq/messages?limit=&cursor=`: the dead letters in queue order, each left in
/// place and visible.
pub(super) async fn dead_letters(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    operator(app, call)?;
    let req = call.req;
    let limit = limit_param(req, 50)?;
    let key = app.cursor_key().await?;
    let after = match req.query("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(position(&key.open("dlq", c)?).ok_or_else(bad_cursor)?),
    };
    let all = app.dead_letters.list().await?;
    let rest: Vec<_> = all
        .into_iter()
        .filter(|l| {
            after
                .as_ref()
                .is_none_or(|a| (l.position, &l.message_id) > (a.0, &a.1))
        })
        .collect();
    let page: Vec<_> = rest.iter().take(limit).cloned().collect();
    let next = (rest.len() > limit)
        .then(|| page.last())
        .flatten()
        .map(|l| {
            key.seal(
                "dlq",
                &json!([l.position.0, l.position.1.to_string(), l.message_id]),
            )
        });
    let mut meta = call.meta();
    meta["nextCursor"] = json!(next);
    Ok(ApiResponse::ok(200, to_data(page), meta))
}

fn bad_cursor() -> ApiError {
    crate::store::StoreError::BadCursor.into()
}

/// A dead-letter cursor's position: sent time, sequence number, message id.
fn position(v: &Value) -> Option<((u64, u128), String)> {
    let sent = v.get(0)?.as_u64()?;
    let seq = v.get(1)?.as_str()?.parse().ok()?;
    let id = v.get(2)?.as_str()?.to_string();
    Some(((sent, seq), id))
}

/// `POST /queue/dlq/{messageId}/redrive`.
pub(super) async fn redrive(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let op = operator(app, call)?;
    let done = operations::redrive(
        &app.store,
        &app.queue,
        &app.dead_letters,
        call.param(0),
        &op.arn,
    )
    .await?;
    Ok(ApiResponse::ok(200, to_data(done), call.meta()))
}

/// How long one redrive-all call works: well inside API Gateway's 29 s and the function's
/// timeout (the rest is left for the next call).
const REDRIVE_BUDGET: std::time::Duration = std::time::Duration::from_secs(20);

/// `POST /queue/dlq/redrive`: every dead letter, in order per request.
pub(super) async fn redrive_all(app: &App, call: &Call<'_>) -> Result<ApiResponse, ApiError> {
    let op = operator(app, call)?;
    let report = operations::redrive_all(
        &app.store,
        &app.queue,
        &app.dead_letters,
        &op.arn,
        REDRIVE_BUDGET,
    )
    .await?;
    Ok(ApiResponse::ok(200, to_data(report), call.meta()))
}
