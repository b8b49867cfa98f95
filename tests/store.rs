//! The DynamoDB store against the local AWS endpoint: one transaction per submission,
//! conditional state changes, the caller's requests newest first, TTL on read.

use pao::catalog::Target;
use pao::catalog::{ActionType, FulfillmentItem};
use pao::clock::Now;
use pao::record::{Principal, RequestId, RequestRecord, TaskRecord};
use pao::request::RequestState;
use pao::store::tasks::Completion;
use pao::store::{Change, CursorKey, Read, StoreError};
use pao::task::TaskState;
use pao_system_tests::TestEnv;
use serde_json::{Map, json};

const ALICE: &str = "arn:aws:sts::000000000000:assumed-role/Developer/alice@example.com";

/// Alice as a caller whose unique id was not recorded (the ARN decides).
fn alice() -> Principal {
    Principal {
        arn: ALICE.into(),
        email: None,
        id: None,
    }
}
const BOB: &str = "arn:aws:sts::000000000000:assumed-role/Developer/bob@example.com";

fn request(user: &str, created_at: &str, tasks: u32) -> (RequestRecord, Vec<TaskRecord>) {
    let id = RequestId::generate();
    let request = RequestRecord {
        request_id: id.clone(),
        submission_id: "sub-1".into(),
        state: RequestState::Submitted,
        target: Target::CatalogItem("sample-item".into()),
        catalog_version: "1.0.0".into(),
        catalog_commit: None,
        name: "my-request".into(),
        user: Principal {
            arn: user.into(),
            email: None,
            id: None,
        },
        input: json!({"name": "my-request", "basic": {"secret": "********"}}),
        correlation_id: "corr-1".into(),
        total_tasks: tasks,
        completed_tasks: 0,
        created_at: created_at.into(),
        updated_at: created_at.into(),
        error: None,
        call_print: None,
        escalation_until: None,
        sealed_fields: Vec::new(),
        approval: None,
        team: None,
        notify: None,
    };
    let tasks = (0..tasks)
        .map(|seq| TaskRecord {
            request_id: id.clone(),
            seq,
            state: TaskState::Pending,
            catalog_item_id: "sample-item".into(),
            component: None,
            item: FulfillmentItem {
                id: format!("step{seq}"),
                name: None,
                action: ActionType::JiraTicket,
                config: json!({"project": "OPS", "summary": "s", "fields": {"n": 1}}),
                outputs: Map::new(),
                timeout_seconds: None,
            },
            current: json!({"name": "my-request"}),
            password_paths: vec![],
            password_sources: Default::default(),
            metadata: Map::new(),
            attempt: 1,
            outputs: Map::new(),
            external_ref: None,
            error: None,
            created_at: created_at.into(),
            updated_at: created_at.into(),
            started_at: None,
            finished_at: None,
            overdue_since: None,
            attempts: Vec::new(),
        })
        .collect();
    (request, tasks)
}

const NOW: u64 = 1_795_426_200;

#[tokio::test]
async fn a_submission_is_one_transaction_and_one_query() {
    let env = TestEnv::new().await;
    let store = env.store();
    let (req, tasks) = request(ALICE, "2026-11-23T09:00:00Z", 3);
    store
        .create_request(&req, &tasks, None)
        .await
        .expect("created");

    let detail = store
        .get_request(&req.request_id, &Now::at(NOW), Read::Strong)
        .await
        .expect("query")
        .expect("found");
    assert_eq!(detail.request, req);
    assert_eq!(detail.tasks, tasks);
    assert_eq!(detail.events.len(), 1);
    assert_eq!(detail.events[0].kind, "submitted");

    // The same request again (its tasks changed, one more) conflicts and writes nothing:
    // the tasks it would overwrite are as they were, the new ones and the event not there.
    let (_, mut changed) = request(ALICE, "2026-11-23T09:00:00Z", 4);
    for t in &mut changed {
        t.request_id = req.request_id.clone();
        t.attempt = 7;
    }
    let err = store
        .create_request(&req, &changed, None)
        .await
        .expect_err("duplicate");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let again = store
        .get_request(&req.request_id, &Now::at(NOW), Read::Strong)
        .await
        .expect("query")
        .expect("found");
    assert_eq!(again.tasks, tasks);
    assert_eq!(again.events.len(), 1);

    assert!(
        store
            .get_request(&RequestId::generate(), &Now::at(NOW), Read::Strong)
            .await
            .expect("query")
            .is_none()
    );
    env.cleanup().await;
}

#[tokio::test]
async fn state_changes_are_conditional_on_the_state_they_leave() {
    let env = TestEnv::new().await;
    let store = env.store();
    let (req, tasks) = request(ALICE, "2026-11-23T09:00:00Z", 2);
    store
        .create_request(&req, &tasks, None)
        .await
        .expect("created");
    let id = &req.request_id;
    let t = &Now::at(NOW + 1);

    store
        .transition_task(id, 0, TaskState::Pending, TaskState::Queued, t, vec![])
        .await
        .expect("queued");
    // A duplicate delivery trying the same change loses.
    let err = store
        .transition_task(id, 0, TaskState::Pending, TaskState::Queued, t, vec![])
        .await
        .expect_err("dup");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    // A change the state machine forbids is never sent.
    let err = store
        .transition_task(
            id,
            0,
            TaskState::Completed,
            TaskState::Processing,
            t,
            vec![],
        )
        .await
        .expect_err("illegal");
    assert!(matches!(err, StoreError::IllegalTransition { .. }), "{err}");

    store
        .transition_request(
            id,
            (RequestState::Submitted, RequestState::Processing),
            &Now::at(NOW),
            vec![],
            false,
        )
        .await
        .expect("processing");
    store
        .transition_task(
            id,
            0,
            TaskState::Queued,
            TaskState::Processing,
            t,
            vec![Change::StartedAt(t.rfc3339.clone())],
        )
        .await
        .expect("processing");
    let task = store.get_task(id, 0).await.expect("get").expect("found");
    assert_eq!(task.state, TaskState::Processing);
    assert_eq!(task.started_at.as_deref(), Some(t.rfc3339.as_str()));

    // The last task completes the request and sets its TTL.
    let second_task = store.get_task(id, 1).await.expect("get").expect("found");
    let done = Completion {
        outputs: json!({"ticket": "OPS-1"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        external_ref: None,
    };
    store
        .complete_task(&task, &done, Some(&second_task), &Now::at(NOW), &[], false)
        .await
        .expect("completed");
    let err = store
        .complete_task(&task, &done, Some(&second_task), &Now::at(NOW), &[], false)
        .await
        .expect_err("twice");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let detail = store
        .get_request(id, &Now::at(NOW), Read::Strong)
        .await
        .expect("query")
        .expect("found");
    // Progress is counted from the tasks (the request is not written until it ends).
    assert_eq!(detail.clone().shown().request.completed_tasks, 1);
    assert_eq!(detail.tasks[0].outputs.get("ticket"), Some(&json!("OPS-1")));

    // Completing task 0 queued task 1 in the same transaction.
    assert_eq!(detail.tasks[1].state, TaskState::Queued);
    store
        .transition_task(id, 1, TaskState::Queued, TaskState::Processing, t, vec![])
        .await
        .expect("processing");
    let last = store.get_task(id, 1).await.expect("get").expect("found");
    store
        .complete_task(
            &last,
            &Completion::default(),
            None,
            &Now::at(NOW),
            &[],
            false,
        )
        .await
        .expect("completed");
    let detail = store
        .get_request(id, &Now::at(NOW), Read::Strong)
        .await
        .expect("query")
        .expect("found");
    assert_eq!(detail.request.state, RequestState::Completed);
    assert_eq!(detail.request.completed_tasks, 2);

    // Once its retention has passed, a finished request is gone for readers.
    let later = NOW + pao::store::KEEP_COMPLETED_SECS + 1;
    assert!(
        store
            .get_request(id, &Now::at(later), Read::Strong)
            .await
            .expect("query")
            .is_none()
    );
    env.cleanup().await;
}

#[tokio::test]
async fn my_requests_newest_first_with_cursor_and_state_filter() {
    let env = TestEnv::new().await;
    let store = env.store();
    let mut ids = Vec::new();
    for minute in 0..5 {
        let (req, tasks) = request(ALICE, &format!("2026-11-23T09:0{minute}:00Z"), 1);
        store
            .create_request(&req, &tasks, None)
            .await
            .expect("created");
        ids.push(req.request_id);
    }
    let (bobs, tasks) = request(BOB, "2026-11-23T09:09:00Z", 1);
    store
        .create_request(&bobs, &tasks, None)
        .await
        .expect("created");
    let key = CursorKey::new("test-key");

    let first = store
        .list_requests(&alice(), None, 2, None, &key, &Now::at(NOW))
        .await
        .expect("page 1");
    let seen: Vec<&RequestId> = first.items.iter().map(|r| &r.request_id).collect();
    assert_eq!(seen, [&ids[4], &ids[3]]);
    let cursor = first.next_cursor.expect("more pages");
    let second = store
        .list_requests(&alice(), None, 10, Some(&cursor), &key, &Now::at(NOW))
        .await
        .expect("page 2");
    let seen: Vec<&RequestId> = second.items.iter().map(|r| &r.request_id).collect();
    assert_eq!(seen, [&ids[2], &ids[1], &ids[0]]);

    store
        .transition_request(
            &ids[1],
            (RequestState::Submitted, RequestState::Processing),
            &Now::at(NOW),
            vec![],
            false,
        )
        .await
        .expect("processing");
    let processing = store
        .list_requests(
            &alice(),
            Some(RequestState::Processing),
            10,
            None,
            &key,
            &Now::at(NOW),
        )
        .await
        .expect("filtered");
    assert_eq!(processing.items.len(), 1);
    assert_eq!(processing.items[0].request_id, ids[1]);

    assert!(matches!(
        store
            .list_requests(
                &alice(),
                None,
                10,
                Some("not-a-cursor"),
                &key,
                &Now::at(NOW)
            )
            .await,
        Err(StoreError::BadCursor)
    ));
    env.cleanup().await;
}

/// A snapshot that loses the race for the pointer is never seen, and leaves nothing behind:
/// its documents are set to expire.
#[tokio::test]
async fn a_snapshot_that_loses_the_pointer_expires() {
    let env = TestEnv::new().await;
    let store = env.store();
    let now = Now::at(NOW);
    let doc = |file: &str| pao::catalog::SourceDoc {
        file: file.into(),
        text: "kind: CatalogItem".into(),
        owners: vec![],
    };
    store
        .put_catalog("v1", &[doc("catalog/a.yaml")], &now)
        .await
        .expect("first snapshot");
    let late = pao::catalog::sync::Snapshot {
        version: "v2".into(),
        sources: vec![doc("catalog/a.yaml"), doc("catalog/b.yaml")],
        ..Default::default()
    };
    let err = store
        .put_snapshot(&late, Some("v0"), &now)
        .await
        .expect_err("the pointer moved on");
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert_eq!(
        store
            .snapshot_info()
            .await
            .expect("read")
            .map(|i| i.version),
        Some("v1".to_string())
    );
    let leftovers: Vec<String> = pao_system_tests::dump_table(&env)
        .await
        .into_iter()
        .filter(|i| i.contains("CATALOG#v2"))
        .collect();
    assert_eq!(leftovers.len(), 2);
    assert!(
        leftovers.iter().all(|i| i.contains("expiresAt")),
        "{leftovers:?}"
    );
    env.cleanup().await;
}
