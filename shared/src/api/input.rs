//! Reading a call: its IAM caller, its JSON body, its query parameters, and the dotted names
//! its problems are reported under.

use super::envelope::ApiError;
use super::{ApiRequest, MAX_BODY};
use crate::problem::Problem;
use crate::record::Principal;
use serde_json::Value;

pub(super) fn caller(req: &ApiRequest) -> Result<Principal, ApiError> {
    let arn = req
        .caller_arn
        .clone()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::Forbidden("the call is not signed by an IAM principal".into()))?;
    // The email is added where a request is written, from a session name PAO trusts
    // (`SessionTrust`).
    Ok(Principal {
        email: None,
        arn,
        id: req.caller_id.clone().filter(|i| !i.is_empty()),
    })
}

/// The caller, if an operator (`what`: the routes, for the 403). The gateway's resource policy
/// refused everyone else already; this is the function's own check behind it.
pub(super) fn operator(
    app: &super::App,
    req: &ApiRequest,
    what: &str,
) -> Result<Principal, ApiError> {
    let caller = caller(req)?;
    if !app
        .operators
        .admit_at_api(&caller.arn, req.home_account.as_deref())
    {
        return Err(ApiError::Forbidden(format!(
            "{what} are for operators: {}",
            app.operators.describe()
        )));
    }
    Ok(caller)
}

pub(super) fn parse_body(req: &ApiRequest) -> Result<Value, ApiError> {
    if req.body.len() > MAX_BODY {
        return Err(ApiError::TooLarge(MAX_BODY));
    }
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Validation(vec![Problem::at(
            "body",
            "is empty: send a JSON object",
        )]));
    }
    serde_json::from_slice(&req.body).map_err(|e| {
        ApiError::Validation(vec![Problem::at(
            "body",
            format!(
                "is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        )])
    })
}

pub(super) fn limit_param(req: &ApiRequest, default: usize) -> Result<usize, ApiError> {
    // An empty `limit=` is a mistake, not a request for the default.
    match req.query("limit") {
        None => Ok(default),
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                ApiError::Validation(vec![Problem::at(
                    "limit",
                    "must be a whole number from 1 to 100",
                )])
            }),
    }
}

/// `items[0].input.basic.x` for an issue of item 0's input; `items[0].catalogItemId` etc.
pub(super) fn item_field(index: usize, field: &str) -> String {
    if matches!(field, "catalogItemId" | "bundleId" | "input") {
        format!("items[{index}].{field}")
    } else {
        format!("items[{index}].input.{field}")
    }
}
