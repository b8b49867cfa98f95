//! The `github-commit` and `github-workflow` fulfillment items against the local AWS endpoint
//! and the GitHub stand-in (real git repositories): a commit on a new branch with a pull
//! request feeding a workflow dispatch; a run that concludes later completing (webhook) or
//! failing its task; the sweeper's poll when no webhook comes; redelivery creating nothing
//! twice; servers that refuse `return_run_details`.

use pao::record::{RequestDetail, RequestId};
use pao::request::RequestState;
use pao::task::TaskState;
use pao_local::github_standin::GitHubStandIn;
use pao_system_tests::{TestEnv, drain_until, write_repo};
use serde_json::{Value, json};

const ITEM: &str = r#"schemaVersion: catalog/v1
kind: CatalogItem
metadata: { id: ns-deploy, name: Namespace and deploy, version: 1.0.0, category: testing, owner: team-test, description: Commit a manifest, then run a workflow. }
form:
  groups:
    - id: basic
      fields:
        - { id: namespace, type: string, required: true }
fulfillment:
  items:
    - id: manifest
      type: github-commit
      config:
        repository: acme/gitops
        branch: "pao/ns-{{.current.basic.namespace}}"
        baseBranch: main
        message: "Add namespace {{.current.basic.namespace}}"
        files:
          - path: "namespaces/{{.current.basic.namespace}}.yaml"
            content: "kind: Namespace\nmetadata: { name: {{.current.basic.namespace}} }\n"
        pullRequest: { title: "Namespace {{.current.basic.namespace}}", body: "From PAO" }
      outputs:
        manifestSha: /sha
        manifestPr: /pullRequestUrl
    - id: deploy
      type: github-workflow
      config:
        repository: acme/deployer
        workflow: deploy.yml
        ref: main
        inputs: { namespace: "{{.current.basic.namespace}}", commit: "{{.output.manifestSha}}" }
        waitForCompletion: true
      outputs:
        deployRun: /runUrl
        deployConclusion: /conclusion
"#;

const WEBHOOK_SECRET: &str = "gh-actions-webhook-secret";

struct Gh {
    env: TestEnv,
    github: GitHubStandIn,
    worker: pao::worker::Worker,
    webhook: pao::webhook::Webhook,
    catalog: pao::catalog::Catalog,
    _repos: (tempfile::TempDir, tempfile::TempDir),
}

async fn setup() -> Gh {
    let env = TestEnv::new().await;
    let source = write_repo(&[("README.md", "catalog\n")]);
    let work = tempfile::tempdir().expect("temporary directory");
    let dir = work.path().join("catalog");
    pao_local::github_standin::init_repo(&dir, source.path()).expect("git repository");
    let github = GitHubStandIn::start(0, &dir, "acme/catalog", "ghs_actions_token")
        .await
        .expect("GitHub stand-in");
    let mut config = env.stack.config.clone();
    config.github_api_url = github.api_url();
    for (id, value) in [
        (&config.github_token_secret_id, github.token.as_str()),
        (&config.github_webhook_secret_id, WEBHOOK_SECRET),
        (&config.jira_secret_id, r#"{"instances": {}}"#),
    ] {
        pao_local::provision::put_secret(&env.secrets, id, value)
            .await
            .expect("secret");
    }
    let worker = pao::worker::Worker::from_config(
        &config,
        &env.sdk_of(pao_local::identity::Function::Worker),
    );
    let webhook = pao::webhook::Webhook::from_config(
        &config,
        &env.sdk_of(pao_local::identity::Function::GithubWebhook),
    );
    let repo = write_repo(&[("catalog/ns.yaml", ITEM)]);
    let loaded = pao::catalog::load::load_dir(repo.path()).expect("catalog");
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    Gh {
        env,
        github,
        worker,
        webhook,
        catalog: loaded.catalog,
        _repos: (repo, work),
    }
}

async fn submit(g: &Gh, namespace: &str) -> RequestId {
    pao_system_tests::submit_item(
        &g.env,
        &g.catalog,
        pao::catalog::Target::CatalogItem("ns-deploy".into()),
        json!({"name": namespace, "basic": {"namespace": namespace}}),
    )
    .await
}

fn waiting(d: &RequestDetail) -> bool {
    d.tasks[1].state == TaskState::Processing && d.tasks[1].external_ref.is_some()
}

fn ended(d: &RequestDetail) -> bool {
    matches!(
        d.request.state,
        RequestState::Completed | RequestState::Failed
    )
}

/// The run a waiting task follows, from the stand-in.
fn run_of(g: &Gh, d: &RequestDetail) -> pao_local::github_standin::Run {
    let key = d.tasks[1].external_ref.clone().expect("run").key;
    g.github
        .runs()
        .into_iter()
        .find(|r| format!("run-{}", r.id) == key)
        .expect("the run was dispatched")
}

/// GitHub's `workflow_run` delivery for a concluded run, signed.
async fn deliver_run(g: &Gh, run_id: u64) -> (u16, Value) {
    let run = g
        .github
        .runs()
        .into_iter()
        .find(|r| r.id == run_id)
        .expect("run");
    let body = json!({
        "action": "completed",
        "workflow_run": {"id": run.id, "status": run.status, "conclusion": run.conclusion,
                          "html_url": format!("https://github.com/{}/actions/runs/{}", run.repository, run.id)},
        "repository": {"full_name": run.repository},
    })
    .to_string();
    let headers = vec![
        ("X-GitHub-Event".to_string(), "workflow_run".to_string()),
        (
            "X-GitHub-Delivery".to_string(),
            format!("run-delivery-{run_id}"),
        ),
        (
            "X-Hub-Signature-256".to_string(),
            pao::webhook::sign(WEBHOOK_SECRET.as_bytes(), body.as_bytes()),
        ),
    ];
    let r = g.webhook.handle(&headers, body.as_bytes()).await;
    (r.status, r.body)
}

#[tokio::test]
async fn a_commit_feeds_a_workflow_that_completes_through_the_webhook() {
    let g = setup().await;
    let id = submit(&g, "orders").await;
    let d = drain_until(&g.env, &g.worker, &id, waiting).await;
    // The commit: on a new branch from main, with the file, the task's trailer and a PR.
    let sha = d.tasks[0].outputs["manifestSha"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let gitops = g
        .github
        .repository_dir("acme/gitops")
        .expect("repository made");
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&gitops)
            .args(args)
            .output()
            .expect("git");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(git(&["rev-parse", "refs/heads/pao/ns-orders"]), sha);
    assert_eq!(
        git(&["show", &format!("{sha}:namespaces/orders.yaml")]),
        "kind: Namespace\nmetadata: { name: orders }"
    );
    assert!(git(&["log", "-1", "--format=%B", &sha]).contains(&format!("PAO-Task: {id}-0-1")));
    assert_eq!(
        git(&["rev-parse", &format!("{sha}^")]),
        git(&["rev-parse", "main"])
    );
    assert_eq!(g.github.pulls().len(), 1);
    assert_eq!(
        d.tasks[0].outputs["manifestPr"],
        json!("https://github.com/acme/gitops/pull/1")
    );
    // The workflow got the commit as input; the task waits, no Lambda does.
    let run = run_of(&g, &d);
    assert_eq!(run.inputs["commit"], json!(sha));
    assert_eq!(d.clone().shown().request.state, RequestState::Processing);
    g.github.complete_run(run.id, "success").await;
    let (status, answer) = deliver_run(&g, run.id).await;
    assert_eq!(status, 200, "{answer}");
    let done = drain_until(&g.env, &g.worker, &id, ended).await;
    assert_eq!(
        done.request.state,
        RequestState::Completed,
        "{:?}",
        done.request.error
    );
    assert_eq!(done.tasks[1].outputs["deployConclusion"], json!("success"));
    assert_eq!(
        done.tasks[1].outputs["deployRun"],
        json!(format!(
            "https://github.com/acme/deployer/actions/runs/{}",
            run.id
        ))
    );
    // The same delivery again changes nothing.
    let (status, again) = deliver_run(&g, run.id).await;
    assert_eq!(status, 200);
    assert_eq!(again["data"]["duplicate"], json!(true));
    g.env.cleanup().await;
}

#[tokio::test]
async fn a_failed_run_fails_its_task_and_the_sweeper_polls_without_a_webhook() {
    let g = setup().await;
    // Concluded in failure, reported by the webhook: the task fails with the run's URL.
    let failing = submit(&g, "payments").await;
    let d = drain_until(&g.env, &g.worker, &failing, waiting).await;
    let run = run_of(&g, &d);
    g.github.complete_run(run.id, "failure").await;
    let (status, _) = deliver_run(&g, run.id).await;
    assert_eq!(status, 200);
    let done = drain_until(&g.env, &g.worker, &failing, ended).await;
    assert_eq!(done.request.state, RequestState::Failed);
    let error = done.tasks[1].error.clone().unwrap_or_default();
    assert!(
        error.contains(&format!("actions/runs/{}", run.id)) && error.contains("concluded failure"),
        "{error}"
    );
    // No webhook: the sweeper asks GitHub, and the task completes.
    let quiet = submit(&g, "search").await;
    let d = drain_until(&g.env, &g.worker, &quiet, waiting).await;
    let run = run_of(&g, &d);
    let mut sweeper = pao_system_tests::sweeper_for(&g.env, 900, 120);
    sweeper.worker.github = g.worker.github.clone();
    let early = sweeper
        .sweep(pao::clock::now_epoch() + 200)
        .await
        .expect("sweep");
    assert!(early.concluded.is_empty(), "the run goes on: {early:?}");
    g.github.complete_run(run.id, "success").await;
    // Even past the stuck threshold, a task waiting on a run is polled, never marked stuck.
    let later = sweeper
        .sweep(pao::clock::now_epoch() + 1000)
        .await
        .expect("sweep");
    assert_eq!(later.concluded, [format!("{quiet}#1")], "{later:?}");
    assert!(later.stuck.is_empty(), "{later:?}");
    let done = drain_until(&g.env, &g.worker, &quiet, ended).await;
    assert_eq!(done.request.state, RequestState::Completed);
    g.env.cleanup().await;
}

/// Issue 23 point 9: tasks waiting on workflow runs never crowd out stuck detection (they
/// have an index key of their own), and polls go round: with room for two polls per sweep,
/// three waiting runs are each asked about once in two sweeps.
#[tokio::test]
async fn waiting_runs_neither_starve_stuck_detection_nor_each_other() {
    let g = setup().await;
    let mut waiting_tasks = Vec::new();
    for name in ["wait-a", "wait-b", "wait-c"] {
        let id = submit(&g, name).await;
        drain_until(&g.env, &g.worker, &id, waiting).await;
        waiting_tasks.push(format!("{id}#1"));
    }
    // A task that started after them and never finished (its worker died).
    let lost = submit(&g, "lost").await;
    let detail = pao_system_tests::detail_of(&g.env, &lost).await;
    let later = pao::clock::Now::at(pao::clock::now_epoch() + 5);
    let event = pao::record::Event::about(&detail.tasks[0], "task-started", "started".into());
    g.env
        .store()
        .claim_task(&detail.tasks[0], &later, &event)
        .await
        .expect("claimed");
    let mut sweeper = pao_system_tests::sweeper_for(&g.env, 900, 120);
    sweeper.worker.github = g.worker.github.clone();
    sweeper.settings.batch_limit = 2;
    sweeper.settings.poll_limit = 2;
    let at = pao::clock::now_epoch() + 1000;
    let first = sweeper.sweep(at).await.expect("sweep");
    assert_eq!(first.stuck, [format!("{lost}#0")], "{first:?}");
    assert_eq!(first.polled.len(), 2, "{first:?}");
    let second = sweeper.sweep(at).await.expect("sweep");
    let mut polled: Vec<String> = first.polled.iter().chain(&second.polled).cloned().collect();
    polled.sort();
    waiting_tasks.sort();
    assert_eq!(polled, waiting_tasks, "each run once: {first:?} {second:?}");
    // Operators list them apart from the tasks a worker runs.
    let key = pao::store::CursorKey::new("test-key");
    let now = pao::clock::Now::current();
    let listed = pao::operations::tasks_in(
        &g.env.store(),
        pao::operations::TaskList::WaitingOnRuns,
        50,
        None,
        &key,
        &now,
    )
    .await
    .expect("waiting tasks");
    let mut listed: Vec<String> = listed
        .items
        .iter()
        .map(|t| format!("{}#{}", t.request_id, t.seq))
        .collect();
    listed.sort();
    assert_eq!(listed, waiting_tasks);
    // None of them was taken for stuck.
    let after = pao_system_tests::detail_of(
        &g.env,
        &pao::record::RequestId(
            waiting_tasks[0]
                .split('#')
                .next()
                .unwrap_or_default()
                .to_string(),
        ),
    )
    .await;
    assert_eq!(after.tasks[1].state, TaskState::Processing);
    g.env.cleanup().await;
}

/// Issue 23 point 10: an item's timeout bounds its whole action, not each call: a commit of
/// twenty files to a slow server (every call 300 ms; a commit makes a call per file and six
/// more) fails after its three seconds instead of running on for eight.
#[tokio::test]
async fn one_deadline_bounds_the_whole_action() {
    let g = setup().await;
    let files: String = (0..20)
        .map(|i| format!("          - {{ path: \"f/{i}.txt\", content: \"{i}\" }}\n"))
        .collect();
    let item = format!(
        r#"schemaVersion: catalog/v1
kind: CatalogItem
metadata: {{ id: many-files, name: Many files, version: 1.0.0, category: testing, owner: team-test, description: Twenty files in one commit. }}
form:
  groups:
    - id: basic
      fields:
        - {{ id: branch, type: string, required: true }}
fulfillment:
  items:
    - id: files
      type: github-commit
      timeoutSeconds: 3
      config:
        repository: acme/gitops
        branch: "pao/{{{{.current.basic.branch}}}}"
        message: "Twenty files"
        files:
{files}"#
    );
    let repo = write_repo(&[("catalog/files.yaml", &item)]);
    let loaded = pao::catalog::load::load_dir(repo.path()).expect("catalog");
    assert!(loaded.problems.is_empty(), "{:?}", loaded.problems);
    g.github.delay(std::time::Duration::from_millis(300));
    let id = pao_system_tests::submit_item(
        &g.env,
        &loaded.catalog,
        pao::catalog::Target::CatalogItem("many-files".into()),
        json!({"name": "slow", "basic": {"branch": "slow"}}),
    )
    .await;
    let done = drain_until(&g.env, &g.worker, &id, ended).await;
    g.github.delay(std::time::Duration::ZERO);
    assert_eq!(done.request.state, RequestState::Failed);
    let error = done.tasks[0].error.clone().unwrap_or_default();
    assert!(error.contains("no answer within 3 seconds"), "{error}");
    g.env.cleanup().await;
}

#[tokio::test]
async fn a_redelivered_commit_creates_nothing_twice() {
    let g = setup().await;
    let id = submit(&g, "twice").await;
    let message = pao::queue::TaskMessage {
        request_id: id.clone(),
        seq: 0,
        attempt: 1,
        correlation_id: "corr-twice".into(),
    };
    g.worker.handle(&message).await.expect("first delivery");
    g.worker.handle(&message).await.expect("second delivery");
    // A crash after GitHub took the commit but before PAO recorded it: the action runs again
    // and finds its own commit and pull request.
    let token = g.github.token.clone();
    let config = json!({
        "repository": "acme/gitops", "branch": "pao/ns-twice", "baseBranch": "main",
        "message": "Add namespace twice",
        "files": [{"path": "namespaces/twice.yaml", "content": "kind: Namespace\nmetadata: { name: twice }\n"}],
        "pullRequest": {"title": "Namespace twice"},
    });
    let again =
        pao::action::github_commit::commit(&g.worker.github, &token, &config, &format!("{id}-0-1"))
            .await
            .expect("found, not made again");
    let d = pao_system_tests::detail_of(&g.env, &id).await;
    assert_eq!(again.result["sha"], d.tasks[0].outputs["manifestSha"]);
    let gitops = g.github.repository_dir("acme/gitops").expect("repository");
    let count = std::process::Command::new("git")
        .arg("-C")
        .arg(&gitops)
        .args(["rev-list", "--count", "main..pao/ns-twice"])
        .output()
        .expect("git");
    assert_eq!(String::from_utf8_lossy(&count.stdout).trim(), "1");
    assert_eq!(g.github.pulls().len(), 1);
    // The next task runs once: the workflow is dispatched once.
    drain_until(&g.env, &g.worker, &id, waiting).await;
    assert_eq!(g.github.runs().len(), 1);
    g.env.cleanup().await;
}

#[tokio::test]
async fn a_server_without_run_details_is_correlated_by_task_id() {
    let g = setup().await;
    g.github.refuse_run_details(true);
    let id = submit(&g, "legacy").await;
    let d = drain_until(&g.env, &g.worker, &id, waiting).await;
    let run = run_of(&g, &d);
    assert_eq!(run.inputs["pao_task_id"], json!(format!("{id}-1-1")));
    assert_eq!(run.display_title, format!("{id}-1-1"));
    g.env.cleanup().await;
}

/// GitHub's refusals and silences fail the action cleanly, naming GitHub's answer.
#[tokio::test]
async fn github_failures_name_the_answer() {
    let g = setup().await;
    let token = g.github.token.clone();
    let workflow = json!({"repository": "acme/.hidden", "workflow": "deploy.yml"});
    let refused =
        pao::action::github_workflow::dispatch(&g.worker.github, &token, &workflow, "req-x-1-1")
            .await
            .expect_err("no such repository");
    assert!(
        refused.to_string().contains("GitHub answered 404"),
        "{refused}"
    );
    let commit = json!({"repository": "acme/gitops", "branch": "pao/x", "baseBranch": "nope",
        "message": "m", "files": [{"path": "a.txt", "content": "a"}]});
    let missing =
        pao::action::github_commit::commit(&g.worker.github, &token, &commit, "req-x-0-1")
            .await
            .expect_err("no base branch");
    assert!(
        missing
            .to_string()
            .contains("base branch nope does not exist"),
        "{missing}"
    );
    let bad_token =
        pao::action::github_commit::commit(&g.worker.github, "wrong", &commit, "req-x-0-1")
            .await
            .expect_err("bad credentials");
    assert!(
        bad_token.to_string().contains("401") && !bad_token.to_string().contains("wrong"),
        "{bad_token}"
    );
    // Issue 23 point 13: a server that quotes the token it refused never gets it into the error.
    g.github.echo_token(true);
    let echoed = pao::action::github_commit::commit(
        &g.worker.github,
        "ghs_Leaky-Token-0042",
        &commit,
        "req-x-0-1",
    )
    .await
    .expect_err("bad credentials")
    .to_string();
    g.github.echo_token(false);
    assert!(
        echoed.contains("Bad credentials: Bearer ********") && !echoed.contains("Leaky"),
        "{echoed}"
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let nowhere =
        pao::github::GitHub::new(reqwest::Client::new(), &format!("http://127.0.0.1:{port}"));
    let unreachable =
        pao::action::github_workflow::dispatch(&nowhere, &token, &workflow, "req-x-1-1")
            .await
            .expect_err("nothing listens");
    assert!(
        unreachable.to_string().contains("could not reach"),
        "{unreachable}"
    );
    g.env.cleanup().await;
}

/// Issue 23 point 1: the repository, refs and workflow a rendered config names are checked
/// before any call, so a value typed into a form cannot move a dispatch or a commit to another
/// organisation's repository (`r/../../other-org/prod`) or another ref.
#[tokio::test]
async fn hostile_names_never_reach_a_github_path() {
    let g = setup().await;
    let token = g.github.token.clone();
    let before = g.github.calls();
    for (config, field) in [
        (
            json!({"repository": "r/../../other-org/prod", "workflow": "deploy.yml"}),
            "repository",
        ),
        (
            json!({"repository": "acme/deployer?x=1", "workflow": "deploy.yml"}),
            "repository",
        ),
        (
            json!({"repository": "acme/deployer", "workflow": "../../other-org/prod/actions/workflows/deploy.yml"}),
            "workflow",
        ),
        (
            json!({"repository": "acme/deployer", "workflow": "deploy.yml", "ref": "main/../../x"}),
            "ref",
        ),
    ] {
        let e =
            pao::action::github_workflow::dispatch(&g.worker.github, &token, &config, "req-h-1-1")
                .await
                .expect_err("refused")
                .to_string();
        assert!(
            e.starts_with(&format!("invalid configuration: {field} ")),
            "{config}: {e}"
        );
    }
    for (branch, base) in [
        ("pao/../../heads/main", "main"),
        ("pao/x", "main?y"),
        ("-f", "main"),
    ] {
        let config = json!({"repository": "acme/gitops", "branch": branch, "baseBranch": base,
            "message": "m", "files": [{"path": "a.txt", "content": "a"}]});
        let e = pao::action::github_commit::commit(&g.worker.github, &token, &config, "req-h-0-1")
            .await
            .expect_err("refused")
            .to_string();
        assert!(e.contains("is not a git ref name"), "{branch} {base}: {e}");
    }
    assert_eq!(g.github.calls(), before, "a hostile name reached GitHub");
    // Through a request: the namespace is rendered into the branch, so `..` fails the task.
    let id = submit(&g, "../../main").await;
    let done = drain_until(&g.env, &g.worker, &id, ended).await;
    assert_eq!(done.request.state, RequestState::Failed);
    let error = done.tasks[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("branch \"pao/ns-../../main\" is not a git ref name"),
        "{error}"
    );
    assert_eq!(g.github.calls(), before, "a hostile name reached GitHub");
    // A character git allows in a ref (`%`, `#`) is encoded into the path: the branch made is
    // the one named, not one its text decodes to.
    let config = json!({"repository": "acme/gitops", "branch": "pao/50%2e#x", "baseBranch": "main",
        "message": "m", "files": [{"path": "a.txt", "content": "a"}]});
    let made = pao::action::github_commit::commit(&g.worker.github, &token, &config, "req-h-0-2")
        .await
        .expect("committed");
    assert_eq!(made.result["branch"], json!("pao/50%2e#x"));
    let dir = g.github.repository_dir("acme/gitops").expect("repository");
    let found = std::process::Command::new("git")
        .args(["rev-parse", "--verify", "--quiet", "refs/heads/pao/50%2e#x"])
        .current_dir(&dir)
        .output()
        .expect("git");
    assert!(found.status.success(), "branch pao/50%2e#x was not made");
    g.env.cleanup().await;
}

/// A webhook target's 5xx and silence fail the delivery with the target's answer.
#[tokio::test]
async fn webhook_failures_name_the_answer() {
    let env = TestEnv::new().await;
    let stand_in = pao_local::http_standin::HttpStandIn::start(0)
        .await
        .expect("stand-in");
    let out = pao::action::http::Outbound::new(pao::action::http::Allowed::parse("127.0.0.1"));
    let secrets =
        pao::secrets::SecretCache::new(env.secrets.clone(), std::time::Duration::from_secs(60));
    let config =
        json!({"url": format!("{}/hooks/chat", stand_in.base_url()), "payload": {"text": "hi"}});
    stand_in.fail_with(Some((502, "bad gateway upstream")));
    let e = pao::action::webhook::deliver(
        &out,
        &secrets,
        &pao::secrets::CatalogSecrets {
            prefix: env.stack.config.catalog_secret_prefix.clone(),
        },
        &config,
        "k-1",
        std::time::Duration::from_secs(2),
        &[],
    )
    .await
    .expect_err("5xx");
    assert!(
        e.to_string().contains("answered 502: bad gateway upstream"),
        "{e}"
    );
    stand_in.fail_with(None);
    stand_in.delay(std::time::Duration::from_secs(3));
    let e = pao::action::webhook::deliver(
        &out,
        &secrets,
        &pao::secrets::CatalogSecrets {
            prefix: env.stack.config.catalog_secret_prefix.clone(),
        },
        &config,
        "k-2",
        std::time::Duration::from_secs(1),
        &[],
    )
    .await
    .expect_err("timeout");
    assert!(e.to_string().contains("no answer within 1 seconds"), "{e}");
    env.cleanup().await;
}

/// Issue 23 point 4: a batch redelivered while a `github-workflow` task waits on its run
/// leaves it waiting (it used to be failed as interrupted), and the run still concludes it.
#[tokio::test]
async fn a_redelivered_batch_leaves_a_waiting_task_waiting() {
    let g = setup().await;
    let id = submit(&g, "redelivered").await;
    let d = drain_until(&g.env, &g.worker, &id, waiting).await;
    let message = pao::queue::TaskMessage::for_task(&d.tasks[1], "corr-redelivered");
    let record = pao::worker::Record {
        message_id: "redelivered-1".into(),
        body: serde_json::to_string(&message).expect("body"),
        group_id: Some(id.to_string()),
        receipt_handle: None,
    };
    let failed = g.worker.process_batch(&[record], None).await;
    assert_eq!(failed, Vec::<String>::new());
    let after = drain_until(&g.env, &g.worker, &id, |_| true).await;
    assert_eq!(after.tasks[1].state, TaskState::Processing);
    assert_eq!(after.tasks[1].error, None);
    assert_eq!(
        after.clone().shown().request.state,
        RequestState::Processing
    );
    let run = run_of(&g, &after);
    g.github.complete_run(run.id, "success").await;
    let (status, answer) = deliver_run(&g, run.id).await;
    assert_eq!(status, 200, "{answer}");
    let done = drain_until(&g.env, &g.worker, &id, ended).await;
    assert_eq!(done.request.state, RequestState::Completed);
    g.env.cleanup().await;
}
