//! Once per `Idempotency-Key`: a decision (retry, abort, escalate, approve, reject) or a
//! submission sent again with the same key, by the same caller, for the same call (method,
//! path, body) gets the first answer again; the key on another call gets 422; while the first
//! runs, 409.

use super::envelope::{ApiError, ApiResponse};
use super::routes::Call;
use super::{ApiRequest, App, MAX_BODY};
use crate::clock::Now;
use crate::problem::Problem;
use crate::record::Principal;
use crate::store::Idempotent;

/// The call's `Idempotency-Key`, checked; `None` without one.
pub(super) fn idempotency_key(req: &ApiRequest) -> Result<Option<&str>, ApiError> {
    let Some(key) = req.header("idempotency-key").filter(|k| !k.is_empty()) else {
        return Ok(None);
    };
    if key.len() > 128 {
        return Err(ApiError::Validation(vec![Problem::at(
            "Idempotency-Key",
            "must be at most 128 characters",
        )]));
    }
    if req.body.len() > MAX_BODY {
        return Err(ApiError::TooLarge(MAX_BODY));
    }
    Ok(Some(key))
}

/// What an `Idempotency-Key` is bound to besides its caller: the method, the path and the
/// body. The same key on another route (or another request's decision) is another call, never
/// a replay of the first one's answer. Keyed with the deployment's key (the body may hold
/// passwords: a plain hash would let whoever reads the table test guesses); only a hash of
/// this is stored. Rotating the key makes a repeat within a key's 24 h another call (422).
pub(super) async fn fingerprint(app: &App, req: &ApiRequest) -> Result<Vec<u8>, ApiError> {
    let mut bytes = format!("{} {}\n", req.method, req.path).into_bytes();
    bytes.extend_from_slice(&req.body);
    Ok(app.cursor_key().await?.fingerprint("idempotency", &bytes))
}

/// An `Idempotency-Key` used again for another call.
pub(super) fn key_reused() -> ApiError {
    ApiError::Unprocessable(vec![Problem::at(
        "Idempotency-Key",
        "was already used with a different call (method, path or body)",
    )])
}

fn is_key_reused(e: &ApiError) -> bool {
    matches!(e, ApiError::Unprocessable(p) if p.len() == 1 && p[0].path == "Idempotency-Key")
}

/// The answer a key that is not free gives.
pub(super) fn earlier_answer(held: Idempotent) -> Result<ApiResponse, ApiError> {
    match held {
        Idempotent::Replay { status, body } => Ok(ApiResponse {
            status,
            body,
            headers: vec![("Idempotent-Replayed".into(), "true".into())],
        }),
        Idempotent::Mismatch => Err(key_reused()),
        Idempotent::InProgress | Idempotent::Claimed => Err(ApiError::Conflict(
            "a call with this Idempotency-Key is still being processed".into(),
        )),
    }
}

/// Runs `f` at most once per (caller, `Idempotency-Key`, body).
pub(super) async fn idempotent<F, Fut>(
    app: &App,
    call: &Call<'_>,
    caller: &Principal,
    f: F,
) -> Result<ApiResponse, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<ApiResponse, ApiError>>,
{
    let (req, cid) = (call.req, call.correlation_id);
    let Some(key) = idempotency_key(req)? else {
        return f().await;
    };
    match app
        .store
        .claim_idempotency(
            &caller.arn,
            key,
            &fingerprint(app, req).await?,
            &Now::current(),
        )
        .await?
    {
        Idempotent::Claimed => {
            let result = f().await;
            match &result {
                Ok(r) => {
                    app.store
                        .finish_idempotency(&caller.arn, key, r.status, &r.body, &Now::current())
                        .await?
                }
                // A key found reused for another call wrote nothing and takes nothing: the
                // key stays the earlier call's, whose repeat is still answered.
                Err(e) if is_key_reused(e) => {
                    app.store.release_idempotency(&caller.arn, key).await?
                }
                Err(e) if e.status_and_code().0 < 500 => {
                    let r = e.clone().into_response(cid);
                    app.store
                        .finish_idempotency(&caller.arn, key, r.status, &r.body, &Now::current())
                        .await?;
                }
                // Our failure: let the caller try again with the same key.
                Err(_) => app.store.release_idempotency(&caller.arn, key).await?,
            }
            result
        }
        held => earlier_answer(held),
    }
}
