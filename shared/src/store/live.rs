//! WebSocket connections and their subscriptions (`crate::live`):
//! `CONN#<connection id>` / `CONN` (who holds it, its topics) and one item per subscription,
//! `SUB#<topic>` / `<connection id>` (who holds it, their tags, whether support), so the
//! events function finds a topic's subscribers with one Query. All expire with the
//! connection (API Gateway closes a WebSocket after two hours); a connection the gateway
//! reports gone is dropped with its subscriptions.

use super::attr::{Item, n, s};
use super::{CONDITION_FAILED, Store, StoreError, conditional, dynamo};
use crate::live::{MAX_SUBSCRIPTIONS, Subscriber, Topic};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::{BTreeMap, HashMap};

/// A topic's subscribers read at most (one Query page).
const MAX_SUBSCRIBERS: i32 = 1000;

fn conn_key(id: &str) -> Item {
    HashMap::from([
        ("pk".to_string(), s(format!("CONN#{id}"))),
        ("sk".to_string(), s("CONN")),
    ])
}

/// Who holds a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub arn: String,
    pub caller_id: Option<String>,
    pub topics: Vec<String>,
}

impl Store {
    /// Records a new connection of `arn`, kept until `expires` (epoch seconds).
    pub async fn put_connection(
        &self,
        id: &str,
        arn: &str,
        caller_id: Option<&str>,
        expires: u64,
    ) -> Result<(), StoreError> {
        let mut item = conn_key(id);
        item.insert("arn".into(), s(arn));
        if let Some(c) = caller_id {
            item.insert("callerId".into(), s(c));
        }
        item.insert("topics".into(), AttributeValue::L(Vec::new()));
        item.insert("expiresAt".into(), n(expires));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    pub async fn connection(&self, id: &str) -> Result<Option<Connection>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(conn_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo)?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        if super::attr::is_expired(&item, crate::clock::now_epoch()) {
            return Ok(None);
        }
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        Ok(Some(Connection {
            arn: text("arn").unwrap_or_default(),
            caller_id: text("callerId"),
            topics: item
                .get("topics")
                .and_then(|v| v.as_l().ok())
                .map(|l| l.iter().filter_map(|t| t.as_s().ok().cloned()).collect())
                .unwrap_or_default(),
        }))
    }

    /// Subscribes the connection to `topic` (at most [`MAX_SUBSCRIPTIONS`]); `Conflict` when
    /// it holds that many already or is gone.
    pub async fn subscribe(
        &self,
        sub: &Subscriber,
        topic: &Topic,
        expires: u64,
    ) -> Result<(), StoreError> {
        let key = topic.key();
        let added = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(conn_key(&sub.connection_id)))
            .update_expression("SET topics = list_append(topics, :t)")
            .condition_expression(
                "attribute_exists(pk) AND size(topics) < :max AND NOT contains(topics, :k)",
            )
            .expression_attribute_values(":t", AttributeValue::L(vec![s(&key)]))
            .expression_attribute_values(":k", s(&key))
            .expression_attribute_values(":max", n(MAX_SUBSCRIPTIONS as u64))
            .send()
            .await;
        match conditional(added, CONDITION_FAILED, || "subscription refused".into()) {
            Ok(()) => {}
            // Subscribed already: the item is written again (same content).
            Err(StoreError::Conflict(_)) => {
                let c = self.connection(&sub.connection_id).await?;
                match c {
                    Some(c) if c.topics.contains(&key) => {}
                    Some(_) => {
                        return Err(StoreError::Conflict(format!(
                            "a connection holds at most {MAX_SUBSCRIPTIONS} subscriptions"
                        )));
                    }
                    None => return Err(StoreError::Conflict("the connection is gone".into())),
                }
            }
            Err(e) => return Err(e),
        }
        let mut item: Item = HashMap::from([
            ("pk".to_string(), s(format!("SUB#{key}"))),
            ("sk".to_string(), s(&sub.connection_id)),
            ("arn".to_string(), s(&sub.arn)),
            ("support".to_string(), AttributeValue::Bool(sub.support)),
            ("expiresAt".to_string(), n(expires)),
        ]);
        if let Some(c) = &sub.caller_id {
            item.insert("callerId".into(), s(c));
        }
        if !sub.tags.is_empty() {
            item.insert(
                "tags".into(),
                AttributeValue::M(sub.tags.iter().map(|(k, v)| (k.clone(), s(v))).collect()),
            );
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    pub async fn unsubscribe(&self, connection_id: &str, topic: &Topic) -> Result<(), StoreError> {
        let key = topic.key();
        self.delete_subscription(&key, connection_id).await?;
        if let Some(c) = self.connection(connection_id).await? {
            let rest: Vec<AttributeValue> = c.topics.iter().filter(|t| **t != key).map(s).collect();
            self.client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(conn_key(connection_id)))
                .update_expression("SET topics = :t")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":t", AttributeValue::L(rest))
                .send()
                .await
                .map_err(dynamo)
                .ok();
        }
        Ok(())
    }

    async fn delete_subscription(&self, key: &str, connection_id: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("SUB#{key}")))
            .key("sk", s(connection_id))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// Drops a connection and every subscription it held.
    pub async fn drop_connection(&self, connection_id: &str) -> Result<(), StoreError> {
        if let Some(c) = self.connection(connection_id).await? {
            for key in &c.topics {
                self.delete_subscription(key, connection_id).await?;
            }
        }
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(conn_key(connection_id)))
            .send()
            .await
            .map_err(dynamo)?;
        Ok(())
    }

    /// The live subscribers of `topic` (at most a thousand).
    pub async fn subscribers(&self, topic: &Topic) -> Result<Vec<Subscriber>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(format!("SUB#{}", topic.key())))
            .limit(MAX_SUBSCRIBERS)
            .send()
            .await
            .map_err(dynamo)?;
        let now = crate::clock::now_epoch();
        Ok(out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter(|item| !super::attr::is_expired(item, now))
            .map(|item| {
                let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
                Subscriber {
                    connection_id: text("sk").unwrap_or_default(),
                    arn: text("arn").unwrap_or_default(),
                    caller_id: text("callerId"),
                    tags: item
                        .get("tags")
                        .and_then(|v| v.as_m().ok())
                        .map(|m| {
                            m.iter()
                                .filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone())))
                                .collect::<BTreeMap<_, _>>()
                        })
                        .unwrap_or_default(),
                    support: item
                        .get("support")
                        .and_then(|v| v.as_bool().ok())
                        .copied()
                        .unwrap_or(false),
                }
            })
            .collect())
    }
}
