//! Human paths into JSON/YAML documents (`fulfillment.items[0].config.summary`), the form
//! every problem report uses, built from segments or from a JSON pointer.

use serde_json::Value;
use std::fmt;

/// One step into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A path into a document; displays as `a.b[0].c` (empty for the root).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocPath(Vec<Segment>);

impl DocPath {
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// A child path with `key` appended.
    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut next = self.0.clone();
        next.push(Segment::Key(key.into()));
        Self(next)
    }

    /// A child path with `index` appended.
    pub fn index(&self, index: usize) -> Self {
        let mut next = self.0.clone();
        next.push(Segment::Index(index));
        Self(next)
    }

    /// This path followed by every segment of `rest`.
    pub fn join(&self, rest: &DocPath) -> Self {
        let mut next = self.0.clone();
        next.extend(rest.0.iter().cloned());
        Self(next)
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Builds the path a JSON pointer names in `doc`: numeric tokens are indexes where the
    /// document holds an array there, keys otherwise.
    pub fn from_pointer(pointer: &str, doc: &Value) -> Self {
        let mut path = Self::root();
        let mut node = Some(doc);
        for raw in pointer.split('/').skip(1) {
            let token = raw.replace("~1", "/").replace("~0", "~");
            match (node, token.parse::<usize>()) {
                (Some(Value::Array(items)), Ok(i)) => {
                    node = items.get(i);
                    path = path.index(i);
                }
                (current, _) => {
                    node = current.and_then(|v| v.get(&token));
                    path = path.key(token);
                }
            }
        }
        path
    }
}

impl fmt::Display for DocPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(document)");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) if i == 0 && is_plain_key(k) => write!(f, "{k}")?,
                Segment::Key(k) if is_plain_key(k) => write!(f, ".{k}")?,
                Segment::Key(k) => write!(f, "[{k:?}]")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

fn is_plain_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointer_becomes_yaml_path() {
        let doc = json!({"fulfillment": {"items": [{"config": {"summary": "x"}}]}});
        let path = DocPath::from_pointer("/fulfillment/items/0/config/summary", &doc);
        assert_eq!(path.to_string(), "fulfillment.items[0].config.summary");
    }

    #[test]
    fn numeric_keys_of_objects_stay_keys() {
        let doc = json!({"a": {"0": 1}});
        assert_eq!(DocPath::from_pointer("/a/0", &doc).to_string(), "a.0");
        assert_eq!(DocPath::root().to_string(), "(document)");
        assert_eq!(DocPath::root().key("a b").to_string(), "[\"a b\"]");
    }
}
