//! The WebSocket API's routes, answered by the API function as API Gateway hands them over
//! (`$connect` after its IAM check, `$default` for every message, `$disconnect`): a
//! connection is recorded with its caller; a subscription to a request is allowed to whoever
//! may read it, as `GET /requests/{id}/status` (owner, support) or `GET /approvals/{id}`
//! (the people its stages name) decides, and its answer carries that view, so a client starts
//! from the current state; the catalog is everyone's; notices are the caller's own.

use super::App;
use crate::live::{CONNECTION_SECS, ClientMessage, Subscriber, Topic, error_message, parse};
use crate::store::StoreError;
use serde_json::{Value, json};

/// Which route an event came by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    Connect,
    Message,
    Disconnect,
}

/// A WebSocket route's event, transport-free.
#[derive(Debug, Clone)]
pub struct SocketEvent {
    pub kind: SocketKind,
    pub connection_id: String,
    /// The IAM caller (`$connect`'s authorization).
    pub caller_arn: Option<String>,
    pub caller_id: Option<String>,
    pub home_account: Option<String>,
    pub body: Vec<u8>,
}

/// The route's answer: a status (`$connect`: anything but 200 refuses the connection) and the
/// message sent back to the client, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct SocketReply {
    pub status: u16,
    pub message: Option<Value>,
}

impl SocketReply {
    fn ok(message: Value) -> Self {
        Self {
            status: 200,
            message: Some(message),
        }
    }
}

impl App {
    /// Answers one WebSocket event.
    pub async fn socket(&self, e: &SocketEvent) -> SocketReply {
        match e.kind {
            SocketKind::Connect => self.connect(e).await,
            SocketKind::Disconnect => {
                if let Err(err) = self.store.drop_connection(&e.connection_id).await {
                    tracing::warn!(connection_id = %e.connection_id, error = %err, "could not drop a closed connection (its TTL will)");
                }
                SocketReply {
                    status: 200,
                    message: None,
                }
            }
            SocketKind::Message => match parse(&e.body) {
                Err(problem) => SocketReply::ok(error_message(400, &problem)),
                Ok(m) => self.message(e, m).await,
            },
        }
    }

    async fn connect(&self, e: &SocketEvent) -> SocketReply {
        let Some(arn) = e.caller_arn.as_deref().filter(|a| !a.is_empty()) else {
            return SocketReply {
                status: 403,
                message: None,
            };
        };
        let expires = crate::clock::now_epoch() + CONNECTION_SECS;
        match self
            .store
            .put_connection(&e.connection_id, arn, e.caller_id.as_deref(), expires)
            .await
        {
            Ok(()) => SocketReply {
                status: 200,
                message: None,
            },
            Err(err) => {
                tracing::error!(error = %err, "could not record a connection");
                SocketReply {
                    status: 500,
                    message: None,
                }
            }
        }
    }

    async fn message(&self, e: &SocketEvent, m: ClientMessage) -> SocketReply {
        let conn = match self.store.connection(&e.connection_id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                return SocketReply::ok(error_message(
                    410,
                    "the connection is gone; connect again",
                ));
            }
            Err(err) => {
                tracing::error!(error = %err, "could not read a connection");
                return SocketReply::ok(error_message(503, "try again"));
            }
        };
        match m {
            ClientMessage::Ping => SocketReply::ok(json!({"type": "pong"})),
            ClientMessage::Unsubscribe(topic) => {
                match self.store.unsubscribe(&e.connection_id, &topic).await {
                    Ok(()) => {
                        let mut v = topic.describe();
                        v["type"] = json!("unsubscribed");
                        SocketReply::ok(v)
                    }
                    Err(err) => {
                        tracing::error!(error = %err, "could not unsubscribe");
                        SocketReply::ok(error_message(503, "try again"))
                    }
                }
            }
            ClientMessage::Subscribe(topic) => {
                if let Topic::Request(id) = &topic
                    && let Err(refusal) = self.readable(e, &conn, id).await
                {
                    return SocketReply::ok(refusal);
                }
                let mut sub = Subscriber {
                    connection_id: e.connection_id.clone(),
                    arn: conn.arn.clone(),
                    caller_id: conn.caller_id.clone(),
                    tags: Default::default(),
                    support: false,
                };
                if topic == Topic::Notices {
                    sub.tags = self
                        .tags
                        .of(&conn.arn, e.home_account.as_deref())
                        .await
                        .unwrap_or_default();
                    sub.support =
                        super::access::is_support(self, &conn.arn, e.home_account.as_deref()).await;
                }
                let expires = crate::clock::now_epoch() + CONNECTION_SECS;
                match self.store.subscribe(&sub, &topic, expires).await {
                    Ok(()) => {
                        let mut v = topic.describe();
                        v["type"] = json!("subscribed");
                        // Read after subscribing: a change committed meanwhile is either in
                        // this view or pushed after it, never lost between the two.
                        if let Topic::Request(id) = &topic
                            && let Ok(view) = self.readable(e, &conn, id).await
                        {
                            v["status"] = view;
                        }
                        SocketReply::ok(v)
                    }
                    Err(StoreError::Conflict(why)) => SocketReply::ok(error_message(409, &why)),
                    Err(err) => {
                        tracing::error!(error = %err, "could not subscribe");
                        SocketReply::ok(error_message(503, "try again"))
                    }
                }
            }
        }
    }

    /// The request's status if the connection's caller may read it (as the API decides);
    /// otherwise the API's refusal, as the error message sent back.
    async fn readable(
        &self,
        e: &SocketEvent,
        conn: &crate::store::live::Connection,
        id: &str,
    ) -> Result<Value, Value> {
        let as_caller = |path: String| super::ApiRequest {
            method: "GET".into(),
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: Vec::new(),
            caller_arn: Some(conn.arn.clone()),
            caller_id: conn.caller_id.clone(),
            request_id: None,
            home_account: e.home_account.clone(),
        };
        let status = self
            .handle(&as_caller(format!("/api/v1/requests/{id}/status")))
            .await;
        if status.status == 200 {
            return Ok(status.body["data"].clone());
        }
        if status.status == 404 {
            // Not its owner nor support: the people its approval names may follow it too.
            let approval = self
                .handle(&as_caller(format!("/api/v1/approvals/{id}")))
                .await;
            if approval.status == 200 {
                return Ok(json!({"requestId": id, "approval": approval.body["data"]}));
            }
        }
        let message = status.body["error"]["message"]
            .as_str()
            .unwrap_or("refused")
            .to_string();
        Err(error_message(status.status, &message))
    }
}
