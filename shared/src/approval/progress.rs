//! A request's approval as it goes: the stages pinned at submission, decisions stage by
//! stage ([`Approval::decide`]), and what the sweeper must do when a stage waits too long
//! ([`Approval::due`], [`Approval::apply`]).

use super::{Caller, Decision, Group, OnTimeout, Refusal, Stage, Standing};
use serde::{Deserialize, Serialize};

/// A request's approval: the stages that applied at submission, in order, and where they
/// stand. Kept on the request; every change is written conditionally on `version`, so of two
/// deciders (or sweepers) acting on the same state one wins and the other reads again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub stages: Vec<Stage>,
    /// The stage deciding now (== `stages.len()` once every stage approved).
    pub current: usize,
    /// When the current stage began (epoch seconds): its timeout and reminder count from it.
    pub since: u64,
    /// The current stage timed out to its `escalateTo` group.
    #[serde(default)]
    pub escalated: bool,
    /// The current stage's reminder is recorded.
    #[serde(default)]
    pub reminded: bool,
    #[serde(default)]
    pub decisions: Vec<Decision>,
    #[serde(default)]
    pub version: u32,
}

/// What one decision did to the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Counted; the stage still waits for more.
    Counted { approvals: u32, needed: u32 },
    /// The stage approved; the next one decides now.
    NextStage(String),
    /// The last stage approved: the request runs.
    Approved,
    /// The request is rejected.
    Rejected,
}

/// What the sweeper must do to an approval now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// The stage timed out and rejects (or its escalation timed out too).
    Reject,
    /// The stage timed out to its `escalateTo` group.
    Escalate,
    /// Remind the stage's approvers (recorded once per stage).
    Remind,
}

impl Approval {
    /// The approval of a request whose applicable `stages` are given; None when none apply.
    pub fn start(stages: Vec<Stage>, now: u64) -> Option<Self> {
        (!stages.is_empty()).then_some(Self {
            stages,
            current: 0,
            since: now,
            escalated: false,
            reminded: false,
            decisions: Vec::new(),
            version: 0,
        })
    }

    /// The stage deciding now, if any.
    pub fn stage(&self) -> Option<&Stage> {
        self.stages.get(self.current)
    }

    /// The group that decides the current stage now.
    pub fn deciders(&self) -> Option<&Group> {
        let stage = self.stage()?;
        Some(match (&stage.escalate_to, self.escalated) {
            (Some(to), true) => to,
            _ => &stage.approvers,
        })
    }

    /// Whether `caller` belongs to any stage's group (approvers or escalation): who may look
    /// at the approval besides its owner and support.
    pub fn concerns(&self, caller: &Caller) -> bool {
        self.stages.iter().any(|s| {
            s.approvers.admits(caller) || s.escalate_to.as_ref().is_some_and(|g| g.admits(caller))
        })
    }

    /// Whether any group names tags (deciding who belongs needs the caller's IAM tags).
    pub fn reads_tags(&self) -> bool {
        self.stages.iter().any(|s| {
            !s.approvers.tags.is_empty()
                || s.escalate_to.as_ref().is_some_and(|g| !g.tags.is_empty())
        })
    }

    /// Records `caller`'s decision on the current stage and moves on when it settles it.
    pub fn decide(
        &mut self,
        caller: &Caller,
        requester: &Caller,
        approve: bool,
        comment: Option<String>,
        at: (String, u64),
    ) -> Result<Outcome, Refusal> {
        let Some(stage) = self.stage().cloned() else {
            return Err(Refusal::AlreadyDecided {
                caller: caller.arn.clone(),
                stage: "(every stage)".into(),
            });
        };
        stage.may_decide(caller, requester, &self.decisions, self.escalated)?;
        self.decisions.push(Decision {
            stage: stage.id.clone(),
            arn: caller.arn.clone(),
            approve,
            comment,
            at: at.0,
        });
        self.version += 1;
        // After a timeout escalated the stage, one decision of the escalation group settles
        // it (its `require` counted the stage's own approvers).
        if self.escalated {
            return Ok(if approve {
                self.next_stage(at.1)
            } else {
                Outcome::Rejected
            });
        }
        Ok(match stage.standing(&self.decisions) {
            Standing::Pending { approvals, needed } => Outcome::Counted { approvals, needed },
            Standing::Rejected(_) => Outcome::Rejected,
            Standing::Approved => self.next_stage(at.1),
        })
    }

    fn next_stage(&mut self, now: u64) -> Outcome {
        self.current += 1;
        self.since = now;
        self.escalated = false;
        self.reminded = false;
        match self.stage() {
            Some(next) => Outcome::NextStage(next.id.clone()),
            None => Outcome::Approved,
        }
    }

    /// What is due on the current stage at `now`, the earliest first: its timeout (to reject
    /// or to escalate; an escalated stage's own timeout, counted again from the escalation,
    /// rejects), else its reminder.
    pub fn due(&self, now: u64) -> Option<Due> {
        let stage = self.stage()?;
        if let Some(t) = stage.timeout_seconds
            && now >= self.since.saturating_add(t)
        {
            return Some(match (stage.on_timeout, self.escalated) {
                (OnTimeout::Escalate, false) => Due::Escalate,
                _ => Due::Reject,
            });
        }
        match stage.remind_after_seconds {
            Some(r) if !self.reminded && now >= self.since.saturating_add(r) => Some(Due::Remind),
            _ => None,
        }
    }

    /// Applies what [`Approval::due`] said (`now` starts an escalation's clock).
    pub fn apply(&mut self, due: Due, now: u64) {
        match due {
            Due::Escalate => {
                self.escalated = true;
                self.reminded = false;
                self.since = now;
            }
            Due::Remind => self.reminded = true,
            Due::Reject => {}
        }
        self.version += 1;
    }

    /// The current stage's count so far, as `(approvals, needed)`.
    pub fn progress(&self) -> Option<(u32, u32)> {
        match self.stage()?.standing(&self.decisions) {
            Standing::Pending { approvals, needed } => Some((approvals, needed)),
            _ => None,
        }
    }
}
