//! Applies a JSON Schema (draft 2020-12) to a document, for the keywords PAO's own schemas
//! use ([`KEYWORDS`]). It replaces the `jsonschema` crate in the Lambda functions, which
//! cost about 1.5 MB of every binary that validates a catalog or a submission (issue 13):
//! the schemas stay the single definition of a document's shape, this only reads them.
//!
//! Two guards keep it honest: a unit test fails when a schema in `schemas/` uses a keyword
//! not in [`KEYWORDS`], and the `schema_validation` fuzz target checks, on mutated catalog
//! documents and submissions, that every document is valid here exactly when the
//! `jsonschema` crate says so, with violations at the same places.

use crate::path::DocPath;
use regex::Regex;
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

/// The keywords this evaluator applies, and the annotations it reads past.
pub const KEYWORDS: &[&str] = &[
    "$schema",
    "$id",
    "$defs",
    "$ref",
    "title",
    "description",
    "type",
    "const",
    "enum",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "properties",
    "additionalProperties",
    "propertyNames",
    "required",
    "allOf",
    "oneOf",
    "not",
    "if",
    "then",
];

/// How deep schemas may nest while applied. None of ours refers to itself, so the depth is
/// bounded by their own nesting (a few dozen levels, `$ref`s followed); past this it is a
/// `$ref` cycle, reported rather than overflowing the stack.
const MAX_DEPTH: usize = 256;

/// What is wrong at one place of the document.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind<'s> {
    Type(&'s Value),
    Const(&'s Value),
    Enum(&'s Value),
    MinLength(u64),
    MaxLength(u64),
    Pattern(&'s str),
    Minimum(&'s Number),
    Maximum(&'s Number),
    MinItems(u64),
    MaxItems(u64),
    UniqueItems,
    Required(&'s str),
    AdditionalProperties(Vec<String>),
    PropertyName {
        name: String,
        problem: Box<Kind<'s>>,
    },
    OneOfNone,
    OneOfMany,
    Not(&'s Value),
    FalseSchema,
    /// A `$ref` or `pattern` of our own schemas that does not work: a bug of ours, said
    /// plainly rather than passing the document.
    BadSchema(String),
}

/// One violation: where, the value there, and what is wrong with it.
#[derive(Debug, Clone)]
pub struct Violation<'s, 'i> {
    pub path: DocPath,
    pub instance: &'i Value,
    pub kind: Kind<'s>,
}

/// The schema documents, each under its file name (how our `$ref`s name each other).
pub struct Schemas {
    docs: Vec<(&'static str, Value)>,
    patterns: HashMap<String, Result<Regex, String>>,
}

impl Schemas {
    /// Reads the documents and compiles every `pattern` they hold, once.
    pub fn new(docs: Vec<(&'static str, Value)>) -> Self {
        let mut patterns = HashMap::new();
        for (_, doc) in &docs {
            collect_patterns(doc, &mut patterns);
        }
        Self { docs, patterns }
    }

    /// Every violation of the schema in file `name` by `instance`.
    pub fn validate<'s, 'i>(&'s self, name: &str, instance: &'i Value) -> Vec<Violation<'s, 'i>> {
        let mut out = Vec::new();
        match self.docs.iter().position(|(n, _)| *n == name) {
            Some(doc) => self.apply(
                0,
                doc,
                &self.docs[doc].1,
                instance,
                &DocPath::root(),
                &mut out,
            ),
            None => out.push(Violation {
                path: DocPath::root(),
                instance,
                kind: Kind::BadSchema(format!("no schema named {name}")),
            }),
        }
        out
    }

    fn is_valid(&self, depth: usize, doc: usize, schema: &Value, instance: &Value) -> bool {
        let mut scratch = Vec::new();
        self.apply(depth, doc, schema, instance, &DocPath::root(), &mut scratch);
        scratch.is_empty()
    }

    /// Applies `schema` (part of document `doc`, against which `#` refs resolve).
    fn apply<'s, 'i>(
        &'s self,
        depth: usize,
        doc: usize,
        schema: &'s Value,
        instance: &'i Value,
        path: &DocPath,
        out: &mut Vec<Violation<'s, 'i>>,
    ) {
        // Our schemas nest a few dozen levels at most; deeper is a `$ref` cycle.
        if depth > MAX_DEPTH {
            push(
                out,
                path,
                instance,
                Kind::BadSchema("schema nesting too deep (a $ref cycle?)".into()),
            );
            return;
        }
        let keywords = match schema {
            Value::Object(k) => k,
            Value::Bool(true) => return,
            _ => {
                out.push(Violation {
                    path: path.clone(),
                    instance,
                    kind: Kind::FalseSchema,
                });
                return;
            }
        };
        for (keyword, value) in keywords {
            match keyword.as_str() {
                "$ref" => match value.as_str().and_then(|r| self.resolve(doc, r)) {
                    Some((d, s)) => self.apply(depth + 1, d, s, instance, path, out),
                    None => push(
                        out,
                        path,
                        instance,
                        Kind::BadSchema(format!("$ref {value} does not resolve")),
                    ),
                },
                "type" if !has_type(value, instance) => {
                    push(out, path, instance, Kind::Type(value))
                }
                "const" if !equal(value, instance) => push(out, path, instance, Kind::Const(value)),
                "enum"
                    if !value
                        .as_array()
                        .is_some_and(|o| o.iter().any(|v| equal(v, instance))) =>
                {
                    push(out, path, instance, Kind::Enum(value))
                }
                "minLength" | "maxLength" | "minItems" | "maxItems" => {
                    let size = match keyword.as_str() {
                        "minLength" | "maxLength" => instance.as_str().map(|s| s.chars().count()),
                        _ => instance.as_array().map(Vec::len),
                    };
                    if let (Some(size), Some(limit)) = (size, value.as_u64()) {
                        if let Some(kind) = size_limit(keyword, size as u64, limit) {
                            push(out, path, instance, kind);
                        }
                    }
                }
                "pattern" => {
                    if let (Some(s), Some(p)) = (instance.as_str(), value.as_str()) {
                        match self.patterns.get(p) {
                            Some(Ok(re)) if re.is_match(s) => {}
                            Some(Ok(_)) => push(out, path, instance, Kind::Pattern(p)),
                            Some(Err(e)) => push(out, path, instance, Kind::BadSchema(e.clone())),
                            None => push(
                                out,
                                path,
                                instance,
                                Kind::BadSchema(format!("pattern {p} not compiled")),
                            ),
                        }
                    }
                }
                "minimum" | "maximum" => {
                    if let (Some(x), Value::Number(limit)) = (instance.as_f64(), value) {
                        let l = limit.as_f64().unwrap_or(f64::NAN);
                        if keyword == "minimum" && x < l {
                            push(out, path, instance, Kind::Minimum(limit));
                        } else if keyword == "maximum" && x > l {
                            push(out, path, instance, Kind::Maximum(limit));
                        }
                    }
                }
                "uniqueItems" if value == &Value::Bool(true) => {
                    if let Some(a) = instance.as_array() {
                        let repeated = a
                            .iter()
                            .enumerate()
                            .any(|(i, x)| a[i + 1..].iter().any(|y| equal(x, y)));
                        if repeated {
                            push(out, path, instance, Kind::UniqueItems);
                        }
                    }
                }
                "required" => {
                    if let (Some(o), Some(names)) = (instance.as_object(), value.as_array()) {
                        for name in names.iter().filter_map(Value::as_str) {
                            if !o.contains_key(name) {
                                push(out, path, instance, Kind::Required(name));
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    let Some(o) = instance.as_object() else {
                        continue;
                    };
                    let declared = keywords.get("properties").and_then(Value::as_object);
                    let extra = o
                        .iter()
                        .filter(|(k, _)| !declared.is_some_and(|d| d.contains_key(*k)));
                    if value == &Value::Bool(false) {
                        let names: Vec<String> = extra.map(|(k, _)| k.clone()).collect();
                        if !names.is_empty() {
                            push(out, path, instance, Kind::AdditionalProperties(names));
                        }
                    } else {
                        for (k, v) in extra {
                            self.apply(depth + 1, doc, value, v, &path.key(k.clone()), out);
                        }
                    }
                }
                "propertyNames" => {
                    let Some(o) = instance.as_object() else {
                        continue;
                    };
                    for name in o.keys() {
                        let as_value = Value::String(name.clone());
                        let mut scratch = Vec::new();
                        self.apply(
                            depth + 1,
                            doc,
                            value,
                            &as_value,
                            &DocPath::root(),
                            &mut scratch,
                        );
                        if let Some(first) = scratch.into_iter().next() {
                            push(
                                out,
                                path,
                                instance,
                                Kind::PropertyName {
                                    name: name.clone(),
                                    problem: Box::new(first.kind),
                                },
                            );
                        }
                    }
                }
                "properties" => {
                    if let (Some(o), Some(props)) = (instance.as_object(), value.as_object()) {
                        for (k, sub) in props {
                            if let Some(v) = o.get(k) {
                                self.apply(depth + 1, doc, sub, v, &path.key(k.clone()), out);
                            }
                        }
                    }
                }
                "items" => {
                    if let Some(a) = instance.as_array() {
                        for (i, v) in a.iter().enumerate() {
                            self.apply(depth + 1, doc, value, v, &path.index(i), out);
                        }
                    }
                }
                "allOf" => {
                    for sub in value.as_array().into_iter().flatten() {
                        self.apply(depth + 1, doc, sub, instance, path, out);
                    }
                }
                "oneOf" => {
                    let subs = value.as_array().map(Vec::as_slice).unwrap_or_default();
                    match subs
                        .iter()
                        .filter(|s| self.is_valid(depth + 1, doc, s, instance))
                        .count()
                    {
                        1 => {}
                        0 => push(out, path, instance, Kind::OneOfNone),
                        _ => push(out, path, instance, Kind::OneOfMany),
                    }
                }
                "not" if self.is_valid(depth + 1, doc, value, instance) => {
                    push(out, path, instance, Kind::Not(value))
                }
                "if" => {
                    if let Some(then) = keywords.get("then")
                        && self.is_valid(depth + 1, doc, value, instance)
                    {
                        self.apply(depth + 1, doc, then, instance, path, out);
                    }
                }
                _ => {}
            }
        }
    }

    /// Whether `reference`, written in schema file `name`, resolves (for the tests).
    #[cfg(test)]
    pub fn resolve_for_test(&self, name: &str, reference: &str) -> bool {
        self.docs
            .iter()
            .position(|(n, _)| *n == name)
            .and_then(|d| self.resolve(d, reference))
            .is_some()
    }

    /// `#/$defs/x` in document `doc`, or `file.schema.json#/$defs/x` in another of ours.
    fn resolve(&self, doc: usize, reference: &str) -> Option<(usize, &Value)> {
        let (file, pointer) = reference.split_once('#').unwrap_or((reference, ""));
        let doc = if file.is_empty() {
            doc
        } else {
            self.docs.iter().position(|(n, _)| file.ends_with(n))?
        };
        self.docs[doc].1.pointer(pointer).map(|s| (doc, s))
    }
}

fn push<'s, 'i>(
    out: &mut Vec<Violation<'s, 'i>>,
    path: &DocPath,
    instance: &'i Value,
    kind: Kind<'s>,
) {
    out.push(Violation {
        path: path.clone(),
        instance,
        kind,
    });
}

/// The violation of a `min`/`max` `Length`/`Items` keyword by a string or array of `size`.
fn size_limit(keyword: &str, size: u64, limit: u64) -> Option<Kind<'static>> {
    match keyword {
        "minLength" if size < limit => Some(Kind::MinLength(limit)),
        "maxLength" if size > limit => Some(Kind::MaxLength(limit)),
        "minItems" if size < limit => Some(Kind::MinItems(limit)),
        "maxItems" if size > limit => Some(Kind::MaxItems(limit)),
        _ => None,
    }
}

fn collect_patterns(schema: &Value, into: &mut HashMap<String, Result<Regex, String>>) {
    match schema {
        Value::Object(keywords) => {
            if let Some(Value::String(p)) = keywords.get("pattern") {
                let compiled = Regex::new(p).map_err(|e| format!("pattern {p}: {e}"));
                into.insert(p.clone(), compiled);
            }
            keywords.values().for_each(|v| collect_patterns(v, into));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_patterns(v, into)),
        _ => {}
    }
}

fn has_type(expected: &Value, instance: &Value) -> bool {
    match expected {
        Value::String(t) => is_type(t, instance),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .any(|t| is_type(t, instance)),
        _ => true,
    }
}

fn is_type(name: &str, v: &Value) -> bool {
    match name {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "number" => v.is_number(),
        // 2020-12: a number with a zero fractional part is an integer (1.0 included).
        "integer" => match v {
            Value::Number(n) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => false,
        },
        _ => false,
    }
}

/// JSON Schema equality: numbers by value (1 equals 1.0), objects regardless of key order.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => numbers_equal(x, y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => objects_equal(x, y),
        _ => a == b,
    }
}

fn numbers_equal(x: &Number, y: &Number) -> bool {
    match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
        (Some(a), Some(b), _, _) => a == b,
        (_, _, Some(a), Some(b)) => a == b,
        _ => x.as_f64() == y.as_f64(),
    }
}

fn objects_equal(x: &Map<String, Value>, y: &Map<String, Value>) -> bool {
    x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| equal(v, w)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(schema: Value) -> Schemas {
        Schemas::new(vec![("t.json", schema)])
    }

    fn kinds(s: &Schemas, v: &Value) -> Vec<String> {
        s.validate("t.json", v)
            .iter()
            .map(|v| format!("{}: {:?}", v.path, v.kind))
            .collect()
    }

    #[test]
    fn numbers_compare_by_value_and_integers_include_whole_floats() {
        assert!(equal(&json!(1), &json!(1.0)));
        assert!(equal(&json!({"a": [1, 2]}), &json!({"a": [1.0, 2]})));
        assert!(!equal(&json!(1), &json!("1")));
        let s = one(json!({"type": "integer"}));
        assert!(kinds(&s, &json!(3.0)).is_empty());
        assert_eq!(kinds(&s, &json!(3.5)).len(), 1);
    }

    #[test]
    fn refs_resolve_within_and_across_documents() {
        let s = Schemas::new(vec![
            ("a.json", json!({"$ref": "b.json#/$defs/n"})),
            (
                "b.json",
                json!({"$defs": {"n": {"$ref": "#/$defs/m"}, "m": {"type": "number"}}}),
            ),
        ]);
        assert!(s.validate("a.json", &json!(1)).is_empty());
        assert_eq!(s.validate("a.json", &json!("x")).len(), 1);
        let cycle = one(json!({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}));
        assert!(matches!(
            cycle.validate("t.json", &json!(1))[0].kind,
            Kind::BadSchema(_)
        ));
        let broken = one(json!({"$ref": "#/$defs/missing"}));
        assert!(matches!(
            broken.validate("t.json", &json!(1))[0].kind,
            Kind::BadSchema(_)
        ));
    }

    #[test]
    fn each_violation_is_placed_where_it_is() {
        let s = one(json!({
            "type": "object",
            "required": ["a", "b"],
            "properties": {"a": true, "list": {"items": {"type": "string", "minLength": 2}}},
            "additionalProperties": false
        }));
        let found = kinds(&s, &json!({"a": 1, "list": ["xy", "z"], "extra": true}));
        assert_eq!(
            found,
            vec![
                "(document): Required(\"b\")".to_string(),
                "list[1]: MinLength(2)".to_string(),
                "(document): AdditionalProperties([\"extra\"])".to_string(),
            ]
        );
    }

    #[test]
    fn one_of_if_then_and_not_apply_their_subschemas() {
        let s = one(json!({
            "oneOf": [{"required": ["x"]}, {"required": ["y"]}],
            "if": {"required": ["t"], "properties": {"t": {"const": "a"}}},
            "then": {"required": ["a"]},
            "not": {"required": ["z"]}
        }));
        assert!(kinds(&s, &json!({"x": 1})).is_empty());
        assert_eq!(kinds(&s, &json!({})), vec!["(document): OneOfNone"]);
        assert_eq!(
            kinds(&s, &json!({"x": 1, "y": 1})),
            vec!["(document): OneOfMany"]
        );
        assert_eq!(
            kinds(&s, &json!({"x": 1, "t": "a"})),
            vec!["(document): Required(\"a\")"]
        );
        assert_eq!(kinds(&s, &json!({"x": 1, "z": 1})).len(), 1);
    }

    #[test]
    fn property_names_and_patterns_are_checked() {
        let s = one(json!({
            "propertyNames": {"pattern": "^[a-z]+$"},
            "additionalProperties": {"type": "string", "pattern": "^/"}
        }));
        assert!(kinds(&s, &json!({"ok": "/x"})).is_empty());
        let found = kinds(&s, &json!({"Bad": "/x", "ok": "x"}));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("(document): PropertyName"));
        assert_eq!(found[1], "ok: Pattern(\"^/\")");
    }

    #[test]
    fn limits_and_uniqueness() {
        let s = one(json!({
            "items": {"minimum": 1, "maximum": 3},
            "minItems": 1, "maxItems": 3, "uniqueItems": true
        }));
        assert!(kinds(&s, &json!([1, 2, 3])).is_empty());
        assert_eq!(kinds(&s, &json!([])), vec!["(document): MinItems(1)"]);
        assert_eq!(kinds(&s, &json!([1, 1.0])), vec!["(document): UniqueItems"]);
        assert_eq!(kinds(&s, &json!([0, 4])).len(), 2);
        assert_eq!(kinds(&s, &json!([1, 2, 3, 3])).len(), 2);
    }
}
