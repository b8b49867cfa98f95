//! The bench's fixtures: the two-ticket catalog item, its developer, and the submissions
//! and bare floor writes made from them.

use super::floor;
use pao::api::ApiRequest;
use serde_json::{Value, json};

pub type Error = Box<dyn std::error::Error>;

pub const ITEM: &str = r#"
schemaVersion: catalog/v1
kind: CatalogItem
metadata: { id: bench-item, name: Bench, version: 1.0.0, category: bench, owner: pao, description: Two JIRA tickets. }
form:
  groups:
    - id: basic
      fields:
        - { id: instanceName, type: string, required: true, pattern: '^[a-z][a-z0-9-]{2,30}$' }
fulfillment:
  items:
    - { id: first, type: jira-ticket, config: { project: DBA, issueType: Task, summary: "Provision {{.current.basic.instanceName}}", waitForResolution: false }, outputs: { firstKey: /key } }
    - { id: second, type: jira-ticket, config: { project: OPS, issueType: Task, summary: "After {{.output.firstKey}}", waitForResolution: false } }
"#;

pub const DEV: &str = "arn:aws:sts::000000000000:assumed-role/Developer/bench@example.com";

pub fn input(i: usize) -> Value {
    json!({"name": format!("bench-{i}"), "basic": {"instanceName": format!("db-{i}")}})
}

/// The context the API would give submission `i` of the bench's developer.
pub fn context(i: usize) -> pao::submission::Context {
    pao::submission::Context {
        user: pao::record::Principal {
            arn: DEV.into(),
            email: Some("bench@example.com".into()),
            id: None,
        },
        correlation_id: format!("floor-{i}"),
        submission_id: pao::submission::Context::new_submission_id(None),
        now: pao::clock::now_rfc3339(),
        region: "us-east-1".into(),
        environment: "bench".into(),
        idempotency_seed: None,
        catalog_commit: String::new(),
        team: None,
    }
}

/// Submission item `i` of the bench item.
pub fn bench_item(i: usize) -> pao::request::SubmissionItem {
    pao::request::SubmissionItem {
        schema_version: "catalog/v1".into(),
        target: pao::catalog::Target::CatalogItem("bench-item".into()),
        input: input(i),
    }
}

/// Submission `i` as the floor sends it: the request and task items PAO would write, bare,
/// and its first task's message.
pub fn bare_submission(
    catalog: &pao::catalog::Catalog,
    store: &pao::store::Store,
    i: usize,
) -> Result<floor::Bare, Error> {
    let (request, tasks) = pao::submission::build(catalog, &bench_item(i), 0, &context(i))
        .map_err(|p| format!("{p:?}"))?;
    Ok(floor::Bare {
        writes: store.creation_writes(&request, &tasks, None, false)?,
        message: pao::queue::TaskMessage::for_task(&tasks[0], "floor"),
    })
}

/// A catalog item with `n` JIRA fulfillment items (the 50-item submission).
pub fn wide_item(n: usize) -> String {
    let mut s = ITEM.replace("bench-item", "wide-item");
    let cut = s.find("fulfillment:").unwrap_or(s.len());
    s.truncate(cut);
    s.push_str("fulfillment:\n  items:\n");
    for i in 0..n {
        s.push_str(&format!(
            "    - {{ id: step_{i}, type: jira-ticket, config: {{ project: OPS, issueType: Task, summary: \"Step {i} of {{{{.current.basic.instanceName}}}}\", waitForResolution: false }} }}\n"
        ));
    }
    s
}

pub fn submission(item: &str, input: Value, key: Option<String>) -> ApiRequest {
    let body =
        json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": item, "input": input}]});
    ApiRequest {
        method: "POST".into(),
        path: "/api/v1/requests".into(),
        headers: key
            .map(|k| vec![("idempotency-key".into(), k)])
            .unwrap_or_default(),
        body: body.to_string().into_bytes(),
        caller_arn: Some(DEV.into()),
        caller_id: Some(crate::sigv4::principal_id(DEV)),
        request_id: None,
        home_account: None,
        ..ApiRequest::default()
    }
}

/// A local stack of the benchmark's own serving [`ITEM`] from a catalog directory made for
/// it (`kind` names both), with `pollers` event-source pollers and tickets left open: the
/// options and the directory to remove afterwards.
pub fn stack_options(
    kind: &str,
    pollers: usize,
) -> Result<(crate::runner::Options, std::path::PathBuf), Error> {
    let dir = std::env::temp_dir().join(format!("pao-bench-{kind}-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("catalog"))?;
    std::fs::write(dir.join("catalog/bench.yaml"), ITEM)?;
    let names = crate::provision::Names::unique(kind);
    let opts = crate::runner::Options {
        real_github: None,
        real_jira: None,
        catalog_dir: dir.clone(),
        api_port: 0,
        jira_port: 0,
        github_port: 0,
        http_port: 0,
        slack_port: 0,
        catalog_git_dir: std::env::temp_dir().join(format!("{}-git", names.table)),
        identities: vec![crate::sigv4::default_identity()],
        region: "us-east-1".into(),
        names,
        sweep_interval: std::time::Duration::from_secs(30),
        pollers,
        // The benchmark's tickets only inform (waitForResolution: false).
        jira_auto_resolve: std::time::Duration::ZERO,
    };
    Ok((opts, dir))
}
