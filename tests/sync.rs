//! Catalog sync from GitHub against the local AWS endpoint and the GitHub stand-in (a real git
//! repository): refresh, signed pushes that add, change and remove documents, invalid
//! documents that keep their last version, signatures, redeliveries and other branches.

use pao_system_tests::{Followed, example_catalog_dir, follow};
use serde_json::{Value, json};

const NEW_ITEM: &str = r#"schemaVersion: catalog/v1
kind: CatalogItem
metadata: { id: feature-flag, name: Feature flag, version: 1.0.0, category: testing, owner: team-test, description: A feature flag. }
form:
  groups:
    - id: flag
      name: Flag
      fields:
        - { id: key, type: string, required: true }
fulfillment:
  items:
    - id: ticket
      type: jira-ticket
      config: { project: OPS, issueType: Task, summary: "Flag {{.current.flag.key}}", waitForResolution: false }
"#;

const S3: &str = "catalog/storage/s3-bucket.yaml";

fn ids(body: &Value) -> Vec<String> {
    let mut ids: Vec<String> = body["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

async fn refreshed() -> Followed {
    let f = follow(&example_catalog_dir()).await;
    let (status, body) = f.operator_api("POST", "/api/v1/catalog/refresh").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["added"].as_array().map(Vec::len),
        Some(9),
        "{body}"
    );
    f
}

fn s3_text(f: &Followed) -> String {
    std::fs::read_to_string(f.repo.path().join(S3)).expect("s3 item")
}

#[tokio::test]
async fn a_refresh_loads_the_catalog_and_requests_record_its_commit() {
    let f = follow(&example_catalog_dir()).await;
    // Before the first refresh a deployed PAO has no catalog stored.
    let (_, sync) = f.api("GET", "/api/v1/catalog/sync").await;
    assert_eq!(sync["data"]["loaded"], json!(false));
    // Refreshing is for operators (each refresh spends GitHub rate limit).
    let (status, body) = f.api("POST", "/api/v1/catalog/refresh").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("operators")),
        "{body}"
    );
    let (status, body) = f.operator_api("POST", "/api/v1/catalog/refresh").await;
    assert_eq!(status, 200, "{body}");
    let head = body["data"]["commit"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(head.len(), 40, "{body}");
    let (_, catalog) = f.api("GET", "/api/v1/catalog").await;
    assert_eq!(ids(&catalog).len(), 9);
    let (_, sync) = f.api("GET", "/api/v1/catalog/sync").await;
    assert_eq!(sync["data"]["commit"], json!(head));
    assert_eq!(sync["data"]["documents"], json!(9));
    assert_eq!(sync["data"]["repository"], json!("acme/platform-catalog"));
    // A second refresh of the same head changes nothing and reads only the head and tree.
    let before = f.github.calls();
    let (_, again) = f.operator_api("POST", "/api/v1/catalog/refresh").await;
    assert_eq!(again["data"]["added"], json!([]));
    assert_eq!(again["data"]["changed"], json!([]));
    assert!(
        f.github.calls() - before <= 3,
        "{}",
        f.github.calls() - before
    );
    // A request records the commit of the catalog it was checked against.
    let submit = pao_system_tests::api_request(
        "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com",
        "POST",
        "/api/v1/requests",
        Some(
            json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "storage-s3-bucket",
            "input": {"name": "logs", "bucket": {"bucketName": "team-logs"}}}]}),
        ),
    );
    let (status, body) = pao_system_tests::api_send(&f.app, submit).await;
    assert_eq!(status, 202, "{body}");
    let id = body["data"]["requests"][0]["requestId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (_, detail) = f.api("GET", &format!("/api/v1/requests/{id}")).await;
    assert_eq!(detail["data"]["catalogCommit"], json!(head));
    f.env.cleanup().await;
}

#[tokio::test]
async fn a_signed_push_adds_changes_and_removes_documents() {
    let f = refreshed().await;
    let renamed = s3_text(&f).replace("name: S3 bucket", "name: Object storage bucket");
    let first = f.commit(
        &[
            ("catalog/testing/feature-flag.yaml", Some(NEW_ITEM)),
            (S3, Some(&renamed)),
        ],
        "Add a feature flag item; rename the bucket",
    );
    let (headers, body) = f.push("refs/heads/main", &first, "delivery-1");
    let (status, report) = f.deliver(&headers, &body).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["data"]["commit"], json!(first));
    assert_eq!(
        report["data"]["added"],
        json!(["catalog/testing/feature-flag.yaml"])
    );
    assert_eq!(report["data"]["changed"], json!([S3]));
    let (_, catalog) = f.api("GET", "/api/v1/catalog").await;
    assert!(ids(&catalog).contains(&"feature-flag".to_string()));
    let (_, s3) = f.api("GET", "/api/v1/catalog/storage-s3-bucket").await;
    assert_eq!(s3["data"]["name"], json!("Object storage bucket"));

    let second = f.commit(
        &[("catalog/testing/feature-flag.yaml", None)],
        "Remove the feature flag item",
    );
    let (headers, body) = f.push("refs/heads/main", &second, "delivery-2");
    let (status, report) = f.deliver(&headers, &body).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["data"]["removed"],
        json!(["catalog/testing/feature-flag.yaml"])
    );
    let (_, catalog) = f.api("GET", "/api/v1/catalog").await;
    assert!(!ids(&catalog).contains(&"feature-flag".to_string()));
    assert_eq!(ids(&catalog).len(), 9);
    f.env.cleanup().await;
}

#[tokio::test]
async fn an_invalid_document_keeps_its_last_version_and_says_why() {
    let f = refreshed().await;
    let broken = s3_text(&f)
        .replace("name: S3 bucket", "name: Broken bucket")
        .replace("version: 1.1.0", "version: one");
    let bad = f.commit(&[(S3, Some(&broken))], "Break the bucket item");
    let (headers, body) = f.push("refs/heads/main", &bad, "delivery-bad");
    let (status, report) = f.deliver(&headers, &body).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["data"]["changed"], json!([]));
    // The last valid version stays in the catalog.
    let (_, s3) = f.api("GET", "/api/v1/catalog/storage-s3-bucket").await;
    assert_eq!(s3["data"]["name"], json!("S3 bucket"));
    // GET /catalog/sync says what was refused, where, why and in which commit.
    let (_, sync) = f.api("GET", "/api/v1/catalog/sync").await;
    let rejections = sync["data"]["rejections"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rejections.len(), 1, "{sync}");
    assert_eq!(rejections[0]["file"], json!(S3));
    assert_eq!(rejections[0]["path"], json!("metadata.version"));
    assert_eq!(rejections[0]["commit"], json!(bad));
    assert!(
        rejections[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("one"),
        "{sync}"
    );
    // Removing an item a bundle runs: the item leaves, the bundle is refused and says why.
    let gone = f.commit(&[("catalog/cache/redis-cache.yaml", None)], "Drop redis");
    let (headers, body) = f.push("refs/heads/main", &gone, "delivery-gone");
    let (_, report) = f.deliver(&headers, &body).await;
    assert_eq!(
        report["data"]["removed"],
        json!(["catalog/cache/redis-cache.yaml"])
    );
    let (_, sync) = f.api("GET", "/api/v1/catalog/sync").await;
    let files: Vec<&str> = sync["data"]["rejections"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["file"].as_str())
        .collect();
    assert!(
        files.contains(&"bundles/data-platform-starter.yaml"),
        "{sync}"
    );
    assert!(
        files.contains(&S3),
        "the earlier rejection stays on record: {sync}"
    );
    let (_, catalog) = f.api("GET", "/api/v1/catalog").await;
    assert!(!ids(&catalog).contains(&"cache-redis".to_string()));
    assert!(!ids(&catalog).contains(&"data-platform-starter".to_string()));
    f.env.cleanup().await;
}

#[tokio::test]
async fn no_valid_signature_no_change() {
    let f = refreshed().await;
    let (_, before) = f.api("GET", "/api/v1/catalog/sync").await;
    let head = f.commit(
        &[("catalog/testing/feature-flag.yaml", Some(NEW_ITEM))],
        "Add",
    );
    let (headers, body) = f.push("refs/heads/main", &head, "delivery-sig");
    let calls = f.github.calls();
    // No signature.
    let unsigned: Vec<(String, String)> = headers
        .iter()
        .filter(|(k, _)| k != "X-Hub-Signature-256")
        .cloned()
        .collect();
    let (status, answer) = f.deliver(&unsigned, &body).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"]["code"], json!("UNAUTHORIZED"));
    // Signed with another secret.
    let mut forged = unsigned.clone();
    forged.push((
        "X-Hub-Signature-256".into(),
        pao::webhook::sign(b"not-the-secret", &body),
    ));
    assert_eq!(f.deliver(&forged, &body).await.0, 401);
    // The body altered after signing.
    let altered = String::from_utf8_lossy(&body).replace("refs/heads/main", "refs/heads/main ");
    assert_eq!(f.deliver(&headers, altered.as_bytes()).await.0, 401);
    // Not a hex digest, or not sha256.
    let mut odd = unsigned.clone();
    odd.push(("X-Hub-Signature-256".into(), "sha1=abcdef".into()));
    assert_eq!(f.deliver(&odd, &body).await.0, 401);
    // Nothing was read from GitHub and nothing changed.
    assert_eq!(f.github.calls(), calls);
    let (_, after) = f.api("GET", "/api/v1/catalog/sync").await;
    assert_eq!(after["data"]["commit"], before["data"]["commit"]);
    f.env.cleanup().await;
}

#[tokio::test]
async fn a_redelivery_changes_nothing_a_second_time() {
    let f = refreshed().await;
    let head = f.commit(
        &[("catalog/testing/feature-flag.yaml", Some(NEW_ITEM))],
        "Add",
    );
    let (headers, body) = f.push("refs/heads/main", &head, "delivery-twice");
    let (status, first) = f.deliver(&headers, &body).await;
    assert_eq!(status, 200, "{first}");
    let calls = f.github.calls();
    let (status, second) = f.deliver(&headers, &body).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["data"]["duplicate"], json!(true));
    assert_eq!(f.github.calls(), calls, "a redelivery reads nothing");
    f.env.cleanup().await;
}

#[tokio::test]
async fn other_branches_and_events_are_ignored() {
    let f = refreshed().await;
    let (_, before) = f.api("GET", "/api/v1/catalog/sync").await;
    let head = f.commit(
        &[("catalog/testing/feature-flag.yaml", Some(NEW_ITEM))],
        "Add",
    );
    let (headers, body) = f.push("refs/heads/feature", &head, "delivery-branch");
    let (status, answer) = f.deliver(&headers, &body).await;
    assert_eq!(status, 202, "{answer}");
    let (_, after) = f.api("GET", "/api/v1/catalog/sync").await;
    assert_eq!(after["data"]["commit"], before["data"]["commit"]);
    // ping answers 200; an issue event is accepted and ignored; both only when signed.
    for (event, expected) in [("ping", 200), ("issues", 202)] {
        let body = br#"{"zen": "Keep it logically awesome."}"#;
        let headers = vec![
            ("X-GitHub-Event".to_string(), event.to_string()),
            ("X-GitHub-Delivery".to_string(), format!("delivery-{event}")),
            (
                "X-Hub-Signature-256".to_string(),
                pao::webhook::sign(f.webhook_secret.as_bytes(), body),
            ),
        ];
        assert_eq!(f.deliver(&headers, body).await.0, expected, "{event}");
    }
    f.env.cleanup().await;
}

#[tokio::test]
async fn a_refresh_of_two_hundred_documents() {
    let repo = tempfile::tempdir().expect("temporary directory");
    for n in 0..200 {
        let dir = repo.path().join("catalog/generated");
        std::fs::create_dir_all(&dir).expect("folders");
        std::fs::write(
            dir.join(format!("item-{n:03}.yaml")),
            NEW_ITEM.replace("feature-flag", &format!("generated-{n:03}")),
        )
        .expect("write");
    }
    let f = follow(repo.path()).await;
    let (status, body) = f.operator_api("POST", "/api/v1/catalog/refresh").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["added"].as_array().map(Vec::len), Some(200));
    assert_eq!(body["data"]["rejected"], json!([]));
    let (_, sync) = f.api("GET", "/api/v1/catalog/sync").await;
    assert_eq!(sync["data"]["documents"], json!(200));
    let (_, page) = f.api("GET", "/api/v1/catalog?limit=100").await;
    assert_eq!(page["meta"]["total"], json!(200));
    f.env.cleanup().await;
}

/// A freshly deployed stack needs no manual refresh: the first call that needs the catalog
/// loads the repository's head.
#[tokio::test]
async fn the_first_use_loads_the_catalog() {
    let f = follow(&example_catalog_dir()).await;
    let (_, sync) = f.api("GET", "/api/v1/catalog/sync").await;
    assert_eq!(sync["data"]["loaded"], json!(false));
    let (status, catalog) = f.api("GET", "/api/v1/catalog").await;
    assert_eq!(status, 200, "{catalog}");
    assert_eq!(ids(&catalog).len(), 9);
    let (_, sync) = f.api("GET", "/api/v1/catalog/sync").await;
    assert_eq!(sync["data"]["loaded"], json!(true), "{sync}");
    assert_eq!(sync["data"]["documents"], json!(9));
    f.env.cleanup().await;
}

/// A sync that would outlast its caller (API Gateway waits 29 s) is stopped with nothing
/// changed, and answered 503 by the refresh route.
#[tokio::test]
async fn a_sync_out_of_time_changes_nothing() {
    let f = follow(&example_catalog_dir()).await;
    let stopped = f.app.sync.sync_head_within(std::time::Duration::ZERO).await;
    assert!(
        matches!(stopped, Err(pao::sync::SyncError::OutOfTime(0))),
        "{stopped:?}"
    );
    let (_, sync) = f.api("GET", "/api/v1/catalog/sync").await;
    assert_eq!(sync["data"]["loaded"], json!(false), "{sync}");
    // Within its budget the same sync loads it.
    let (status, body) = f.operator_api("POST", "/api/v1/catalog/refresh").await;
    assert_eq!(status, 200, "{body}");
    f.env.cleanup().await;
}
