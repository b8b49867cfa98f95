//! The local runner's library: the AWS resources template.yaml declares, created on a local
//! endpoint (moto_server or LocalStack); the JIRA stand-in; SigV4 verification like API
//! Gateway's AWS_IAM authorizer; the SQS event source mapping (`esm`); and the whole local
//! stack; and the benchmark's parts (`bench`).

pub mod bench;
pub mod catalog_push;
pub mod esm;
pub mod gateway;
pub mod github_standin;
pub mod http_standin;
pub mod identity;
pub mod jira_standin;
pub mod live;
pub mod provision;
pub mod real_services;
pub mod runner;
pub mod sigv4;
pub mod slack_standin;
pub mod stream_esm;
