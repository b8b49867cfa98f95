//! What the events function pushes to live connections: each event to the subscribers of its
//! request (or of the catalog), each notice to the subscribers of notices it concerns (the
//! requester, the people who may decide the stage, support), through API Gateway's
//! management API ([`crate::live::push`]); a connection the gateway reports gone is dropped
//! with its subscriptions.

use crate::approval::{Caller, Group};
use crate::events::{DetailType, Event};
use crate::live::push::{PushError, Pusher};
use crate::live::{Subscriber, Topic};
use crate::notify::{Audience, Notice};
use serde_json::{Value, json};
use std::collections::HashMap;

/// What a subscriber of a request or the catalog is sent for an event.
pub fn event_message(e: &Event) -> Value {
    json!({"type": "event", "detailType": e.detail_type.as_str(), "time": e.time, "detail": e.detail})
}

/// What a subscriber of notices is sent.
pub fn notice_message(n: &Notice, e: &Event) -> Value {
    json!({"type": "notice", "eventId": e.id, "requestId": e.request_id, "subject": n.subject, "text": n.text})
}

/// The topics an event is pushed to.
pub fn topics_of(e: &Event) -> Vec<Topic> {
    match (&e.request_id, e.detail_type) {
        (_, DetailType::CatalogChanged) => vec![Topic::Catalog],
        (Some(id), _) => vec![Topic::Request(id.clone())],
        (None, _) => Vec::new(),
    }
}

/// Whether a notice for `audience` is `sub`'s: the requester's own request, a stage they may
/// decide (`deciders`, from the event), support's.
pub fn wants_notice(
    sub: &Subscriber,
    audience: Audience,
    requester: Option<&str>,
    deciders: Option<&Group>,
) -> bool {
    match audience {
        Audience::Requester => requester == Some(sub.arn.as_str()),
        Audience::Approvers => deciders.is_some_and(|g| {
            requester != Some(sub.arn.as_str())
                && g.admits(&Caller {
                    arn: sub.arn.clone(),
                    id: sub.caller_id.clone(),
                    tags: sub.tags.clone(),
                })
        }),
        Audience::Support => sub.support,
    }
}

/// Pushes to subscribers, reading each topic's subscribers once per batch.
#[derive(Debug, Clone)]
pub struct Broadcaster {
    pub store: crate::store::Store,
    pub pusher: Pusher,
}

/// What one batch pushed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pushed {
    pub messages: usize,
    pub dropped: usize,
}

impl Broadcaster {
    /// The broadcaster of a deployment, reading subscriptions from `store`.
    pub fn from_config(
        config: &crate::config::Config,
        sdk: &crate::aws::SdkConfig,
        store: crate::store::Store,
    ) -> Self {
        Self {
            store,
            pusher: Pusher::new(sdk, &config.live_endpoint),
        }
    }

    /// Pushes `events` (each to its topics) and `notices` (each with the event it is about
    /// and the request's owner) to whoever subscribed.
    pub async fn push(
        &self,
        events: &[Event],
        notices: &[(Event, Notice, Option<String>)],
    ) -> Pushed {
        let mut pushed = Pushed::default();
        if !self.pusher.configured() {
            return pushed;
        }
        let mut cache: HashMap<String, Vec<Subscriber>> = HashMap::new();
        let mut gone: Vec<String> = Vec::new();
        for e in events {
            for topic in topics_of(e) {
                let subs = self.subscribers(&mut cache, &topic).await;
                let message = event_message(e);
                for sub in subs {
                    self.send(&sub, &message, &mut pushed, &mut gone).await;
                }
            }
        }
        if !notices.is_empty() {
            let subs = self.subscribers(&mut cache, &Topic::Notices).await;
            for (e, n, requester) in notices {
                let deciders: Option<Group> = (e.detail_type == DetailType::ApprovalRequested)
                    .then(|| e.detail.get("deciders").cloned())
                    .flatten()
                    .and_then(|d| serde_json::from_value(d).ok());
                let message = notice_message(n, e);
                for sub in subs.iter().filter(|s| {
                    wants_notice(s, n.audience, requester.as_deref(), deciders.as_ref())
                }) {
                    self.send(sub, &message, &mut pushed, &mut gone).await;
                }
            }
        }
        for id in gone {
            if let Err(e) = self.store.drop_connection(&id).await {
                tracing::warn!(connection_id = %id, error = %e, "could not drop a gone connection");
            }
            pushed.dropped += 1;
        }
        pushed
    }

    async fn subscribers(
        &self,
        cache: &mut HashMap<String, Vec<Subscriber>>,
        topic: &Topic,
    ) -> Vec<Subscriber> {
        if let Some(s) = cache.get(&topic.key()) {
            return s.clone();
        }
        let subs = match self.store.subscribers(topic).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(topic = %topic.key(), error = %e, "could not read a topic's subscribers");
                Vec::new()
            }
        };
        cache.insert(topic.key(), subs.clone());
        subs
    }

    async fn send(
        &self,
        sub: &Subscriber,
        message: &Value,
        pushed: &mut Pushed,
        gone: &mut Vec<String>,
    ) {
        if gone.contains(&sub.connection_id) {
            return;
        }
        match self.pusher.post(&sub.connection_id, message).await {
            Ok(()) => pushed.messages += 1,
            Err(PushError::Gone) => gone.push(sub.connection_id.clone()),
            Err(e) => {
                tracing::warn!(connection_id = %sub.connection_id, error = %e, "a push failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_reach_the_requester_the_deciders_and_support_only() {
        let sub = |arn: &str, tags: &[(&str, &str)], support: bool| Subscriber {
            connection_id: "c".into(),
            arn: arn.into(),
            caller_id: None,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            support,
        };
        let dev = sub("arn:aws:iam::1:user/dev", &[], false);
        let dba = sub("arn:aws:iam::1:user/dana", &[("team", "dba")], false);
        let ops = sub("arn:aws:iam::1:user/sam", &[], true);
        let dbas = Group {
            arns: vec![],
            tags: [("team".to_string(), vec!["dba".to_string()])].into(),
        };
        let owner = Some("arn:aws:iam::1:user/dev");
        assert!(wants_notice(&dev, Audience::Requester, owner, None));
        assert!(!wants_notice(&dba, Audience::Requester, owner, None));
        assert!(wants_notice(&dba, Audience::Approvers, owner, Some(&dbas)));
        assert!(!wants_notice(&dev, Audience::Approvers, owner, Some(&dbas)));
        assert!(wants_notice(&ops, Audience::Support, owner, None));
        assert!(!wants_notice(&dev, Audience::Support, owner, None));
    }
}
