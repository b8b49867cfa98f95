//! The route table: every route of `/api/v1`, one line each, and how a call finds its route.
//! A known path called with a method it does not have answers 405 with `Allow`.

use super::envelope::{ApiError, ApiResponse};
use super::{ApiRequest, App, approvals, catalog, health, openapi, queue, requests, tools};
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;

/// What a handler is given: the call, the path's `{parameters}` in order, the correlation id.
pub struct Call<'a> {
    pub req: &'a ApiRequest,
    pub params: Vec<&'a str>,
    pub correlation_id: &'a str,
}

impl Call<'_> {
    /// The `n`th `{parameter}` of the route's path.
    pub fn param(&self, n: usize) -> &str {
        self.params.get(n).copied().unwrap_or_default()
    }

    /// The `meta` of a success envelope.
    pub fn meta(&self) -> Value {
        json!({"correlationId": self.correlation_id})
    }
}

type Reply<'a> = Pin<Box<dyn Future<Output = Result<ApiResponse, ApiError>> + Send + 'a>>;
type Handler = for<'a> fn(&'a App, &'a Call<'a>) -> Reply<'a>;

macro_rules! to {
    ($handler:path) => {{
        fn boxed<'a>(app: &'a App, call: &'a Call<'a>) -> Reply<'a> {
            Box::pin($handler(app, call))
        }
        boxed as Handler
    }};
}

/// Method, path below `/api/v1` (`{name}` is a parameter), handler.
const ROUTES: &[(&str, &str, Handler)] = &[
    ("GET", "/health", to!(health::live)),
    ("GET", "/health/ready", to!(health::ready)),
    ("GET", "/version", to!(health::version)),
    ("GET", "/openapi.json", to!(openapi::serve)),
    ("GET", "/catalog", to!(catalog::list)),
    ("POST", "/catalog/refresh", to!(catalog::refresh)),
    ("GET", "/catalog/sync", to!(catalog::sync_status)),
    ("GET", "/catalog/{id}", to!(catalog::item)),
    ("GET", "/catalog/{id}/form", to!(catalog::form)),
    ("POST", "/requests", to!(requests::submit)),
    ("GET", "/requests", to!(requests::list)),
    ("GET", "/requests/{id}", to!(requests::detail)),
    ("GET", "/requests/{id}/status", to!(requests::status)),
    ("GET", "/requests/{id}/logs", to!(requests::logs)),
    ("POST", "/requests/{id}/retry", to!(requests::retry)),
    ("POST", "/requests/{id}/abort", to!(requests::abort)),
    ("POST", "/requests/{id}/escalate", to!(requests::escalate)),
    ("GET", "/approvals/pending", to!(approvals::pending)),
    ("GET", "/approvals/{id}", to!(approvals::detail)),
    ("POST", "/approvals/{id}/approve", to!(approvals::approve)),
    ("POST", "/approvals/{id}/reject", to!(approvals::reject)),
    ("GET", "/queue/stats", to!(queue::stats)),
    ("GET", "/queue/messages", to!(queue::messages)),
    ("GET", "/queue/messages/{requestId}", to!(queue::of_request)),
    ("GET", "/queue/dlq/messages", to!(queue::dead_letters)),
    (
        "POST",
        "/queue/dlq/{messageId}/redrive",
        to!(queue::redrive),
    ),
    ("POST", "/queue/dlq/redrive", to!(queue::redrive_all)),
    ("POST", "/tools/validate", to!(tools::validate)),
    ("POST", "/tools/preview", to!(tools::preview)),
    ("POST", "/tools/test-variables", to!(tools::test_variables)),
];

/// Routes another function answers (API Gateway sends them there, not here): method, path,
/// function. A call that reaches this router on one of their paths gets 405 naming their
/// methods, as any known path does.
const ELSEWHERE: &[(&str, &str, &str)] = &[
    ("POST", "/webhooks/github", "github-webhook"),
    ("POST", "/webhooks/jira", "github-webhook"),
];

/// Every route as `(method, path)`, for documentation and tests.
pub fn table() -> impl Iterator<Item = (&'static str, &'static str)> {
    ROUTES.iter().map(|(method, path, _)| (*method, *path))
}

/// The routes whose path fits a call's, most literal first: a literal path
/// (`/catalog/sync`) wins over a parameter (`/catalog/{id}`), whatever the method.
fn fitting(req: &ApiRequest) -> Vec<(&'static str, &'static str, Vec<&str>, &'static Handler)> {
    let Some(parts) = parts(req) else {
        return Vec::new();
    };
    let fitting: Vec<_> = ROUTES
        .iter()
        .filter_map(|(method, template, handler)| {
            matches(template, &parts).map(|params| (*method, *template, params, handler))
        })
        .collect();
    let fewest = fitting
        .iter()
        .map(|(_, _, p, _)| p.len())
        .min()
        .unwrap_or(0);
    fitting
        .into_iter()
        .filter(|(_, _, p, _)| p.len() == fewest)
        .collect()
}

/// The segments of a call's path below `/api/v1`.
/// The path's segments below `/api/v1`; `None` (no route: 404) for a path that is not
/// canonical. API Gateway's resource policy matches the path as sent, so a path the function
/// would normalise into a route (`//queue`, `/./queue`, `/x/../queue`, an encoded slash or dot)
/// could reach a route the gateway's deny rule for it never saw. One trailing `/` is allowed.
fn parts(req: &ApiRequest) -> Option<Vec<&str>> {
    let path = req.path.strip_suffix('/').unwrap_or(&req.path);
    let rest = path.strip_prefix("/api/v1")?;
    if rest.is_empty() {
        return Some(Vec::new());
    }
    let segments: Vec<&str> = rest.strip_prefix('/')?.split('/').collect();
    segments.iter().all(|s| canonical(s)).then_some(segments)
}

fn canonical(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    !segment.is_empty()
        && segment != "."
        && segment != ".."
        && !segment.contains('\\')
        && !["%2f", "%2e", "%5c", "%00"]
            .iter()
            .any(|e| lower.contains(e))
}

/// The route a call takes, as `METHOD /path/{param}` (for metrics: never the raw path, whose
/// ids would make a metric per request); `None` if it takes none.
pub fn route_of(req: &ApiRequest) -> Option<String> {
    fitting(req)
        .into_iter()
        .find(|(method, ..)| *method == req.method)
        .map(|(method, template, ..)| format!("{method} {template}"))
}

/// Finds the route for a call and runs it.
pub(super) async fn dispatch(
    app: &App,
    req: &ApiRequest,
    correlation_id: &str,
) -> Result<ApiResponse, ApiError> {
    let mut allowed = Vec::new();
    for (method, _, params, handler) in fitting(req) {
        if method != req.method {
            if !allowed.contains(&method) {
                allowed.push(method);
            }
            continue;
        }
        let call = Call {
            req,
            params,
            correlation_id,
        };
        return handler(app, &call).await;
    }
    for (method, template, function) in ELSEWHERE {
        if parts(req).is_some_and(|parts| matches(template, &parts).is_some()) {
            if *method == req.method {
                return Err(ApiError::NotFound(format!(
                    "{method} /api/v1{template} is answered by the {function} function"
                )));
            }
            allowed.push(method);
        }
    }
    if allowed.is_empty() {
        Err(ApiError::NotFound(format!(
            "no route {} {}",
            req.method, req.path
        )))
    } else {
        Err(ApiError::MethodNotAllowed {
            method: req.method.clone(),
            allow: allowed,
        })
    }
}

/// The parameters of `parts` if they fit the path template.
fn matches<'p>(template: &str, parts: &[&'p str]) -> Option<Vec<&'p str>> {
    let wanted: Vec<&str> = template.split('/').filter(|p| !p.is_empty()).collect();
    if wanted.len() != parts.len() {
        return None;
    }
    let mut params = Vec::new();
    for (w, p) in wanted.iter().zip(parts) {
        if w.starts_with('{') && w.ends_with('}') {
            params.push(*p);
        } else if w != p {
            return None;
        }
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_and_capture() {
        assert_eq!(
            matches("/requests/{id}/status", &["requests", "req-1", "status"]),
            Some(vec!["req-1"])
        );
        assert_eq!(matches("/requests", &["requests"]), Some(vec![]));
        assert_eq!(matches("/requests/{id}", &["requests"]), None);
        assert_eq!(matches("/catalog/{id}", &["requests", "x"]), None);
    }

    fn at(path: &str) -> ApiRequest {
        ApiRequest {
            method: "GET".into(),
            path: path.into(),
            query: vec![],
            headers: vec![],
            body: vec![],
            caller_arn: None,
            caller_id: None,
            request_id: None,
            home_account: None,
        }
    }

    #[test]
    fn only_canonical_paths_have_a_route() {
        assert_eq!(
            parts(&at("/api/v1/queue/stats")),
            Some(vec!["queue", "stats"])
        );
        assert_eq!(
            parts(&at("/api/v1/queue/stats/")),
            Some(vec!["queue", "stats"])
        );
        assert_eq!(parts(&at("/api/v1")), Some(vec![]));
        for path in [
            "/api/v1//queue/stats",
            "/api/v1/queue//stats",
            "/api/v1/queue/stats//",
            "/api/v1/./queue/stats",
            "/api/v1/catalog/../queue/stats",
            "/api/v1/queue%2Fstats",
            "/api/v1/queue%2fstats",
            "/api/v1/%2e%2e/queue/stats",
            "/api/v1/queue\\stats",
            "/api/v1queue/stats",
        ] {
            assert_eq!(parts(&at(path)), None, "{path}");
            assert_eq!(route_of(&at(path)), None, "{path}");
        }
    }

    #[test]
    fn every_route_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for route in table() {
            assert!(seen.insert(route), "{route:?} twice");
        }
        assert_eq!(seen.len(), 30);
    }
}
