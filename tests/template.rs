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
        ("EscalationProject", "OPS", ""),
        ("AllowedAccounts", "123456789012", "12345"),
        ("WorkerTimeoutSeconds", "300", "45"),
        ("MaxReceiveCount", "10", "3"),
        ("CatalogTokenSecret", "pao/prod/catalog-read", "pao/${x}"),
    ] {
        assert!(accepts(name, good), "{name}={good} refused");
        assert!(!accepts(name, bad), "{name}={bad} accepted");
    }
}

#[test]
fn the_worker_is_wired_as_the_design_requires() {
    let t = template();
    let r = &t["Resources"];
    // The worker's timeout is a parameter; the queue's visibility timeout is looked up for
    // it: six times it or more, for every value the parameter allows.
    assert_eq!(
        r["WorkerFunction"]["Properties"]["Timeout"]["Ref"],
        "WorkerTimeoutSeconds"
    );
    let timeouts = t["Parameters"]["WorkerTimeoutSeconds"]["AllowedValues"]
        .as_array()
        .expect("allowed worker timeouts");
    for timeout in timeouts {
        let seconds = timeout.as_u64().expect("a number");
        let visibility = t["Mappings"]["WorkerTimeouts"][seconds.to_string()]["VisibilityTimeout"]
            .as_u64()
            .unwrap_or_else(|| panic!("no visibility timeout for a {seconds} s worker"));
        assert!(
            visibility >= 6 * seconds,
            "visibility {visibility} < 6 x {seconds}"
        );
    }
    // A batch handed back counts as a receive: AWS advises at least 5 for Lambda.
    assert_eq!(
        r["TaskQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"]["Ref"],
        "MaxReceiveCount"
    );
    assert!(t["Parameters"]["MaxReceiveCount"]["MinValue"].as_u64() >= Some(5));
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

/// An operator entry CloudFormation accepts is one every function accepts at start, and the
/// other way round (CloudFormation applies the pattern to each item of the list).
#[test]
fn operator_principals_follow_the_functions_rule() {
    let t = template();
    // Support staff are named the same way.
    for parameter in ["OperatorPrincipals", "SupportPrincipals"] {
        assert_eq!(
            t["Parameters"][parameter]["AllowedPattern"].as_str(),
            Some(pao::config::OPERATOR_ARN_PATTERN),
            "{parameter}"
        );
    }
    for (value, ok) in [
        ("", true),
        ("arn:aws:iam::123456789012:role/Ops", true),
        (
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Ops_1",
            true,
        ),
        ("arn:aws:iam::*:role/Platform*", true),
        ("123456789012", false),
        ("*", false),
        ("arn:aws:s3:::bucket", false),
    ] {
        assert_eq!(accepts("OperatorPrincipals", value), ok, "{value:?}");
        let config = pao::config::Config::from_lookup(|name| match name {
            "PAO_TABLE_NAME" => Some("t".into()),
            "PAO_TASK_QUEUE_URL" | "PAO_DLQ_URL" => Some("q".into()),
            "PAO_OPERATOR_PRINCIPALS" => Some(value.into()),
            _ => None,
        });
        assert_eq!(config.is_ok(), ok, "{value:?}: {config:?}");
    }
}
