//! Approvals: the rules a catalog item's `approval.stages` and `access.requesters` state,
//! how decisions count, and where a request's approval stands ([`Approval`], pinned on the
//! request at submission with the stages that apply). Pure logic: the API decides through
//! [`Approval::decide`], the sweeper through [`Approval::due`]; the store writes the result.
//!
//! A group of principals (`approvers`, `escalateTo`, `requesters`) is named by IAM ARN
//! patterns (`*` and `?` as IAM's `ArnLike`; a session is named by its role, as operators are,
//! [`crate::principal::matches`]) and/or principal tags (every tag listed must
//! match; a tag may allow several values). A principal belongs to the group when it matches
//! one of the ARN patterns or all of the tags. A stage needs `any` one approval, `all` of its
//! named principals (ARNs without a wildcard only: a wildcard or a tag group has no "all"), or
//! a number of them. The requester never decides their own request, and one principal decides
//! a stage once; a rejection ends the stage.

mod parse;
mod progress;

pub use parse::{MAX_STAGES, parse_stages};
pub use progress::{Approval, Due, Outcome};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A principal as PAO knows it: its ARN, its unique id and its tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    pub arn: String,
    /// The principal's unique id (`AROA…:session`, `AIDA…`), what ownership is keyed on.
    pub id: Option<String>,
    pub tags: BTreeMap<String, String>,
}

/// A group of principals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arns: Vec<String>,
    /// Tag key → the values it may have (one of them).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, Vec<String>>,
}

/// How many of a stage's approvers must approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Value", try_from = "Value")]
pub enum Require {
    Any,
    All,
    AtLeast(u32),
}

impl From<Require> for Value {
    fn from(r: Require) -> Value {
        match r {
            Require::Any => Value::from("any"),
            Require::All => Value::from("all"),
            Require::AtLeast(n) => Value::from(n),
        }
    }
}

impl TryFrom<Value> for Require {
    type Error = String;
    fn try_from(v: Value) -> Result<Self, String> {
        match &v {
            Value::String(s) if s == "any" => Ok(Self::Any),
            Value::String(s) if s == "all" => Ok(Self::All),
            Value::Number(n) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n >= 1)
                .map(Self::AtLeast)
                .ok_or_else(|| "is any, all or a number of approvals (1 or more)".into()),
            _ => Err("is any, all or a number of approvals (1 or more)".into()),
        }
    }
}

impl std::fmt::Display for Require {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Any => f.write_str("any"),
            Self::All => f.write_str("all"),
            Self::AtLeast(n) => write!(f, "{n}"),
        }
    }
}

/// What a stage's timeout does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnTimeout {
    #[default]
    Reject,
    /// The stage's `escalateTo` group decides from then on.
    Escalate,
}

/// One approval stage, as the catalog states it (durations in seconds once parsed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    pub id: String,
    pub approvers: Group,
    pub require: Require,
    /// A template; the stage applies only when it renders `true`. Decided at submission,
    /// so the stage a request pins has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    #[serde(default)]
    pub on_timeout: OnTimeout,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_to: Option<Group>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_after_seconds: Option<u64>,
}

/// One principal's decision on a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub stage: String,
    pub arn: String,
    pub approve: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub at: String,
}

/// Where a stage stands given its decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// `approvals` so far of `needed` (for `all`: of the named principals).
    Pending {
        approvals: u32,
        needed: u32,
    },
    Approved,
    /// Ended by this rejection.
    Rejected(Decision),
}

/// Why a caller may not decide a stage: the rule, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the requester never approves or rejects their own request")]
    OwnRequest,
    #[error("{caller} is not an approver of stage {stage:?}: {rule}")]
    NotAnApprover {
        caller: String,
        stage: String,
        rule: String,
    },
    #[error("{caller} has already decided stage {stage:?}")]
    AlreadyDecided { caller: String, stage: String },
}

impl Group {
    /// Whether `caller` belongs: one of the ARN patterns, or every tag.
    pub fn admits(&self, caller: &Caller) -> bool {
        let by_arn = self
            .arns
            .iter()
            .any(|p| crate::principal::matches(p, &caller.arn));
        let by_tags = !self.tags.is_empty()
            && self.tags.iter().all(|(k, values)| {
                caller
                    .tags
                    .get(k)
                    .is_some_and(|v| values.iter().any(|w| w == v))
            });
        by_arn || by_tags
    }

    /// The principals `all` means: ARNs without a wildcard; None when the group has a
    /// wildcard or tags (it has no fixed membership).
    pub fn named(&self) -> Option<&[String]> {
        let fixed = self.tags.is_empty()
            && !self.arns.is_empty()
            && self.arns.iter().all(|a| !a.contains(['*', '?']));
        fixed.then_some(self.arns.as_slice())
    }

    /// The group in words, for refusals and the approval's view.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.arns.is_empty() {
            parts.push(format!("an ARN like {}", self.arns.join(" or ")));
        }
        if !self.tags.is_empty() {
            let tags: Vec<String> = self
                .tags
                .iter()
                .map(|(k, v)| format!("{k}={}", v.join("|")))
                .collect();
            parts.push(format!("the tags {}", tags.join(", ")));
        }
        if parts.is_empty() {
            "nobody".into()
        } else {
            parts.join(", or ")
        }
    }

    /// Reads a group (`{arns: [...], tags: {k: v | [v...]}}`); errors name the key.
    pub fn parse(value: &Value) -> Result<Self, (String, String)> {
        let Some(object) = value.as_object() else {
            return Err((String::new(), "is {arns: [...], tags: {...}}".into()));
        };
        if let Some(unknown) = object.keys().find(|k| *k != "arns" && *k != "tags") {
            return Err((
                unknown.clone(),
                "is not a key of a group (arns, tags)".into(),
            ));
        }
        let arns = match object.get("arns") {
            None => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .filter(|s| s.starts_with("arn:") && !s.contains("{{"))
                        .map(str::to_string)
                        .ok_or((
                            "arns".to_string(),
                            "holds IAM ARN patterns (arn:…, * and ? allowed)".to_string(),
                        ))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(("arns".into(), "is a list of IAM ARN patterns".into())),
        };
        let mut tags = BTreeMap::new();
        match object.get("tags") {
            None => {}
            Some(Value::Object(t)) => {
                for (k, v) in t {
                    let values = match v {
                        Value::String(s) => vec![s.clone()],
                        Value::Array(a) if !a.is_empty() => a
                            .iter()
                            .map(|x| x.as_str().map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                            .ok_or((
                                format!("tags.{k}"),
                                "is a value or a list of values".to_string(),
                            ))?,
                        _ => {
                            return Err((
                                format!("tags.{k}"),
                                "is a value or a list of values".into(),
                            ));
                        }
                    };
                    tags.insert(k.clone(), values);
                }
            }
            Some(_) => return Err(("tags".into(), "is a map of tag keys to values".into())),
        }
        if arns.is_empty() && tags.is_empty() {
            return Err((
                String::new(),
                "names no one: give arns, tags or both".into(),
            ));
        }
        Ok(Self { arns, tags })
    }
}

impl Stage {
    /// Whether `caller` may decide this stage now, for a request made by `requester`, given
    /// the decisions so far; `escalated`: the stage timed out to its `escalateTo` group.
    pub fn may_decide(
        &self,
        caller: &Caller,
        requester: &Caller,
        decisions: &[Decision],
        escalated: bool,
    ) -> Result<(), Refusal> {
        let same = match (&caller.id, &requester.id) {
            (Some(a), Some(b)) => a == b,
            _ => caller.arn == requester.arn,
        };
        if same {
            return Err(Refusal::OwnRequest);
        }
        let group = match (&self.escalate_to, escalated) {
            (Some(to), true) => to,
            _ => &self.approvers,
        };
        if !group.admits(caller) {
            return Err(Refusal::NotAnApprover {
                caller: caller.arn.clone(),
                stage: self.id.clone(),
                rule: format!("needs {}", group.describe()),
            });
        }
        if decisions
            .iter()
            .any(|d| d.stage == self.id && d.arn == caller.arn)
        {
            return Err(Refusal::AlreadyDecided {
                caller: caller.arn.clone(),
                stage: self.id.clone(),
            });
        }
        Ok(())
    }

    /// Where the stage stands given every decision recorded (others' stages ignored).
    pub fn standing(&self, decisions: &[Decision]) -> Standing {
        let mine: Vec<&Decision> = decisions.iter().filter(|d| d.stage == self.id).collect();
        if let Some(no) = mine.iter().find(|d| !d.approve) {
            return Standing::Rejected((*no).clone());
        }
        let approvers: Vec<&str> = mine.iter().map(|d| d.arn.as_str()).collect();
        let approvals = approvers.len() as u32;
        let (done, needed) = match self.require {
            Require::Any => (approvals >= 1, 1),
            Require::AtLeast(n) => (approvals >= n, n),
            Require::All => {
                let named = self.approvers.named().unwrap_or_default();
                let approved = named
                    .iter()
                    .filter(|a| approvers.contains(&a.as_str()))
                    .count() as u32;
                return if !named.is_empty() && approved == named.len() as u32 {
                    Standing::Approved
                } else {
                    Standing::Pending {
                        approvals: approved,
                        needed: named.len() as u32,
                    }
                };
            }
        };
        if done {
            Standing::Approved
        } else {
            Standing::Pending { approvals, needed }
        }
    }
}

/// The longest comment a decision keeps (characters).
pub const MAX_COMMENT: usize = 2000;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn caller(arn: &str, tags: &[(&str, &str)]) -> Caller {
        Caller {
            arn: arn.into(),
            id: None,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn stage(approvers: Value, require: Require) -> Stage {
        Stage {
            id: "dba".into(),
            approvers: Group::parse(&approvers).expect("group"),
            require,
            when: None,
            timeout_seconds: None,
            on_timeout: OnTimeout::Reject,
            escalate_to: Some(
                Group::parse(&json!({"tags": {"team": "platform-leads"}})).expect("group"),
            ),
            remind_after_seconds: None,
        }
    }

    fn decided(arn: &str, approve: bool) -> Decision {
        Decision {
            stage: "dba".into(),
            arn: arn.into(),
            approve,
            comment: None,
            at: "2026-12-06T10:00:00Z".into(),
        }
    }

    const DANA: &str = "arn:aws:sts::111122223333:assumed-role/DBA/dana@example.com";
    const OMAR: &str = "arn:aws:sts::111122223333:assumed-role/DBA/omar@example.com";
    const DEV: &str = "arn:aws:sts::111122223333:assumed-role/Developer/dev@example.com";

    #[test]
    fn arn_patterns_match_as_iam_does() {
        let g = |p: &str| Group::parse(&json!({"arns": [p]})).expect("group");
        assert!(g("arn:aws:sts::*:assumed-role/DBA/*").admits(&caller(DANA, &[])));
        assert!(!g("arn:aws:sts::*:assumed-role/DBA/*").admits(&caller(DEV, &[])));
        // A session is named by its role, with or without the role's path.
        assert!(g("arn:aws:iam::111122223333:role/DBA").admits(&caller(DANA, &[])));
        assert!(g("arn:aws:iam::111122223333:role/teams/data/DBA").admits(&caller(DANA, &[])));
        assert!(!g("arn:aws:iam::111122223333:role/DBA").admits(&caller(DEV, &[])));
    }

    #[test]
    fn a_group_admits_by_arn_or_by_every_tag() {
        let g = Group::parse(&json!({"arns": ["arn:aws:sts::*:assumed-role/DBA/*"],
                                     "tags": {"team": "dba", "level": ["senior", "lead"]}}))
        .expect("group");
        assert!(g.admits(&caller(DANA, &[])));
        assert!(g.admits(&caller(DEV, &[("team", "dba"), ("level", "lead")])));
        assert!(!g.admits(&caller(DEV, &[("team", "dba")])));
        assert!(!g.admits(&caller(DEV, &[("team", "dba"), ("level", "junior")])));
        assert_eq!(g.named(), None);
        assert_eq!(
            Group::parse(&json!({})).map_err(|e| e.1),
            Err("names no one: give arns, tags or both".into())
        );
        assert_eq!(
            Group::parse(&json!({"arns": ["{{.current.x}}"]})).map_err(|e| e.0),
            Err("arns".into())
        );
        assert_eq!(
            Group::parse(&json!({"users": []})).map_err(|e| e.0),
            Err("users".into())
        );
    }

    #[test]
    fn the_requester_never_decides_and_each_approver_once() {
        let s = stage(
            json!({"arns": ["arn:aws:sts::*:assumed-role/DBA/*"]}),
            Require::Any,
        );
        let dana = caller(DANA, &[]);
        assert_eq!(
            s.may_decide(&dana, &dana, &[], false),
            Err(Refusal::OwnRequest)
        );
        let dev = caller(DEV, &[]);
        assert!(matches!(
            s.may_decide(&dev, &dana, &[], false),
            Err(Refusal::NotAnApprover { .. })
        ));
        assert_eq!(s.may_decide(&dana, &dev, &[], false), Ok(()));
        assert!(matches!(
            s.may_decide(&dana, &dev, &[decided(DANA, true)], false),
            Err(Refusal::AlreadyDecided { .. })
        ));
        // After a timeout that escalates, the escalation group decides instead.
        let lead = caller(
            DEV.replace("Developer", "Lead").as_str(),
            &[("team", "platform-leads")],
        );
        assert_eq!(s.may_decide(&lead, &dev, &[], true), Ok(()));
        assert!(s.may_decide(&dana, &dev, &[], true).is_err());
        let refusal = s.may_decide(&dev, &dana, &[], false).expect_err("refused");
        assert!(
            refusal
                .to_string()
                .contains("needs an ARN like arn:aws:sts::*:assumed-role/DBA/*"),
            "{refusal}"
        );
    }

    #[test]
    fn any_all_and_n_of_m_count_as_stated() {
        let any = stage(
            json!({"arns": ["arn:aws:sts::*:assumed-role/DBA/*"]}),
            Require::Any,
        );
        assert_eq!(
            any.standing(&[]),
            Standing::Pending {
                approvals: 0,
                needed: 1
            }
        );
        assert_eq!(any.standing(&[decided(DANA, true)]), Standing::Approved);
        let two = stage(json!({"tags": {"team": "dba"}}), Require::AtLeast(2));
        assert_eq!(
            two.standing(&[decided(DANA, true)]),
            Standing::Pending {
                approvals: 1,
                needed: 2
            }
        );
        assert_eq!(
            two.standing(&[decided(DANA, true), decided(OMAR, true)]),
            Standing::Approved
        );
        let all = stage(json!({"arns": [DANA, OMAR]}), Require::All);
        assert_eq!(all.approvers.named().map(<[String]>::len), Some(2));
        assert_eq!(
            all.standing(&[decided(DANA, true)]),
            Standing::Pending {
                approvals: 1,
                needed: 2
            }
        );
        assert_eq!(
            all.standing(&[decided(OMAR, true), decided(DANA, true)]),
            Standing::Approved
        );
        // One rejection ends the stage, whatever else was said.
        assert_eq!(
            two.standing(&[decided(DANA, true), decided(OMAR, false)]),
            Standing::Rejected(decided(OMAR, false))
        );
        // Decisions on other stages do not count.
        let mut other = decided(DANA, true);
        other.stage = "finance".into();
        assert_eq!(
            any.standing(&[other]),
            Standing::Pending {
                approvals: 0,
                needed: 1
            }
        );
    }

    #[test]
    fn stages_parse_as_the_catalog_states_them() {
        let stages = parse_stages(&json!({"stages": [{
            "id": "dba",
            "approvers": {"arns": ["arn:aws:sts::*:assumed-role/DBA/*"], "tags": {"team": "dba"}},
            "require": "any",
            "when": "{{ .current.basic.environment == 'prod' }}",
            "timeout": "P2D", "onTimeout": "escalate",
            "escalateTo": {"tags": {"team": "platform-leads"}},
            "remindAfter": "PT8H"
        }, {"id": "finance", "approvers": {"arns": [DANA, OMAR]}, "require": 2}]}))
        .expect("stages");
        assert_eq!(stages[0].timeout_seconds, Some(172_800));
        assert_eq!(stages[0].remind_after_seconds, Some(28_800));
        assert_eq!(stages[0].on_timeout, OnTimeout::Escalate);
        assert_eq!(stages[1].require, Require::AtLeast(2));
        // Pinned on a request and read back, a stage is the same.
        let stored: Vec<Stage> =
            serde_json::from_value(serde_json::to_value(&stages).expect("json")).expect("back");
        assert_eq!(stored, stages);
        let problems = |v: Value| {
            parse_stages(&json!({"stages": [v]}))
                .expect_err("refused")
                .into_iter()
                .map(|(k, p)| format!("{k}: {p}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let all =
            problems(json!({"id": "a", "approvers": {"tags": {"team": "dba"}}, "require": "all"}));
        assert!(
            all.contains("stages[0].require: all needs approvers named by ARNs"),
            "{all}"
        );
        let wild = problems(
            json!({"id": "a", "approvers": {"arns": ["arn:aws:iam::1:role/*"]}, "require": "all"}),
        );
        assert!(wild.contains("stages[0].require"), "{wild}");
        let many = problems(json!({"id": "a", "approvers": {"arns": [DANA]}, "require": 2}));
        assert!(
            many.contains("asks for 2 approvals of 1 named approvers"),
            "{many}"
        );
        let esc = problems(
            json!({"id": "a", "approvers": {"arns": [DANA]}, "timeout": "P1D", "onTimeout": "escalate"}),
        );
        assert!(
            esc.contains("stages[0].escalateTo: names who decides"),
            "{esc}"
        );
        let orphan =
            problems(json!({"id": "a", "approvers": {"arns": [DANA]}, "onTimeout": "reject"}));
        assert!(
            orphan.contains("stages[0].onTimeout: needs a timeout"),
            "{orphan}"
        );
        let late = problems(
            json!({"id": "a", "approvers": {"arns": [DANA]}, "timeout": "PT1H", "remindAfter": "PT2H"}),
        );
        assert!(
            late.contains("stages[0].remindAfter: comes before the timeout"),
            "{late}"
        );
        let years = problems(json!({"id": "a", "approvers": {"arns": [DANA]}, "timeout": "P1Y"}));
        assert!(years.contains("stages[0].timeout"), "{years}");
        let nobody = problems(json!({"id": "a"}));
        assert!(nobody.contains("stages[0].approvers"), "{nobody}");
        let twice = parse_stages(&json!({"stages": [
            {"id": "a", "approvers": {"arns": [DANA]}}, {"id": "a", "approvers": {"arns": [OMAR]}}]}))
        .expect_err("refused");
        assert_eq!(twice[0].0, "stages[1].id");
    }

    #[test]
    fn an_approval_moves_stage_by_stage_and_times_out_once() {
        let first = stage(
            json!({"arns": ["arn:aws:sts::*:assumed-role/DBA/*"]}),
            Require::Any,
        );
        let mut second = stage(json!({"arns": [DANA, OMAR]}), Require::All);
        second.id = "owners".into();
        second.timeout_seconds = Some(100);
        second.on_timeout = OnTimeout::Escalate;
        second.remind_after_seconds = Some(50);
        let dev = caller(DEV, &[]);
        let mut a = Approval::start(vec![first, second], 1000).expect("stages");
        assert_eq!(Approval::start(vec![], 0), None);
        let at = |t: u64| ("2026-12-07T00:00:00Z".to_string(), t);
        assert_eq!(
            a.decide(&caller(DANA, &[]), &dev, true, None, at(1010)),
            Ok(Outcome::NextStage("owners".into()))
        );
        assert_eq!(a.since, 1010);
        assert_eq!(a.due(1059), None);
        assert_eq!(a.due(1060), Some(Due::Remind));
        a.apply(Due::Remind, 1060);
        assert_eq!(a.due(1100), None, "a reminder is recorded once");
        assert_eq!(a.due(1110), Some(Due::Escalate));
        a.apply(Due::Escalate, 1110);
        assert!(a.escalated);
        assert_eq!(a.due(1150), None);
        assert_eq!(
            a.due(1210),
            Some(Due::Reject),
            "the escalation's own timeout rejects"
        );
        // The escalation group decides now; DBAs do not.
        assert!(
            a.decide(&caller(OMAR, &[]), &dev, true, None, at(1120))
                .is_err()
        );
        let lead = caller(
            DEV.replace("Developer", "Lead").as_str(),
            &[("team", "platform-leads")],
        );
        assert_eq!(
            a.decide(&lead, &dev, false, Some("no".into()), at(1130)),
            Ok(Outcome::Rejected)
        );
        assert_eq!(a.version, 4);
        // An escalation group's approval settles an `all` stage by itself.
        let mut b = Approval::start(vec![stage(json!({"arns": [DANA, OMAR]}), Require::All)], 0)
            .expect("stage");
        b.stages[0].timeout_seconds = Some(10);
        b.stages[0].on_timeout = OnTimeout::Escalate;
        b.apply(Due::Escalate, 10);
        assert_eq!(
            b.decide(&lead, &dev, true, None, at(11)),
            Ok(Outcome::Approved)
        );
    }
}
