//! Issue 26: a `jira-ticket` task is done when its ticket is done. It waits (`processing`,
//! never stuck) while a person works the ticket; the signed JIRA webhook, or the sweeper's
//! poll when no webhook comes, concludes it; Won't Do fails it with the resolution and the
//! last comment, and a retry makes a new ticket; what the engineer typed into the ticket
//! feeds the next, automated task; unsigned and redelivered webhooks change nothing more.

use pao::record::{RequestDetail, RequestId};
use pao::request::RequestState;
use pao::task::TaskState;
use pao_local::http_standin::HttpStandIn;
use pao_local::jira_standin::JiraStandIn;
use pao_system_tests::{TestEnv, detail_of, drain_until, write_repo};
use serde_json::{Value, json};

const DEV: &str = "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com";
const SIGNING_SECRET: &str = "jira-webhook-signing-secret";
const DC_TOKEN: &str = "dc-instance-token-7f3a";

fn item(base: &str) -> String {
    format!(
        r#"schemaVersion: catalog/v1
kind: CatalogItem
metadata: {{ id: manual-db, name: Database by hand, version: 1.0.0, category: testing, owner: team-test, description: A DBA provisions the database by hand, then PAO registers it. }}
form:
  groups:
    - id: db
      fields:
        - {{ id: instance, type: string, required: true }}
fulfillment:
  items:
    - id: provision
      type: jira-ticket
      config:
        project: DBA
        issueType: Task
        summary: "Provision {{{{.current.db.instance}}}}"
        maxWait: PT1H
      outputs:
        dbTicket: /key
        dbEndpoint: /fields/customfield_10050
        resolvedBy: /fields/assignee/displayName
    - id: register
      type: webhook
      timeoutSeconds: 5
      config:
        url: "{base}/hooks/registry"
        payload: {{ endpoint: "{{{{.output.dbEndpoint}}}}", ticket: "{{{{.output.dbTicket}}}}" }}
"#
    )
}

struct Setup {
    env: TestEnv,
    jira: JiraStandIn,
    stand_in: HttpStandIn,
    worker: pao::worker::Worker,
    webhook: pao::webhook::Webhook,
    catalog: pao::catalog::Catalog,
    app: pao::api::App,
    _repo: tempfile::TempDir,
}

async fn setup() -> Setup {
    let env = TestEnv::new().await;
    let stand_in = HttpStandIn::start(0).await.expect("HTTP stand-in");
    let jira = JiraStandIn::start(0, "pao@example.com", "jira-token-26")
        .await
        .expect("JIRA stand-in");
    let mut worker = pao_system_tests::worker_for(&env, &jira.secret("default")).await;
    worker.outbound =
        pao::action::http::Outbound::new(pao::action::http::Allowed::parse("127.0.0.1"));
    let config = &env.stack.config;
    pao_local::provision::put_secret(
        &env.secrets,
        &config.jira_webhook_secret_id,
        &json!({"signingSecret": SIGNING_SECRET, "tokens": {"default": DC_TOKEN}}).to_string(),
    )
    .await
    .expect("JIRA webhook secret");
    let webhook = pao::webhook::Webhook::from_config(
        config,
        &env.sdk_of(pao_local::identity::Function::GithubWebhook),
    );
    let repo = write_repo(&[("catalog/db.yaml", &item(&stand_in.base_url()))]);
    let loaded = pao::catalog::load::load_dir(repo.path()).expect("catalog");
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    let app = pao_system_tests::app_for(&env, repo.path()).await;
    Setup {
        app,
        env,
        jira,
        stand_in,
        worker,
        webhook,
        catalog: loaded.catalog,
        _repo: repo,
    }
}

async fn submit(s: &Setup, instance: &str) -> RequestId {
    pao_system_tests::submit_item(
        &s.env,
        &s.catalog,
        pao::catalog::Target::CatalogItem("manual-db".into()),
        json!({"name": instance, "db": {"instance": instance}}),
    )
    .await
}

/// The first task waits on its ticket.
fn waiting(d: &RequestDetail) -> bool {
    d.tasks[0].state == TaskState::Processing && d.tasks[0].external_ref.is_some()
}

fn ended(d: &RequestDetail) -> bool {
    matches!(
        d.request.state,
        RequestState::Completed | RequestState::Failed
    )
}

fn ticket_of(d: &RequestDetail) -> String {
    d.tasks[0].external_ref.clone().expect("ticket").key
}

/// Sends `delivery` (as the stand-in made it) to the webhook, with `query`.
async fn send(
    s: &Setup,
    query: &[(&str, &str)],
    headers: &[(String, String)],
    body: &str,
) -> (u16, Value) {
    let query: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let r = s
        .webhook
        .handle_jira(&query, headers, body.as_bytes())
        .await;
    (r.status, r.body)
}

/// The stand-in's last delivery (made as the ticket changed; sent nowhere that listens, so
/// the test hands it to the webhook itself).
fn last_delivery(s: &Setup) -> pao_local::jira_standin::Delivery {
    s.jira
        .deliveries()
        .last()
        .cloned()
        .expect("a delivery was made")
}

fn events_of(d: &RequestDetail, kind: &str) -> usize {
    d.events.iter().filter(|e| e.kind == kind).count()
}

/// Points 1, 3, 4, 9: the request waits while its ticket is open (not stuck, past any
/// threshold), the signed webhook concludes it, and the endpoint the engineer typed into the
/// ticket is what the next task sends; the same delivery again changes nothing.
#[tokio::test]
async fn a_ticket_resolved_by_a_person_feeds_the_next_task_through_the_signed_webhook() {
    let s = setup().await;
    let id = submit(&s, "orders-db").await;
    let d = drain_until(&s.env, &s.worker, &id, waiting).await;
    let key = ticket_of(&d);
    assert_eq!(d.clone().shown().request.state, RequestState::Processing);
    assert!(
        s.stand_in.calls().is_empty(),
        "nothing after the ticket ran"
    );

    // Past the stuck threshold and with the ticket still open, the sweeper polls, never marks
    // it stuck; the task goes on waiting.
    let sweeper = pao_system_tests::sweeper_for(&s.env, 900, 120);
    let report = sweeper
        .sweep(pao::clock::now_epoch() + 1000)
        .await
        .expect("sweep");
    assert!(report.stuck.is_empty(), "{report:?}");
    assert_eq!(report.polled, [format!("{id}#0")], "{report:?}");
    assert!(report.concluded.is_empty(), "{report:?}");
    assert_eq!(
        detail_of(&s.env, &id).await.tasks[0].state,
        TaskState::Processing
    );

    // The DBA provisions it, types the endpoint into the ticket and resolves it; JIRA's
    // signed webhook arrives.
    s.jira
        .notify("http://127.0.0.1:9/unused", Some(SIGNING_SECRET));
    assert!(s.jira.resolve(
        &key,
        "Done",
        json!({"customfield_10050": "orders-db.cluster.example.com",
               "assignee": {"displayName": "Dana Lee", "accountId": "5b10"}}),
        Some("provisioned")
    ));
    let delivery = last_delivery(&s);
    let (status, answer) = send(
        &s,
        &[("instance", "default")],
        &delivery.headers,
        &delivery.body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["outcome"], json!("Completed"));
    let done = drain_until(&s.env, &s.worker, &id, ended).await;
    assert_eq!(
        done.request.state,
        RequestState::Completed,
        "{:?}",
        done.request.error
    );
    assert_eq!(
        done.tasks[0].outputs["dbEndpoint"],
        json!("orders-db.cluster.example.com")
    );
    assert_eq!(done.tasks[0].outputs["resolvedBy"], json!("Dana Lee"));
    let sent: Vec<Value> = s.stand_in.calls().iter().map(|c| c.json()).collect();
    assert_eq!(
        sent,
        [json!({"endpoint": "orders-db.cluster.example.com", "ticket": key})]
    );

    // JIRA delivers the same webhook again (a retry): it is recognised, nothing changes.
    let (status, again) = send(
        &s,
        &[("instance", "default")],
        &delivery.headers,
        &delivery.body,
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["data"]["duplicate"], json!(true));
    // And a new delivery about the concluded ticket concludes nothing a second time.
    let mut fresh = delivery.headers.clone();
    for (k, v) in &mut fresh {
        if k == "X-Atlassian-Webhook-Identifier" {
            *v = "another-delivery".into();
        }
    }
    let (status, other) = send(&s, &[("instance", "default")], &fresh, &delivery.body).await;
    assert!(status == 200 || status == 202, "{status} {other}");
    let after = detail_of(&s.env, &id).await;
    assert_eq!(events_of(&after, "task-completed"), 2, "{:?}", after.events);
    assert_eq!(s.stand_in.calls().len(), 1);
    s.env.cleanup().await;
}

/// Points 2, 5, 9: with the webhook lost, the sweeper's poll finds the ticket resolved Won't
/// Do and fails the task with the resolution and the engineer's comment; a retry makes a new
/// ticket, which the poll then finds done.
#[tokio::test]
async fn the_poll_concludes_without_a_webhook_and_wont_do_fails_until_retried() {
    let s = setup().await;
    let id = submit(&s, "legacy-db").await;
    let d = drain_until(&s.env, &s.worker, &id, waiting).await;
    let first = ticket_of(&d);
    // A ticket moved to done and back out before PAO looked changes nothing.
    assert!(s.jira.resolve(&first, "Done", json!({}), None));
    assert!(s.jira.reopen(&first, "In Progress"));
    let sweeper = pao_system_tests::sweeper_for(&s.env, 900, 120);
    let report = sweeper
        .sweep(pao::clock::now_epoch() + 200)
        .await
        .expect("sweep");
    assert!(report.concluded.is_empty(), "{report:?}");
    assert!(s.jira.resolve(
        &first,
        "Won't Do",
        json!({}),
        Some("legacy engines are no longer offered; ask for Aurora")
    ));
    // The poll is due again only once the last check is old enough.
    let report = sweeper
        .sweep(pao::clock::now_epoch() + 400)
        .await
        .expect("sweep");
    assert_eq!(report.concluded, [format!("{id}#0")], "{report:?}");
    let failed = detail_of(&s.env, &id).await;
    assert_eq!(failed.request.state, RequestState::Failed);
    assert_eq!(failed.tasks[0].state, TaskState::Failed);
    let error = failed.tasks[0].error.clone().unwrap_or_default();
    assert_eq!(
        error,
        format!(
            "{first} was resolved \"Won't Do\"; last comment: legacy engines are no longer offered; ask for Aurora"
        )
    );
    assert!(
        s.stand_in.calls().is_empty(),
        "nothing after the ticket ran"
    );

    // The owner retries: a new ticket (the old one stays declined), which is then done.
    let (status, answer) = pao_system_tests::api_send(
        &s.app,
        pao_system_tests::api_request(DEV, "POST", &format!("/api/v1/requests/{id}/retry"), None),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let d = drain_until(&s.env, &s.worker, &id, waiting).await;
    let second = ticket_of(&d);
    assert_ne!(
        second, first,
        "a retry after Won't Do asks for a new ticket"
    );
    assert_eq!(s.jira.issues().len(), 2);
    assert!(s.jira.resolve(
        &second,
        "Done",
        json!({"customfield_10050": "legacy-db.example.com"}),
        None
    ));
    let report = sweeper
        .sweep(pao::clock::now_epoch() + 400)
        .await
        .expect("sweep");
    assert_eq!(report.concluded, [format!("{id}#0")], "{report:?}");
    let done = drain_until(&s.env, &s.worker, &id, ended).await;
    assert_eq!(
        done.request.state,
        RequestState::Completed,
        "{:?}",
        done.request.error
    );
    assert_eq!(s.stand_in.calls().len(), 1);
    s.env.cleanup().await;
}

/// Point 4, 9: a delivery without a valid signature (or Data Center token) is refused before
/// anything is read and changes nothing; a Data Center delivery with its instance's token is
/// accepted; a ticket PAO does not own is accepted and ignored.
#[tokio::test]
async fn unsigned_or_wrongly_signed_deliveries_change_nothing() {
    let s = setup().await;
    let id = submit(&s, "audit-db").await;
    let d = drain_until(&s.env, &s.worker, &id, waiting).await;
    let key = ticket_of(&d);
    assert!(s.jira.resolve(&key, "Done", json!({}), None));
    s.jira
        .notify("http://127.0.0.1:9/unused", Some("not-the-secret"));
    assert!(s.jira.resolve(&key, "Done", json!({}), None));
    let forged = last_delivery(&s);
    let without: Vec<(String, String)> = forged
        .headers
        .iter()
        .filter(|(k, _)| k != "X-Hub-Signature")
        .cloned()
        .collect();
    for (query, headers) in [
        (vec![("instance", "default")], forged.headers.clone()),
        (vec![("instance", "default")], without.clone()),
        (
            vec![("instance", "default"), ("token", "guess")],
            without.clone(),
        ),
        (
            vec![("instance", "other"), ("token", DC_TOKEN)],
            without.clone(),
        ),
    ] {
        let (status, answer) = send(&s, &query, &headers, &forged.body).await;
        assert_eq!(status, 401, "{query:?}: {answer}");
    }
    // Not JSON, unsigned: 401 before the body is read.
    let (status, _) = send(&s, &[], &[], "{not json").await;
    assert_eq!(status, 401);
    // An instance that cannot be a name is refused as such.
    let (status, answer) = send(&s, &[("instance", "")], &forged.headers, &forged.body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["details"][0]["field"], json!("instance"));
    let (status, answer) = send(&s, &[("issue", "X-1")], &forged.headers, &forged.body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["details"][0]["field"], json!("issue"));
    let number = "42";
    let signed = vec![(
        "X-Hub-Signature".to_string(),
        pao::webhook::sign(SIGNING_SECRET.as_bytes(), number.as_bytes()),
    )];
    let (status, answer) = send(&s, &[], &signed, number).await;
    assert_eq!(status, 400, "{answer}");
    let still = detail_of(&s.env, &id).await;
    assert_eq!(still.tasks[0].state, TaskState::Processing);
    assert_eq!(still.tasks[0].updated_at, d.tasks[0].updated_at);

    // Data Center: no signature, the instance's token in the URL.
    let (status, answer) = send(
        &s,
        &[("instance", "default"), ("token", DC_TOKEN)],
        &without,
        &forged.body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let done = drain_until(&s.env, &s.worker, &id, ended).await;
    assert_eq!(done.request.state, RequestState::Completed);

    // A signed delivery about a ticket no task waits on: accepted and ignored.
    let body = json!({"webhookEvent": "jira:issue_updated",
                      "issue": {"key": "HR-1", "fields": {"resolution": {"name": "Done"}}}})
    .to_string();
    let headers = vec![(
        "X-Hub-Signature".to_string(),
        pao::webhook::sign(SIGNING_SECRET.as_bytes(), body.as_bytes()),
    )];
    let (status, answer) = send(&s, &[], &headers, &body).await;
    assert_eq!(status, 202, "{answer}");
    s.env.cleanup().await;
}

/// Point 1: past its `maxWait` a waiting ticket is marked overdue once (flag, event, sweeper
/// report), and the task goes on waiting.
#[tokio::test]
async fn an_overdue_ticket_is_flagged_once_and_goes_on_waiting() {
    let s = setup().await;
    let id = submit(&s, "slow-db").await;
    drain_until(&s.env, &s.worker, &id, waiting).await;
    let sweeper = pao_system_tests::sweeper_for(&s.env, 900, 120);
    let soon = sweeper
        .sweep(pao::clock::now_epoch() + 600)
        .await
        .expect("sweep");
    assert!(soon.overdue.is_empty(), "{soon:?}");
    let late = sweeper
        .sweep(pao::clock::now_epoch() + 7200)
        .await
        .expect("sweep");
    assert_eq!(late.overdue, [format!("{id}#0")], "{late:?}");
    let again = sweeper
        .sweep(pao::clock::now_epoch() + 7500)
        .await
        .expect("sweep");
    assert!(again.overdue.is_empty(), "{again:?}");
    let d = detail_of(&s.env, &id).await;
    assert_eq!(d.tasks[0].state, TaskState::Processing);
    assert_eq!(d.clone().shown().request.state, RequestState::Processing);
    assert!(d.tasks[0].overdue_since.is_some());
    assert_eq!(events_of(&d, "task-overdue"), 1, "{:?}", d.events);
    s.env.cleanup().await;
}

/// Point 8: `make jira-resolve` resolves a ticket through JIRA's transitions API as a person's
/// tooling would (resolution, typed fields, comment), and the stand-in delivers the webhook.
// The script runs as a blocking child process: the stand-in answers from another thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn make_jira_resolve_works_a_ticket_through_the_transitions_api() {
    // The local stack's stand-in credentials, which the script uses.
    let jira = JiraStandIn::start(0, "pao@example.com", "local-jira-token")
        .await
        .expect("JIRA stand-in");
    let instances =
        pao::action::jira::JiraInstances::parse(&jira.secret("default")).expect("secret");
    let instance = instances.get("default").expect("instance").clone();
    let client = pao::action::jira::JiraClient::new(reqwest::Client::new());
    let t = std::time::Duration::from_secs(5);
    let made = client
        .create_issue(
            &instance,
            &json!({"project": "DBA", "issueType": "Task", "summary": "Provision x"}),
            "pao-req-9-0",
            t,
        )
        .await
        .expect("created");
    let key = made.result["key"].as_str().expect("key").to_string();
    jira.notify("http://127.0.0.1:9/unused", Some(SIGNING_SECRET));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/jira-resolve.py");
    let run = |envs: Vec<(&str, String)>| {
        let out = std::process::Command::new("python3")
            .arg(script)
            .env("PAO_JIRA_URL", jira.base_url())
            .envs(envs)
            .output()
            .expect("python3 runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, _, err) = run(vec![]);
    assert_eq!(code, Some(2), "KEY is required: {err}");
    let (code, _, err) = run(vec![("KEY", key.clone()), ("FIELDS", "[1]".into())]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("FIELDS"), "{err}");
    let (code, out, err) = run(vec![
        ("KEY", key.clone()),
        ("RESOLUTION", "Won't Do".into()),
        (
            "FIELDS",
            r#"{"customfield_10050": "db.example.com"}"#.into(),
        ),
        ("COMMENT", "no budget".into()),
    ]);
    assert_eq!(code, Some(0), "{out} {err}");
    let ticket = client.ticket(&instance, &key, t).await.expect("read");
    assert_eq!(ticket.category, "done");
    assert_eq!(ticket.resolution.as_deref(), Some("Won't Do"));
    assert_eq!(ticket.last_comment.as_deref(), Some("no budget"));
    assert_eq!(
        ticket.issue.pointer("/fields/customfield_10050"),
        Some(&json!("db.example.com"))
    );
    // The stand-in told PAO, signed, as Jira Cloud does.
    let delivery = jira.deliveries().last().cloned().expect("delivered");
    let signature = delivery
        .headers
        .iter()
        .find(|(k, _)| k == "X-Hub-Signature")
        .map(|(_, v)| v.clone())
        .expect("signed");
    assert!(pao::webhook::signature_matches(
        SIGNING_SECRET.as_bytes(),
        delivery.body.as_bytes(),
        &signature
    ));
    let body: Value = serde_json::from_str(&delivery.body).expect("JSON");
    assert_eq!(body["webhookEvent"], json!("jira:issue_updated"));
    assert_eq!(body["issue"]["key"], json!(key));
    let (code, _, err) = run(vec![("KEY", "DBA-999".into())]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("404"), "{err}");
}

/// Aborting a request whose task waits on a ticket tells the person working it (a comment);
/// the ticket's later resolution is recorded on the task alone and runs nothing after it.
#[tokio::test]
async fn an_abort_tells_the_ticket_and_nothing_runs_after_its_resolution() {
    let s = setup().await;
    let id = submit(&s, "unneeded-db").await;
    let d = drain_until(&s.env, &s.worker, &id, waiting).await;
    let key = ticket_of(&d);
    let (status, answer) = pao_system_tests::api_send(
        &s.app,
        pao_system_tests::api_request(DEV, "POST", &format!("/api/v1/requests/{id}/abort"), None),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["ticketsTold"], json!([key]));
    let comments = s
        .jira
        .issues()
        .into_iter()
        .find(|i| i.key == key)
        .map(|i| i.comments)
        .unwrap_or_default();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments[0].contains(&format!("PAO request {id} was aborted by {DEV}")),
        "{comments:?}"
    );
    // The engineer closes it; the poll records that on the task, the request stays aborted
    // and nothing after it runs.
    assert!(s.jira.resolve(&key, "Won't Do", json!({}), None));
    let sweeper = pao_system_tests::sweeper_for(&s.env, 900, 120);
    let report = sweeper
        .sweep(pao::clock::now_epoch() + 200)
        .await
        .expect("sweep");
    assert_eq!(report.concluded, [format!("{id}#0")], "{report:?}");
    let after = detail_of(&s.env, &id).await;
    assert_eq!(after.request.state, RequestState::Aborted);
    assert_eq!(after.tasks[0].state, TaskState::Failed);
    assert_eq!(after.tasks[1].state, TaskState::Skipped);
    let again = sweeper
        .sweep(pao::clock::now_epoch() + 400)
        .await
        .expect("sweep");
    assert!(again.polled.is_empty(), "no longer waiting: {again:?}");
    assert!(s.stand_in.calls().is_empty());
    s.env.cleanup().await;
}
