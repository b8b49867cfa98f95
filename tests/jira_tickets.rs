//! Issue 26 groundwork: a ticket as JIRA has it now, read through the JIRA stand-in on Cloud
//! and Data Center, and what its resolution means for its task.

use pao::action::jira::{JiraClient, JiraInstances, Resolved, resolved};
use pao_local::jira_standin::JiraStandIn;
use serde_json::{Value, json};
use std::time::Duration;

const T: Duration = Duration::from_secs(5);

async fn created(jira: &JiraStandIn) -> (JiraClient, pao::action::jira::JiraInstance, String) {
    let instances = JiraInstances::parse(&jira.secret("default")).expect("secret");
    let instance = instances.get("default").expect("instance").clone();
    let client = JiraClient::new(reqwest::Client::new());
    let made = client
        .create_issue(
            &instance,
            &json!({"project": "DBA", "issueType": "Task", "summary": "Provision orders-db"}),
            "pao-req-1-0",
            T,
        )
        .await
        .expect("created");
    let key = made.result["key"].as_str().expect("key").to_string();
    (client, instance, key)
}

#[tokio::test]
async fn a_ticket_is_open_until_a_person_resolves_it_and_its_resolution_decides() {
    for jira in [
        JiraStandIn::start(0, "pao@example.com", "token-1")
            .await
            .expect("cloud"),
        JiraStandIn::start_data_center(0, "pat-1")
            .await
            .expect("data center"),
    ] {
        let (client, instance, key) = created(&jira).await;
        let open = client.ticket(&instance, &key, T).await.expect("read");
        assert_eq!(
            (open.status.as_str(), open.category.as_str()),
            ("To Do", "new")
        );
        assert_eq!(open.url, format!("{}/browse/{key}", jira.base_url()));
        assert_eq!(resolved(&open, &[]), Resolved::Open);

        // A person declines it, saying why; then reopens it; then does it, typing the endpoint.
        assert!(jira.resolve(&key, "Won't Do", json!({}), Some("no budget this quarter")));
        let declined = client.ticket(&instance, &key, T).await.expect("read");
        assert_eq!(
            resolved(&declined, &[]),
            Resolved::Failed(format!(
                "{key} was resolved \"Won't Do\"; last comment: no budget this quarter"
            ))
        );
        assert!(jira.reopen(&key, "In Progress"));
        let working = client.ticket(&instance, &key, T).await.expect("read");
        assert_eq!(working.resolution, None);
        assert_eq!(resolved(&working, &[]), Resolved::Open);
        assert!(jira.resolve(
            &key,
            "Done",
            json!({"customfield_10050": "orders-db.example.com"}),
            None
        ));
        let done = client.ticket(&instance, &key, T).await.expect("read");
        assert_eq!(resolved(&done, &[]), Resolved::Done);
        assert_eq!(
            done.issue.pointer("/fields/customfield_10050"),
            Some(&json!("orders-db.example.com"))
        );
        assert_eq!(done.issue["fields"]["summary"], "Provision orders-db");

        // A ticket that does not exist is JIRA's 404, named.
        let e = client
            .ticket(&instance, "DBA-999", T)
            .await
            .expect_err("no such ticket");
        assert!(e.to_string().contains("404"), "{e}");
        // A key is data: one with a slash reaches no other resource.
        let e = client
            .ticket(&instance, &format!("{key}/transitions"), T)
            .await
            .expect_err("not a key");
        assert!(e.to_string().contains("404"), "{e}");
    }
}

/// The transitions JIRA offers and a transition to done with a resolution, as an engineer's
/// tooling (or the local stack's `make jira-resolve`) would send them.
#[tokio::test]
async fn the_stand_in_speaks_jiras_transitions() {
    let jira = JiraStandIn::start(0, "pao@example.com", "token-1")
        .await
        .expect("cloud");
    let (client, instance, key) = created(&jira).await;
    let http = reqwest::Client::new();
    let url = format!("{}/rest/api/2/issue/{key}/transitions", jira.base_url());
    let offered: Value = http
        .get(&url)
        .basic_auth("pao@example.com", Some("token-1"))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON");
    let done = offered["transitions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["to"]["statusCategory"]["key"] == "done")
        .expect("a transition to done");
    let answer = http
        .post(&url)
        .basic_auth("pao@example.com", Some("token-1"))
        .json(&json!({"transition": {"id": done["id"]}, "fields": {"resolution": {"name": "Duplicate"}}}))
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status().as_u16(), 204);
    let t = client.ticket(&instance, &key, T).await.expect("read");
    assert_eq!(
        resolved(&t, &["Done".to_string(), "Duplicate".to_string()]),
        Resolved::Done
    );
    assert!(matches!(resolved(&t, &[]), Resolved::Failed(m) if m.contains("Duplicate")));
}

/// Issue 26 point 6: `GET /requests/{id}` shows each ticket as JIRA has it now; a JIRA that
/// fails or is slow leaves `"live": false` and the stored reference, and the answer is a 200.
#[tokio::test]
async fn the_detail_shows_each_ticket_as_jira_has_it_now() {
    use pao_system_tests::{
        TWO_TICKETS, TestEnv, api_request, api_send, app_for, drain_until, worker_for, write_repo,
    };
    const DEV: &str = "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com";
    let env = TestEnv::new().await;
    let jira = JiraStandIn::start(0, "pao@example.com", "token-1")
        .await
        .expect("JIRA");
    let worker = worker_for(&env, &jira.secret("default")).await;
    let repo = write_repo(&[("catalog/two.yaml", TWO_TICKETS)]);
    let app = app_for(&env, repo.path()).await;
    let submit = || async {
        let (status, body) = api_send(
            &app,
            api_request(DEV, "POST", "/api/v1/requests", Some(json!({"items": [{"schemaVersion": "catalog/v1",
                "catalogItemId": "two-tickets", "input": {"name": "x", "basic": {"instanceName": "db"}}}]}))),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        let id = pao_system_tests::request_id_of(&body);
        drain_until(&env, &worker, &id, |d| d.request.state.is_terminal()).await;
        id
    };
    let detail = |id: pao::record::RequestId| {
        let app = &app;
        async move {
            api_send(
                app,
                api_request(DEV, "GET", &format!("/api/v1/requests/{id}"), None),
            )
            .await
        }
    };

    let id = submit().await;
    let keys: Vec<String> = jira.issues().iter().map(|i| i.key.clone()).collect();
    assert!(jira.resolve(&keys[0], "Done", json!({}), None));
    let (status, body) = detail(id).await;
    assert_eq!(status, 200, "{body}");
    let first = &body["data"]["tasks"][0]["ticket"];
    assert_eq!(first["key"], json!(keys[0]));
    assert_eq!(first["live"], json!(true), "{body}");
    assert_eq!(first["status"], json!("Done"));
    assert_eq!(first["resolution"], json!("Done"));
    let second = &body["data"]["tasks"][1]["ticket"];
    assert_eq!(
        (second["status"].clone(), second["live"].clone()),
        (json!("To Do"), json!(true))
    );

    // JIRA fails, then is slower than the API waits: the stored reference, live false, 200.
    let id = submit().await;
    jira.fail_with(Some(503));
    let (status, body) = detail(id.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["tasks"][0]["ticket"]["live"],
        json!(false),
        "{body}"
    );
    assert!(body["data"]["tasks"][0]["ticket"]["key"].is_string());
    jira.fail_with(None);
    jira.delay(pao::api::tickets::LIVE_TIMEOUT + Duration::from_secs(1));
    let (status, body) = detail(id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["tasks"][1]["ticket"]["live"],
        json!(false),
        "{body}"
    );
    env.cleanup().await;
}
