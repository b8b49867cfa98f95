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
