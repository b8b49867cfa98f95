//! An issue the JIRA stand-in holds and how JIRA's REST API shows it: its fields, its status
//! in a three-step workflow, its resolution and comments.

use serde_json::{Value, json};

/// An issue the stand-in holds: the fields it was created with (and any set since), and
/// what people did with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub id: String,
    pub key: String,
    pub fields: Value,
    /// The status's name and its category key (`new`, `indeterminate`, `done`).
    pub status: (String, String),
    pub resolution: Option<String>,
    pub comments: Vec<String>,
    pub updated: String,
}

/// The workflow every stand-in project has: (transition id, name, to status, category).
pub(super) const TRANSITIONS: &[(&str, &str, &str, &str)] = &[
    ("11", "To Do", "To Do", "new"),
    ("21", "In Progress", "In Progress", "indeterminate"),
    ("31", "Done", "Done", "done"),
];

impl Issue {
    /// The issue as `GET /rest/api/2/issue/{key}` answers it.
    pub(super) fn answer(&self, base: &str) -> Value {
        let mut fields = self.fields.clone();
        if let Some(f) = fields.as_object_mut() {
            let (name, category) = &self.status;
            f.insert(
                "status".into(),
                json!({"name": name, "statusCategory": {"key": category, "name": name}}),
            );
            f.insert(
                "resolution".into(),
                self.resolution
                    .as_ref()
                    .map_or(Value::Null, |r| json!({"name": r})),
            );
            f.insert(
                "resolutiondate".into(),
                self.resolution
                    .as_ref()
                    .map_or(Value::Null, |_| json!(self.updated)),
            );
            f.insert("updated".into(), json!(self.updated));
            let comments: Vec<Value> = self
                .comments
                .iter()
                .enumerate()
                .map(|(i, c)| json!({"id": (i + 1).to_string(), "body": c,
                                     "author": {"displayName": "Stand-in Engineer"}, "created": self.updated}))
                .collect();
            f.insert(
                "comment".into(),
                json!({"comments": comments, "total": self.comments.len(), "startAt": 0, "maxResults": 50}),
            );
        }
        json!({"id": self.id, "key": self.key, "self": format!("{base}/rest/api/2/issue/{}", self.id), "fields": fields})
    }
}

pub(super) fn now_jira() -> String {
    // JIRA's timestamp form: 2026-12-06T10:00:00.000+0000.
    let t = pao::clock::now_rfc3339();
    format!("{}.000+0000", t.trim_end_matches('Z'))
}
