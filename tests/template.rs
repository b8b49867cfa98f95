//! template.yaml's parameters refuse values out of range, as CloudFormation will apply them,
//! and the resources the local stack creates are the ones the functions are wired to.

use serde_json::Value;

fn template() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    serde_norway::from_str(&std::fs::read_to_string(path).expect("template.yaml"))
        .expect("plain YAML")
}

/// Whether CloudFormation would accept `value` for `name`.
fn accepts(name: &str, value: &str) -> bool {
    let t = template();
    let p = &t["Parameters"][name];
    assert!(p.is_object(), "no parameter {name}");
    if let Some(allowed) = p["AllowedValues"].as_array() {
        if !allowed.iter().any(|a| {
            a.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| a.to_string())
                == value
        }) {
            return false;
        }
    }
    if let Some(pattern) = p["AllowedPattern"].as_str() {
        let re = regex::Regex::new(pattern).expect("pattern compiles");
        if !re.is_match(value) {
            return false;
        }
    }
    if let (Some(lo), Ok(n)) = (p["MinValue"].as_f64(), value.parse::<f64>()) {
        if n < lo {
            return false;
        }
    }
    if let (Some(hi), Ok(n)) = (p["MaxValue"].as_f64(), value.parse::<f64>()) {
        if n > hi {
            return false;
        }
    }
    true
}

#[test]
fn out_of_range_parameters_are_refused() {
    for (name, good, bad) in [
        ("EnvironmentName", "staging", "Prod_1"),
        ("Architecture", "x86_64", "sparc"),
        ("LogRetentionDays", "30", "3"),
        ("OldestMessageAlarmSeconds", "900", "5"),
        ("AllowedOrganization", "o-a1b2c3d4e5", "acme"),
        (
            "AlarmTopicArn",
            "arn:aws:sns:us-east-1:123456789012:pao-alarms",
            "pao-alarms",
        ),
        ("SweepSchedule", "rate(5 minutes)", "every 5 minutes"),
    ] {
        assert!(accepts(name, good), "{name}={good} refused");
        assert!(!accepts(name, bad), "{name}={bad} accepted");
    }
}

#[test]
fn the_worker_is_wired_as_the_design_requires() {
    let t = template();
    let r = &t["Resources"];
    let worker_timeout = r["WorkerFunction"]["Properties"]["Timeout"]
        .as_u64()
        .expect("worker timeout");
    let visibility = r["TaskQueue"]["Properties"]["VisibilityTimeout"]
        .as_u64()
        .expect("visibility timeout");
    assert!(
        visibility >= 6 * worker_timeout,
        "visibility {visibility} < 6 x {worker_timeout}"
    );
    assert_eq!(
        r["TaskQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"],
        3
    );
    assert_eq!(r["TaskQueue"]["Properties"]["FifoQueue"], true);
    assert_eq!(r["TaskDeadLetterQueue"]["Properties"]["FifoQueue"], true);
    let events = &r["WorkerFunction"]["Properties"]["Events"]["Tasks"]["Properties"];
    assert_eq!(
        events["FunctionResponseTypes"],
        serde_json::json!(["ReportBatchItemFailures"])
    );
    assert_eq!(
        t["Globals"]["Function"]["Environment"]["Variables"]["AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH"],
        "true"
    );
    for f in [
        "ApiFunction",
        "WorkerFunction",
        "GithubWebhookFunction",
        "SweeperFunction",
    ] {
        assert_eq!(r[f]["Metadata"]["BuildMethod"], "rust-cargolambda", "{f}");
        // No wildcard actions anywhere.
        let policies = r[f]["Properties"]["Policies"].to_string();
        assert!(
            !policies.contains("\"*\"") && !policies.contains(":*\""),
            "{f}: {policies}"
        );
    }
}
