//! Settings, all from environment variables that template.yaml sets. One `Config::from_env()`
//! that names the missing or malformed variable in its error.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {problem}")]
    Invalid { name: &'static str, problem: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `PAO_TABLE_NAME`: the single DynamoDB table.
    pub table_name: String,
    /// `PAO_TASK_QUEUE_URL`: the FIFO task queue.
    pub task_queue_url: String,
    /// `PAO_DLQ_URL`: the FIFO dead-letter queue.
    pub dlq_url: String,
    /// `PAO_JIRA_SECRET_ID` (default `pao/jira`).
    pub jira_secret_id: String,
    /// `PAO_ENVIRONMENT` (default `local`): `.system.platform.environment`.
    pub environment: String,
    /// `AWS_REGION` (default `us-east-1`): `.system.platform.region`.
    pub region: String,
    /// `PAO_ACTION_TIMEOUT_SECONDS` (default 30): the default per-action timeout.
    pub action_timeout: Duration,
    /// `PAO_CATALOG_CACHE_SECONDS` (default 60): how long the API keeps the catalog in memory.
    pub catalog_cache: Duration,
    /// `PAO_SECRET_CACHE_SECONDS` (default 60): how long a secret is kept before re-reading.
    pub secret_cache: Duration,
    /// `PAO_CURSOR_SECRET_ID` (default `pao/cursor-key`): the key list cursors are sealed with.
    pub cursor_secret_id: String,
    /// `PAO_STUCK_AFTER_SECONDS` (default 900, at least 120): a task `queued` or `processing`
    /// this long is marked stuck by the sweeper and its request fails.
    pub stuck_after: Duration,
    /// `PAO_RESEND_AFTER_SECONDS` (default 120): a task `queued` this long without running
    /// gets its message sent again by the sweeper (SQS drops the copy if the first arrived).
    pub resend_after: Duration,
    /// `PAO_CATALOG_REPOSITORY` (`owner/name`; empty: no catalog repository is followed).
    pub catalog_repository: String,
    /// `PAO_CATALOG_BRANCH` (default `main`): the branch whose head is the catalog.
    pub catalog_branch: String,
    /// `PAO_GITHUB_API_URL` (default `https://api.github.com`; GitHub Enterprise Server:
    /// `https://<host>/api/v3`).
    pub github_api_url: String,
    /// `PAO_GITHUB_TOKEN_SECRET_ID` (default `pao/github-token`): a token that reads the
    /// catalog repository.
    pub github_token_secret_id: String,
    /// `PAO_GITHUB_WEBHOOK_SECRET_ID` (default `pao/github-webhook`): the webhook's shared
    /// secret (HMAC `X-Hub-Signature-256`).
    pub github_webhook_secret_id: String,
    /// `PAO_JIRA_WEBHOOK_SECRET_ID` (default `pao/jira-webhook`): the JIRA webhook's secret,
    /// `{"signingSecret": "…", "tokens": {"<instance>": "…"}}` (HMAC `X-Hub-Signature` from
    /// Jira Cloud; a per-instance token in the URL from Data Center).
    pub jira_webhook_secret_id: String,
    /// `PAO_POLL_AFTER_SECONDS` (default 300): a task waiting on a workflow run or a ticket is
    /// asked about by the sweeper when its last check is older than this.
    pub poll_after: Duration,
    /// `PAO_CATALOG_TOKEN_SECRET_ID` (default: the GitHub token secret): the token catalog sync
    /// reads the catalog repository with (read-only; template parameter `CatalogTokenSecret`).
    pub catalog_token_secret_id: String,
    /// `PAO_CATALOG_SECRET_PREFIX` (default `pao/<environment>/catalog/`): where the secrets
    /// catalog items name (`auth.secret`, `signingSecret`) live.
    pub catalog_secret_prefix: String,
    /// `PAO_WORKER_TIMEOUT_SECONDS` (default 60): the worker function's timeout. No action may
    /// be given more than this less [`ACTION_TIME_RESERVED`].
    pub worker_timeout: Duration,
    /// `PAO_COMPLETED_RETENTION_DAYS` (default 90) and `PAO_FAILED_RETENTION_DAYS` (default
    /// 180): how long a finished request and everything under it are kept (DynamoDB TTL).
    pub completed_retention: Duration,
    pub failed_retention: Duration,
    /// `PAO_HTTP_ALLOW_HOSTS` (comma-separated, default none): hosts `rest-api` and `webhook`
    /// items may call over plain http or at an internal address (the local stack's stand-ins).
    pub http_allow_hosts: String,
    /// `PAO_ESCALATION_INSTANCE`, `PAO_ESCALATION_PROJECT`, `PAO_ESCALATION_ISSUE_TYPE`
    /// (defaults `default`, none, `Task`): where escalation tickets go when the catalog item
    /// names no `metadata.escalation`.
    pub escalation_instance: String,
    pub escalation_project: String,
    pub escalation_issue_type: String,
    /// `PAO_OPERATOR_PRINCIPALS` (comma-separated IAM ARNs, `*` wildcards allowed): who may
    /// call the `/queue` routes. A role ARN admits its assumed-role sessions.
    pub operator_principals: String,
    /// `PAO_OPERATOR_TAG` (`key=value`, or empty): principals carrying this IAM tag are
    /// operators too. Only IAM sees tags, so API Gateway's resource policy checks it; the API
    /// then admits the callers the gateway let through.
    pub operator_tag: String,
    /// `PAO_SUPPORT_PRINCIPALS` (comma-separated IAM ARNs, `*` wildcards): support staff, who
    /// may read every request and retry, abort or escalate it. A role admits its sessions.
    pub support_principals: String,
    /// `PAO_SUPPORT_TAG` (`key=value`, or empty): callers whose role or user carries this IAM
    /// tag are support staff too (the API reads the tags from IAM).
    pub support_tag: String,
    /// `PAO_METRICS` (`on` by default, `off`): CloudWatch EMF lines on stdout.
    pub metrics: bool,
    /// `PAO_FOLLOW_NEXT_TASK` (`on` by default, `off`): the worker runs a request's next task
    /// in the same invocation after the last record of a batch completes (`off`: every task
    /// waits for its own message).
    pub follow_next_task: bool,
    /// `PAO_TRUSTED_SESSION_ROLES` (comma-separated role names, default none): roles whose
    /// session names the identity provider pins, so the name may give the requester's email
    /// (IAM Identity Center's `AWSReservedSSO_*` roles always do).
    pub trusted_session_roles: String,
    /// `PAO_SECRETS_KEY_ID`: the KMS key (id, ARN or alias) password fields are encrypted
    /// with per request; empty: a submission with a password value is refused (503).
    pub secrets_key_id: String,
    /// `PAO_SECRET_KEEP_DAYS` (default 7): how long a failed request keeps its encrypted
    /// passwords for a retry.
    pub secret_keep: Duration,
    /// `PAO_EVENT_BUS_NAME` (default `default`): the EventBridge bus the events function
    /// publishes every change to (template: the stack's own bus, or parameter `EventBusName`).
    pub event_bus_name: String,
    /// Where notices go when a catalog item's `metadata.notify` does not say:
    /// `PAO_NOTIFY_REQUESTER` (`slack`, `email`, both comma-separated, or `none`; default
    /// `slack,email`), `PAO_NOTIFY_APPROVERS_SLACK` / `PAO_NOTIFY_APPROVERS_EMAIL` and
    /// `PAO_NOTIFY_SUPPORT_SLACK` / `PAO_NOTIFY_SUPPORT_EMAIL` (a channel; comma-separated
    /// addresses).
    pub notify: NotifyDefaults,
    /// `PAO_NOTIFY_FROM`: the SES sender address of notices (empty: no email).
    pub notify_from: String,
    /// `PAO_SLACK_SECRET_ID` (default `pao/<environment>/slack`): `{"botToken": "xoxb-…"}`
    /// (no secret or no token: no Slack).
    pub slack_secret_id: String,
    /// `PAO_SLACK_API_URL` (default `https://slack.com/api`).
    pub slack_api_url: String,
    /// `PAO_LIVE_ENDPOINT`: the WebSocket API's stage URL over https, where the events
    /// function pushes to connections (empty: nothing is pushed).
    pub live_endpoint: String,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the config from any variable source (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let or = |name: &str, default: &str| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        let seconds = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match get(name).filter(|v| !v.trim().is_empty()) {
                None => Ok(Duration::from_secs(default)),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .map(Duration::from_secs)
                    .ok_or_else(|| ConfigError::Invalid {
                        name,
                        problem: format!("{v:?} is not a positive number of seconds"),
                    }),
            }
        };
        Ok(Self {
            table_name: required("PAO_TABLE_NAME")?,
            task_queue_url: required("PAO_TASK_QUEUE_URL")?,
            dlq_url: required("PAO_DLQ_URL")?,
            jira_secret_id: or("PAO_JIRA_SECRET_ID", "pao/jira"),
            environment: or("PAO_ENVIRONMENT", "local"),
            region: or("AWS_REGION", "us-east-1"),
            action_timeout: seconds("PAO_ACTION_TIMEOUT_SECONDS", 30)?,
            catalog_cache: seconds("PAO_CATALOG_CACHE_SECONDS", 60)?,
            secret_cache: seconds("PAO_SECRET_CACHE_SECONDS", 60)?,
            cursor_secret_id: or("PAO_CURSOR_SECRET_ID", "pao/cursor-key"),
            stuck_after: at_least(
                "PAO_STUCK_AFTER_SECONDS",
                seconds("PAO_STUCK_AFTER_SECONDS", 900)?,
                120,
            )?,
            resend_after: seconds("PAO_RESEND_AFTER_SECONDS", 120)?,
            catalog_repository: repository(get("PAO_CATALOG_REPOSITORY"))?,
            catalog_branch: or("PAO_CATALOG_BRANCH", "main"),
            github_api_url: or("PAO_GITHUB_API_URL", "https://api.github.com"),
            github_token_secret_id: or("PAO_GITHUB_TOKEN_SECRET_ID", "pao/github-token"),
            github_webhook_secret_id: or("PAO_GITHUB_WEBHOOK_SECRET_ID", "pao/github-webhook"),
            jira_webhook_secret_id: or("PAO_JIRA_WEBHOOK_SECRET_ID", "pao/jira-webhook"),
            poll_after: seconds("PAO_POLL_AFTER_SECONDS", 300)?,
            catalog_token_secret_id: or(
                "PAO_CATALOG_TOKEN_SECRET_ID",
                &or("PAO_GITHUB_TOKEN_SECRET_ID", "pao/github-token"),
            ),
            catalog_secret_prefix: catalog_prefix(
                get("PAO_CATALOG_SECRET_PREFIX"),
                &or("PAO_ENVIRONMENT", "local"),
            )?,
            worker_timeout: seconds("PAO_WORKER_TIMEOUT_SECONDS", 60)?,
            completed_retention: days(&get, "PAO_COMPLETED_RETENTION_DAYS", 90)?,
            failed_retention: days(&get, "PAO_FAILED_RETENTION_DAYS", 180)?,
            http_allow_hosts: or("PAO_HTTP_ALLOW_HOSTS", ""),
            escalation_instance: or("PAO_ESCALATION_INSTANCE", "default"),
            escalation_project: or("PAO_ESCALATION_PROJECT", ""),
            escalation_issue_type: or("PAO_ESCALATION_ISSUE_TYPE", "Task"),
            operator_principals: principals(
                "PAO_OPERATOR_PRINCIPALS",
                get("PAO_OPERATOR_PRINCIPALS"),
            )?,
            operator_tag: tag("PAO_OPERATOR_TAG", get("PAO_OPERATOR_TAG"))?,
            support_principals: principals(
                "PAO_SUPPORT_PRINCIPALS",
                get("PAO_SUPPORT_PRINCIPALS"),
            )?,
            support_tag: tag("PAO_SUPPORT_TAG", get("PAO_SUPPORT_TAG"))?,
            trusted_session_roles: or("PAO_TRUSTED_SESSION_ROLES", ""),
            metrics: switch("PAO_METRICS", &or("PAO_METRICS", "on"))?,
            follow_next_task: switch("PAO_FOLLOW_NEXT_TASK", &or("PAO_FOLLOW_NEXT_TASK", "on"))?,
            secrets_key_id: or("PAO_SECRETS_KEY_ID", ""),
            secret_keep: days(&get, "PAO_SECRET_KEEP_DAYS", 7)?,
            event_bus_name: or("PAO_EVENT_BUS_NAME", "default"),
            notify: notify_defaults(&get)?,
            notify_from: or("PAO_NOTIFY_FROM", ""),
            slack_secret_id: or(
                "PAO_SLACK_SECRET_ID",
                &format!("pao/{}/slack", or("PAO_ENVIRONMENT", "local")),
            ),
            slack_api_url: or("PAO_SLACK_API_URL", "https://slack.com/api"),
            live_endpoint: or("PAO_LIVE_ENDPOINT", ""),
        })
    }
}

/// The stack's notice defaults (`PAO_NOTIFY_*`): where notices go when an item's
/// `metadata.notify` does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyDefaults {
    /// `slack` and/or `email`.
    pub requester: Vec<String>,
    pub approvers_slack: Option<String>,
    pub approvers_email: Vec<String>,
    pub support_slack: Option<String>,
    pub support_email: Vec<String>,
}

/// The stack's notice defaults (`PAO_NOTIFY_*`).
fn notify_defaults(get: &impl Fn(&str) -> Option<String>) -> Result<NotifyDefaults, ConfigError> {
    let text = |k: &str| {
        get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let requester = text("PAO_NOTIFY_REQUESTER").unwrap_or_else(|| "slack,email".into());
    let requester: Vec<String> = comma_list(&requester)
        .into_iter()
        .filter(|c| c != "none")
        .collect();
    if let Some(bad) = requester
        .iter()
        .find(|c| !matches!(c.as_str(), "slack" | "email"))
    {
        return Err(ConfigError::Invalid {
            name: "PAO_NOTIFY_REQUESTER",
            problem: format!("{bad:?} is not slack, email or none"),
        });
    }
    let list = |k: &str| comma_list(&text(k).unwrap_or_default());
    Ok(NotifyDefaults {
        requester,
        approvers_slack: text("PAO_NOTIFY_APPROVERS_SLACK"),
        approvers_email: list("PAO_NOTIFY_APPROVERS_EMAIL"),
        support_slack: text("PAO_NOTIFY_SUPPORT_SLACK"),
        support_email: list("PAO_NOTIFY_SUPPORT_EMAIL"),
    })
}

/// An `on`/`off` setting.
fn switch(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim() {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(ConfigError::Invalid {
            name,
            problem: format!("{other:?} is neither on nor off"),
        }),
    }
}

/// The entries of a comma-separated setting, trimmed, empty ones dropped.
pub fn comma_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Time an invocation keeps beyond an action's timeout: loading the task before, writing its
/// outcome after (the worker's deadline margin, 5 s, and room for a slow store).
pub const ACTION_TIME_RESERVED: Duration = Duration::from_secs(15);

impl Config {
    /// The longest `timeoutSeconds` a fulfillment item may ask for: what the deployed worker
    /// can give one action.
    pub fn max_action_timeout(&self) -> Duration {
        self.worker_timeout.saturating_sub(ACTION_TIME_RESERVED)
    }
}

fn days(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<Duration, ConfigError> {
    match get(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(Duration::from_secs(default * 86_400)),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=36_500).contains(n))
            .map(|n| Duration::from_secs(n * 86_400))
            .ok_or_else(|| ConfigError::Invalid {
                name,
                problem: format!("{v:?} is not a number of days from 1 to 36500"),
            }),
    }
}

/// The catalog secret prefix: given, or `pao/<environment>/catalog/`; always ends in `/`.
fn catalog_prefix(value: Option<String>, environment: &str) -> Result<String, ConfigError> {
    let value = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| format!("pao/{environment}/catalog/"));
    if !value.ends_with('/') || value.contains("..") || value.starts_with('/') {
        return Err(ConfigError::Invalid {
            name: "PAO_CATALOG_SECRET_PREFIX",
            problem: format!("{value:?} must end in / (pao/<environment>/catalog/)"),
        });
    }
    Ok(value)
}

/// `owner/name`, or empty.
fn repository(value: Option<String>) -> Result<String, ConfigError> {
    let value = value.unwrap_or_default().trim().to_string();
    let valid = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match value.split_once('/') {
        None if value.is_empty() => Ok(value),
        Some((owner, name)) if valid(owner) && valid(name) => Ok(value),
        _ => Err(ConfigError::Invalid {
            name: "PAO_CATALOG_REPOSITORY",
            problem: format!("{value:?} is not owner/name"),
        }),
    }
}

/// What one entry of `PAO_OPERATOR_PRINCIPALS` must look like: an IAM or STS ARN (`*`
/// wildcards allowed). template.yaml's `OperatorPrincipals` has the same `AllowedPattern`
/// (tests/template.rs checks they agree), so CloudFormation refuses what would stop the
/// functions at start.
pub const OPERATOR_ARN_PATTERN: &str = r"^(arn:aws[a-z-]*:(iam|sts)::([0-9]{12}|\*):[!-~]+)?$";

/// Comma-separated ARNs, or empty.
fn principals(name: &'static str, value: Option<String>) -> Result<String, ConfigError> {
    let value = value.unwrap_or_default();
    let rule = regex::Regex::new(OPERATOR_ARN_PATTERN).map_err(|e| ConfigError::Invalid {
        name,
        problem: e.to_string(),
    })?;
    if let Some(bad) = value.split(',').map(str::trim).find(|p| !rule.is_match(p)) {
        return Err(ConfigError::Invalid {
            name,
            problem: format!(
                "{bad:?} is not an IAM ARN (arn:aws:iam::<account>:role/<path/name> or user/..., * wildcards)"
            ),
        });
    }
    Ok(value)
}

/// `key=value`, or empty.
fn tag(name: &'static str, value: Option<String>) -> Result<String, ConfigError> {
    let value = value.unwrap_or_default().trim().to_string();
    match value.split_once('=') {
        None if value.is_empty() => Ok(value),
        Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => Ok(value),
        _ => Err(ConfigError::Invalid {
            name,
            problem: format!("{value:?} is not key=value"),
        }),
    }
}

/// The stuck threshold must outlast a worker invocation (60 s), or live tasks would be failed.
fn at_least(name: &'static str, value: Duration, min: u64) -> Result<Duration, ConfigError> {
    if value.as_secs() < min {
        return Err(ConfigError::Invalid {
            name,
            problem: format!("must be at least {min} seconds"),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const BASE: [(&str, &str); 3] = [
        ("PAO_TABLE_NAME", "pao"),
        ("PAO_TASK_QUEUE_URL", "http://q/tasks.fifo"),
        ("PAO_DLQ_URL", "http://q/dlq.fifo"),
    ];

    #[test]
    fn names_the_missing_variable() {
        assert_eq!(
            from(&BASE[1..]),
            Err(ConfigError::Missing("PAO_TABLE_NAME"))
        );
        assert_eq!(
            from(&[BASE[0], BASE[1]]).map_err(|e| e.to_string()),
            Err("environment variable PAO_DLQ_URL is not set".to_string())
        );
    }

    #[test]
    fn catalog_settings_default_from_the_stack() {
        let c = from(&BASE).expect("valid");
        assert_eq!(c.catalog_token_secret_id, "pao/github-token");
        assert_eq!(c.catalog_secret_prefix, "pao/local/catalog/");
        assert_eq!(c.max_action_timeout(), Duration::from_secs(45));
        assert_eq!(c.completed_retention, Duration::from_secs(90 * 86_400));
        let mut set = BASE.to_vec();
        set.extend([
            ("PAO_ENVIRONMENT", "prod"),
            ("PAO_GITHUB_TOKEN_SECRET_ID", "pao/prod/github-token"),
            ("PAO_WORKER_TIMEOUT_SECONDS", "300"),
            ("PAO_FAILED_RETENTION_DAYS", "30"),
        ]);
        let c = from(&set).expect("valid");
        assert_eq!(c.catalog_token_secret_id, "pao/prod/github-token");
        assert_eq!(c.catalog_secret_prefix, "pao/prod/catalog/");
        assert_eq!(c.max_action_timeout(), Duration::from_secs(285));
        assert_eq!(c.failed_retention, Duration::from_secs(30 * 86_400));
        set.push(("PAO_CATALOG_TOKEN_SECRET_ID", "pao/prod/catalog-read"));
        set.push(("PAO_CATALOG_SECRET_PREFIX", "pao/prod/catalog"));
        assert!(matches!(
            from(&set),
            Err(ConfigError::Invalid {
                name: "PAO_CATALOG_SECRET_PREFIX",
                ..
            })
        ));
        set.pop();
        let c = from(&set).expect("valid");
        assert_eq!(c.catalog_token_secret_id, "pao/prod/catalog-read");
    }

    #[test]
    fn defaults_and_invalid_numbers() {
        let c = from(&BASE).expect("valid");
        assert_eq!(c.jira_secret_id, "pao/jira");
        assert_eq!(c.catalog_cache, Duration::from_secs(60));
        assert_eq!(c.stuck_after, Duration::from_secs(900));
        let mut short = BASE.to_vec();
        short.push(("PAO_STUCK_AFTER_SECONDS", "30"));
        assert!(matches!(
            from(&short),
            Err(ConfigError::Invalid {
                name: "PAO_STUCK_AFTER_SECONDS",
                ..
            })
        ));
        let mut bad_operator = BASE.to_vec();
        bad_operator.push((
            "PAO_OPERATOR_PRINCIPALS",
            "arn:aws:iam::123456789012:role/Ops, ops",
        ));
        assert!(matches!(
            from(&bad_operator),
            Err(ConfigError::Invalid {
                name: "PAO_OPERATOR_PRINCIPALS",
                ..
            })
        ));
        let mut bad = BASE.to_vec();
        bad.push(("PAO_ACTION_TIMEOUT_SECONDS", "soon"));
        assert!(matches!(
            from(&bad),
            Err(ConfigError::Invalid {
                name: "PAO_ACTION_TIMEOUT_SECONDS",
                ..
            })
        ));
    }

    #[test]
    fn switches_are_on_or_off() {
        assert!(from(&BASE).expect("base").follow_next_task);
        let mut off = BASE.to_vec();
        off.push(("PAO_FOLLOW_NEXT_TASK", "off"));
        assert!(!from(&off).expect("off").follow_next_task);
        let mut bad = BASE.to_vec();
        bad.push(("PAO_FOLLOW_NEXT_TASK", "sometimes"));
        assert!(matches!(
            from(&bad),
            Err(ConfigError::Invalid {
                name: "PAO_FOLLOW_NEXT_TASK",
                ..
            })
        ));
    }
}
