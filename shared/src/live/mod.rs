//! Live status over a WebSocket: what a client may say (subscribe to a request it may read,
//! to the catalog, to its own notices; unsubscribe; ping), what it is sent (each event of
//! [`crate::events`] that concerns a subscription, and its notices), and who holds a subscription ([`Subscriber`];
//! `broadcast` decides who receives what). The API function answers the socket's routes
//! (`api::live`), the events function pushes ([`push`]); connections and subscriptions are
//! items of the table (`store::live`), kept with a TTL and dropped when the gateway says a
//! connection is gone.

pub mod push;

use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The largest message a client may send (API Gateway takes 128 KB; a subscription is tiny).
pub const MAX_MESSAGE: usize = 4096;
/// Subscriptions one connection may hold.
pub const MAX_SUBSCRIPTIONS: usize = 20;
/// How long a connection is kept: API Gateway closes every WebSocket after two hours.
pub const CONNECTION_SECS: u64 = 2 * 3600;

/// What a client subscribes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topic {
    /// Every event of one request (its owner, support, and the people its approval names).
    Request(String),
    /// `Catalog Changed`.
    Catalog,
    /// The caller's own notices: of their requests, of approvals they may decide, and (for
    /// support staff) of stuck tasks and overdue tickets.
    Notices,
}

impl Topic {
    /// The key its subscribers are stored under (`SUB#<key>`).
    pub fn key(&self) -> String {
        match self {
            Self::Request(id) => format!("request#{id}"),
            Self::Catalog => "catalog".into(),
            Self::Notices => "notices".into(),
        }
    }

    pub fn describe(&self) -> Value {
        match self {
            Self::Request(id) => json!({"topic": "request", "requestId": id}),
            Self::Catalog => json!({"topic": "catalog"}),
            Self::Notices => json!({"topic": "notices"}),
        }
    }
}

/// A client's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    Subscribe(Topic),
    Unsubscribe(Topic),
    Ping,
}

/// Parses a client's message; the error names the field and the problem.
pub fn parse(body: &[u8]) -> Result<ClientMessage, String> {
    if body.len() > MAX_MESSAGE {
        return Err(format!("a message is at most {MAX_MESSAGE} bytes"));
    }
    let v: Value =
        serde_json::from_slice(body).map_err(|_| "a message is a JSON object".to_string())?;
    let m = v.as_object().ok_or("a message is a JSON object")?;
    let known = ["action", "topic", "requestId"];
    if let Some(k) = m.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("{k}: unknown field (action, topic, requestId)"));
    }
    let topic = || -> Result<Topic, String> {
        match m.get("topic").and_then(Value::as_str) {
            Some("request") => {
                let id = m
                    .get("requestId")
                    .and_then(Value::as_str)
                    .ok_or("requestId: is required for topic request")?;
                if !id.starts_with("req-")
                    || id.len() > 64
                    || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                {
                    return Err("requestId: is not a request id (req-…)".into());
                }
                Ok(Topic::Request(id.to_string()))
            }
            Some("catalog") => Ok(Topic::Catalog),
            Some("notices") => Ok(Topic::Notices),
            Some(other) => Err(format!(
                "topic: {other:?} is not one of request, catalog, notices"
            )),
            None => Err("topic: is required (request, catalog, notices)".into()),
        }
    };
    match m.get("action").and_then(Value::as_str) {
        Some("subscribe") => Ok(ClientMessage::Subscribe(topic()?)),
        Some("unsubscribe") => Ok(ClientMessage::Unsubscribe(topic()?)),
        Some("ping") => Ok(ClientMessage::Ping),
        Some(other) => Err(format!(
            "action: {other:?} is not one of subscribe, unsubscribe, ping"
        )),
        None => Err("action: is required (subscribe, unsubscribe, ping)".into()),
    }
}

/// An error answer.
pub fn error_message(status: u16, message: &str) -> Value {
    json!({"type": "error", "status": status, "message": message})
}

/// One subscription, as stored: the connection and who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub connection_id: String,
    pub arn: String,
    pub caller_id: Option<String>,
    /// Their IAM tags when they subscribed (approval groups by tag).
    pub tags: BTreeMap<String, String>,
    pub support: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_parse_and_bad_ones_name_their_field() {
        assert_eq!(
            parse(br#"{"action":"subscribe","topic":"request","requestId":"req-1a2b"}"#),
            Ok(ClientMessage::Subscribe(Topic::Request("req-1a2b".into())))
        );
        assert_eq!(
            parse(br#"{"action":"unsubscribe","topic":"catalog"}"#),
            Ok(ClientMessage::Unsubscribe(Topic::Catalog))
        );
        assert_eq!(parse(br#"{"action":"ping"}"#), Ok(ClientMessage::Ping));
        for (body, field) in [
            (
                &br#"{"action":"subscribe","topic":"request"}"#[..],
                "requestId",
            ),
            (
                br#"{"action":"subscribe","topic":"request","requestId":"../x"}"#,
                "requestId",
            ),
            (br#"{"action":"subscribe","topic":"everything"}"#, "topic"),
            (br#"{"action":"shout"}"#, "action"),
            (br#"{"action":"ping","extra":1}"#, "extra"),
            (b"[1]", "JSON object"),
        ] {
            let e = parse(body).expect_err("refused");
            assert!(e.contains(field), "{e}");
        }
        assert!(parse(&vec![b' '; MAX_MESSAGE + 1]).is_err());
    }
}
