//! One problem type for everything people hand PAO: a request's input, a catalog document, a
//! JSON Schema check. A problem says where (the file, if it came from one, and the dotted
//! path) and what is wrong; it never repeats the value (it may be a password).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A problem at a place. A request's input problems go out as `{"field", "issue"}`
/// ([`Problem::field_issue`]); catalog problems as `{"file", "path", "message"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The file it is in (`catalog/db.yaml`); empty for a request's input.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file: String,
    /// Where: a dotted path (`basic.size`, `form.groups[0].id`); empty for the whole thing.
    pub path: String,
    pub message: String,
}

impl Problem {
    /// A problem at `path` of a request's input (or any document not read from a file).
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: String::new(),
            path: path.into(),
            message: message.into(),
        }
    }

    /// A problem at `path` in `file`.
    pub fn in_file(
        file: impl Into<String>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.into(),
            path: path.into(),
            message: message.into(),
        }
    }

    /// How the API and `devctl` show a problem with a request's input.
    pub fn field_issue(&self) -> serde_json::Value {
        serde_json::json!({"field": self.path, "issue": self.message})
    }

    /// The same problem one level down: `prefix.path`.
    pub fn under(mut self, prefix: &str) -> Self {
        self.path = if self.path.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}.{}", self.path)
        };
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.file.is_empty() {
            write!(f, "{}: ", self.file)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_file_path_and_message() {
        assert_eq!(
            Problem::in_file("catalog/a.yaml", "form.groups[0]", "bad").to_string(),
            "catalog/a.yaml: form.groups[0]: bad"
        );
        assert_eq!(
            Problem::at("basic.size", "too big").to_string(),
            "basic.size: too big"
        );
        assert_eq!(Problem::at("size", "too big").under("db").path, "db.size");
        let wire = Problem::at("name", "is required").field_issue();
        assert_eq!(
            wire,
            serde_json::json!({"field": "name", "issue": "is required"})
        );
        let wire = serde_json::to_value(Problem::in_file("a.yaml", "id", "bad")).expect("json");
        assert_eq!(
            wire,
            serde_json::json!({"file": "a.yaml", "path": "id", "message": "bad"})
        );
    }
}
