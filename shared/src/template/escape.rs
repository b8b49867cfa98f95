//! Values are data, never structure. In a JSON document (a REST body, a webhook payload) or a
//! URL, every `{{ … }}` the template writes is wrapped in private-use markers while Tera
//! renders (the parse appends a marking filter to each output expression, so neither `safe`
//! nor a non-string value skips it), and the finished text is escaped by where each value
//! landed: JSON string content in a JSON document, one path segment or one query value in a
//! URL ([`super::url`]). The catalog author writes the structure; the requester fills values.

use super::{Mode, TemplateError};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use tera::ast::{FunctionCall, Node};

/// Opens a value the template wrote.
pub(super) const OPEN: char = '\u{E000}';
/// Opens a value the `json` filter wrote: JSON by construction, kept as it is in a document.
pub(super) const OPEN_JSON: char = '\u{E001}';
/// Closes either.
pub(super) const CLOSE: char = '\u{E002}';
/// Inside a marked value, one of these four characters follows it as a digit (`0` to `3`), so a
/// value holding them comes out as it went in.
const ESC: char = '\u{E003}';

/// The internal filters the rewrite appends (a catalog template may not name them).
pub(super) const MARK: &str = "pao_mark_value";
pub(super) const MARK_JSON: &str = "pao_mark_json";

/// Whether a template's source uses the markers (refused: they are PAO's own).
pub(super) fn uses_markers(source: &str) -> bool {
    source.contains([OPEN, OPEN_JSON, CLOSE, ESC])
}

/// Appends the marking filter to every output expression, at any depth.
pub(super) fn mark_outputs(nodes: &mut [Node]) {
    for node in nodes {
        match node {
            Node::VariableBlock(_, e) => {
                let name = if e.filters.last().is_some_and(|f| f.name == "json") {
                    MARK_JSON
                } else {
                    MARK
                };
                e.filters.push(FunctionCall {
                    name: name.into(),
                    args: HashMap::new(),
                });
            }
            Node::If(cond, _) => {
                for (_, _, body) in &mut cond.conditions {
                    mark_outputs(body);
                }
                if let Some((_, body)) = &mut cond.otherwise {
                    mark_outputs(body);
                }
            }
            Node::Forloop(_, f, _) => {
                mark_outputs(&mut f.body);
                if let Some(body) = &mut f.empty_body {
                    mark_outputs(body);
                }
            }
            Node::FilterSection(_, section, _) => mark_outputs(&mut section.body),
            _ => {}
        }
    }
}

/// The marking filter: the value as Tera would write it, between markers. Marker characters
/// inside a value are escaped, so a value cannot close its own marking.
pub(super) struct Mark {
    pub(super) json: bool,
}

impl tera::Filter for Mark {
    fn filter(&self, value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
        let mut text = String::new();
        write_value(value, &mut text);
        let mut marked = String::with_capacity(text.len() + 8);
        marked.push(if self.json { OPEN_JSON } else { OPEN });
        for c in text.chars() {
            if let Some(digit) = reserved(c) {
                marked.push(ESC);
                marked.push(digit);
            } else {
                marked.push(c);
            }
        }
        marked.push(CLOSE);
        Ok(Value::String(marked))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// The digit a reserved character is escaped as.
fn reserved(c: char) -> Option<char> {
    match c {
        OPEN => Some('0'),
        OPEN_JSON => Some('1'),
        CLOSE => Some('2'),
        ESC => Some('3'),
        _ => None,
    }
}

/// A marked value's text as it was written.
fn unescape(s: &str) -> Cow<'_, str> {
    if !s.contains(ESC) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == ESC {
            out.push(match chars.next() {
                Some('0') => OPEN,
                Some('1') => OPEN_JSON,
                Some('2') => CLOSE,
                _ => ESC,
            });
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Tera's own rendering of a value (strings as they are, lists as `[a, b]`).
fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => out.push_str(s),
        Value::Null => {}
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(_) => out.push_str("[object]"),
        other => out.push_str(&other.to_string()),
    }
}

/// One piece of a rendered text: the author's text, or a value the template wrote.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece<'a> {
    Literal(&'a str),
    Value(Cow<'a, str>),
    Json(Cow<'a, str>),
}

/// Splits a rendered text at its markers.
pub(super) fn pieces(text: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find([OPEN, OPEN_JSON]) {
        if start > 0 {
            out.push(Piece::Literal(&rest[..start]));
        }
        let json = rest[start..].starts_with(OPEN_JSON);
        let inner = &rest[start + OPEN.len_utf8()..];
        let end = inner
            .find(CLOSE)
            .ok_or_else(|| TemplateError::Render("unbalanced value markers".into()))?;
        let value = &inner[..end];
        if value.contains([OPEN, OPEN_JSON]) {
            return Err(TemplateError::Render("unbalanced value markers".into()));
        }
        out.push(if json {
            Piece::Json(unescape(value))
        } else {
            Piece::Value(unescape(value))
        });
        rest = &inner[end + CLOSE.len_utf8()..];
    }
    if rest.contains(CLOSE) {
        return Err(TemplateError::Render("unbalanced value markers".into()));
    }
    if !rest.is_empty() {
        out.push(Piece::Literal(rest));
    }
    Ok(out)
}

/// The finished text of a template rendered in `mode`.
pub(super) fn finish(text: String, mode: Mode) -> Result<String, TemplateError> {
    match mode {
        Mode::Text => Ok(text),
        Mode::Json => finish_json(&text),
        Mode::Url => super::url::finish(&text),
    }
}

/// A JSON document: each value escaped as JSON string content (the `json` filter's output
/// kept), and the result must be JSON, so no value can have changed its structure.
fn finish_json(text: &str) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text)? {
        match piece {
            Piece::Literal(s) => out.push_str(s),
            // JSON text: a reserved character can only be inside a string there.
            Piece::Json(s) => out.push_str(&s),
            Piece::Value(s) => out.push_str(&escape_json(&s)),
        }
    }
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&out) {
        return Err(TemplateError::Render(format!(
            "the rendered document is not JSON ({e}); write string values inside quotes, and lists or objects with `| json`"
        )));
    }
    Ok(out)
}

/// A string as JSON string content (without the quotes).
fn escape_json(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_split_at_markers() {
        let text = format!("a{OPEN}b{CLOSE}c{OPEN_JSON}[1]{CLOSE}");
        assert_eq!(
            pieces(&text),
            Ok(vec![
                Piece::Literal("a"),
                Piece::Value("b".into()),
                Piece::Literal("c"),
                Piece::Json("[1]".into())
            ])
        );
        for bad in [
            format!("a{OPEN}b"),
            format!("a{CLOSE}b"),
            format!("{OPEN}{OPEN}x{CLOSE}"),
        ] {
            assert!(pieces(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn reserved_characters_in_a_value_survive() {
        use tera::Filter as _;
        let value = Value::String(format!("a{OPEN}{CLOSE}{ESC}0{OPEN_JSON}b"));
        let marked = Mark { json: false }
            .filter(&value, &HashMap::new())
            .expect("marks");
        let text = marked.as_str().unwrap_or_default();
        assert_eq!(
            pieces(text),
            Ok(vec![Piece::Value(
                format!("a{OPEN}{CLOSE}{ESC}0{OPEN_JSON}b").into()
            )])
        );
    }

    #[test]
    fn a_json_document_must_stay_json() {
        let text = format!(r#"{{"a": "{OPEN}x", "admin": true, "y": "{CLOSE}"}}"#);
        let out = finish_json(&text).expect("escaped");
        let v: Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(
            v["a"],
            Value::String(r##"x", "admin": true, "y": ""##.into())
        );
        assert!(v.get("admin").is_none());
        // A value written where the document wants a number cannot add keys either.
        let text = format!(r#"{{"n": {OPEN}1, "admin": true{CLOSE}}}"#);
        assert!(
            matches!(finish_json(&text), Err(TemplateError::Render(m)) if m.contains("not JSON"))
        );
    }
}
