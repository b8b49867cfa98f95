//! The sweeper handler fed the EventBridge scheduled event in `events/`, against the local AWS
//! endpoint: it answers with what it did.

use lambda_runtime::{Context, LambdaEvent};
use pao_system_tests::{TestEnv, sweeper_for};
use serde_json::{Value, json};

#[tokio::test]
async fn a_scheduled_event_runs_one_sweep_and_reports_it() {
    let env = TestEnv::new().await;
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/schedule-sweep.json");
    let payload: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("event")).expect("JSON");
    let sweeper = sweeper_for(&env, 900, 120);
    let report = sweeper::handle(&sweeper, LambdaEvent::new(payload, Context::default()))
        .await
        .expect("swept");
    assert_eq!(report, json!({"resent": [], "stuck": [], "skipped": 0}));
    env.cleanup().await;
}
