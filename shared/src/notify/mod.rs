//! Telling people what needs them, from the events of [`crate::events`]: the requester when
//! a request completes, fails (what failed, and the three decisions open to them), is
//! rejected (an approver said no, or its approval timed out); the approvers when a stage waits
//! for them (requested, escalated to them, reminded); the support group when a task is stuck
//! or its ticket overdue.
//!
//! Where a request's notices go is its catalog item's (or bundle's) `metadata.notify`, pinned
//! on the request at submission, over the stack's defaults ([`Defaults`], template
//! parameters). Channels: Slack ([`slack`]: a channel, or the requester looked up by email)
//! and email through Amazon SES ([`email`]). Each notice goes once per event and recipient
//! (marks `SENT#<recipient>` on the event, written after the send), and a channel that fails
//! is logged and skipped: it never holds a request or the stream.

pub mod email;
pub mod rules;
pub mod slack;

pub use rules::{Audience, Notice, notice_of};

use crate::events::Event;
use serde_json::Value;

/// Who is told where, for one request: the item's `metadata.notify` over the stack's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    /// `slack` and/or `email`: the requester directly (Slack by their email, or email).
    pub requester: Vec<String>,
    pub approvers: Target,
    pub support: Target,
}

/// A group's Slack channel and email addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    pub slack: Option<String>,
    pub email: Vec<String>,
}

/// The stack's defaults (`PAO_NOTIFY_*`).
pub type Defaults = Routes;

impl From<&crate::config::NotifyDefaults> for Routes {
    fn from(d: &crate::config::NotifyDefaults) -> Self {
        Self {
            requester: d.requester.clone(),
            approvers: Target {
                slack: d.approvers_slack.clone(),
                email: d.approvers_email.clone(),
            },
            support: Target {
                slack: d.support_slack.clone(),
                email: d.support_email.clone(),
            },
        }
    }
}

impl Routes {
    /// `notify` (a catalog item's `metadata.notify`) over `defaults`: what it names replaces
    /// the default for that audience.
    pub fn of(notify: Option<&Value>, defaults: &Defaults) -> Self {
        let mut routes = defaults.clone();
        let Some(n) = notify.and_then(Value::as_object) else {
            return routes;
        };
        if let Some(list) = n.get("requester").and_then(Value::as_array) {
            routes.requester = list
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
        }
        for (key, target) in [
            ("approvers", &mut routes.approvers),
            ("support", &mut routes.support),
        ] {
            if let Some(t) = n.get(key).and_then(Value::as_object) {
                *target = Target {
                    slack: t.get("slack").and_then(Value::as_str).map(str::to_string),
                    email: t
                        .get("email")
                        .and_then(Value::as_array)
                        .map(|l| {
                            l.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                };
            }
        }
        routes
    }

    /// Where a notice for `audience` goes; `requester_email` is the requester's (from the
    /// request), without which the requester cannot be reached.
    pub fn recipients(&self, audience: Audience, requester_email: Option<&str>) -> Vec<Recipient> {
        let group = |t: &Target| {
            t.slack
                .iter()
                .map(|c| Recipient::SlackChannel(c.clone()))
                .chain(t.email.iter().map(|e| Recipient::Email(e.clone())))
                .collect()
        };
        match audience {
            Audience::Requester => {
                let Some(email) = requester_email.filter(|e| e.contains('@')) else {
                    return Vec::new();
                };
                self.requester
                    .iter()
                    .filter_map(|c| match c.as_str() {
                        "slack" => Some(Recipient::SlackUser(email.to_string())),
                        "email" => Some(Recipient::Email(email.to_string())),
                        _ => None,
                    })
                    .collect()
            }
            Audience::Approvers => group(&self.approvers),
            Audience::Support => group(&self.support),
        }
    }
}

/// One place a notice is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Recipient {
    SlackChannel(String),
    /// A Slack user found by their email (`users.lookupByEmail`), sent a direct message.
    SlackUser(String),
    Email(String),
}

impl Recipient {
    /// The mark that says this recipient was sent an event's notice.
    pub fn mark(&self) -> String {
        match self {
            Self::SlackChannel(c) => format!("SENT#slack#{c}"),
            Self::SlackUser(e) => format!("SENT#slack-user#{e}"),
            Self::Email(e) => format!("SENT#email#{e}"),
        }
    }
}

/// What telling one recipient did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Sent,
    /// Marked sent already (a redelivered event).
    Already,
    /// The channel is not set up (no Slack token, no sender address).
    Off,
    Failed(String),
}

/// Sends notices on every channel configured.
#[derive(Debug, Clone)]
pub struct Notifier {
    pub store: crate::store::Store,
    pub defaults: Defaults,
    pub slack: slack::Slack,
    pub email: email::Email,
}

impl Notifier {
    /// The notifier of a deployment, keeping its marks in `store` (the events function's).
    pub fn from_config(
        config: &crate::config::Config,
        sdk: &crate::aws::SdkConfig,
        store: crate::store::Store,
    ) -> Self {
        let secrets = std::sync::Arc::new(crate::secrets::SecretCache::new(
            aws_sdk_secretsmanager::Client::new(sdk),
            config.secret_cache,
        ));
        Self {
            store,
            defaults: Routes::from(&config.notify),
            slack: slack::Slack::new(secrets, &config.slack_secret_id, &config.slack_api_url),
            email: email::Email::new(sdk, &config.notify_from),
        }
    }

    /// Tells everyone `event` concerns: each recipient and what happened. Never fails: a
    /// channel that does is logged and left.
    pub async fn notify(&self, event: &Event, request: Option<&Value>) -> Vec<(Recipient, Sent)> {
        let Some(notice) = notice_of(event) else {
            return Vec::new();
        };
        let routes = Routes::of(request.and_then(|r| r.get("notify")), &self.defaults);
        let email = request
            .and_then(|r| r.pointer("/user/email"))
            .and_then(Value::as_str);
        let recipients = routes.recipients(notice.audience, email);
        let mut out = Vec::with_capacity(recipients.len());
        for r in recipients {
            let sent = self.send_once(&event.id, &notice, &r).await;
            match &sent {
                Sent::Failed(e) => {
                    tracing::warn!(event_id = %event.id, recipient = ?r, error = %e, "a notice could not be sent; the request goes on")
                }
                Sent::Sent => {
                    tracing::info!(event_id = %event.id, recipient = ?r, audience = ?notice.audience, "notice sent")
                }
                _ => {}
            }
            out.push((r, sent));
        }
        out
    }

    async fn send_once(&self, event_id: &str, notice: &Notice, r: &Recipient) -> Sent {
        let mark = r.mark();
        let ids = [event_id.to_string()];
        match self.store.marked(&ids, &mark).await {
            Ok(done) if done.contains(event_id) => return Sent::Already,
            Ok(_) => {}
            Err(e) => return Sent::Failed(format!("reading what was sent: {e}")),
        }
        let sent = match r {
            Recipient::SlackChannel(c) => self.slack.post(c, notice).await,
            Recipient::SlackUser(email) => self.slack.post_to_user(email, notice).await,
            Recipient::Email(to) => self.email.send(to, notice).await,
        };
        if sent == Sent::Sent
            && let Err(e) = self.store.mark(&ids, &mark).await
        {
            tracing::warn!(error = %e, "a notice was sent but could not be marked: a redelivery would send it again");
        }
        sent
    }
}
