//! Issue 27 point 6: who may request an item or bundle (`access.requesters`), by ARN pattern
//! or by the caller's IAM tags (read from the local endpoint's IAM, as in AWS): the catalog
//! marks what the caller may not request and filters it on `?requestable=true`; submitting it
//! answers 403 naming the item and the rule, and nothing is written; a bundle's rule governs
//! its components.

use pao_system_tests::{
    TestEnv, api_request, api_send, app_for, dump_table, tag_roles, write_repo,
};
use serde_json::{Value, json};

fn documents(suffix: &str) -> Vec<(String, String)> {
    let item = |id: &str, access: &str| {
        format!(
            "schemaVersion: catalog/v1\nkind: CatalogItem\nmetadata: {{ id: {id}, name: {id}, version: 1.0.0, category: testing, owner: team-test, description: d }}\n{access}form:\n  groups:\n    - id: basic\n      fields:\n        - {{ id: note, type: string }}\nfulfillment:\n  items:\n    - {{ id: t, type: jira-ticket, config: {{ project: OPS, issueType: Task, summary: s, waitForResolution: false }} }}\n"
        )
    };
    vec![
        ("catalog/open.yaml".into(), item("open-item", "")),
        (
            "catalog/dba.yaml".into(),
            item(
                "dba-only",
                &format!("access:\n  requesters: {{ tags: {{ team: [dba, platform] }}, arns: [\"arn:aws:iam::000000000000:role/Auditor-{suffix}\"] }}\n"),
            ),
        ),
        (
            "catalog/bundle.yaml".into(),
            "schemaVersion: catalog/v1\nkind: CatalogBundle\nmetadata: { id: dba-bundle, name: dba-bundle, version: 1.0.0, category: testing, owner: team-test, description: d }\naccess:\n  requesters: { tags: { team: dba } }\nform:\n  groups:\n    - id: basic\n      fields:\n        - { id: note, type: string }\ncomponents:\n  - { catalogItemId: open-item }\n"
                .into()
        ),
        (
            "catalog/bundle-of-restricted.yaml".into(),
            "schemaVersion: catalog/v1\nkind: CatalogBundle\nmetadata: { id: open-bundle, name: open-bundle, version: 1.0.0, category: testing, owner: team-test, description: d }\nform:\n  groups:\n    - id: basic\n      fields:\n        - { id: note, type: string }\ncomponents:\n  - { catalogItemId: dba-only }\n".into(),
        ),
    ]
}

fn submission(key: &str, id: &str) -> Value {
    json!({"items": [{"schemaVersion": "catalog/v1", key: id, "input": {"name": "x", "basic": {"note": "n"}}}]})
}

#[tokio::test]
async fn only_the_named_requesters_may_request_and_a_refusal_writes_nothing() {
    let env = TestEnv::new().await;
    let suffix = env.table.clone();
    // A DBA and a developer, as their roles' tags in IAM say; an auditor named by ARN.
    let dba = format!("arn:aws:sts::000000000000:assumed-role/DBA-{suffix}/dana@example.com");
    let dev = format!("arn:aws:sts::000000000000:assumed-role/Dev-{suffix}/dev@example.com");
    let auditor = format!("arn:aws:sts::000000000000:assumed-role/Auditor-{suffix}/al@example.com");
    tag_roles(
        &env,
        &[
            (&dba, &[("team", "dba")]),
            (&dev, &[("team", "payments")]),
            (&auditor, &[]),
        ],
    )
    .await;
    let docs = documents(&suffix);
    let files: Vec<(&str, &str)> = docs.iter().map(|(f, t)| (f.as_str(), t.as_str())).collect();
    let repo = write_repo(&files);
    let app = app_for(&env, repo.path()).await;

    // The catalog says what each may request, and why not.
    let (status, all) = api_send(&app, api_request(&dev, "GET", "/api/v1/catalog", None)).await;
    assert_eq!(status, 200, "{all}");
    let card = |list: &Value, id: &str| {
        list["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["id"] == id)
            .cloned()
    };
    let restricted = card(&all, "dba-only").expect("listed");
    assert_eq!(restricted["requestable"], json!(false));
    assert!(
        restricted["requestableRule"]
            .as_str()
            .is_some_and(|r| r.contains("the tags team=dba|platform")),
        "{restricted}"
    );
    assert_eq!(
        card(&all, "open-item").expect("listed")["requestable"],
        json!(true)
    );
    let (_, mine) = api_send(
        &app,
        api_request(&dev, "GET", "/api/v1/catalog?requestable=true", None),
    )
    .await;
    let ids: Vec<&str> = mine["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, ["open-bundle", "open-item"], "{mine}");
    let (_, one) = api_send(
        &app,
        api_request(&dba, "GET", "/api/v1/catalog/dba-only", None),
    )
    .await;
    assert_eq!(one["data"]["requestable"], json!(true), "{one}");
    let (status, _) = api_send(
        &app,
        api_request(&dev, "GET", "/api/v1/catalog?requestable=maybe", None),
    )
    .await;
    assert_eq!(status, 400);

    // A refused submission names the item and the rule, and writes nothing.
    let before = dump_table(&env).await.len();
    for (key, id) in [("catalogItemId", "dba-only"), ("bundleId", "dba-bundle")] {
        let (status, answer) = api_send(
            &app,
            api_request(&dev, "POST", "/api/v1/requests", Some(submission(key, id))),
        )
        .await;
        assert_eq!(status, 403, "{answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("items[0]: you may not request") && message.contains(id),
            "{message}"
        );
    }
    assert_eq!(dump_table(&env).await.len(), before, "nothing written");

    // Allowed by tag, by ARN pattern; a bundle's own (absent) rule governs its components.
    for (who, key, id) in [
        (&dba, "catalogItemId", "dba-only"),
        (&auditor, "catalogItemId", "dba-only"),
        (&dba, "bundleId", "dba-bundle"),
        (&dev, "bundleId", "open-bundle"),
    ] {
        let (status, answer) = api_send(
            &app,
            api_request(who, "POST", "/api/v1/requests", Some(submission(key, id))),
        )
        .await;
        assert_eq!(status, 202, "{who} {id}: {answer}");
    }
    env.cleanup().await;
}

/// Issue 27 point 7: support staff (by ARN, or by their role's IAM tag) read every request and
/// decide on it; the decision records them beside the owner. Anyone else still finds nothing.
#[tokio::test]
async fn support_staff_read_and_decide_on_anyones_request() {
    let env = TestEnv::new().await;
    let suffix = env.table.clone();
    let owner = format!("arn:aws:sts::000000000000:assumed-role/Dev-{suffix}/dev@example.com");
    let other = format!("arn:aws:sts::000000000000:assumed-role/Dev-{suffix}/eve@example.com");
    let tagged = format!("arn:aws:sts::000000000000:assumed-role/Support-{suffix}/sam@example.com");
    let listed = format!("arn:aws:sts::000000000000:assumed-role/Desk-{suffix}/kim@example.com");
    tag_roles(&env, &[(&tagged, &[("pao-role", "support")])]).await;
    let docs = documents(&suffix);
    let files: Vec<(&str, &str)> = docs.iter().map(|(f, t)| (f.as_str(), t.as_str())).collect();
    let repo = write_repo(&files);
    let mut app = app_for(&env, repo.path()).await;
    app.support = pao::operations::Operators::new(
        &format!("arn:aws:iam::000000000000:role/Desk-{suffix}"),
        "pao-role=support",
    );
    let submit = |id: &str| {
        api_request(
            &owner,
            "POST",
            "/api/v1/requests",
            Some(submission("catalogItemId", id)),
        )
    };
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (status, answer) = api_send(&app, submit("open-item")).await;
        assert_eq!(status, 202, "{answer}");
        ids.push(pao_system_tests::request_id_of(&answer));
    }
    // Another developer: the request does not exist for them.
    let (status, _) = api_send(
        &app,
        api_request(&other, "GET", &format!("/api/v1/requests/{}", ids[0]), None),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = api_send(
        &app,
        api_request(
            &other,
            "POST",
            &format!("/api/v1/requests/{}/abort", ids[0]),
            None,
        ),
    )
    .await;
    assert_eq!(status, 404);
    // Support by tag and by ARN: they read it and decide, recorded beside the owner.
    for (who, id) in [(&tagged, &ids[0]), (&listed, &ids[1])] {
        let (status, detail) = api_send(
            &app,
            api_request(who, "GET", &format!("/api/v1/requests/{id}"), None),
        )
        .await;
        assert_eq!(status, 200, "{detail}");
        let (status, answer) = api_send(
            &app,
            api_request(who, "POST", &format!("/api/v1/requests/{id}/abort"), None),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let (_, logs) = api_send(
            &app,
            api_request(&owner, "GET", &format!("/api/v1/requests/{id}/logs"), None),
        )
        .await;
        let said: Vec<&str> = logs["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["message"].as_str())
            .collect();
        assert!(
            said.iter().any(|m| m.starts_with(&format!(
                "aborted by {who} (support, for the owner {owner})"
            ))),
            "{said:?}"
        );
    }
    env.cleanup().await;
}

/// Issue 27 point 7: `GET /requests?scope=team` lists the requests of every principal whose
/// IAM `team` tag is the caller's (as tagged when each was submitted), with their state now.
#[tokio::test]
async fn a_team_lists_its_requests() {
    let env = TestEnv::new().await;
    let suffix = env.table.clone();
    let arn = |role: &str, who: &str| {
        format!("arn:aws:sts::000000000000:assumed-role/{role}-{suffix}/{who}@example.com")
    };
    let (pat, alice, dee, loner) = (
        arn("Payments", "pat"),
        arn("Payments2", "alice"),
        arn("Data", "dee"),
        arn("Loner", "lou"),
    );
    let payments = format!("payments-{suffix}");
    tag_roles(
        &env,
        &[
            (&pat, &[("team", payments.as_str())]),
            (&alice, &[("team", payments.as_str())]),
            (&dee, &[("team", "data")]),
            (&loner, &[]),
        ],
    )
    .await;
    let docs = documents(&suffix);
    let files: Vec<(&str, &str)> = docs.iter().map(|(f, t)| (f.as_str(), t.as_str())).collect();
    let repo = write_repo(&files);
    let app = app_for(&env, repo.path()).await;
    let mut by = std::collections::BTreeMap::new();
    for who in [&pat, &alice, &dee] {
        let (status, answer) = api_send(
            &app,
            api_request(
                who,
                "POST",
                "/api/v1/requests",
                Some(submission("catalogItemId", "open-item")),
            ),
        )
        .await;
        assert_eq!(status, 202, "{answer}");
        by.insert(
            who.clone(),
            pao_system_tests::request_id_of(&answer).to_string(),
        );
    }
    // Alice aborts hers: the team's list shows its state now.
    let (status, _) = api_send(
        &app,
        api_request(
            &alice,
            "POST",
            &format!("/api/v1/requests/{}/abort", by[&alice]),
            None,
        ),
    )
    .await;
    assert_eq!(status, 200);
    let ids = |answer: &Value| -> Vec<String> {
        answer["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["requestId"].as_str().map(str::to_string))
            .collect()
    };
    let (status, team) = api_send(
        &app,
        api_request(&pat, "GET", "/api/v1/requests?scope=team", None),
    )
    .await;
    assert_eq!(status, 200, "{team}");
    // Newest first; two submitted within the same second are ordered by id.
    let mut expected = vec![by[&alice].clone(), by[&pat].clone()];
    expected.sort_unstable();
    let mut listed = ids(&team);
    listed.sort_unstable();
    assert_eq!(listed, expected, "the team's requests only: {team}");
    let alices = team["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["requestId"] == by[&alice].as_str())
        .cloned()
        .unwrap_or_default();
    assert_eq!(alices["state"], "aborted", "its state now");
    // One per page, then the next: the same two, once each.
    let (_, first) = api_send(
        &app,
        api_request(&pat, "GET", "/api/v1/requests?scope=team&limit=1", None),
    )
    .await;
    let cursor = first["meta"]["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_string();
    let (_, second) = api_send(
        &app,
        api_request(
            &pat,
            "GET",
            &format!("/api/v1/requests?scope=team&limit=1&cursor={cursor}"),
            None,
        ),
    )
    .await;
    let mut paged = [ids(&first), ids(&second)].concat();
    paged.sort_unstable();
    assert_eq!(paged, expected);
    let (_, aborted) = api_send(
        &app,
        api_request(
            &pat,
            "GET",
            "/api/v1/requests?scope=team&state=aborted",
            None,
        ),
    )
    .await;
    assert_eq!(ids(&aborted), [by[&alice].clone()]);
    let (_, data) = api_send(
        &app,
        api_request(&dee, "GET", "/api/v1/requests?scope=team", None),
    )
    .await;
    assert_eq!(ids(&data), [by[&dee].clone()]);
    let (_, mine) = api_send(&app, api_request(&pat, "GET", "/api/v1/requests", None)).await;
    assert_eq!(
        ids(&mine),
        [by[&pat].clone()],
        "the default is the caller's own"
    );
    for (who, path, expected) in [
        (&loner, "/api/v1/requests?scope=team", 422),
        (&pat, "/api/v1/requests?scope=everyone", 400),
    ] {
        let (status, answer) = api_send(&app, api_request(who, "GET", path, None)).await;
        assert_eq!(status, expected, "{answer}");
        assert_eq!(answer["error"]["details"][0]["field"], "scope", "{answer}");
    }
    env.cleanup().await;
}
