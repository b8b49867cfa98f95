//! The api binary refuses to start without its configuration, naming what is missing.

#[test]
fn a_missing_variable_is_named_at_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_api"))
        .env_clear()
        .env("PAO_TASK_QUEUE_URL", "http://127.0.0.1:1/q.fifo")
        .env("PAO_DLQ_URL", "http://127.0.0.1:1/dlq.fifo")
        .output()
        .expect("the binary runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PAO_TABLE_NAME"), "{stderr}");
}
