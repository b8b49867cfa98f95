//! The local runner's library: creating the AWS resources that template.yaml declares on a
//! local endpoint (moto_server or LocalStack), so the local stack and the tests use exactly
//! what a deployment gets.

pub mod jira_standin;
pub mod provision;
