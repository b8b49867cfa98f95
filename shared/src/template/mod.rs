//! The variable engine: catalog templates (`{{.current.basic.instanceName | upper}}`) on Tera.
//!
//! The catalog syntax names one of four namespaces with a leading dot: `.current` (the
//! request's input), `.output` (the flat map of earlier tasks' outputs), `.metadata`
//! (`.metadata.<catalogItemId>.<field>`) and `.system` (`requestId`, `correlationId`,
//! `timestamp`, `user.email`, `user.arn`, `platform.region`, `platform.environment`).
//! A template is translated to Tera syntax ([`translate`]), parsed once, checked (`sandbox`:
//! it may read only those four namespaces and its own loop/set variables; no includes, macros
//! or environment), and then rendered any number of times (`tree`). A parsed [`Template`] or
//! [`TemplateTree`] owns the Tera instance that parsed it, so nothing else can render it. A
//! value that is missing at run time renders as an empty string (`fill`); authoring-time
//! validation (see `catalog::validate`) reports it instead.
//!
//! Filters are Tera's plus `slug`, `json` and a `default` that also covers missing values.
//! In a JSON document (a REST body) or a URL, a value is data, never structure (`escape`,
//! `url`): each one is escaped for where it lands.

mod budget;
mod escape;
mod fill;
mod sandbox;
mod translate;
mod tree;
mod url;

pub use budget::{MAX_ITERATIONS, MAX_OUTPUT, MAX_TIME};
pub use translate::translate;
pub use tree::{Template, TemplateTree};
pub use url::{check_request_path, encode_component};

use crate::path::DocPath;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// The four namespaces a template can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Namespace {
    Current,
    Output,
    Metadata,
    System,
}

impl Namespace {
    pub const ALL: [Namespace; 4] = [Self::Current, Self::Output, Self::Metadata, Self::System];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Output => "output",
            Self::Metadata => "metadata",
            Self::System => "system",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == s)
    }
}

/// `.system` paths a template may read.
pub const SYSTEM_KEYS: [&str; 9] = [
    "requestId",
    "correlationId",
    "timestamp",
    "user",
    "user.email",
    "user.arn",
    "platform",
    "platform.region",
    "platform.environment",
];

/// A variable a template reads: its namespace and the static path below it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    pub namespace: Namespace,
    pub path: Vec<String>,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ".{}", self.namespace.as_str())?;
        for p in &self.path {
            write!(f, ".{p}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("template syntax error: {0}")]
    Syntax(String),
    #[error("unknown namespace `{name}` in `{expr}`: use .current, .output, .metadata or .system")]
    UnknownNamespace { name: String, expr: String },
    #[error("{0} is not allowed in catalog templates")]
    NotAllowed(String),
    #[error("template failed to render: {0}")]
    Render(String),
    /// The render ran past a limit of `budget` (loop iterations, output size, time).
    #[error("template exceeds its budget: {0}")]
    Budget(String),
}

/// How a template's result is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plain text: values are inserted as they are.
    Text,
    /// The template is a JSON document: every value is escaped as JSON string content (the
    /// `json` filter's output is kept), and the result must be JSON.
    Json,
    /// The template is a URL: the scheme and host are literal, every value is encoded as one
    /// path segment or query value (`url`).
    Url,
}

/// The values of the four namespaces for one render.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vars {
    pub current: Value,
    pub output: Map<String, Value>,
    pub metadata: Map<String, Value>,
    pub system: Value,
}

/// The `.system` namespace's values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemVars {
    pub request_id: String,
    pub correlation_id: String,
    pub timestamp: String,
    pub user_email: String,
    pub user_arn: String,
    pub region: String,
    pub environment: String,
}

impl SystemVars {
    pub fn to_value(&self) -> Value {
        serde_json::json!({
            "requestId": self.request_id,
            "correlationId": self.correlation_id,
            "timestamp": self.timestamp,
            "user": {"email": self.user_email, "arn": self.user_arn},
            "platform": {"region": self.region, "environment": self.environment},
        })
    }
}

/// Parse errors of a tree (`path: error`) as one line.
pub fn join_errors<P: fmt::Display, E: fmt::Display>(errors: &[(P, E)]) -> String {
    errors
        .iter()
        .map(|(p, e)| format!("{p}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Vars {
    pub(crate) fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("current".into(), self.current.clone());
        m.insert("output".into(), Value::Object(self.output.clone()));
        m.insert("metadata".into(), Value::Object(self.metadata.clone()));
        m.insert("system".into(), self.system.clone());
        Value::Object(m)
    }
}

/// A variable as one template uses it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ReferenceUse {
    reference: Reference,
    /// Every use of the path has Tera's `default` filter first, which handles absence itself.
    defaulted: bool,
}

/// DNS-label-friendly slug: lower-case ASCII letters and digits joined by single dashes.
pub fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Sorted map of the references in many templates, each to the first path that reads it.
pub fn references_by_path<'a>(
    items: impl IntoIterator<Item = (DocPath, &'a Template)>,
) -> BTreeMap<Reference, DocPath> {
    let mut out = BTreeMap::new();
    for (path, t) in items {
        for r in t.references() {
            out.entry(r.clone()).or_insert_with(|| path.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn vars() -> Vars {
        Vars {
            current: json!({"name": "My App", "basic": {"instanceName": "db-01", "tags": ["a", "b"], "size": 100}}),
            output: json!({"dbTicket": "DBA-7"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            metadata: json!({"database-aurora-postgresql": {"name": "Aurora", "version": "1.2.0"}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            system: SystemVars {
                request_id: "req-1".into(),
                user_email: "dev@example.com".into(),
                region: "us-east-1".into(),
                ..Default::default()
            }
            .to_value(),
        }
    }

    fn render(src: &str) -> Result<String, TemplateError> {
        Template::parse(src, Mode::Text)?.render(&vars())
    }

    /// A value read whole and by a field, missing from the input: filled as an object, so
    /// every render agrees (a fuzz target found it rendering, then failing, then rendering).
    #[test]
    fn a_missing_value_read_whole_and_by_field_renders_every_time() {
        let t = Template::parse(
            "{{.current.dash.title}} {{.current.dash | json}} {{.current.dash.notes}}",
            Mode::Text,
        )
        .expect("parses");
        let empty = Vars {
            current: json!({}),
            ..vars()
        };
        for _ in 0..64 {
            assert_eq!(
                t.render(&empty).as_deref(),
                Ok(r#" {"title":"","notes":""} "#)
            );
        }
    }

    #[test]
    fn translates_catalog_syntax() {
        assert_eq!(
            translate("a {{.current.name | upper}} b"),
            "a {{current.name | upper}} b"
        );
        assert_eq!(translate("{{ '.x' ~ .output.k }}"), "{{ '.x' ~ output.k }}");
        assert_eq!(
            translate("{% if .current.a and .current.b %}{% endif %}"),
            "{% if current.a and current.b %}{% endif %}"
        );
        assert_eq!(
            translate("{{ 1.5 + x.y }} .current.name {# .x #}"),
            "{{ 1.5 + x.y }} .current.name {# .x #}"
        );
        assert_eq!(translate("{{ f(a=.current.x) }}"), "{{ f(a=current.x) }}");
        assert_eq!(
            translate("{{ .current.a[.current.b] }}"),
            "{{ current.a[current.b] }}"
        );
    }

    #[test]
    fn renders_all_four_namespaces() {
        assert_eq!(
            render("{{.current.basic.instanceName}} {{.output.dbTicket}} {{.metadata.database-aurora-postgresql.version}} {{.system.user.email}}").as_deref(),
            Ok("db-01 DBA-7 1.2.0 dev@example.com")
        );
        assert_eq!(
            translate("{{ .metadata.a-b.name }}"),
            r#"{{ metadata["a-b"].name }}"#
        );
    }

    #[test]
    fn filters_ours_and_teras() {
        assert_eq!(render("{{.current.name | upper}}").as_deref(), Ok("MY APP"));
        assert_eq!(render("{{.current.name | slug}}").as_deref(), Ok("my-app"));
        assert_eq!(
            render("{{.current.basic.tags | json}}").as_deref(),
            Ok(r#"["a","b"]"#)
        );
        assert_eq!(
            render(r#"{{.current.basic.missing | default(value="none")}}"#).as_deref(),
            Ok("none")
        );
        assert_eq!(
            render(r#"{{.current.nogroup.x | default(value="n")}}"#).as_deref(),
            Ok("n")
        );
        assert_eq!(
            render("{% for t in .current.basic.tags %}[{{t}}]{% endfor %}").as_deref(),
            Ok("[a][b]")
        );
        assert_eq!(
            render("{{ .current.basic.size * 2 }}").as_deref(),
            Ok("200")
        );
    }

    #[test]
    fn missing_values_render_empty() {
        assert_eq!(render("<{{.current.basic.nothing}}>").as_deref(), Ok("<>"));
        assert_eq!(render("<{{.output.notYet}}>").as_deref(), Ok("<>"));
        assert_eq!(render("<{{.current.group.deep.er}}>").as_deref(), Ok("<>"));
        assert_eq!(
            render("<{{.current.basic.nothing | upper}}>").as_deref(),
            Ok("<>")
        );
        assert_eq!(
            render("{% if .current.basic.nothing %}yes{% else %}no{% endif %}").as_deref(),
            Ok("no")
        );
        assert_eq!(
            render("{% if .current.basic.nothing is defined %}yes{% else %}no{% endif %}")
                .as_deref(),
            Ok("no")
        );
    }

    #[test]
    fn json_context_escapes_values() {
        let t = Template::parse(
            r#"{"name": "{{.current.name}}", "tags": {{.current.basic.tags | json}}}"#,
            Mode::Json,
        )
        .expect("parses");
        let mut v = vars();
        v.current["name"] = json!("say \"hi\"\n\\ <b>");
        let out = t.render(&v).expect("renders");
        let parsed: Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(parsed["name"], json!("say \"hi\"\n\\ <b>"));
        assert_eq!(parsed["tags"], json!(["a", "b"]));
    }

    #[test]
    fn a_value_never_becomes_json_structure() {
        let mut v = vars();
        v.current["name"] = json!(r#"x", "admin": true, "y": ""#);
        v.current["list"] = json!([r#"a", "admin": true, "b": ""#]);
        // `safe` does not skip the escaping, and a list written as text is escaped too.
        for src in [
            r#"{"name": "{{.current.name | safe}}"}"#,
            r#"{"name": "{{.current.name}}", "list": "{{.current.list}}"}"#,
            r#"{"name": "{{.current.name | upper | safe}}"}"#,
        ] {
            let out = Template::parse(src, Mode::Json)
                .and_then(|t| t.render(&v))
                .expect(src);
            let doc: Value = serde_json::from_str(&out).expect("JSON");
            assert!(doc.get("admin").is_none(), "{src}: {out}");
        }
        // A value where the document wants a number: the result is not JSON, so refused.
        let t = Template::parse(r#"{"n": {{.current.name}}}"#, Mode::Json).expect("parses");
        assert!(matches!(t.render(&v), Err(TemplateError::Render(m)) if m.contains("not JSON")));
        // Nothing may rewrite the text around the values, or name the marking filters.
        for bad in [
            r#"{% filter slugify %}{"a": "{{.current.name}}"}{% endfilter %}"#,
            r#"{"a": "{{.current.name | pao_mark_json}}"}"#,
        ] {
            assert!(
                matches!(
                    Template::parse(bad, Mode::Json),
                    Err(TemplateError::NotAllowed(_))
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            Template::parse("{\"a\": \"\u{e000}\"}", Mode::Json),
            Err(TemplateError::Syntax(_))
        ));
    }

    #[test]
    fn a_value_fills_one_url_segment() {
        let url = "https://deploy.example.com/api/namespaces/{{.current.ns}}/services/{{.current.app}}?owner={{.current.owner}}";
        let t = Template::parse(url, Mode::Url).expect("parses");
        let mut v = vars();
        v.current["app"] = json!("web");
        v.current["owner"] = json!("a&b=c");
        v.current["ns"] = json!("team a");
        assert_eq!(
            t.render(&v).as_deref(),
            Ok("https://deploy.example.com/api/namespaces/team%20a/services/web?owner=a%26b%3Dc")
        );
        for hostile in ["other-team/services/their-app#", "..", "", "x\\y"] {
            v.current["ns"] = json!(hostile);
            assert!(
                matches!(t.render(&v), Err(TemplateError::Render(_))),
                "{hostile:?}: {:?}",
                t.render(&v)
            );
        }
        assert!(matches!(
            Template::parse("https://{{.current.ns}}.example.com/x", Mode::Url),
            Err(TemplateError::NotAllowed(_))
        ));
        // In a config tree, only the top-level `url` is a URL.
        let tree = json!({"url": "https://h.example.com/{{.current.ns}}", "links": [{"url": "{{.current.ns}}"}]});
        let parsed = TemplateTree::parse(&tree, &[("url", Mode::Url)]).expect("parses");
        v.current["ns"] = json!("a/b");
        assert!(parsed.render(&v).is_err());
        v.current["ns"] = json!("a b");
        let out = parsed.render(&v).expect("renders");
        assert_eq!(out["url"], json!("https://h.example.com/a%20b"));
        assert_eq!(out["links"][0]["url"], json!("a b"));
        let bad = json!({"url": "{{.current.ns}}"});
        let errors = TemplateTree::parse(&bad, &[("url", Mode::Url)]).expect_err("templated host");
        assert_eq!(errors[0].0.to_string(), "url");
    }

    #[test]
    fn loops_are_bounded_and_globals_refused() {
        for bad in [
            "{% set_global x = 1 %}{{ x }}",
            "{% for i in range(end=10, step_by=0) %}x{% endfor %}",
            "{% for i in range(end=3000) %}x{% endfor %}",
            "{% for i in range(end=.current.basic.instanceName) %}x{% endfor %}",
            "{% for i in range(start=0) %}x{% endfor %}",
        ] {
            assert!(
                matches!(render(bad), Err(TemplateError::NotAllowed(_))),
                "{bad}: {:?}",
                render(bad)
            );
        }
        assert_eq!(
            render("{% for i in range(end=3) %}{{ i }}{% endfor %}").ok(),
            Some("012".to_string())
        );
    }

    #[test]
    fn a_render_has_a_budget() {
        let over =
            |src: &str, v: &Vars| match Template::parse(src, Mode::Text).expect("parses").render(v)
            {
                Err(TemplateError::Budget(why)) => why,
                other => panic!("{src}: {other:?}"),
            };
        let mut v = vars();
        // Loops inside loops: iterations are counted across the render.
        let why = over(
            "{% for i in range(end=1000) %}{% for j in range(end=1000) %}x{% endfor %}{% endfor %}",
            &v,
        );
        assert!(why.contains("loop iterations"), "{why}");
        // Output, literal and rendered.
        let wide = format!(
            "{{% for i in range(end=1000) %}}{}{{% endfor %}}",
            "y".repeat(2048)
        );
        assert!(over(&wide, &v).contains("KiB of output"));
        v.current["name"] = json!("a".repeat(1000));
        let why = over(
            &format!(
                "{{{{ .current.name | replace(from='a', to='{}') }}}}",
                "b".repeat(2000)
            ),
            &v,
        );
        assert!(why.contains("`replace`"), "{why}");
        // A chain of filters that each multiply: measured after each.
        let why = over(
            "{{ .current.name | replace(from='a', to='aaaaaaaaaa') | replace(from='a', to='aaaaaaaaaa') | replace(from='a', to='aaaaaaaaaa') }}",
            &v,
        );
        assert!(why.contains("KiB"), "{why}");
        v.current["list"] = json!(vec!["x"; 1000]);
        let why = over(
            &format!("{{{{ .current.list | join(sep='{}') }}}}", "s".repeat(2000)),
            &v,
        );
        assert!(why.contains("`join`"), "{why}");
        // Within the budget the filters do what Tera's do.
        assert_eq!(
            render("{{ 'a-b' | replace(from='-', to='+') }}|{{ .current.basic.tags | join(sep=',') }}|{{ 'x\ny' | indent(prefix='> ', first=true) }}").as_deref(),
            Ok("a+b|a,b|> x\n> y")
        );
        // A config tree shares one budget and names where it ran out.
        let tree = json!({"a": wide, "b": "fine"});
        let err = TemplateTree::parse(&tree, &[])
            .expect("parses")
            .render(&v)
            .expect_err("over");
        assert_eq!(err.0.to_string(), "a");
        assert!(matches!(err.1, TemplateError::Budget(_)));
        // The instrumentation is not for templates to call.
        assert!(matches!(
            Template::parse("{{ pao_tick(text=1) }}", Mode::Text),
            Err(TemplateError::NotAllowed(_))
        ));
        assert!(matches!(
            Template::parse("{{ 'a' | pao_check }}", Mode::Text),
            Err(TemplateError::NotAllowed(_))
        ));
    }

    #[test]
    fn only_the_four_namespaces() {
        assert!(
            matches!(render("{{ env.HOME }}"), Err(TemplateError::UnknownNamespace { name, .. }) if name == "env")
        );
        assert!(
            matches!(render("{{ .secrets.x }}"), Err(TemplateError::UnknownNamespace { name, .. }) if name == "secrets")
        );
        assert!(matches!(
            render(r#"{{ get_env(name="HOME") }}"#),
            Err(TemplateError::NotAllowed(_))
        ));
        assert!(matches!(
            render(r#"{% include "x" %}"#),
            Err(TemplateError::NotAllowed(_))
        ));
        assert!(matches!(
            render("{{ __tera_context }}"),
            Err(TemplateError::UnknownNamespace { .. })
        ));
        assert!(matches!(
            render("{{ .current.name "),
            Err(TemplateError::Syntax(_))
        ));
    }

    #[test]
    fn references_are_collected() {
        let t = Template::parse("{{.current.basic.instanceName}}-{{ .output.k | default(value='x') }}{% for x in .current.basic.tags %}{{x}}{{.system.user.email}}{% endfor %}", Mode::Text)
            .expect("parses");
        let refs: Vec<String> = t.references().iter().map(|r| r.to_string()).collect();
        assert_eq!(
            refs,
            [
                ".current.basic.instanceName",
                ".output.k",
                ".current.basic.tags",
                ".system.user.email"
            ]
        );
    }

    #[test]
    fn a_config_tree_renders_in_one_call() {
        let tree = json!({
            "summary": "Provision {{.current.basic.instanceName}}",
            "labels": ["pao", "{{.current.name | slug}}"],
            "fields": {"customfield_1": "{{.current.basic.size | json}}", "n": 3, "b": true},
            "body": "{\"ticket\": \"{{.output.dbTicket}}\", \"who\": \"{{.current.name}}\"}",
        });
        let parsed = TemplateTree::parse(&tree, &[("body", Mode::Json)]).expect("parses");
        let mut v = vars();
        v.current["name"] = json!("Quote \" App");
        let out = parsed.render(&v).expect("renders");
        assert_eq!(out["summary"], json!("Provision db-01"));
        assert_eq!(out["labels"], json!(["pao", "quote-app"]));
        assert_eq!(
            out["fields"],
            json!({"customfield_1": 100, "n": 3, "b": true})
        );
        let body: Value =
            serde_json::from_str(out["body"].as_str().unwrap_or_default()).expect("JSON body");
        assert_eq!(body, json!({"ticket": "DBA-7", "who": "Quote \" App"}));
        let errs =
            TemplateTree::parse(&json!({"a": ["{{ .bad.x }}"]}), &[]).expect_err("bad namespace");
        assert_eq!(errs[0].0.to_string(), "a[0]");
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("  Hello, World!! "), "hello-world");
        assert_eq!(slug("Ünïcode--x"), "n-code-x");
        assert_eq!(slug("---"), "");
    }

    proptest! {
        #[test]
        fn parsing_never_panics(src in ".{0,80}") {
            if let Ok(t) = Template::parse(&src, Mode::Text) {
                let _ = t.render(&vars());
            }
        }

        #[test]
        fn template_like_input_never_panics(parts in prop::collection::vec(prop_oneof![
            Just("{{".to_string()), Just("}}".to_string()), Just("{%".to_string()), Just("%}".to_string()),
            Just(".current.".to_string()), Just(".output.x".to_string()), Just("|".to_string()), Just(" json ".to_string()),
            Just("'".to_string()), Just("[".to_string()), Just("]".to_string()), Just("for x in".to_string()), Just("endfor".to_string()),
            "[a-z0-9 .]{0,6}".prop_map(|s: String| s),
        ], 0..16)) {
            let src = parts.concat();
            if let Ok(t) = Template::parse(&src, Mode::Json) {
                let _ = t.render(&vars());
            }
        }
    }
}
