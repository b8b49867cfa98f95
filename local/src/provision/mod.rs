//! Tables, queues and secrets as declared in template.yaml, created on the local endpoint.
//! [`stack`] provisions a whole stack under [`Names`] of its own (the local runner, the tests,
//! `pao-bench` and `pao-invoke` all use it) and returns the `Config` its functions would read.

mod events;
mod identities;
mod kms;
pub use events::{
    PkFilter, StreamMapping, create_event_bus, create_events_dlq, delete_event_bus,
    eventbridge_call, verify_sender,
};
pub use identities::tag_identities;
pub use kms::{create_secrets_key, delete_secrets_key};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("{path}: {message}")]
    Template { path: String, message: String },
    #[error("template.yaml: resource {0} is missing or has no Properties")]
    MissingResource(String),
    #[error("template.yaml: {resource}: {message}")]
    BadResource { resource: String, message: String },
    #[error("{0}")]
    Aws(String),
    #[error(transparent)]
    Config(#[from] pao::config::ConfigError),
}

fn aws<E: std::error::Error + 'static>(e: aws_sdk_dynamodb::error::SdkError<E>) -> ProvisionError {
    ProvisionError::Aws(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
}

pub(crate) fn aws_sqs<E: std::error::Error + 'static>(
    e: aws_sdk_sqs::error::SdkError<E>,
) -> ProvisionError {
    ProvisionError::Aws(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
}

/// The parsed `Resources` of template.yaml.
#[derive(Debug, Clone)]
pub struct SamTemplate {
    resources: Map<String, Value>,
    parameters: Map<String, Value>,
    mappings: Map<String, Value>,
}

/// URLs of a task queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    pub queue: String,
    pub dlq: String,
}

impl SamTemplate {
    pub fn load(path: &Path) -> Result<Self, ProvisionError> {
        let err = |message: String| ProvisionError::Template {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let doc: Value = serde_norway::from_str(&text).map_err(|e| err(e.to_string()))?;
        let resources = doc
            .get("Resources")
            .and_then(Value::as_object)
            .cloned()
            .ok_or_else(|| err("no Resources".into()))?;
        let section = |name: &str| {
            doc.get(name)
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default()
        };
        Ok(Self {
            resources,
            parameters: section("Parameters"),
            mappings: section("Mappings"),
        })
    }

    /// A parameter's default, as a deploy that does not override it gets it.
    pub fn parameter_default(&self, name: &str) -> Option<Value> {
        self.parameters.get(name)?.get("Default").cloned()
    }

    /// A property value with `Ref` to a parameter (its default) and `Fn::FindInMap` evaluated,
    /// the intrinsics the resources created here use.
    fn resolve(&self, v: &Value, resource: &str) -> Result<Value, ProvisionError> {
        let Some(obj) = v.as_object().filter(|o| o.len() == 1) else {
            return Ok(v.clone());
        };
        if let Some(name) = obj.get("Ref").and_then(Value::as_str) {
            return self
                .parameter_default(name)
                .ok_or_else(|| bad(resource, format!("Ref {name}: no parameter default")));
        }
        if let Some(args) = obj.get("Fn::FindInMap").and_then(Value::as_array) {
            let mut keys = Vec::new();
            for a in args {
                keys.push(match self.resolve(a, resource)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                });
            }
            return match keys.as_slice() {
                [map, top, second] => self
                    .mappings
                    .get(map)
                    .and_then(|m| m.get(top))
                    .and_then(|m| m.get(second))
                    .cloned()
                    .ok_or_else(|| bad(resource, format!("Fn::FindInMap {keys:?}: no such entry"))),
                _ => Err(bad(resource, "Fn::FindInMap takes three arguments")),
            };
        }
        Ok(v.clone())
    }

    /// The repository's template.yaml.
    pub fn repository() -> Result<Self, ProvisionError> {
        Self::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"))
    }

    fn properties(&self, logical_id: &str) -> Result<&Value, ProvisionError> {
        self.resources
            .get(logical_id)
            .and_then(|r| r.get("Properties"))
            .ok_or_else(|| ProvisionError::MissingResource(logical_id.into()))
    }

    /// Logical ids of every resource of a CloudFormation type.
    pub fn of_type(&self, kind: &str) -> Vec<String> {
        self.resources
            .iter()
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

fn bad(resource: &str, message: impl Into<String>) -> ProvisionError {
    ProvisionError::BadResource {
        resource: resource.into(),
        message: message.into(),
    }
}

fn str_of<'a>(v: &'a Value, key: &str, resource: &str) -> Result<&'a str, ProvisionError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| bad(resource, format!("{key} is missing")))
}

fn key_schema(v: &Value, resource: &str) -> Result<Vec<KeySchemaElement>, ProvisionError> {
    v.as_array()
        .ok_or_else(|| bad(resource, "KeySchema must be a list"))?
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(str_of(k, "AttributeName", resource)?)
                .key_type(KeyType::from(str_of(k, "KeyType", resource)?))
                .build()
                .map_err(|e| bad(resource, e.to_string()))
        })
        .collect()
}

/// Creates the DynamoDB table `logical_id` of the template under `name`, with its keys,
/// GSIs and TTL.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    template: &SamTemplate,
    logical_id: &str,
    name: &str,
) -> Result<(), ProvisionError> {
    let p = template.properties(logical_id)?;
    let mut req = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(
            p.get("KeySchema").unwrap_or(&Value::Null),
            logical_id,
        )?));
    for a in p
        .get("AttributeDefinitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(str_of(a, "AttributeName", logical_id)?)
                .attribute_type(ScalarAttributeType::from(str_of(
                    a,
                    "AttributeType",
                    logical_id,
                )?))
                .build()
                .map_err(|e| bad(logical_id, e.to_string()))?,
        );
    }
    for g in p
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let projection = g
            .pointer("/Projection/ProjectionType")
            .and_then(Value::as_str)
            .unwrap_or("ALL");
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(str_of(g, "IndexName", logical_id)?)
                .set_key_schema(Some(key_schema(
                    g.get("KeySchema").unwrap_or(&Value::Null),
                    logical_id,
                )?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(projection))
                        .build(),
                )
                .build()
                .map_err(|e| bad(logical_id, e.to_string()))?,
        );
    }
    if let Some(stream) = p.get("StreamSpecification") {
        req = req.stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(str_of(
                    stream,
                    "StreamViewType",
                    logical_id,
                )?))
                .build()
                .map_err(|e| bad(logical_id, e.to_string()))?,
        );
    }
    match req.send().await {
        Ok(_) => {}
        // Already there (a restarted local stack): keep it and its data.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            return Ok(());
        }
        Err(e) => return Err(aws(e)),
    }
    if let Some(ttl) = p.get("TimeToLiveSpecification") {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(str_of(ttl, "AttributeName", logical_id)?)
                    .enabled(ttl.get("Enabled").and_then(Value::as_bool).unwrap_or(true))
                    .build()
                    .map_err(|e| bad(logical_id, e.to_string()))?,
            )
            .send()
            .await
            .map_err(aws)?;
    }
    Ok(())
}

pub async fn delete_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<(), ProvisionError> {
    client
        .delete_table()
        .table_name(name)
        .send()
        .await
        .map_err(aws)?;
    Ok(())
}

/// SQS attributes from a queue's CloudFormation properties (the redrive policy aside).
pub(crate) fn queue_attributes(
    template: &SamTemplate,
    p: &Value,
    resource: &str,
) -> Result<HashMap<QueueAttributeName, String>, ProvisionError> {
    let mut attrs = HashMap::new();
    let pairs = [
        ("FifoQueue", QueueAttributeName::FifoQueue),
        (
            "ContentBasedDeduplication",
            QueueAttributeName::ContentBasedDeduplication,
        ),
        ("DeduplicationScope", QueueAttributeName::DeduplicationScope),
        (
            "FifoThroughputLimit",
            QueueAttributeName::FifoThroughputLimit,
        ),
        ("VisibilityTimeout", QueueAttributeName::VisibilityTimeout),
        (
            "MessageRetentionPeriod",
            QueueAttributeName::MessageRetentionPeriod,
        ),
    ];
    for (key, name) in pairs {
        if let Some(v) = p.get(key) {
            let text = match template.resolve(v, resource)? {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            attrs.insert(name, text);
        }
    }
    Ok(attrs)
}

/// Creates the FIFO queue `queue_id` and its dead-letter queue `dlq_id` of the template under
/// the given names, wiring the redrive policy (maxReceiveCount) as declared.
pub async fn create_queues(
    client: &aws_sdk_sqs::Client,
    template: &SamTemplate,
    (queue_id, queue_name): (&str, &str),
    (dlq_id, dlq_name): (&str, &str),
) -> Result<QueueUrls, ProvisionError> {
    let dlq_props = template.properties(dlq_id)?;
    let dlq = client
        .create_queue()
        .queue_name(dlq_name)
        .set_attributes(Some(queue_attributes(template, dlq_props, dlq_id)?))
        .send()
        .await
        .map_err(aws_sqs)?
        .queue_url
        .ok_or_else(|| bad(dlq_id, "no queue URL returned"))?;
    let dlq_arn = client
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(aws_sqs)?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or_else(|| bad(dlq_id, "no queue ARN returned"))?;
    let p = template.properties(queue_id)?;
    let mut attrs = queue_attributes(template, p, queue_id)?;
    if let Some(redrive) = p.get("RedrivePolicy") {
        let max = redrive
            .get("maxReceiveCount")
            .map(|v| template.resolve(v, queue_id))
            .transpose()?
            .and_then(|v| match v {
                Value::String(s) => s.parse::<u64>().ok(),
                other => other.as_u64(),
            })
            .ok_or_else(|| bad(queue_id, "RedrivePolicy.maxReceiveCount is not a number"))?;
        attrs.insert(
            QueueAttributeName::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max}).to_string(),
        );
    }
    let queue = client
        .create_queue()
        .queue_name(queue_name)
        .set_attributes(Some(attrs))
        .send()
        .await
        .map_err(aws_sqs)?
        .queue_url
        .ok_or_else(|| bad(queue_id, "no queue URL returned"))?;
    Ok(QueueUrls { queue, dlq })
}

pub async fn delete_queue(client: &aws_sdk_sqs::Client, url: &str) -> Result<(), ProvisionError> {
    client
        .delete_queue()
        .queue_url(url)
        .send()
        .await
        .map_err(aws_sqs)?;
    Ok(())
}

/// Creates (or overwrites) a secret's value.
pub async fn put_secret(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
    value: &str,
) -> Result<(), ProvisionError> {
    let created = client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_exists_exception()) =>
        {
            client
                .put_secret_value()
                .secret_id(name)
                .secret_string(value)
                .send()
                .await
                .map_err(|e| {
                    ProvisionError::Aws(
                        aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
                    )
                })?;
            Ok(())
        }
        Err(e) => Err(ProvisionError::Aws(
            aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
        )),
    }
}

/// The names of one stack's resources (CloudFormation chooses them on deploy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub table: String,
    pub queue: String,
    pub dlq: String,
    pub jira_secret: String,
    pub cursor_secret: String,
    pub github_token_secret: String,
    pub github_webhook_secret: String,
    pub jira_webhook_secret: String,
    /// The KMS key's alias that password fields are sealed with.
    pub secrets_key: String,
    /// `.system.platform.environment`.
    pub environment: String,
    /// The EventBridge bus changes are published to.
    pub event_bus: String,
    /// The queue the stream's event source mapping describes what it gave up on in.
    pub events_dlq: String,
}

impl Names {
    /// The names template.yaml gives a stack whose `EnvironmentName` is `environment`
    /// (`make iam-check` reads the environment off a recorded resource's name).
    pub fn of_environment(environment: &str) -> Self {
        Self {
            table: format!("pao-{environment}"),
            queue: format!("pao-tasks-{environment}.fifo"),
            dlq: format!("pao-tasks-dlq-{environment}.fifo"),
            jira_secret: format!("pao/{environment}/jira"),
            cursor_secret: format!("pao/{environment}/cursor-key"),
            github_token_secret: format!("pao/{environment}/github-token"),
            github_webhook_secret: format!("pao/{environment}/github-webhook"),
            jira_webhook_secret: format!("pao/{environment}/jira-webhook"),
            secrets_key: format!("alias/pao-{environment}-secrets"),
            environment: environment.into(),
            event_bus: format!("pao-{environment}"),
            events_dlq: format!("pao-events-dlq-{environment}"),
        }
    }

    /// The names of a stack no other run uses: environment `<kind><random>` (`kind` a few
    /// lower-case letters; an environment name has at most 16 characters).
    pub fn unique(kind: &str) -> Self {
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..10];
        let kind: String = kind
            .chars()
            .filter(char::is_ascii_lowercase)
            .take(6)
            .collect();
        Self::of_environment(&format!("{kind}{suffix}"))
    }
}

/// A provisioned stack: its table and queues exist, its cursor key is stored, and `config` is
/// what its functions read (the JIRA secret is the caller's: it names a stand-in).
#[derive(Debug, Clone)]
pub struct Stack {
    pub names: Names,
    pub queues: QueueUrls,
    pub config: pao::config::Config,
    /// The events dead-letter queue's URL.
    pub events_dlq: String,
}

/// Creates a stack's resources as template.yaml declares them.
pub async fn stack(sdk: &pao::aws::SdkConfig, names: &Names) -> Result<Stack, ProvisionError> {
    let template = SamTemplate::repository()?;
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    create_table(&dynamo, &template, "PaoTable", &names.table).await?;
    let queues = create_queues(
        &aws_sdk_sqs::Client::new(sdk),
        &template,
        ("TaskQueue", &names.queue),
        ("TaskDeadLetterQueue", &names.dlq),
    )
    .await?;
    put_cursor_key(
        &aws_sdk_secretsmanager::Client::new(sdk),
        &names.cursor_secret,
    )
    .await?;
    create_secrets_key(sdk, &names.secrets_key).await?;
    create_event_bus(sdk, &names.event_bus).await?;
    let events_dlq =
        create_events_dlq(&aws_sdk_sqs::Client::new(sdk), &template, &names.events_dlq).await?;
    let config = config_for(names, &queues)?;
    Ok(Stack {
        names: names.clone(),
        queues,
        config,
        events_dlq,
    })
}

impl Stack {
    /// Removes the stack's table and queues.
    pub async fn delete(&self, sdk: &pao::aws::SdkConfig) {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let _ = delete_table(&aws_sdk_dynamodb::Client::new(sdk), &self.names.table).await;
        let _ = delete_queue(&sqs, &self.queues.queue).await;
        let _ = delete_queue(&sqs, &self.queues.dlq).await;
        let _ = delete_queue(&sqs, &self.events_dlq).await;
        delete_secrets_key(sdk, &self.names.secrets_key).await;
        delete_event_bus(sdk, &self.names.event_bus).await;
    }
}

/// The environment a deployed function would get from template.yaml for resources
/// provisioned here (the rest comes from the environment or its defaults).
pub fn function_env(names: &Names, queues: &QueueUrls) -> Vec<(&'static str, String)> {
    vec![
        ("PAO_TABLE_NAME", names.table.clone()),
        ("PAO_TASK_QUEUE_URL", queues.queue.clone()),
        ("PAO_DLQ_URL", queues.dlq.clone()),
        ("PAO_JIRA_SECRET_ID", names.jira_secret.clone()),
        ("PAO_CURSOR_SECRET_ID", names.cursor_secret.clone()),
        (
            "PAO_GITHUB_TOKEN_SECRET_ID",
            names.github_token_secret.clone(),
        ),
        (
            "PAO_GITHUB_WEBHOOK_SECRET_ID",
            names.github_webhook_secret.clone(),
        ),
        (
            "PAO_JIRA_WEBHOOK_SECRET_ID",
            names.jira_webhook_secret.clone(),
        ),
        ("PAO_ENVIRONMENT", names.environment.clone()),
        ("PAO_SECRETS_KEY_ID", names.secrets_key.clone()),
        ("PAO_EVENT_BUS_NAME", names.event_bus.clone()),
    ]
}

/// The local identities' role, whose session names the local stack trusts.
pub const LOCAL_TRUSTED_ROLES: &str = "Developer";

/// The settings a deployed function would get, as [`function_env`] and the environment say.
fn config_for(
    names: &Names,
    queues: &QueueUrls,
) -> Result<pao::config::Config, pao::config::ConfigError> {
    let vars = function_env(names, queues);
    pao::config::Config::from_lookup(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(name).ok())
            // The local identities are fixed in its configuration, session names included, as
            // an identity provider pins them: the local Developer role's are trusted.
            .or_else(|| (name == "PAO_TRUSTED_SESSION_ROLES").then(|| LOCAL_TRUSTED_ROLES.into()))
    })
}

/// Stores a fresh random cursor key under `name` (what CloudFormation generates on deploy).
pub async fn put_cursor_key(
    client: &aws_sdk_secretsmanager::Client,
    name: &str,
) -> Result<(), ProvisionError> {
    let key = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    put_secret(client, name, &key).await
}
