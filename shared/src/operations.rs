//! What operators see and mend (the `/queue` routes, `devctl queue`): queue statistics, the
//! tasks waiting on the queue, the dead-letter queue, and redriving dead letters back to the
//! task queue.
//!
//! A redrive sends the dead letter's task message to the task queue under a new
//! deduplication id (the same one if the redrive is repeated, so a crash halfway never sends
//! it twice), puts a task the sweeper had marked `stuck` back in play (its request from
//! `failed` back to `processing`), then deletes the dead letter. The worker treats the message
//! like any delivery: a task that has since run or moved on is left alone.

use crate::clock::{Now, epoch_of, rfc3339};
use crate::queue::dead_letters::{DeadLetter, DeadLetters, Held};
use crate::queue::{self, Queue, QueueCounts, QueueError, TaskMessage};
use crate::record::{Event, RequestDetail, RequestId, TaskRecord};
use crate::store::{CursorKey, Page, Read, Store, StoreError};
use crate::task::TaskState;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum OperationsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// No such dead letter (already redriven, or gone).
    #[error("{0}")]
    NotFound(String),
    /// A dead letter whose body is not a task message cannot go back to the task queue.
    #[error("dead letter {0} is not a task message; it was left in the dead-letter queue")]
    NotATask(String),
}

/// `GET /queue/stats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueStats {
    pub task_queue: QueueCounts,
    pub dead_letter_queue: QueueCounts,
    pub tasks: TaskCounts,
    pub last5_minutes: Finished,
    pub last60_minutes: Finished,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskCounts {
    pub queued: u64,
    pub processing: u64,
    pub stuck: u64,
    /// When the task queued longest entered the queue, and how long ago (seconds).
    pub oldest_queued_since: Option<String>,
    pub oldest_queued_age_seconds: Option<u64>,
}

/// Tasks that ended in a window (counted by the state they are in now).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finished {
    pub completed: u64,
    pub failed: u64,
}

/// Reads the statistics: queue attributes from SQS, everything else from the table, all at
/// once.
pub async fn stats(
    store: &Store,
    tasks: &Queue,
    dead: &DeadLetters,
    now: &Now,
) -> Result<QueueStats, OperationsError> {
    let since = |minutes: u64| rfc3339(now.epoch.saturating_sub(minutes * 60));
    let (since5, since60) = (since(5), since(60));
    let (task_queue, dead_letter_queue) = tokio::try_join!(
        queue::counts(tasks.client(), tasks.url()),
        queue::counts(tasks.client(), dead.url()),
    )?;
    let (queued, running, waiting, stuck, oldest) = tokio::try_join!(
        store.count_tasks(TaskState::Queued),
        store.count_tasks(TaskState::Processing),
        store.count_waiting(),
        store.count_tasks(TaskState::Stuck),
        store.oldest_task(TaskState::Queued),
    )?;
    // Tasks waiting on a workflow run are `processing` too (indexed under a key of their own).
    let processing = running + waiting;
    let oldest = oldest.map(|t| t.updated_at);
    let (completed5, failed5, completed60, failed60) = tokio::try_join!(
        store.count_ended(TaskState::Completed, &since5, &now.rfc3339),
        store.count_ended(TaskState::Failed, &since5, &now.rfc3339),
        store.count_ended(TaskState::Completed, &since60, &now.rfc3339),
        store.count_ended(TaskState::Failed, &since60, &now.rfc3339),
    )?;
    let age = oldest
        .as_deref()
        .and_then(epoch_of)
        .map(|t| now.epoch.saturating_sub(t));
    Ok(QueueStats {
        task_queue,
        dead_letter_queue,
        tasks: TaskCounts {
            queued,
            processing,
            stuck,
            oldest_queued_since: oldest,
            oldest_queued_age_seconds: age,
        },
        last5_minutes: Finished {
            completed: completed5,
            failed: failed5,
        },
        last60_minutes: Finished {
            completed: completed60,
            failed: failed60,
        },
    })
}

/// A task that has (or had) a message on the task queue, as operators see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedTask {
    pub request_id: RequestId,
    pub seq: u32,
    pub catalog_item_id: String,
    #[serde(rename = "type")]
    pub action: String,
    pub attempt: u32,
    pub state: TaskState,
    /// When it entered its state.
    pub since: String,
    pub age_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl QueuedTask {
    pub fn of(task: &TaskRecord, now: &Now) -> Self {
        Self {
            request_id: task.request_id.clone(),
            seq: task.seq,
            catalog_item_id: task.catalog_item_id.clone(),
            action: task.item.action.as_str().to_string(),
            attempt: task.attempt,
            state: task.state,
            since: task.updated_at.clone(),
            age_seconds: epoch_of(&task.updated_at).map(|t| now.epoch.saturating_sub(t)),
            error: task.error.clone(),
        }
    }
}

/// Which tasks an operator lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskList {
    /// Tasks in a state (queued: waiting on the queue; processing: received, running; stuck),
    /// longest there first.
    In(TaskState),
    /// Tasks waiting on a workflow run (`processing`), least recently polled first.
    WaitingOnRuns,
}

/// One page of the tasks `list` names.
pub async fn tasks_in(
    store: &Store,
    list: TaskList,
    limit: i32,
    cursor: Option<&str>,
    key: &CursorKey,
    now: &Now,
) -> Result<Page<QueuedTask>, OperationsError> {
    let page = match list {
        TaskList::In(state) => store.tasks_page(state, limit, cursor, key).await?,
        TaskList::WaitingOnRuns => store.waiting_page(limit, cursor, key).await?,
    };
    Ok(Page {
        items: page.items.iter().map(|t| QueuedTask::of(t, now)).collect(),
        next_cursor: page.next_cursor,
    })
}

/// The tasks of one request that are on the queue or held up there (queued, processing,
/// stuck); `None` if there is no such request.
pub async fn tasks_of(
    store: &Store,
    id: &RequestId,
    now: &Now,
) -> Result<Option<(RequestDetail, Vec<QueuedTask>)>, OperationsError> {
    let Some(detail) = store.get_request(id, now, Read::Strong).await? else {
        return Ok(None);
    };
    let tasks = detail
        .tasks
        .iter()
        .filter(|t| {
            matches!(
                t.state,
                TaskState::Queued | TaskState::Processing | TaskState::Stuck
            )
        })
        .map(|t| QueuedTask::of(t, now))
        .collect();
    Ok(Some((detail, tasks)))
}

/// What a redrive did with one dead letter.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Redriven {
    pub message_id: String,
    pub request_id: RequestId,
    pub seq: u32,
    pub attempt: u32,
    /// The task's state after the redrive (`None`: the request is gone).
    pub task_state: Option<TaskState>,
    /// The message id on the task queue.
    pub new_message_id: String,
}

/// Redrives dead letter `message_id` on behalf of `operator` (an ARN, for the audit event).
pub async fn redrive(
    store: &Store,
    tasks: &Queue,
    dead: &DeadLetters,
    message_id: &str,
    operator: &str,
) -> Result<Redriven, OperationsError> {
    let held = dead.take(message_id).await?.ok_or_else(|| {
        OperationsError::NotFound(format!(
            "no dead letter {message_id}: it was redriven already, or is gone"
        ))
    })?;
    match redrive_held(store, tasks, dead, &held, operator).await {
        Ok(done) => Ok(done),
        Err(e) => {
            // Visible again at once rather than after the hold, for the next attempt.
            let _ = dead.release_held(std::slice::from_ref(&held)).await;
            Err(e)
        }
    }
}

/// Every dead letter redriven, in queue order (so in order per request). A dead letter that
/// cannot be redriven holds back the later ones of its request, not other requests'. Work
/// stops at `budget` (the API answers within API Gateway's 29 s): what is left stays in the
/// dead-letter queue, counted in `remaining`, for the next call.
pub async fn redrive_all(
    store: &Store,
    tasks: &Queue,
    dead: &DeadLetters,
    operator: &str,
    budget: std::time::Duration,
) -> Result<RedriveAll, OperationsError> {
    let started = std::time::Instant::now();
    let held = dead.take_all().await?;
    let mut report = RedriveAll::default();
    let mut blocked: Vec<Option<String>> = Vec::new();
    let mut left: Vec<Held> = Vec::new();
    for h in held {
        let group = h.letter.group_id.clone();
        if group.is_some() && blocked.contains(&group) {
            left.push(h);
            continue;
        }
        if started.elapsed() >= budget {
            report.remaining += 1;
            left.push(h);
            continue;
        }
        match redrive_held(store, tasks, dead, &h, operator).await {
            Ok(done) => report.redriven.push(done),
            Err(e) => {
                report.failed.push(NotRedriven {
                    message_id: h.letter.message_id.clone(),
                    error: e.to_string(),
                });
                blocked.push(group);
                left.push(h);
            }
        }
    }
    dead.release_held(&left).await?;
    Ok(report)
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RedriveAll {
    pub redriven: Vec<Redriven>,
    pub failed: Vec<NotRedriven>,
    /// Left for another call: the time budget ran out first.
    pub remaining: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotRedriven {
    pub message_id: String,
    pub error: String,
}

async fn redrive_held(
    store: &Store,
    tasks: &Queue,
    dead: &DeadLetters,
    held: &Held,
    operator: &str,
) -> Result<Redriven, OperationsError> {
    let letter: &DeadLetter = &held.letter;
    let message = letter
        .task
        .clone()
        .ok_or_else(|| OperationsError::NotATask(letter.message_id.clone()))?;
    let task_state = put_back(store, &message, letter, operator).await?;
    let new_message_id = tasks
        .enqueue_as(
            &message,
            &message.redrive_deduplication_id(&letter.message_id),
        )
        .await?;
    dead.delete(held).await?;
    tracing::info!(
        message_id = %letter.message_id,
        request_id = %message.request_id,
        seq = message.seq,
        operator,
        "dead letter redriven"
    );
    Ok(Redriven {
        message_id: letter.message_id.clone(),
        request_id: message.request_id.clone(),
        seq: message.seq,
        attempt: message.attempt,
        task_state,
        new_message_id,
    })
}

/// Puts the dead letter's task back in play if the sweeper had given it up (stuck), and
/// records the redrive on the request. Returns the task's state after.
async fn put_back(
    store: &Store,
    message: &TaskMessage,
    letter: &DeadLetter,
    operator: &str,
) -> Result<Option<TaskState>, OperationsError> {
    let now = Now::current();
    let Some(detail) = store
        .get_request(&message.request_id, &now, Read::Strong)
        .await?
    else {
        return Ok(None);
    };
    let Some(task) = detail.tasks.iter().find(|t| t.seq == message.seq) else {
        return Ok(None);
    };
    let event = Event::about(
        task,
        "dead-letter-redriven",
        format!(
            "dead letter {} of task {} (attempt {}) redriven by {operator}",
            letter.message_id, task.seq, message.attempt
        ),
    );
    if task.state == TaskState::Stuck && task.attempt == message.attempt {
        let to = store
            .redrive_task(&detail.request, task, &now, &event)
            .await?;
        return Ok(Some(to));
    }
    store.append_event(&task.request_id, &event).await?;
    Ok(Some(task.state))
}

/// Who is an operator: principals listed by ARN (`PAO_OPERATOR_PRINCIPALS`), or carrying the
/// IAM tag `PAO_OPERATOR_TAG`. The same rule as the template's API Gateway resource policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Operators {
    principals: Vec<String>,
    tag: Option<(String, String)>,
}

impl Operators {
    /// From the config's comma-separated ARNs and `key=value` tag (either may be empty).
    pub fn new(principals: &str, tag: &str) -> Self {
        Self {
            principals: crate::config::comma_list(principals),
            tag: tag
                .split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string())),
        }
    }

    /// The gateway's rule, which sees the caller's tags: listed, or tagged.
    pub fn admit(&self, caller_arn: &str, tags: &[(String, String)]) -> bool {
        self.listed(caller_arn)
            || self
                .tag
                .as_ref()
                .is_some_and(|(k, v)| tags.iter().any(|(tk, tv)| tk == k && tv == v))
    }

    /// The API's rule, which sees the ARN but not the tags: listed; or, when operators may be
    /// admitted by tag, a caller of the API's own account whom the gateway let through (it
    /// checked the tag: only IAM can). A principal of another account is never an operator by
    /// tag, whatever tags its own account lets it set; `home_account` unknown admits no one
    /// by tag.
    pub fn admit_at_api(&self, caller_arn: &str, home_account: Option<&str>) -> bool {
        self.listed(caller_arn)
            || (self.tag.is_some()
                && home_account
                    .is_some_and(|home| crate::principal::account_of(caller_arn) == Some(home)))
    }

    /// Whether `caller_arn` matches a listed ARN (`*` matches any run of characters, as in
    /// IAM's `ArnLike`). An assumed-role session matches its role's ARN, whatever the role's
    /// path: the gateway compares `aws:PrincipalArn` (the role ARN with its path, such as IAM
    /// Identity Center's `role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_…`), while the
    /// function sees only the session ARN, which has no path; a role's name is unique in its
    /// account, so the listed ARN without its path names the same role.
    pub fn listed(&self, caller_arn: &str) -> bool {
        self.principals
            .iter()
            .any(|p| crate::principal::matches(p, caller_arn))
    }

    /// Whether a tag admits anyone.
    pub fn by_tag(&self) -> bool {
        self.tag.is_some()
    }

    /// How the rule reads, for a 403.
    pub fn describe(&self) -> String {
        let mut ways = Vec::new();
        if !self.principals.is_empty() {
            ways.push(format!("be one of {}", self.principals.join(", ")));
        }
        if let Some((k, v)) = &self.tag {
            ways.push(format!("carry the IAM tag {k}={v}"));
        }
        if ways.is_empty() {
            "no operators are configured (template parameters OperatorPrincipals, OperatorTagValue)"
                .into()
        } else {
            format!("operators {}", ways.join(" or "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::{account_of, arn_like, principal_arn};

    const SESSION: &str = "arn:aws:sts::000000000000:assumed-role/PlatformOps/ops@example.com";
    const HOME: &str = "000000000000";

    #[test]
    fn a_role_admits_its_sessions_and_wildcards_match() {
        assert_eq!(
            principal_arn(SESSION),
            "arn:aws:iam::000000000000:role/PlatformOps"
        );
        let ops = Operators::new("arn:aws:iam::000000000000:role/PlatformOps", "");
        assert!(ops.listed(SESSION));
        assert!(ops.admit_at_api(SESSION, None));
        assert!(!ops.listed("arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com"));
        assert!(!ops.admit_at_api("arn:aws:iam::000000000000:user/alice", Some(HOME)));
        let wild = Operators::new(" arn:aws:iam::*:role/Platform* ", "");
        assert!(wild.listed(SESSION));
        assert!(!Operators::default().listed(SESSION));
    }

    #[test]
    fn arn_patterns_match_as_iam_does_in_bounded_time() {
        assert!(arn_like(
            "arn:aws:iam::*:role/Platform*",
            "arn:aws:iam::1:role/PlatformOps"
        ));
        assert!(arn_like("a?c", "abc"));
        assert!(!arn_like("a?c", "ac"));
        assert!(arn_like("*", ""));
        assert!(arn_like("a*b*c", "axxbyyc"));
        assert!(!arn_like("a*b*c", "axxbyy"));
        assert!(!arn_like(
            "arn:aws:iam::1:role/Ops",
            "arn:aws:iam::1:role/Ops2"
        ));
        // Many stars against a long caller-chosen ARN that almost matches: the recursive
        // matcher this replaced would not finish this case (2000^30 paths).
        let pattern = format!("{}b", "*a".repeat(30));
        assert!(!arn_like(&pattern, &"a".repeat(2000)));
    }

    #[test]
    fn a_role_listed_with_its_path_admits_its_sessions() {
        // IAM Identity Center roles live under a path; their sessions' ARNs carry none.
        let sso = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Ops_0123456789abcdef";
        let session = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Ops_0123456789abcdef/alice@example.com";
        let ops = Operators::new(sso, "");
        assert!(ops.listed(session));
        assert!(ops.admit_at_api(session, None));
        // The gateway sees the role ARN itself (aws:PrincipalArn) and admits it too.
        assert!(ops.listed(sso));
        assert!(!ops.listed(
            "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Dev_0123456789abcdef/bob@example.com"
        ));
        assert!(!ops.listed(
            "arn:aws:sts::999999999999:assumed-role/AWSReservedSSO_Ops_0123456789abcdef/eve@example.com"
        ));
        let wild = Operators::new(
            "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_Ops_*",
            "",
        );
        assert!(wild.listed(session));
        // A user's ARN carries its path in both places.
        let user = Operators::new("arn:aws:iam::123456789012:user/platform/alice", "");
        assert!(user.listed("arn:aws:iam::123456789012:user/platform/alice"));
        assert!(!user.listed("arn:aws:iam::123456789012:user/alice"));
    }

    #[test]
    fn the_tag_admits_at_the_gateway_and_the_api_trusts_it() {
        let ops = Operators::new("", "pao-role=operator");
        let tagged = [("pao-role".to_string(), "operator".to_string())];
        let other = [("pao-role".to_string(), "developer".to_string())];
        assert!(ops.admit(SESSION, &tagged));
        assert!(!ops.admit(SESSION, &other));
        assert!(!ops.admit(SESSION, &[]));
        // The function admits by tag only a caller of its own account (defence in depth: the
        // gateway checked the tag; another account's principal may set its own tags).
        assert!(ops.admit_at_api(SESSION, Some(HOME)));
        assert!(!ops.admit_at_api(
            "arn:aws:sts::999999999999:assumed-role/PlatformOps/eve@example.com",
            Some(HOME)
        ));
        assert!(!ops.admit_at_api(SESSION, None));
        assert!(!Operators::new("", "").admit_at_api(SESSION, Some(HOME)));
        assert_eq!(account_of(SESSION), Some(HOME));
        assert_eq!(account_of("arn:aws:s3:::bucket"), None);
        assert!(ops.describe().contains("pao-role=operator"));
    }
}
