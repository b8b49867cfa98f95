//! The sweeper's part in approvals: a stage's `timeout` rejects the request or hands the
//! stage to its `escalateTo` group, and its `remindAfter` records a reminder (for the
//! notification issue to deliver), each exactly once. Every change is written only if the
//! approval is still the version the sweeper read, so of two sweepers (or a sweeper and an
//! approver) one acts and the other skips.

use super::{SweepError, SweepReport, Sweeper};
use crate::approval::{Approval, Due};
use crate::clock::{Now, format_duration};
use crate::record::Event;
use crate::request::RequestState;
use crate::store::{Read, StoreError};

/// Pages of every shard one run reads at most (100 requests per shard per page).
const ROUNDS: usize = 10;

impl Sweeper {
    pub(super) async fn approvals(
        &self,
        now: &Now,
        report: &mut SweepReport,
    ) -> Result<(), SweepError> {
        let mut before: Option<String> = None;
        for _ in 0..ROUNDS {
            let page = self
                .store
                .pending_approvals(before.as_deref(), 100, now)
                .await?;
            for (_, seen) in &page.requests {
                let Some(due) = seen.approval.as_ref().and_then(|a| a.due(now.epoch)) else {
                    continue;
                };
                match self.act(&seen.request_id, due, now).await? {
                    true => {
                        let id = seen.request_id.to_string();
                        match due {
                            Due::Reject => report.approvals_timed_out.push(id),
                            Due::Escalate => report.approvals_escalated.push(id),
                            Due::Remind => report.approvals_reminded.push(id),
                        }
                    }
                    false => report.skipped += 1,
                }
            }
            match page.boundary {
                Some(b) => before = Some(b),
                None => return Ok(()),
            }
        }
        tracing::warn!(
            "more requests await approval than one sweep reads: the oldest wait for the next run"
        );
        Ok(())
    }

    /// Applies what is due on the request as it is now; false when someone acted first.
    async fn act(
        &self,
        id: &crate::record::RequestId,
        due: Due,
        now: &Now,
    ) -> Result<bool, SweepError> {
        let Some(d) = self.store.get_request(id, now, Read::Strong).await? else {
            return Ok(false);
        };
        let r = &d.request;
        let Some(read) = r.approval.as_ref() else {
            return Ok(false);
        };
        if r.state != RequestState::AwaitingApproval || read.due(now.epoch) != Some(due) {
            return Ok(false);
        }
        let mut approval = read.clone();
        let event = event_of(read, due, now);
        approval.apply(due, now.epoch);
        let to = match due {
            Due::Reject => RequestState::Rejected,
            Due::Escalate | Due::Remind => RequestState::AwaitingApproval,
        };
        match self
            .store
            .record_approval(r, &d.tasks, &approval, to, &event, now)
            .await
        {
            Ok(()) => {
                tracing::info!(request_id = %r.request_id, kind = %event.kind, "{}", event.message);
                Ok(true)
            }
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// The audit event of what is due, in words.
fn event_of(approval: &Approval, due: Due, now: &Now) -> Event {
    let stage = approval.stage();
    let id = stage.map(|s| s.id.as_str()).unwrap_or_default();
    let waited = format_duration(now.epoch.saturating_sub(approval.since));
    let deciders = approval
        .deciders()
        .map(|g| g.describe())
        .unwrap_or_default();
    let (kind, message) = match due {
        Due::Reject => (
            "approval-timed-out",
            format!(
                "stage {id:?} timed out after {waited} without a decision{}: the request is rejected",
                if approval.escalated {
                    " (after its escalation)"
                } else {
                    ""
                }
            ),
        ),
        Due::Escalate => (
            "approval-escalated",
            format!(
                "stage {id:?} timed out after {waited} without a decision: escalated to {}, who decide from now",
                stage
                    .and_then(|s| s.escalate_to.as_ref())
                    .map(|g| g.describe())
                    .unwrap_or_default()
            ),
        ),
        Due::Remind => (
            "approval-reminder",
            format!("reminder: stage {id:?} has waited {waited} for {deciders}"),
        ),
    };
    Event {
        at: now.rfc3339.clone(),
        kind: kind.into(),
        message,
        task_seq: None,
    }
}
