//! The REST API (`/api/v1`), independent of how a request arrives: the Lambda function turns
//! an API Gateway event into an [`ApiRequest`], the local runner does the same for a signed
//! HTTP call, and both hand it to [`App::handle`].
//!
//! The caller is the IAM principal API Gateway authenticated (`userArn` of the request
//! context); its email is the assumed-role session name when that is an email.

pub mod envelope;
mod input;
mod views;

use crate::catalog::validate::validate_sources;
use crate::catalog::{Catalog, Document, Entry};
use crate::clock::Now;
use crate::problem::Problem;
use crate::queue::Queue;
use crate::record::{Principal, RequestDetail, RequestId};
use crate::request::{RequestState, Submission};
use crate::secrets::SecretCache;
use crate::store::{CursorKey, Idempotent, Read, Store};
use envelope::{ApiError, ApiResponse};
use input::{caller, item_field, limit_param, method_not_allowed, parse_body};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::sync::RwLock;
use tracing::Instrument;
use views::{SUMMARY_FIELDS, card, request_json, status_json, summary_json};

/// Largest request body accepted.
pub const MAX_BODY: usize = 256 * 1024;

/// An API call, whatever carried it.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    pub method: String,
    /// The path below the stage, e.g. `/api/v1/requests`.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The authenticated IAM principal ARN, if any.
    pub caller_arn: Option<String>,
}

impl ApiRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Where the key that seals list cursors comes from.
#[derive(Debug)]
pub enum CursorKeys {
    /// A fixed key (tests, the benchmark).
    Fixed(CursorKey),
    /// The deployment's secret, read when a list first needs it and again once the cached copy
    /// is older than the secret cache's age: a cold start makes no call for it, and a rotated
    /// key takes effect without a restart.
    Secret { secrets: SecretCache, id: String },
}

/// What the API needs besides its clients.
#[derive(Debug)]
pub struct ApiSettings {
    pub region: String,
    pub environment: String,
    pub catalog_cache: Duration,
    pub version: String,
    /// Seals list cursors (the secret `PAO_CURSOR_SECRET_ID` in a deployment).
    pub cursor_key: CursorKeys,
}

struct CachedCatalog {
    loaded_at: Instant,
    version: String,
    catalog: Catalog,
}

/// The API's dependencies, built once per container.
pub struct App {
    pub store: Store,
    pub queue: Queue,
    pub settings: ApiSettings,
    catalog: RwLock<Option<CachedCatalog>>,
}

/// The email in an assumed-role ARN's session name, if it is one.
pub fn email_of(arn: &str) -> Option<String> {
    let session = arn.strip_prefix("arn:aws:sts::")?.split('/').nth(2)?;
    (session.contains('@') && session.contains('.')).then(|| session.to_string())
}

impl App {
    /// Builds the API a deployment runs: clients from `sdk`, settings from `config`.
    pub fn from_config(config: &crate::config::Config, sdk: &crate::aws::SdkConfig) -> Self {
        let cursor_key = CursorKeys::Secret {
            secrets: SecretCache::new(
                aws_sdk_secretsmanager::Client::new(sdk),
                config.secret_cache,
            ),
            id: config.cursor_secret_id.clone(),
        };
        Self::new(
            Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name),
            Queue::new(aws_sdk_sqs::Client::new(sdk), &config.task_queue_url),
            ApiSettings {
                region: config.region.clone(),
                environment: config.environment.clone(),
                catalog_cache: config.catalog_cache,
                version: env!("CARGO_PKG_VERSION").to_string(),
                cursor_key,
            },
        )
    }

    /// The key list cursors are sealed with.
    async fn cursor_key(&self) -> Result<CursorKey, ApiError> {
        match &self.settings.cursor_key {
            CursorKeys::Fixed(key) => Ok(key.clone()),
            CursorKeys::Secret { secrets, id } => Ok(CursorKey::new(secrets.get(id).await?)),
        }
    }

    pub fn new(store: Store, queue: Queue, settings: ApiSettings) -> Self {
        Self {
            store,
            queue,
            settings,
            catalog: RwLock::new(None),
        }
    }

    /// Answers one call. Always returns a response carrying `X-Correlation-Id`.
    pub async fn handle(&self, req: &ApiRequest) -> ApiResponse {
        let correlation_id = req
            .header("x-correlation-id")
            .filter(|c| {
                !c.is_empty() && c.len() <= 128 && c.chars().all(|ch| ch.is_ascii_graphic())
            })
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let span = tracing::info_span!("api", correlation_id = %correlation_id, method = %req.method, path = %req.path);
        // Every log line of this call carries its correlation id.
        let mut response = match self
            .route(req, &correlation_id)
            .instrument(span.clone())
            .await
        {
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

    async fn route(&self, req: &ApiRequest, cid: &str) -> Result<ApiResponse, ApiError> {
        let path = req.path.trim_end_matches('/');
        let Some(rest) = path.strip_prefix("/api/v1") else {
            return Err(ApiError::NotFound(format!(
                "no route {} {}",
                req.method, req.path
            )));
        };
        let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
        let meta = json!({"correlationId": cid});
        match (req.method.as_str(), parts.as_slice()) {
            ("GET", ["health"]) => Ok(ApiResponse::ok(200, json!({"status": "ok"}), meta)),
            ("GET", ["health", "ready"]) => self.ready(meta).await,
            ("GET", ["version"]) => Ok(ApiResponse::ok(
                200,
                json!({"version": self.settings.version, "api": "v1"}),
                meta,
            )),
            (_, ["health"] | ["health", "ready"] | ["version"]) => Err(method_not_allowed(req)),
            ("GET", ["catalog"]) => self.list_catalog(req, meta).await,
            ("GET", ["catalog", id]) => self.catalog_item(id, false, meta).await,
            ("GET", ["catalog", id, "form"]) => self.catalog_item(id, true, meta).await,
            ("POST", ["requests"]) => {
                let caller = caller(req)?;
                self.idempotent(req, &caller, cid, || self.submit(req, &caller, cid))
                    .await
            }
            ("GET", ["requests"]) => self.list_requests(req, &caller(req)?, meta).await,
            ("GET", ["requests", id]) => {
                let d = self.owned(id, &caller(req)?).await?;
                Ok(ApiResponse::ok(200, request_json(&d), meta))
            }
            ("GET", ["requests", id, "status"]) => {
                let d = self.owned(id, &caller(req)?).await?;
                Ok(ApiResponse::ok(200, status_json(&d), meta))
            }
            ("GET", ["requests", id, "logs"]) => {
                let d = self.owned(id, &caller(req)?).await?;
                let events: Vec<Value> = d
                    .events
                    .iter()
                    .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
                    .collect();
                Ok(ApiResponse::ok(200, Value::Array(events), meta))
            }
            (_, ["catalog", ..] | ["requests", ..]) => Err(method_not_allowed(req)),
            _ => Err(ApiError::NotFound(format!(
                "no route {} {}",
                req.method, req.path
            ))),
        }
    }

    /// Whether the table and the queue answer. What went wrong is logged under the
    /// correlation id; the answer only says which dependency is not ready.
    async fn ready(&self, meta: Value) -> Result<ApiResponse, ApiError> {
        if let Err(e) = self.store.ready().await {
            tracing::error!(error = %e, "readiness: the table does not answer");
            return Err(ApiError::Unavailable(
                "not ready: the request table does not answer".into(),
            ));
        }
        if let Err(e) = self.queue.ready().await {
            tracing::error!(error = %e, "readiness: the task queue does not answer");
            return Err(ApiError::Unavailable(
                "not ready: the task queue does not answer".into(),
            ));
        }
        Ok(ApiResponse::ok(200, json!({"status": "ready"}), meta))
    }

    /// The catalog, from memory while fresh, else from the table.
    pub async fn catalog(&self) -> Result<(String, Catalog), ApiError> {
        if let Some(c) = self.catalog.read().await.as_ref() {
            if c.loaded_at.elapsed() < self.settings.catalog_cache {
                return Ok((c.version.clone(), c.catalog.clone()));
            }
        }
        let (version, sources) = self
            .store
            .catalog()
            .await?
            .ok_or_else(|| ApiError::Unavailable("no catalog has been loaded yet".into()))?;
        let (catalog, problems) = validate_sources(sources);
        if !problems.is_empty() {
            tracing::warn!(
                count = problems.len(),
                "catalog snapshot has problems; invalid documents are left out"
            );
        }
        *self.catalog.write().await = Some(CachedCatalog {
            loaded_at: Instant::now(),
            version: version.clone(),
            catalog: catalog.clone(),
        });
        Ok((version, catalog))
    }

    /// Forgets the cached catalog (after a sync).
    pub async fn invalidate_catalog(&self) {
        *self.catalog.write().await = None;
    }

    async fn list_catalog(
        &self,
        req: &ApiRequest,
        mut meta: Value,
    ) -> Result<ApiResponse, ApiError> {
        let (version, catalog) = self.catalog().await?;
        let limit = limit_param(req, 50)?;
        let category = req.query("category").filter(|c| !c.is_empty());
        let q = req
            .query("q")
            .map(str::to_lowercase)
            .filter(|q| !q.is_empty());
        // A cursor is good for the same search of the same catalog version only.
        let scope = format!(
            "catalog|{version}|{}|{}",
            category.unwrap_or_default(),
            q.as_deref().unwrap_or_default()
        );
        let key = &self.cursor_key().await?;
        let start = match req.query("cursor").filter(|c| !c.is_empty()) {
            None => 0,
            Some(c) => key
                .open(&scope, c)?
                .as_u64()
                .ok_or(crate::store::StoreError::BadCursor)? as usize,
        };
        let mut matching: Vec<&Entry> = catalog
            .entries()
            .iter()
            .filter(|e| category.is_none_or(|c| e.document.metadata().category == c))
            .filter(|e| {
                q.as_ref().is_none_or(|q| {
                    let m = e.document.metadata();
                    [m.id.as_str(), &m.name, &m.description, &m.category]
                        .iter()
                        .any(|t| t.to_lowercase().contains(q))
                        || m.tags.iter().any(|t| t.to_lowercase().contains(q))
                })
            })
            .collect();
        // By name, so pages are stable whatever order the repository's files are in.
        matching.sort_by(|a, b| {
            let (a, b) = (a.document.metadata(), b.document.metadata());
            a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id))
        });
        let page: Vec<Value> = matching
            .iter()
            .skip(start)
            .take(limit)
            .map(|e| card(e))
            .collect();
        let next =
            (start + limit < matching.len()).then(|| key.seal(&scope, &json!(start + limit)));
        meta["catalogVersion"] = json!(version);
        meta["total"] = json!(matching.len());
        meta["nextCursor"] = json!(next);
        Ok(ApiResponse::ok(200, Value::Array(page), meta))
    }

    async fn catalog_item(
        &self,
        id: &str,
        form_only: bool,
        meta: Value,
    ) -> Result<ApiResponse, ApiError> {
        let (_, catalog) = self.catalog().await?;
        let entry = catalog
            .get(id)
            .ok_or_else(|| ApiError::NotFound(format!("catalog item {id:?} does not exist")))?;
        let form = entry.document.form().portal_view();
        if form_only {
            return Ok(ApiResponse::ok(200, form, meta));
        }
        let mut data = card(entry);
        data["form"] = form;
        if let Document::Bundle(b) = &entry.document {
            data["components"] = b
                .components
                .iter()
                .map(|c| json!({"id": c.id, "ref": c.target.id()}))
                .collect();
        }
        Ok(ApiResponse::ok(200, data, meta))
    }

    async fn submit(
        &self,
        req: &ApiRequest,
        caller: &Principal,
        cid: &str,
    ) -> Result<ApiResponse, ApiError> {
        let body = parse_body(req)?;
        let submission = Submission::parse(&body).map_err(ApiError::Validation)?;
        let (_, catalog) = self.catalog().await?;
        // Under an Idempotency-Key every id derives from caller and key: a retry after a
        // partial failure finds what the first attempt wrote and writes each item once.
        let seed = req
            .header("idempotency-key")
            .filter(|k| !k.is_empty())
            .map(|k| format!("{}#{k}", caller.arn));
        let ctx = crate::submission::Context {
            user: caller.clone(),
            correlation_id: cid.to_string(),
            submission_id: crate::submission::Context::new_submission_id(seed.as_deref()),
            now: crate::clock::now_rfc3339(),
            region: self.settings.region.clone(),
            environment: self.settings.environment.clone(),
            idempotency_seed: seed,
        };
        // Every item is validated before anything is written: one bad item writes none.
        let mut built = Vec::new();
        let mut issues = Vec::new();
        for (i, item) in submission.items.iter().enumerate() {
            match crate::submission::build(&catalog, item, i, &ctx) {
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
        let mut created = Vec::new();
        for (request, tasks) in &built {
            crate::submission::write(&self.store, &self.queue, request, tasks).await?;
            let (key, target_id) = (request.target.field(), request.target.id());
            let mut one = json!({
                "requestId": request.request_id,
                "state": request.state,
                "totalTasks": request.total_tasks,
                "links": {"self": format!("/api/v1/requests/{}", request.request_id)},
            });
            one[key] = json!(target_id);
            created.push(one);
        }
        Ok(ApiResponse::ok(
            202,
            json!({"submissionId": ctx.submission_id, "requests": created}),
            json!({"correlationId": cid}),
        ))
    }

    /// Runs `f` at most once per (caller, `Idempotency-Key`, body).
    async fn idempotent<F, Fut>(
        &self,
        req: &ApiRequest,
        caller: &Principal,
        cid: &str,
        f: F,
    ) -> Result<ApiResponse, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<ApiResponse, ApiError>>,
    {
        let Some(key) = req.header("idempotency-key").filter(|k| !k.is_empty()) else {
            return f().await;
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
        match self
            .store
            .claim_idempotency(&caller.arn, key, &req.body, &Now::current())
            .await?
        {
            Idempotent::Replay { status, body } => Ok(ApiResponse {
                status,
                body,
                headers: vec![("Idempotent-Replayed".into(), "true".into())],
            }),
            Idempotent::Mismatch => Err(ApiError::Unprocessable(vec![Problem::at(
                "Idempotency-Key",
                "was already used with a different body",
            )])),
            Idempotent::InProgress => Err(ApiError::Conflict(
                "a call with this Idempotency-Key is still being processed".into(),
            )),
            Idempotent::Claimed => {
                let result = f().await;
                match &result {
                    Ok(r) => {
                        self.store
                            .finish_idempotency(
                                &caller.arn,
                                key,
                                r.status,
                                &r.body,
                                &Now::current(),
                            )
                            .await?
                    }
                    Err(e) if e.status_and_code().0 < 500 => {
                        let r = e.clone().into_response(cid);
                        self.store
                            .finish_idempotency(
                                &caller.arn,
                                key,
                                r.status,
                                &r.body,
                                &Now::current(),
                            )
                            .await?;
                    }
                    // Our failure: let the caller try again with the same key.
                    Err(_) => self.store.release_idempotency(&caller.arn, key).await?,
                }
                result
            }
        }
    }

    async fn list_requests(
        &self,
        req: &ApiRequest,
        caller: &Principal,
        mut meta: Value,
    ) -> Result<ApiResponse, ApiError> {
        let state = match req.query("state").filter(|s| !s.is_empty()) {
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
            .map(|f| f.split(',').map(str::trim).collect());
        if let Some(fields) = &fields {
            if let Some(bad) = fields.iter().find(|f| !SUMMARY_FIELDS.contains(f)) {
                return Err(ApiError::Validation(vec![Problem::at(
                    "fields",
                    format!("{bad:?} is not one of: {}", SUMMARY_FIELDS.join(", ")),
                )]));
            }
        }
        let limit = limit_param(req, 20)? as i32;
        let page = self
            .store
            .list_requests(
                &caller.arn,
                state,
                limit,
                req.query("cursor").filter(|c| !c.is_empty()),
                &self.cursor_key().await?,
                &Now::current(),
            )
            .await?;
        let items: Vec<Value> = page
            .items
            .iter()
            .map(|r| {
                let full = summary_json(r);
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

    /// A request of the caller's; another caller's request is "not found".
    async fn owned(&self, id: &str, caller: &Principal) -> Result<RequestDetail, ApiError> {
        let not_found = || ApiError::NotFound(format!("request {id:?} does not exist"));
        if !id.starts_with("req-") || id.len() > 64 {
            return Err(not_found());
        }
        let detail = self
            .store
            .get_request(&RequestId(id.to_string()), &Now::current(), Read::Eventual)
            .await?
            .ok_or_else(not_found)?;
        if detail.request.user.arn != caller.arn {
            return Err(not_found());
        }
        Ok(detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_from_assumed_role_session() {
        assert_eq!(
            email_of("arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com").as_deref(),
            Some("dev@example.com")
        );
        assert_eq!(
            email_of("arn:aws:sts::000000000000:assumed-role/Developer/botsession"),
            None
        );
        assert_eq!(email_of("arn:aws:iam::000000000000:user/alice"), None);
    }

    #[test]
    fn item_fields_are_dotted_under_the_item() {
        assert_eq!(
            item_field(1, "basic.instanceName"),
            "items[1].input.basic.instanceName"
        );
        assert_eq!(item_field(0, "catalogItemId"), "items[0].catalogItemId");
    }
}
