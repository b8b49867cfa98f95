//! The API's response envelope: success is `{"data": …, "meta": {…}}`, failure is
//! `{"error": {"code", "message", "details", "correlation_id"}}`. Every error of every layer is
//! mapped to a status and code here and nowhere else.

use crate::problem::Problem;
use crate::queue::QueueError;
use crate::store::StoreError;
use crate::submission::SubmitError;
use serde_json::{Value, json};

/// A response before it is put on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl ApiResponse {
    pub fn ok(status: u16, data: Value, meta: Value) -> Self {
        Self {
            status,
            body: json!({"data": data, "meta": meta}),
            headers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("the request is invalid")]
    Validation(Vec<Problem>),
    #[error("the request cannot be processed")]
    Unprocessable(Vec<Problem>),
    #[error("{0}")]
    NotFound(String),
    #[error("{method} is not allowed here; allowed: {}", allow.join(", "))]
    MethodNotAllowed {
        method: String,
        allow: Vec<&'static str>,
    },
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Unavailable(String),
    /// A service PAO depends on (GitHub) refused or failed; its message is safe to show.
    #[error("{0}")]
    Upstream(String),
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::BadCursor => Self::Validation(vec![Problem::at(
                "cursor",
                "is not a cursor this API gave out",
            )]),
            StoreError::Conflict(m) => Self::Conflict(m),
            e @ (StoreError::TooLarge { .. } | StoreError::TooManyTasks(_)) => {
                Self::Unprocessable(vec![Problem::at("input", e.to_string())])
            }
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::kms::KmsError> for ApiError {
    fn from(e: crate::kms::KmsError) -> Self {
        use crate::kms::KmsError;
        match e {
            // Nothing was written: the caller may send the same call again.
            KmsError::NoKey | KmsError::Unreachable(_) => Self::Unavailable(format!(
                "password fields cannot be sealed now ({e}); nothing was written, send it again"
            )),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<crate::escalation::EscalationError> for ApiError {
    fn from(e: crate::escalation::EscalationError) -> Self {
        use crate::escalation::EscalationError as E;
        match e {
            E::NotFailed { .. } | E::Busy { .. } => Self::Conflict(e.to_string()),
            E::NoTarget => Self::Unprocessable(vec![Problem::at("escalation", e.to_string())]),
            E::Jira(a) => Self::Upstream(format!("JIRA: {a}")),
            E::OutOfTime { .. } => Self::Unavailable(e.to_string()),
            E::Store(s) => s.into(),
        }
    }
}

impl From<crate::secrets::SecretError> for ApiError {
    fn from(e: crate::secrets::SecretError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Store(s) => s.into(),
        }
    }
}

/// Runs `answer` inside `span` (so every log line carries the correlation id) and gives the
/// response every route and the webhook give: the error envelope for an error, and
/// `X-Correlation-Id` and `Content-Type` always.
pub async fn respond_in(
    span: tracing::Span,
    correlation_id: String,
    answer: impl std::future::Future<Output = Result<ApiResponse, ApiError>>,
) -> ApiResponse {
    use tracing::Instrument;
    let mut response = match answer.instrument(span.clone()).await {
        Ok(r) => r,
        Err(e) => span.in_scope(|| e.into_response(&correlation_id)),
    };
    response
        .headers
        .push(("X-Correlation-Id".into(), correlation_id));
    response
        .headers
        .push(("Content-Type".into(), "application/json".into()));
    response
}

impl ApiError {
    /// The HTTP status and error code.
    pub fn status_and_code(&self) -> (u16, &'static str) {
        match self {
            Self::Validation(_) => (400, "VALIDATION_ERROR"),
            Self::Unauthorized(_) => (401, "UNAUTHORIZED"),
            Self::Forbidden(_) => (403, "FORBIDDEN"),
            Self::NotFound(_) => (404, "NOT_FOUND"),
            Self::MethodNotAllowed { .. } => (405, "METHOD_NOT_ALLOWED"),
            Self::Conflict(_) => (409, "CONFLICT"),
            Self::TooLarge(_) => (413, "PAYLOAD_TOO_LARGE"),
            Self::Unprocessable(_) => (422, "UNPROCESSABLE"),
            Self::Internal(_) => (500, "INTERNAL_ERROR"),
            Self::Upstream(_) => (502, "UPSTREAM_ERROR"),
            Self::Unavailable(_) => (503, "UNAVAILABLE"),
        }
    }

    /// The error envelope. Internal details are logged, never returned.
    pub fn into_response(self, correlation_id: &str) -> ApiResponse {
        let (status, code) = self.status_and_code();
        if let Self::Internal(detail) = &self {
            tracing::error!(correlation_id, error = %detail, "internal error");
        }
        let details: Vec<Value> = match &self {
            Self::Validation(issues) | Self::Unprocessable(issues) => {
                issues.iter().map(Problem::field_issue).collect()
            }
            _ => Vec::new(),
        };
        let message = match &self {
            Self::Validation(issues) | Self::Unprocessable(issues) if issues.len() == 1 => {
                format!("{}: {}", issues[0].path, issues[0].message)
            }
            other => other.to_string(),
        };
        let headers = match &self {
            Self::MethodNotAllowed { allow, .. } => vec![("Allow".into(), allow.join(", "))],
            _ => Vec::new(),
        };
        ApiResponse {
            status,
            body: json!({"error": {"code": code, "message": message, "details": details, "correlation_id": correlation_id}}),
            headers,
        }
    }
}
