//! `devctl` as a platform team's CI runs it: exit codes and what it prints.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog")
}

fn devctl(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_devctl"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("devctl runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn broken_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = std::fs::read_to_string(examples().join("catalog/cache/redis-cache.yaml"))
        .expect("example");
    let broken = text
        .replacen(
            "{{.current.cluster.clusterName}}",
            "{{.current.cluster.clusterNam}}",
            1,
        )
        .replacen("type: boolean", "type: bool", 1);
    std::fs::create_dir_all(dir.path().join("catalog")).expect("mkdir");
    std::fs::write(dir.path().join("catalog/redis.yaml"), broken).expect("write");
    dir
}

#[test]
fn validate_accepts_the_example_catalog() {
    let out = devctl(&examples(), &["validate", "."]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(stdout(&out).trim(), "ok: 9 documents valid");
    let out = devctl(&examples(), &["validate", "--json"]);
    let v: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(v, json!({"valid": true, "documents": 9, "problems": []}));
}

#[test]
fn validate_lists_every_problem_and_fails() {
    let repo = broken_repo();
    let out = devctl(repo.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains(
            "catalog/redis.yaml: form.groups[0].fields[4].type: \"bool\" is not one of: "
        ),
        "{text}"
    );
    assert!(
        text.ends_with("1 problem in 1 file (1 documents checked)\n"),
        "{text}"
    );
    // Fixing the schema problem reveals the template problem: still reported with its path.
    let fixed = std::fs::read_to_string(repo.path().join("catalog/redis.yaml"))
        .expect("read")
        .replacen("type: bool", "type: boolean", 1);
    std::fs::write(repo.path().join("catalog/redis.yaml"), fixed).expect("write");
    let out = devctl(repo.path(), &["validate", "--json", "catalog/redis.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(
        v["problems"],
        json!([{
            "file": "catalog/redis.yaml",
            "path": "fulfillment.items[0].config.body.name",
            "message": ".current.cluster.clusterNam is not a field of the form"
        }])
    );
}

#[test]
fn validate_names_a_path_that_is_not_a_catalog() {
    let empty = tempfile::tempdir().expect("temp dir");
    let out = devctl(empty.path(), &["validate", "nowhere"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("nowhere: no such file or directory"),
        "{}",
        stderr(&out)
    );
    let out = devctl(empty.path(), &["validate", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not inside a catalog repository"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn preview_prints_the_portal_form() {
    let out = devctl(
        &examples(),
        &["preview", "catalog/database/aurora-postgresql.yaml"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(v["id"], json!("database-aurora-postgresql"));
    assert_eq!(v["owner"], json!("@acme/team-database"));
    let basic = &v["form"]["groups"][0];
    assert_eq!(basic["fields"][0]["path"], json!("basic.instanceName"));
    assert_eq!(
        basic["fields"][1]["options"][2],
        json!({"value": "db.r5.2xlarge", "label": "db.r5.2xlarge (ask first)"})
    );
    assert_eq!(
        v["form"]["groups"][1]["fields"][2]["widget"],
        json!("password")
    );
    assert_eq!(v["form"]["inputSchema"]["required"], json!(["name"]));
}

#[test]
fn render_shows_every_item_with_chained_outputs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("input.json");
    std::fs::write(
        &input,
        r#"{"name": "orders", "basic": {"instanceName": "orders-db"}, "storage": {"masterPassword": "correct-horse-battery"}}"#,
    )
    .expect("write");
    let input = input.to_string_lossy().into_owned();
    let out = devctl(
        &examples(),
        &[
            "render",
            "catalog/database/aurora-postgresql.yaml",
            "--input",
            &input,
            "--output",
            "dbTicket=DBA-42",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        !text.contains("correct-horse-battery"),
        "a password was printed: {text}"
    );
    let steps: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(steps.as_array().map(Vec::len), Some(3));
    assert_eq!(
        steps[0]["config"]["summary"],
        json!("Provision Aurora PostgreSQL orders-db (db.r5.large)")
    );
    assert_eq!(steps[1]["config"]["inputs"]["jira_ticket"], json!("DBA-42"));
    let body: Value = serde_json::from_str(steps[2]["config"]["body"].as_str().unwrap_or_default())
        .expect("JSON body");
    assert_eq!(body["provisionRun"], json!("<dbProvisionRun>"));
    assert_eq!(body["masterPassword"], json!("********"));

    let human = devctl(
        &examples(),
        &[
            "render",
            "catalog/database/aurora-postgresql.yaml",
            "-i",
            &input,
        ],
    );
    assert!(
        stdout(&human).starts_with("[1/3] database-aurora-postgresql › ticket (jira-ticket)\n"),
        "{}",
        stdout(&human)
    );
}

#[test]
fn render_rejects_bad_input_naming_the_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("input.json");
    std::fs::write(
        &input,
        r#"{"basic": {"instanceName": "Orders", "bogus": 1}, "storage": {"storageSize": 5}}"#,
    )
    .expect("write");
    let input_arg = input.to_string_lossy().into_owned();
    let out = devctl(
        &examples(),
        &[
            "render",
            "catalog/database/aurora-postgresql.yaml",
            "--input",
            &input_arg,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    for expected in [
        ": name: is required",
        ": basic.bogus: is not a field of this form",
        ": basic.instanceName: does not match the pattern ^[a-z][a-z0-9-]{2,30}$",
        ": storage.storageSize: must be at least 20",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in {text}");
    }
    std::fs::write(&input, "{not json").expect("write");
    let out = devctl(
        &examples(),
        &[
            "render",
            "catalog/database/aurora-postgresql.yaml",
            "--input",
            &input_arg,
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not valid JSON"), "{}", stderr(&out));
    let out = devctl(
        &examples(),
        &[
            "render",
            "catalog/database/aurora-postgresql.yaml",
            "--input",
            &input_arg,
            "--output",
            "novalue",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("expected KEY=VALUE"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn help_has_examples() {
    let out = devctl(&examples(), &["render", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("Examples:"), "{}", stdout(&out));
}
