//! PAO — the Platform Automation Orchestrator's shared library.
//!
//! Everything with logic lives here, named for the domain, so that the Lambda functions,
//! the local runner and `devctl` all call the very same code:
//!
//! - [`clock`]: RFC 3339 timestamps.
//! - [`catalog`]: catalog documents (items, bundles), loading a catalog repository,
//!   CODEOWNERS, and authoring-time validation.
//! - [`schema`]: the JSON Schemas in `schemas/`, compiled once.
//! - [`form`]: input forms: validating a request's input, defaults, password redaction,
//!   and the portal view of a form.
//! - [`template`]: the variable engine (`{{.namespace.path}}` on Tera).
//! - [`request`]: a request's states and allowed changes; the submission wire type.
//! - [`plan`]: a submission item becomes its ordered tasks (bundles expanded).
//! - [`problem`]: the one problem type of input, catalog and schema checks.
//! - [`value`]: date, email, URL and pattern checks shared by forms and validation.
//! - [`task`]: fulfillment task states and their allowed changes.
//! - [`record`]: the stored records of a request, its tasks and its events.
//! - [`redact`]: what an error may quote of a target's answer (every form of a secret blanked).
//! - [`config`]: settings from the environment.
//! - [`store`]: DynamoDB state (requests, tasks, events, idempotency claims, catalog
//!   snapshots, list cursors).
//! - [`queue`]: the SQS FIFO task queue, and its dead-letter queue read without loss.
//! - [`operations`]: what operators see and mend: queue statistics, waiting tasks, dead
//!   letters and their redrive, and who is an operator.
//! - [`metrics`]: CloudWatch embedded-metric-format lines.
//! - [`aws`]: SDK configuration.
//! - [`aws_json`]: AWS services over their JSON protocols, signed (EventBridge, SES, Streams).
//! - [`events`]: every committed change as an event on EventBridge, read off the table's stream.
//! - [`broadcast`]: events and notices pushed to the live connections subscribed to them.
//! - [`live`]: live status over a WebSocket: subscriptions, what is pushed to whom.
//! - [`notify`]: the people an event needs told, on Slack and by email.
//! - [`worker`]: running a task: where it becomes processing, completes or fails.
//! - [`action`]: fulfillment actions (`action::jira`).
//! - [`secrets`]: Secrets Manager through a short-lived cache.
//! - [`submission`]: a submission item becomes a stored, queued request.
//! - [`escalation`]: a failed request's remaining tasks handed to people as linked JIRA tickets.
//! - [`sweeper`]: finds tasks that were never queued or got stuck, on a schedule.
//! - [`sync`]: follows the catalog repository on GitHub (snapshots, rejections).
//! - [`webhook`]: the GitHub webhook: signature, deliveries once, push → sync.
//! - [`github`]: the GitHub REST API (branches, trees, blobs).
//! - [`https`]: the one HTTPS client of a process for JIRA and GitHub, built on first use.
//! - [`logging`]: JSON logs for Lambda, with the correlation id on every line.
//! - [`api`]: the REST API, independent of its transport.
//! - [`signing`]: SigV4 signing of API calls (devctl, tests).
//! - [`path`]: dotted/YAML paths used in every error message.

pub mod action;
pub mod api;
pub mod approval;
pub mod aws;
pub mod aws_json;
pub mod broadcast;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod escalation;
pub mod events;
pub mod form;
pub mod github;
pub mod https;
pub mod kms;
pub mod live;
pub mod logging;
pub mod metrics;
pub mod notify;
pub mod operations;
pub mod path;
pub mod plan;
pub mod principal;
pub mod principal_tags;
pub mod problem;
pub mod queue;
pub mod record;
pub mod redact;
pub mod request;
pub mod schema;
pub mod sealed;
pub mod secrets;
pub mod signing;
pub mod store;
pub mod submission;
pub mod sweeper;
pub mod sync;
pub mod task;
pub mod template;
pub mod tools;
pub mod value;
pub mod webhook;
pub mod worker;
