//! The REST API (`/api/v1`), independent of how a request arrives: the Lambda function turns
//! an API Gateway event into an [`ApiRequest`], the local runner does the same for a signed
//! HTTP call, and both hand it to [`App::handle`].
//!
//! The caller is the IAM principal API Gateway authenticated (`userArn` of the request
//! context); its email is the assumed-role session name when that is an email.

//!
//! The routes are one table ([`routes`]); their handlers are grouped by resource
//! ([`health`], [`catalog`], [`requests`], [`queue`], [`tools`]); [`openapi`] serves their description
//! (`schemas/openapi.yaml`); [`views`] is how records look on the wire and
//! [`envelope`] maps every error to its status in one place.

mod access;
mod approvals;
mod catalog;
pub mod envelope;
mod health;
mod idempotent;
mod input;
pub mod live;
pub mod openapi;
mod queue;
mod requests;
pub mod routes;
mod sealed;
pub mod tickets;
mod tools;
mod views;

use crate::catalog::Catalog;
use crate::catalog::validate::validate_sources;
use crate::queue::Queue;
use crate::secrets::SecretCache;
use crate::store::{CursorKey, Store};
use envelope::{ApiError, ApiResponse};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;

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
    /// Its unique id (`requestContext.identity.caller`).
    pub caller_id: Option<String>,
    /// API Gateway's request id (`requestContext.requestId`): the correlation id when the
    /// caller sends none, so the access log's `requestId` finds the call's log lines.
    pub request_id: Option<String>,
    /// The account the API belongs to (`requestContext.accountId`): with operators admitted
    /// by tag, only a caller of this account is one.
    pub home_account: Option<String>,
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
    /// key takes effect without a restart (through the API's one secret cache).
    Secret { id: String },
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
    /// Whose session names give a requester's email (`PAO_TRUSTED_SESSION_ROLES`).
    pub session_trust: SessionTrust,
}

/// The catalog in force, as the API serves it.
#[derive(Debug)]
pub struct InForce {
    /// The stored snapshot's version (cursors are bound to it).
    pub version: String,
    /// The commit it was synced from (empty for a catalog loaded from a directory).
    pub commit: String,
    pub catalog: Catalog,
}

struct CachedCatalog {
    loaded_at: Instant,
    current: Arc<InForce>,
}

/// The API's dependencies, built once per container.
pub struct App {
    pub store: Store,
    pub queue: Queue,
    pub settings: ApiSettings,
    /// Follows the catalog repository (`POST /catalog/refresh`).
    pub sync: crate::sync::Syncer,
    /// Escalation tickets: JIRA, and where tickets go by default.
    pub jira: crate::action::jira::JiraClient,
    /// The API's secrets (the cursor key, JIRA), each re-read once its copy is old.
    pub secrets: SecretCache,
    pub escalation: crate::escalation::EscalationSettings,
    /// The task queue's dead-letter queue (the `/queue/dlq` routes).
    pub dead_letters: crate::queue::dead_letters::DeadLetters,
    /// Who may call the `/queue` routes.
    pub operators: crate::operations::Operators,
    /// Support staff (`SupportPrincipals`, `SupportTagValue`): they read and decide on every
    /// request, admitted by ARN or by their role's or user's IAM tag (read from IAM).
    pub support: crate::operations::Operators,
    /// Latency and 4xx/5xx per route, submissions per catalog item.
    pub metrics: crate::metrics::Metrics,
    /// Seals the password values a submission carries (Encrypt only).
    pub kms: crate::kms::Kms,
    /// JIRA tickets as JIRA has them now, kept a few seconds.
    pub tickets: tickets::LiveTickets,
    /// Callers' IAM tags, for `access` rules that name tags.
    pub tags: crate::principal_tags::PrincipalTags,
    catalog: RwLock<Option<CachedCatalog>>,
}

/// Whose session names PAO believes. A role session's name is chosen by whoever assumes the
/// role, unless something pins it: IAM Identity Center names every session of its roles
/// (`AWSReservedSSO_*`) after the signed-in user, and an identity provider can be made to
/// (a trust policy requiring `sts:RoleSessionName` to equal the user's name from the IdP).
/// Only sessions of such roles give `.system.user.email`; the deployer lists the others
/// (`TrustedSessionRoles`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionTrust {
    pub roles: Vec<String>,
}

impl SessionTrust {
    /// From a comma-separated list of role names.
    pub fn parse(list: &str) -> Self {
        Self {
            roles: crate::config::comma_list(list),
        }
    }

    /// The email in a trusted role session's name, if it is one.
    pub fn email_of(&self, arn: &str) -> Option<String> {
        let mut parts = arn.strip_prefix("arn:aws:sts::")?.split('/');
        let (kind, role, session) = (parts.next()?, parts.next()?, parts.next()?);
        if !kind.ends_with(":assumed-role") {
            return None;
        }
        let trusted = role.starts_with("AWSReservedSSO_") || self.roles.iter().any(|r| r == role);
        (trusted && session.contains('@') && session.contains('.')).then(|| session.to_string())
    }
}

impl App {
    /// Builds the API a deployment runs: clients from `sdk`, settings from `config`.
    pub fn from_config(config: &crate::config::Config, sdk: &crate::aws::SdkConfig) -> Self {
        let cursor_key = CursorKeys::Secret {
            id: config.cursor_secret_id.clone(),
        };
        let sqs = aws_sdk_sqs::Client::new(sdk);
        Self {
            store: Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name)
                .with_retention(crate::store::Retention {
                    completed: config.completed_retention,
                    failed: config.failed_retention,
                    secrets: config.secret_keep,
                }),
            queue: Queue::new(sqs.clone(), &config.task_queue_url),
            dead_letters: crate::queue::dead_letters::DeadLetters::new(sqs, &config.dlq_url),
            operators: crate::operations::Operators::new(
                &config.operator_principals,
                &config.operator_tag,
            ),
            support: crate::operations::Operators::new(
                &config.support_principals,
                &config.support_tag,
            ),
            metrics: crate::metrics::Metrics::from_config("api", config),
            kms: crate::kms::Kms::new(sdk, &config.secrets_key_id),
            tickets: tickets::LiveTickets::default(),
            tags: crate::principal_tags::PrincipalTags::new(sdk),
            settings: ApiSettings {
                region: config.region.clone(),
                environment: config.environment.clone(),
                catalog_cache: config.catalog_cache,
                version: env!("CARGO_PKG_VERSION").to_string(),
                cursor_key,
                session_trust: SessionTrust::parse(&config.trusted_session_roles),
            },
            sync: crate::sync::Syncer::from_config(config, sdk),
            jira: crate::action::jira::JiraClient::new(crate::https::Https::shared()),
            secrets: SecretCache::new(
                aws_sdk_secretsmanager::Client::new(sdk),
                config.secret_cache,
            ),
            escalation: crate::escalation::EscalationSettings::from_config(config),
            catalog: RwLock::new(None),
        }
    }

    /// The key list cursors are sealed with.
    async fn cursor_key(&self) -> Result<CursorKey, ApiError> {
        match &self.settings.cursor_key {
            CursorKeys::Fixed(key) => Ok(key.clone()),
            CursorKeys::Secret { id } => Ok(CursorKey::new(self.secrets.get(id).await?)),
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
            .or_else(|| {
                req.request_id
                    .clone()
                    .filter(|r| !r.is_empty() && r.len() <= 128)
            })
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let span = tracing::info_span!("api", correlation_id = %correlation_id, method = %req.method, path = %req.path);
        let started = Instant::now();
        let answer = routes::dispatch(self, req, &correlation_id);
        let response = envelope::respond_in(span, correlation_id.clone(), answer).await;
        let route = routes::route_of(req).unwrap_or_else(|| "unmatched".into());
        let status = response.status;
        self.metrics.emit(
            &[("Route", &route)],
            &[
                (
                    "Latency",
                    started.elapsed().as_secs_f64() * 1000.0,
                    crate::metrics::Unit::Milliseconds,
                ),
                (
                    "4xx",
                    f64::from(u8::from((400..500).contains(&status))),
                    crate::metrics::Unit::Count,
                ),
                (
                    "5xx",
                    f64::from(u8::from(status >= 500)),
                    crate::metrics::Unit::Count,
                ),
            ],
        );
        response
    }

    /// Drops the cached catalog: the next call reads the snapshot in force.
    pub async fn forget_catalog(&self) {
        *self.catalog.write().await = None;
    }

    /// The catalog, from memory while fresh, else from the table.
    /// A fresh stack has no catalog stored: the first call that needs one syncs the catalog
    /// repository's head (a few seconds), so a deploy needs no manual refresh. Concurrent first
    /// calls may each sync; the store keeps one snapshot per commit.
    async fn first_load(&self) -> Result<crate::catalog::sync::Snapshot, ApiError> {
        let unavailable = |why: String| {
            ApiError::Unavailable(format!(
                "no catalog has been loaded yet ({why}); POST /api/v1/catalog/refresh (operators) loads it"
            ))
        };
        if self.sync.settings.repository.is_empty() {
            return Err(unavailable("no catalog repository is configured".into()));
        }
        tracing::info!("no catalog stored yet: loading the catalog repository's head");
        self.sync
            .sync_head()
            .await
            .map_err(|e| unavailable(format!("loading it failed: {e}")))?;
        self.store
            .snapshot()
            .await?
            .ok_or_else(|| unavailable("the catalog repository holds no valid document".into()))
    }

    pub async fn catalog(&self) -> Result<Arc<InForce>, ApiError> {
        if let Some(c) = self.catalog.read().await.as_ref() {
            if c.loaded_at.elapsed() < self.settings.catalog_cache {
                return Ok(c.current.clone());
            }
        }
        let snapshot = match self.store.snapshot().await? {
            Some(s) => s,
            None => self.first_load().await?,
        };
        let (catalog, problems) = validate_sources(snapshot.sources);
        if !problems.is_empty() {
            tracing::warn!(
                count = problems.len(),
                "catalog snapshot has problems; invalid documents are left out"
            );
        }
        let current = Arc::new(InForce {
            version: snapshot.version,
            commit: snapshot.commit,
            catalog,
        });
        *self.catalog.write().await = Some(CachedCatalog {
            loaded_at: Instant::now(),
            current: current.clone(),
        });
        Ok(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_only_from_a_session_name_something_pins() {
        let trust = SessionTrust::parse("Developer");
        let email_of = |arn: &str| trust.email_of(arn);
        assert_eq!(
            email_of("arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com").as_deref(),
            Some("dev@example.com")
        );
        // Identity Center names its sessions itself.
        assert_eq!(
            email_of(
                "arn:aws:sts::000000000000:assumed-role/AWSReservedSSO_Dev_0123abcd/alice@acme.com"
            )
            .as_deref(),
            Some("alice@acme.com")
        );
        // Anyone who may assume an unlisted role chooses its session name: no email.
        assert_eq!(
            email_of("arn:aws:sts::000000000000:assumed-role/Deployer/alice@acme.com"),
            None
        );
        assert_eq!(
            email_of("arn:aws:sts::000000000000:assumed-role/Developer/botsession"),
            None
        );
        assert_eq!(email_of("arn:aws:iam::000000000000:user/alice"), None);
        assert_eq!(
            SessionTrust::default()
                .email_of("arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com"),
            None
        );
    }

    #[test]
    fn item_fields_are_dotted_under_the_item() {
        use super::input::item_field;
        assert_eq!(
            item_field(1, "basic.instanceName"),
            "items[1].input.basic.instanceName"
        );
        assert_eq!(item_field(0, "catalogItemId"), "items[0].catalogItemId");
        // The input as a whole (too large to store).
        assert_eq!(item_field(0, "input"), "items[0].input");
    }
}
