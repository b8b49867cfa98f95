//! Issue 27: approval stages on the local stack. A prod request waits for a DBA while a dev
//! request runs at once; the requester never approves their own; any / all / N of M count as
//! stated; a rejection ends the request with nothing run; a timeout rejects or escalates
//! exactly once (two sweepers racing), a reminder is recorded once; abort while waiting; two
//! approvers of an `any` stage racing: one decision counts, the other answers 409.

use pao_system_tests::{
    TestEnv, api_request, api_send, app_for, drain_until, worker_for, write_repo,
};
use serde_json::{Value, json};

const ITEM: &str = r#"schemaVersion: catalog/v1
kind: CatalogItem
metadata: { id: ID, name: ID, version: 1.0.0, category: testing, owner: team-test, description: d }
APPROVAL
form:
  groups:
    - id: basic
      fields:
        - { id: environment, type: select, options: [dev, prod], default: dev }
        - { id: secret, type: password }
fulfillment:
  items:
    - { id: t, type: jira-ticket, config: { project: OPS, issueType: Task, summary: "{{ .current.name }}", waitForResolution: false } }
"#;

/// A password every request types: no approval view may show it.
const SECRET: &str = "hunter2-approval-secret";

struct World {
    env: TestEnv,
    app: pao::api::App,
    worker: pao::worker::Worker,
    jira: pao_local::jira_standin::JiraStandIn,
    dev: String,
    other_dev: String,
    dana: String,
    omar: String,
    rita: String,
    lead: String,
    _repo: tempfile::TempDir,
}

async fn world() -> World {
    let env = TestEnv::new().await;
    let s = env.table.clone();
    let arn = |role: &str, who: &str| {
        format!("arn:aws:sts::000000000000:assumed-role/{role}-{s}/{who}@example.com")
    };
    let (dev, other_dev) = (arn("Dev", "dev"), arn("Dev", "eve"));
    let (dana, omar, rita) = (arn("DBA", "dana"), arn("DBA", "omar"), arn("DBA2", "rita"));
    let lead = arn("Lead", "lee");
    pao_system_tests::tag_roles(
        &env,
        &[
            (&dev, &[("team", "payments")]),
            (&dana, &[("team", "dba")]),
            (&rita, &[("team", "dba")]),
            (&lead, &[("team", "platform-leads")]),
        ],
    )
    .await;
    let dba_role = format!("arn:aws:sts::*:assumed-role/DBA-{s}/*");
    let item = |id: &str, approval: String| ITEM.replace("ID", id).replace("APPROVAL", &approval);
    let files = [
        (
            "catalog/prod.yaml".to_string(),
            item("gated", format!("approval:\n  stages:\n    - id: dba\n      approvers: {{ arns: [\"{dba_role}\"], tags: {{ team: dba }} }}\n      require: any\n      when: \"{{{{ .current.basic.environment == 'prod' }}}}\"\n")),
        ),
        (
            "catalog/two.yaml".to_string(),
            item("two-dbas", "approval:\n  stages:\n    - { id: dba, approvers: { tags: { team: dba } }, require: 2 }\n".into()),
        ),
        (
            "catalog/all.yaml".to_string(),
            item("both-named", format!("approval:\n  stages:\n    - {{ id: owners, approvers: {{ arns: [\"{dana}\", \"{omar}\"] }}, require: all }}\n")),
        ),
        (
            "catalog/timeout.yaml".to_string(),
            item("timed", format!("approval:\n  stages:\n    - {{ id: dba, approvers: {{ arns: [\"{dba_role}\"] }}, timeout: P2D, onTimeout: reject, remindAfter: PT8H }}\n")),
        ),
        (
            "catalog/escalate.yaml".to_string(),
            item("escalating", format!("approval:\n  stages:\n    - {{ id: dba, approvers: {{ arns: [\"{dba_role}\"] }}, timeout: P1D, onTimeout: escalate, escalateTo: {{ tags: {{ team: platform-leads }} }} }}\n")),
        ),
    ];
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(f, t)| (f.as_str(), t.as_str()))
        .collect();
    let repo = write_repo(&borrowed);
    let app = app_for(&env, repo.path()).await;
    let jira = pao_local::jira_standin::JiraStandIn::start(0, "pao@example.com", "jira-token-123")
        .await
        .expect("JIRA stand-in");
    let worker = worker_for(&env, &jira.secret("default")).await;
    World {
        env,
        app,
        worker,
        jira,
        dev,
        other_dev,
        dana,
        omar,
        rita,
        lead,
        _repo: repo,
    }
}

impl World {
    async fn call(&self, who: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        api_send(&self.app, api_request(who, method, path, body)).await
    }

    /// Submits `item` as the developer; the answer's request id and state.
    async fn submit(&self, item: &str, environment: &str) -> (pao::record::RequestId, String) {
        let (status, answer) = self
            .call(
                &self.dev,
                "POST",
                "/api/v1/requests",
                Some(
                    json!({"items": [{"schemaVersion": "catalog/v1", "catalogItemId": item,
                    "input": {"name": format!("{item}-{environment}"),
                              "basic": {"environment": environment, "secret": SECRET}}}]}),
                ),
            )
            .await;
        assert_eq!(status, 202, "{answer}");
        let state = answer["data"]["requests"][0]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (pao_system_tests::request_id_of(&answer), state)
    }

    async fn decide(
        &self,
        who: &str,
        id: &pao::record::RequestId,
        verb: &str,
        comment: Option<&str>,
    ) -> (u16, Value) {
        let body = comment.map(|c| json!({"comment": c}));
        self.call(who, "POST", &format!("/api/v1/approvals/{id}/{verb}"), body)
            .await
    }

    async fn detail(&self, id: &pao::record::RequestId) -> Value {
        let (status, d) = self
            .call(&self.dev, "GET", &format!("/api/v1/requests/{id}"), None)
            .await;
        assert_eq!(status, 200, "{d}");
        d["data"].clone()
    }

    fn tickets_for(&self, name: &str) -> usize {
        self.jira
            .issues()
            .iter()
            .filter(|i| i.fields["summary"].as_str() == Some(name))
            .count()
    }

    async fn pending_ids(&self, who: &str) -> Vec<String> {
        let (status, list) = self
            .call(who, "GET", "/api/v1/approvals/pending", None)
            .await;
        assert_eq!(status, 200, "{list}");
        list["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["approvalId"].as_str().map(str::to_string))
            .collect()
    }
}

async fn logs(w: &World, id: &pao::record::RequestId, kind: &str) -> Vec<String> {
    let (status, logs) = w
        .call(&w.dev, "GET", &format!("/api/v1/requests/{id}/logs"), None)
        .await;
    assert_eq!(status, 200, "{logs}");
    logs["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == kind)
        .filter_map(|e| e["message"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_prod_request_waits_for_a_dba_and_a_dev_request_runs_at_once() {
    let w = world().await;
    // Dev: no stage applies, it runs as before.
    let (dev_id, state) = w.submit("gated", "dev").await;
    assert_eq!(state, "submitted");
    drain_until(&w.env, &w.worker, &dev_id, |d| {
        d.request.state.is_terminal()
    })
    .await;
    assert_eq!(w.tickets_for("gated-dev"), 1);
    assert!(w.detail(&dev_id).await.get("approval").is_none());

    // Prod waits: nothing queued, nothing sent.
    let (id, state) = w.submit("gated", "prod").await;
    assert_eq!(state, "awaiting_approval");
    pao_local::esm::poll_once(&w.worker.queue, &w.worker, 1)
        .await
        .expect("poll");
    assert_eq!(
        w.tickets_for("gated-prod"),
        0,
        "nothing runs before the approval"
    );
    let d = w.detail(&id).await;
    assert_eq!(d["state"], "awaiting_approval");
    assert_eq!(d["tasks"][0]["state"], "pending");
    assert_eq!(d["approval"]["current"]["id"], "dba");
    assert_eq!(d["approval"]["current"]["needed"], 1);

    // The requester never approves their own; someone outside the stage finds nothing.
    let (status, answer) = w.decide(&w.dev, &id, "approve", None).await;
    assert_eq!(status, 403, "{answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("own request"),
        "{answer}"
    );
    let (status, _) = w.decide(&w.other_dev, &id, "approve", None).await;
    assert_eq!(status, 404);
    assert!(!w.pending_ids(&w.dev).await.contains(&id.to_string()));

    // A DBA (by tag: Rita's role is not DBA-*) sees it pending, with the request's input.
    assert!(w.pending_ids(&w.rita).await.contains(&id.to_string()));
    let (status, one) = w
        .call(&w.rita, "GET", &format!("/api/v1/approvals/{id}"), None)
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["data"]["youMayDecide"], true);
    assert_eq!(one["data"]["input"]["basic"]["environment"], "prod");
    assert_eq!(one["data"]["stage"]["approvals"], 0);
    let (_, pending) = w
        .call(&w.rita, "GET", "/api/v1/approvals/pending", None)
        .await;
    for shown in [one.to_string(), pending.to_string()] {
        assert!(
            !shown.contains(SECRET),
            "a password shown to an approver: {shown}"
        );
    }
    assert_eq!(one["data"]["input"]["basic"]["secret"], "********");
    assert_eq!(
        one["data"]["tasks"][0]["input"]["basic"]["environment"],
        "prod"
    );

    let (status, answer) = w.decide(&w.dana, &id, "approve", Some("sized right")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["state"], "submitted");
    // Decided: nobody decides it again, and it leaves the pending list.
    let (status, answer) = w.decide(&w.rita, &id, "approve", None).await;
    assert_eq!(status, 409, "{answer}");
    assert!(!w.pending_ids(&w.rita).await.contains(&id.to_string()));
    let done = drain_until(&w.env, &w.worker, &id, |d| d.request.state.is_terminal()).await;
    assert_eq!(done.request.state, pao::request::RequestState::Completed);
    assert_eq!(w.tickets_for("gated-prod"), 1);
    let submitted = logs(&w, &id, "submitted").await;
    assert!(
        submitted[0].contains("awaiting approval: stage \"dba\" (any approvers: "),
        "{submitted:?}"
    );
    let approved = logs(&w, &id, "approval-approved").await;
    assert_eq!(approved.len(), 1, "{approved:?}");
    assert!(
        approved[0].contains(&w.dana) && approved[0].contains("sized right"),
        "{approved:?}"
    );
    let d = w.detail(&id).await;
    assert_eq!(d["approval"]["decisions"][0]["by"], w.dana.as_str());
    assert_eq!(d["approval"]["decisions"][0]["comment"], "sized right");
    assert_eq!(d["approval"]["stages"][0]["status"], "approved");
    w.env.cleanup().await;
}

#[tokio::test]
async fn a_rejection_ends_the_request_and_nothing_runs() {
    let w = world().await;
    let (id, _) = w.submit("gated", "prod").await;
    let (status, answer) = w.decide(&w.dana, &id, "reject", None).await;
    assert_eq!(status, 400, "a comment is required: {answer}");
    assert_eq!(
        answer["error"]["details"][0]["field"], "comment",
        "{answer}"
    );
    let (status, answer) = w
        .decide(&w.dana, &id, "reject", Some("use the shared cluster"))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["state"], "rejected");
    let d = w.detail(&id).await;
    assert_eq!(d["state"], "rejected");
    assert!(
        d["error"]
            .as_str()
            .unwrap_or_default()
            .contains("use the shared cluster"),
        "{d}"
    );
    assert_eq!(d["tasks"][0]["state"], "skipped");
    pao_local::esm::poll_once(&w.worker.queue, &w.worker, 1)
        .await
        .expect("poll");
    assert_eq!(w.tickets_for("gated-prod"), 0, "nothing ran");
    let (status, _) = w.decide(&w.rita, &id, "approve", None).await;
    assert_eq!(status, 409);
    let (status, _) = w
        .call(
            &w.dev,
            "POST",
            &format!("/api/v1/requests/{id}/abort"),
            None,
        )
        .await;
    assert_eq!(status, 409, "rejected is the end");
    w.env.cleanup().await;
}

#[tokio::test]
async fn any_all_and_n_of_m_count_as_stated() {
    let w = world().await;
    // Two of the DBAs (by tag).
    let (id, _) = w.submit("two-dbas", "dev").await;
    // Under an Idempotency-Key the same approval sent twice is answered twice, counted once.
    let keyed = || {
        let mut req = api_request(
            &w.dana,
            "POST",
            &format!("/api/v1/approvals/{id}/approve"),
            None,
        );
        req.headers
            .push(("Idempotency-Key".into(), "approve-once".into()));
        req
    };
    let (status, answer) = api_send(&w.app, keyed()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["state"], "awaiting_approval");
    assert_eq!(answer["data"]["approval"]["current"]["approvals"], 1);
    let (again, replayed) = api_send(&w.app, keyed()).await;
    assert_eq!(
        (again, &replayed["data"]),
        (200, &answer["data"]),
        "the first answer again"
    );
    assert_eq!(answer["data"]["approval"]["current"]["needed"], 2);
    let (status, answer) = w.decide(&w.dana, &id, "approve", None).await;
    assert_eq!(status, 409, "one principal decides a stage once: {answer}");
    let (status, answer) = w.decide(&w.rita, &id, "approve", None).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["state"], "submitted");

    // All of the named approvers: Dana, then Omar; a DBA not named is refused, naming the rule.
    let (id, _) = w.submit("both-named", "dev").await;
    let (status, answer) = w.decide(&w.rita, &id, "approve", None).await;
    assert_eq!(status, 404, "Rita is in no group of this item: {answer}");
    let (status, answer) = w.decide(&w.dana, &id, "approve", None).await;
    assert_eq!(
        (status, answer["data"]["state"].clone()),
        (200, json!("awaiting_approval")),
        "{answer}"
    );
    let (status, answer) = w.decide(&w.omar, &id, "approve", None).await;
    assert_eq!(
        (status, answer["data"]["state"].clone()),
        (200, json!("submitted")),
        "{answer}"
    );
    drain_until(&w.env, &w.worker, &id, |d| d.request.state.is_terminal()).await;
    assert_eq!(w.tickets_for("both-named-dev"), 1);
    w.env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_approvers_of_an_any_stage_racing_record_one_decision() {
    let w = world().await;
    for round in 0..3 {
        let (id, _) = w.submit("gated", "prod").await;
        let (a, b) = tokio::join!(
            w.decide(&w.dana, &id, "approve", Some("a")),
            w.decide(&w.rita, &id, "approve", Some("b")),
        );
        let mut statuses = [a.0, b.0];
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 409], "round {round}: {a:?} {b:?}");
        let d = w.detail(&id).await;
        assert_eq!(
            d["approval"]["decisions"].as_array().map(Vec::len),
            Some(1),
            "{d}"
        );
        assert_eq!(logs(&w, &id, "approval-approved").await.len(), 1);
        assert_eq!(d["state"], "submitted");
    }
    w.env.cleanup().await;
}

/// Two sweepers run at `at` at once; what either did of one kind (`pick`), both reports
/// together (an act counted twice would be there twice).
async fn race(
    one: &pao::sweeper::Sweeper,
    two: &pao::sweeper::Sweeper,
    at: u64,
    pick: fn(&pao::sweeper::SweepReport) -> &Vec<String>,
) -> Vec<String> {
    let (a, b) = tokio::join!(one.sweep(at), two.sweep(at));
    let (a, b) = (a.expect("sweep"), b.expect("sweep"));
    pick(&a).iter().chain(pick(&b)).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_reject_and_escalate_exactly_once_and_remind_once() {
    let w = world().await;
    let sweeper = || pao_system_tests::sweeper_for(&w.env, 600, 60);
    let (one, two) = (sweeper(), sweeper());
    let (timed, _) = w.submit("timed", "dev").await;
    let (escalating, _) = w.submit("escalating", "dev").await;
    let now = pao::clock::now_epoch();

    // Nine hours on: the reminder is due (once, whichever sweeper records it).
    let reminded = race(&one, &two, now + 9 * 3600, |r| &r.approvals_reminded).await;
    assert_eq!(reminded, [timed.to_string()]);
    let again = one.sweep(now + 10 * 3600).await.expect("sweep");
    assert!(again.approvals_reminded.is_empty(), "{again:?}");
    let reminders = logs(&w, &timed, "approval-reminder").await;
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert!(
        reminders[0].contains("stage \"dba\" has waited PT9H"),
        "{reminders:?}"
    );

    // A day and a bit: the escalating stage goes to the platform leads, once.
    let at = now + 25 * 3600;
    let escalated = race(&one, &two, at, |r| &r.approvals_escalated).await;
    assert_eq!(escalated, [escalating.to_string()]);
    assert_eq!(logs(&w, &escalating, "approval-escalated").await.len(), 1);
    let (status, answer) = w.decide(&w.dana, &escalating, "approve", None).await;
    assert_eq!(status, 403, "DBAs no longer decide: {answer}");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("needs the tags team=platform-leads"),
        "the refusal names the rule: {answer}"
    );
    assert!(
        w.pending_ids(&w.lead)
            .await
            .contains(&escalating.to_string())
    );
    let (status, answer) = w
        .decide(&w.lead, &escalating, "approve", Some("ok, go"))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["state"], "submitted");

    // Two days: the other stage times out and rejects, once; nothing ran.
    let at = now + 49 * 3600;
    let rejected = race(&one, &two, at, |r| &r.approvals_timed_out).await;
    assert_eq!(rejected, [timed.to_string()]);
    let d = w.detail(&timed).await;
    assert_eq!(d["state"], "rejected");
    assert_eq!(d["tasks"][0]["state"], "skipped");
    assert_eq!(d["approval"]["stages"][0]["status"], "rejected");
    assert!(
        d["approval"]["current"].is_null(),
        "no stage decides any more: {d}"
    );
    let timed_out = logs(&w, &timed, "approval-timed-out").await;
    assert_eq!(timed_out.len(), 1, "{timed_out:?}");
    assert!(
        timed_out[0].contains("timed out after P2D"),
        "{timed_out:?}"
    );
    assert!(
        one.sweep(at + 3600)
            .await
            .expect("sweep")
            .approvals_timed_out
            .is_empty()
    );
    w.env.cleanup().await;
}

#[tokio::test]
async fn the_requester_may_abort_while_waiting() {
    let w = world().await;
    let (id, _) = w.submit("gated", "prod").await;
    assert!(w.pending_ids(&w.dana).await.contains(&id.to_string()));
    let (status, answer) = w
        .call(
            &w.dev,
            "POST",
            &format!("/api/v1/requests/{id}/abort"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["state"], "aborted");
    assert!(
        !w.pending_ids(&w.dana).await.contains(&id.to_string()),
        "it left the pending list"
    );
    let (status, answer) = w.decide(&w.dana, &id, "approve", None).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(w.detail(&id).await["tasks"][0]["state"], "skipped");
    w.env.cleanup().await;
}

/// The example catalog's Aurora item: a DBA approves prod clusters only.
#[tokio::test]
async fn the_example_aurora_item_gates_prod_on_a_dba() {
    let env = TestEnv::new().await;
    let app = app_for(&env, &pao_system_tests::example_catalog_dir()).await;
    let dev = "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com";
    let dana = "arn:aws:sts::000000000000:assumed-role/DBA/dana@example.com";
    let submit = |environment: &str| {
        api_request(
            dev,
            "POST",
            "/api/v1/requests",
            Some(json!({"items": [{"schemaVersion": "catalog/v1",
                "catalogItemId": "database-aurora-postgresql",
                "input": {"name": "orders", "basic": {"instanceName": "orders-db", "environment": environment}}}]})),
        )
    };
    // The catalog says what a request of it will wait for.
    let (status, card) = api_send(
        &app,
        api_request(
            dev,
            "GET",
            "/api/v1/catalog/database-aurora-postgresql",
            None,
        ),
    )
    .await;
    assert_eq!(status, 200, "{card}");
    assert_eq!(card["data"]["approval"][0]["id"], "dba");
    assert_eq!(
        card["data"]["approval"][0]["when"],
        "{{ .current.basic.environment == 'prod' }}"
    );
    let mut states = Vec::new();
    let mut ids = Vec::new();
    for environment in ["dev", "staging", "prod"] {
        let (status, answer) = api_send(&app, submit(environment)).await;
        assert_eq!(status, 202, "{answer}");
        states.push(answer["data"]["requests"][0]["state"].clone());
        ids.push(pao_system_tests::request_id_of(&answer));
    }
    assert_eq!(
        states,
        [
            json!("submitted"),
            json!("submitted"),
            json!("awaiting_approval")
        ]
    );
    let prod = &ids[2];
    let (status, one) = api_send(
        &app,
        api_request(dana, "GET", &format!("/api/v1/approvals/{prod}"), None),
    )
    .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["data"]["stage"]["id"], "dba");
    assert_eq!(one["data"]["stage"]["onTimeout"], "escalate");
    let (status, answer) = api_send(
        &app,
        api_request(
            dana,
            "POST",
            &format!("/api/v1/approvals/{prod}/approve"),
            None,
        ),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["state"], "submitted");
    env.cleanup().await;
}

/// The last approval writes the release and then sends the first task; when that send fails
/// the approval still stands (the task is `queued`) and the sweeper sends it: the request runs,
/// its ticket made once.
#[tokio::test]
async fn a_lost_send_after_the_last_approval_is_repaired_by_the_sweeper() {
    let mut w = world().await;
    let (id, _) = w.submit("gated", "prod").await;
    let faults = pao_system_tests::Faults::default();
    w.app.queue = pao::queue::Queue::new(faults.sqs(&w.env), &w.env.queues.queue);
    faults.fail(&["SendMessage"], &[], 0);
    let (status, answer) = w.decide(&w.dana, &id, "approve", None).await;
    assert_eq!(status, 200, "the approval stands: {answer}");
    assert_eq!(answer["data"]["state"], "submitted");
    assert_eq!(w.detail(&id).await["tasks"][0]["state"], "queued");
    // Nothing on the queue yet: the worker finds nothing to run.
    pao_local::esm::poll_once(&w.worker.queue, &w.worker, 1)
        .await
        .expect("poll");
    assert_eq!(w.tickets_for("gated-prod"), 0);
    // The sweeper re-sends what was queued but never sent (past its resend threshold).
    let sweeper = pao_system_tests::sweeper_for(&w.env, 600, 1);
    let report = sweeper
        .sweep(pao::clock::now_epoch() + 5)
        .await
        .expect("sweep");
    assert_eq!(report.resent, [format!("{id}#0")], "{report:?}");
    let done = drain_until(&w.env, &w.worker, &id, |d| d.request.state.is_terminal()).await;
    assert_eq!(done.request.state, pao::request::RequestState::Completed);
    assert_eq!(w.tickets_for("gated-prod"), 1);
    w.env.cleanup().await;
}
