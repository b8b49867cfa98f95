//! Fulfillment tasks: one per fulfillment item of a request, run strictly in order. This
//! module owns the task's states and which changes between them are allowed; the store makes
//! every change a conditional write on the state it leaves.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Written with its request; not yet on the queue.
    Pending,
    /// On the queue (only a request's next task ever is).
    Queued,
    /// A worker is running its action.
    Processing,
    Completed,
    Failed,
    /// Never ran: its request was aborted or escalated first.
    Skipped,
    /// Queued or processing for too long; set by the sweeper.
    Stuck,
    /// Handed to people: a JIRA ticket of an escalation holds it.
    Escalated,
}

impl TaskState {
    pub const ALL: [TaskState; 8] = [
        Self::Pending,
        Self::Queued,
        Self::Processing,
        Self::Completed,
        Self::Failed,
        Self::Skipped,
        Self::Stuck,
        Self::Escalated,
    ];

    /// The one place that says which task state changes are allowed.
    pub fn can_become(self, next: TaskState) -> bool {
        use TaskState::*;
        matches!(
            (self, next),
            (Pending, Queued)
                | (Queued, Processing)
                | (Processing, Completed)
                | (Processing, Failed)
                | (Queued | Processing, Stuck)
                // A human retries a failed or stuck task: it goes back on the queue.
                | (Failed | Stuck, Queued)
                // An operator redrives the dead letter of a stuck task that had started: the
                // worker's recovery then finds what it did (never runs it blind).
                | (Stuck, Processing)
                // Abort or escalation: what has not run never will.
                | (Pending | Queued | Failed | Stuck, Skipped)
                | (Pending | Queued | Failed | Stuck, Escalated)
        )
    }

    /// The changes only a person's explicit retry `fromTask` makes: a completed (or failed)
    /// task runs again as a new attempt. Kept apart from [`TaskState::can_become`], which no
    /// message, redelivery or sweep can ever use to run a completed task again.
    pub fn can_restart(self, next: TaskState) -> bool {
        use TaskState::*;
        matches!(
            (self, next),
            (Completed | Failed | Stuck | Pending, Queued) | (Completed | Failed | Stuck, Pending)
        )
    }

    /// No further change happens without a human.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Skipped | Self::Escalated)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::Stuck => "stuck",
            Self::Escalated => "escalated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::TaskState::*;
    use super::*;

    #[test]
    fn the_happy_path_is_allowed() {
        assert!(Pending.can_become(Queued));
        assert!(Queued.can_become(Processing));
        assert!(Processing.can_become(Completed));
    }

    #[test]
    fn nothing_moves_backwards_or_reruns() {
        assert!(!Completed.can_become(Processing));
        assert!(!Completed.can_become(Queued));
        assert!(!Processing.can_become(Queued));
        assert!(!Processing.can_become(Processing));
        assert!(!Skipped.can_become(Queued));
        for s in TaskState::ALL {
            assert!(!s.can_become(Pending), "{s} -> pending");
            assert!(!Completed.can_become(s), "completed -> {s}");
        }
    }

    #[test]
    fn only_an_explicit_restart_runs_a_completed_task_again() {
        assert!(Completed.can_restart(Queued));
        assert!(Completed.can_restart(Pending));
        assert!(!Processing.can_restart(Queued));
        assert!(!Skipped.can_restart(Queued));
        assert!(!Escalated.can_restart(Pending));
    }

    #[test]
    fn round_trips_its_name() {
        for s in TaskState::ALL {
            assert_eq!(TaskState::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).ok(),
                Some(serde_json::json!(s.as_str()))
            );
        }
    }
}
