//! Issue 28, point 2: the people who must act are told, once per event and recipient, and a
//! dead channel holds nothing. The stream is handed to the events function as Lambda's
//! mapping does (again and again, as redeliveries would); Slack is the stand-in, email is
//! SES on the local endpoint.

use pao_local::identity::Function;
use pao_local::slack_standin::{SlackStandIn, user_id_of};
use pao_system_tests::{
    TestEnv, api_request, api_send, app_for, drain_until, worker_for, write_repo,
};
use serde_json::{Value, json};

const ITEM: &str = r##"schemaVersion: catalog/v1
kind: CatalogItem
metadata:
  id: gated
  name: Gated
  version: 1.0.0
  category: testing
  owner: team-test
  description: d
  notify:
    requester: [slack, email]
    approvers: { slack: "#approvers", email: [approvers@example.com] }
approval:
  stages:
    - { id: owner, approvers: { arns: ["APPROVER"] } }
form:
  groups:
    - id: basic
      fields:
        - { id: secret, type: password }
fulfillment:
  items:
    - { id: first, type: jira-ticket, config: { project: OPS, issueType: Task, summary: "first {{ .current.name }}", waitForResolution: false } }
    - { id: second, type: jira-ticket, config: { project: OPS, issueType: Task, summary: "second {{ .current.name }}", waitForResolution: false } }
"##;

const SECRET: &str = "hunter2-notice-secret";
/// A trusted role's session names the requester's email (PAO_TRUSTED_SESSION_ROLES).
const DEV: &str = "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com";
const APPROVER: &str = "arn:aws:sts::000000000000:assumed-role/Lead/lee@example.com";
const SENDER: &str = "pao@example.com";

struct World {
    env: TestEnv,
    app: pao::api::App,
    worker: pao::worker::Worker,
    jira: pao_local::jira_standin::JiraStandIn,
    slack: SlackStandIn,
    handler: events::Handler,
    _repo: tempfile::TempDir,
}

async fn world() -> World {
    let env = TestEnv::new().await;
    let repo = write_repo(&[("catalog/gated.yaml", &ITEM.replace("APPROVER", APPROVER))]);
    let app = app_for(&env, repo.path()).await;
    let jira = pao_local::jira_standin::JiraStandIn::start(0, "pao@example.com", "jira-token-1")
        .await
        .expect("JIRA stand-in");
    let worker = worker_for(&env, &jira.secret("default")).await;
    let slack = SlackStandIn::start(0, "xoxb-test-token")
        .await
        .expect("Slack stand-in");
    let mut config = env.stack.config.clone();
    config.slack_api_url = slack.api_url();
    config.notify_from = SENDER.into();
    pao_local::provision::put_secret(&env.secrets, &config.slack_secret_id, &slack.secret())
        .await
        .expect("Slack secret");
    pao_local::provision::verify_sender(&env.sdk, SENDER)
        .await
        .expect("SES sender");
    let handler = events::Handler::from_config(&config, &env.sdk_of(Function::Events));
    World {
        env,
        app,
        worker,
        jira,
        slack,
        handler,
        _repo: repo,
    }
}

impl World {
    /// Hands the whole stream so far to the events function, as a redelivery would.
    async fn deliver(&self) {
        let batch = pao_local::stream_esm::read_all(&self.env.sdk, &self.env.table)
            .await
            .expect("the table's stream");
        let response = events::handle_batch(&self.handler, &batch, None).await;
        assert!(
            response.batch_item_failures.is_empty(),
            "nothing holds the stream: {response:?}"
        );
    }

    async fn submit(&self, name: &str) -> pao::record::RequestId {
        let (status, answer) = api_send(
            &self.app,
            api_request(
                DEV,
                "POST",
                "/api/v1/requests",
                Some(
                    json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": "gated",
                    "input": {"name": name, "basic": {"secret": SECRET}}}]}),
                ),
            ),
        )
        .await;
        assert_eq!(status, 202, "{answer}");
        pao_system_tests::request_id_of(&answer)
    }

    async fn approve(&self, id: &pao::record::RequestId) {
        let (status, answer) = api_send(
            &self.app,
            api_request(
                APPROVER,
                "POST",
                &format!("/api/v1/approvals/{id}/approve"),
                Some(json!({})),
            ),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
    }

    /// The emails SES on the local endpoint sent to `to` about `id` (moto keeps them).
    async fn emails_to(&self, to: &str, id: &pao::record::RequestId) -> Vec<Value> {
        let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("the local endpoint");
        let data: Value = reqwest::get(format!("{endpoint}/moto-api/data.json"))
            .await
            .expect("moto's data")
            .json()
            .await
            .expect("JSON");
        data["ses"]["Message"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| {
                m["destinations"]["ToAddresses"][0] == to
                    && m["body"].as_str().unwrap_or_default().contains(id.as_str())
            })
            .cloned()
            .collect()
    }

    fn messages_to(&self, channel: &str, id: &pao::record::RequestId) -> Vec<String> {
        self.slack
            .messages()
            .into_iter()
            .filter(|m| m.channel == channel && m.text.contains(id.as_str()))
            .map(|m| m.text)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn approvers_and_the_requester_are_told_once_each_with_what_to_do() {
    let w = world().await;
    let id = w.submit("orders").await;
    w.deliver().await;
    let asked = w.messages_to("#approvers", &id);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].contains("Approval needed"), "{}", asked[0]);
    assert!(
        asked[0].contains(&format!("devctl approve {id}")),
        "{}",
        asked[0]
    );
    assert!(asked[0].contains(&format!("/api/v1/approvals/{id}/approve")));
    let mailed = w.emails_to("approvers@example.com", &id).await;
    assert_eq!(mailed.len(), 1, "{mailed:?}");
    assert_eq!(mailed[0]["source"], SENDER);
    assert!(
        mailed[0]["subject"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Approval needed")
    );

    // The second ticket fails: the request fails and waits for its owner.
    w.approve(&id).await;
    w.jira.fail_after_creates(Some(1));
    drain_until(&w.env, &w.worker, &id, |d| {
        d.request.state == pao::request::RequestState::Failed
    })
    .await;
    w.deliver().await;
    w.deliver().await;
    assert_eq!(
        w.messages_to("#approvers", &id).len(),
        1,
        "asked once, however often delivered"
    );
    let dm = user_id_of("dev@example.com");
    let told = w.messages_to(&dm, &id);
    assert_eq!(told.len(), 1, "the requester, once: {told:?}");
    for words in [
        "failed".to_string(),
        format!("devctl retry {id}"),
        format!("devctl abort {id}"),
        format!("devctl escalate {id}"),
        format!("/api/v1/requests/{id}/retry"),
    ] {
        assert!(told[0].contains(&words), "{words}: {}", told[0]);
    }
    assert_eq!(
        w.emails_to("approvers@example.com", &id).await.len(),
        1,
        "mailed once"
    );
    let mailed = w.emails_to("dev@example.com", &id).await;
    assert_eq!(mailed.len(), 1, "the requester by email, once: {mailed:?}");
    assert!(
        mailed[0]["subject"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Failed")
    );
    let all: Vec<String> = w.slack.messages().into_iter().map(|m| m.text).collect();
    assert!(
        !all.iter().any(|t| t.contains(SECRET)),
        "no password in a notice"
    );

    // Retried, it completes, and the requester hears that too.
    w.jira.fail_after_creates(None);
    let (status, answer) = api_send(
        &w.app,
        api_request(
            DEV,
            "POST",
            &format!("/api/v1/requests/{id}/retry"),
            Some(json!({})),
        ),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    drain_until(&w.env, &w.worker, &id, |d| {
        d.request.state == pao::request::RequestState::Completed
    })
    .await;
    w.deliver().await;
    let told = w.messages_to(&dm, &id);
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told[1].contains("completed"), "{}", told[1]);
    w.env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_slack_channel_holds_neither_the_stream_nor_the_request() {
    let w = world().await;
    w.slack.kill_channel("#approvers");
    let id = w.submit("dead-channel").await;
    // The channel fails; the stream goes on (deliver asserts nothing is handed back).
    w.deliver().await;
    assert!(w.messages_to("#approvers", &id).is_empty());
    w.approve(&id).await;
    let d = drain_until(&w.env, &w.worker, &id, |d| {
        d.request.state == pao::request::RequestState::Completed
    })
    .await;
    assert_eq!(d.request.state, pao::request::RequestState::Completed);
    w.deliver().await;
    let told = w.messages_to(&user_id_of("dev@example.com"), &id);
    assert_eq!(told.len(), 1, "{told:?}");
    w.env.cleanup().await;
}

#[test]
fn the_routes_come_from_the_item_over_the_stack_defaults() {
    let defaults = pao::notify::Defaults {
        requester: vec!["email".into()],
        approvers: pao::notify::Target {
            slack: Some("#all-approvals".into()),
            email: vec![],
        },
        support: pao::notify::Target {
            slack: Some("#support".into()),
            email: vec!["support@example.com".into()],
        },
    };
    let item: Value = json!({"approvers": {"slack": "#dba"}});
    let routes = pao::notify::Routes::of(Some(&item), &defaults);
    use pao::notify::{Audience, Recipient};
    assert_eq!(
        routes.recipients(Audience::Approvers, None),
        [Recipient::SlackChannel("#dba".into())]
    );
    assert_eq!(
        routes.recipients(Audience::Support, None),
        [
            Recipient::SlackChannel("#support".into()),
            Recipient::Email("support@example.com".into())
        ]
    );
    assert_eq!(
        routes.recipients(Audience::Requester, Some("dev@example.com")),
        [Recipient::Email("dev@example.com".into())]
    );
    assert!(
        routes.recipients(Audience::Requester, None).is_empty(),
        "no email, no way to reach them"
    );
}
