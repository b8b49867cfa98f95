//! The variable engine: catalog templates (`{{.current.basic.instanceName | upper}}`) on Tera.
//!
//! The catalog syntax names one of four namespaces with a leading dot: `.current` (the
//! request's input), `.output` (the flat map of earlier tasks' outputs), `.metadata`
//! (`.metadata.<catalogItemId>.<field>`) and `.system` (`requestId`, `correlationId`,
//! `timestamp`, `user.email`, `user.arn`, `platform.region`, `platform.environment`).
//! A template is translated to Tera syntax, parsed once, checked (it may read only those four
//! namespaces and its own loop/set variables; no includes, macros or environment), and then
//! rendered any number of times. A value that is missing at run time renders as an empty
//! string; authoring-time validation (see [`crate::catalog::validate`]) reports it instead.
//!
//! Filters are Tera's plus `slug`, `json` and a `default` that also covers missing values.
//! In a JSON context (a string template whose result is a JSON document, such as a REST
//! body) every interpolated string is escaped as JSON string content.

use crate::path::DocPath;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use tera::ast::{Expr, ExprVal, Node};

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

    fn parse(s: &str) -> Option<Self> {
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
}

/// How a template's result is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plain text: values are inserted as they are.
    Text,
    /// The template is a JSON document: interpolated strings are escaped as JSON.
    Json,
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
    /// `.system` for a stored request, at `timestamp`.
    pub fn of(
        request: &crate::record::RequestRecord,
        timestamp: String,
        region: &str,
        environment: &str,
    ) -> Self {
        Self {
            request_id: request.request_id.to_string(),
            correlation_id: request.correlation_id.clone(),
            timestamp,
            user_email: request.user.email.clone().unwrap_or_default(),
            user_arn: request.user.arn.clone(),
            region: region.to_string(),
            environment: environment.to_string(),
        }
    }

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
    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("current".into(), self.current.clone());
        m.insert("output".into(), Value::Object(self.output.clone()));
        m.insert("metadata".into(), Value::Object(self.metadata.clone()));
        m.insert("system".into(), self.system.clone());
        Value::Object(m)
    }
}

/// A parsed template, ready to render with [`Engine::render`].
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// Literal text with no template syntax: rendered by copying.
    literal: Option<String>,
    name: String,
    references: Vec<ReferenceUse>,
    /// The whole template is one `{{ … | json }}`: a config leaf keeps the JSON value's type.
    typed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ReferenceUse {
    reference: Reference,
    /// Every use of the path has Tera's `default` filter first, which handles absence itself.
    defaulted: bool,
}

impl Template {
    /// The distinct variables this template reads, in first-use order.
    pub fn references(&self) -> Vec<&Reference> {
        let mut seen = HashSet::new();
        self.references
            .iter()
            .map(|u| &u.reference)
            .filter(|r| seen.insert(*r))
            .collect()
    }

    pub fn is_literal(&self) -> bool {
        self.literal.is_some()
    }
}

/// Holds parsed templates; parse once with [`Engine::parse`], render many times.
pub struct Engine {
    tera: tera::Tera,
    next: usize,
}

impl Default for Engine {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("templates", &self.next)
            .finish()
    }
}

impl Engine {
    pub fn new() -> Self {
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![".json"]);
        tera.set_escape_fn(escape_json);
        tera.register_filter("slug", slug_filter);
        tera.register_filter("slugify", slug_filter);
        tera.register_filter("json", JsonFilter);
        // Templates read the four namespaces and nothing else: no process environment.
        tera.register_function("get_env", no_env);
        Self { tera, next: 0 }
    }

    /// Translates, parses and checks a template.
    pub fn parse(&mut self, source: &str, mode: Mode) -> Result<Template, TemplateError> {
        if !source.contains("{{") && !source.contains("{%") && !source.contains("{#") {
            return Ok(Template {
                literal: Some(source.to_string()),
                name: String::new(),
                references: Vec::new(),
                typed: false,
            });
        }
        let translated = translate(source);
        self.next += 1;
        let name = match mode {
            Mode::Text => format!("t{}", self.next),
            Mode::Json => format!("t{}.json", self.next),
        };
        self.tera
            .add_raw_template(&name, &translated)
            .map_err(|e| TemplateError::Syntax(error_chain(&e)))?;
        let ast = self
            .tera
            .get_template(&name)
            .map(|t| t.ast.clone())
            .map_err(|e| TemplateError::Syntax(error_chain(&e)))?;
        let mut walker = Walker::default();
        let checked = walker.nodes(&ast, &mut Vec::new());
        if let Err(e) = checked {
            // A rejected template is not kept.
            let _ = self.tera.templates.remove(&name);
            return Err(e);
        }
        let typed = matches!(ast.as_slice(), [Node::VariableBlock(_, e)]
            if e.filters.last().is_some_and(|f| f.name == "json"));
        Ok(Template {
            literal: None,
            name,
            references: walker.finish(),
            typed,
        })
    }

    /// Renders one template. Missing values render as empty strings.
    pub fn render(&self, template: &Template, vars: &Vars) -> Result<String, TemplateError> {
        if let Some(text) = &template.literal {
            return Ok(text.clone());
        }
        let mut root = vars.to_value();
        fill_missing(&mut root, &template.references);
        self.render_in(template, &context(root)?)
    }

    fn render_in(&self, template: &Template, ctx: &tera::Context) -> Result<String, TemplateError> {
        if let Some(text) = &template.literal {
            return Ok(text.clone());
        }
        self.tera
            .render(&template.name, ctx)
            .map_err(|e| TemplateError::Render(error_chain(&e)))
    }

    /// Parses every string inside a config tree (maps and lists, any depth). String values
    /// under the top-level key `json_key` are JSON documents and render in [`Mode::Json`].
    /// Returns every template error with its path below the tree's root.
    pub fn parse_tree(
        &mut self,
        tree: &Value,
        json_key: Option<&str>,
    ) -> Result<TemplateTree, Vec<(DocPath, TemplateError)>> {
        let mut errors = Vec::new();
        let root = self.parse_node(tree, &DocPath::root(), json_key, &mut errors);
        if errors.is_empty() {
            Ok(TemplateTree { root })
        } else {
            Err(errors)
        }
    }

    fn parse_node(
        &mut self,
        value: &Value,
        path: &DocPath,
        json_key: Option<&str>,
        errors: &mut Vec<(DocPath, TemplateError)>,
    ) -> TreeNode {
        match value {
            Value::String(s) => {
                let mode = match (json_key, path.segments()) {
                    (Some(k), [crate::path::Segment::Key(first)]) if first == k => Mode::Json,
                    _ => Mode::Text,
                };
                match self.parse(s, mode) {
                    Ok(t) => TreeNode::Template(t),
                    Err(e) => {
                        errors.push((path.clone(), e));
                        TreeNode::Value(Value::Null)
                    }
                }
            }
            Value::Array(items) => TreeNode::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| self.parse_node(v, &path.index(i), json_key, errors))
                    .collect(),
            ),
            Value::Object(map) => TreeNode::Map(
                map.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            self.parse_node(v, &path.key(k), json_key, errors),
                        )
                    })
                    .collect(),
            ),
            other => TreeNode::Value(other.clone()),
        }
    }

    /// Renders a whole config tree in one call: the same shape with every string rendered.
    pub fn render_tree(
        &self,
        tree: &TemplateTree,
        vars: &Vars,
    ) -> Result<Value, (DocPath, TemplateError)> {
        let mut uses = Vec::new();
        tree.root.collect_uses(&mut uses);
        let mut root = vars.to_value();
        fill_missing(&mut root, &uses);
        let ctx = context(root).map_err(|e| (DocPath::root(), e))?;
        self.render_node(&tree.root, &ctx, &DocPath::root())
    }

    fn render_node(
        &self,
        node: &TreeNode,
        ctx: &tera::Context,
        path: &DocPath,
    ) -> Result<Value, (DocPath, TemplateError)> {
        Ok(match node {
            TreeNode::Value(v) => v.clone(),
            TreeNode::Template(t) => {
                let text = self.render_in(t, ctx).map_err(|e| (path.clone(), e))?;
                if t.typed {
                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                } else {
                    Value::String(text)
                }
            }
            TreeNode::List(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| self.render_node(n, ctx, &path.index(i)))
                    .collect::<Result<_, _>>()?,
            ),
            TreeNode::Map(map) => Value::Object(
                map.iter()
                    .map(|(k, n)| Ok((k.clone(), self.render_node(n, ctx, &path.key(k))?)))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

/// A config tree whose strings are parsed templates.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateTree {
    root: TreeNode,
}

#[derive(Debug, Clone, PartialEq)]
enum TreeNode {
    Value(Value),
    Template(Template),
    List(Vec<TreeNode>),
    Map(Vec<(String, TreeNode)>),
}

impl TreeNode {
    fn collect_uses(&self, out: &mut Vec<ReferenceUse>) {
        match self {
            Self::Value(_) => {}
            Self::Template(t) => out.extend(t.references.iter().cloned()),
            Self::List(items) => items.iter().for_each(|n| n.collect_uses(out)),
            Self::Map(items) => items.iter().for_each(|(_, n)| n.collect_uses(out)),
        }
    }
}

impl TemplateTree {
    /// Every template in the tree with its path, in document order.
    pub fn templates(&self) -> Vec<(DocPath, &Template)> {
        fn walk<'a>(node: &'a TreeNode, path: DocPath, out: &mut Vec<(DocPath, &'a Template)>) {
            match node {
                TreeNode::Value(_) => {}
                TreeNode::Template(t) => out.push((path, t)),
                TreeNode::List(items) => {
                    for (i, n) in items.iter().enumerate() {
                        walk(n, path.index(i), out);
                    }
                }
                TreeNode::Map(items) => {
                    for (k, n) in items {
                        walk(n, path.key(k), out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, DocPath::root(), &mut out);
        out
    }
}

fn context(root: Value) -> Result<tera::Context, TemplateError> {
    tera::Context::from_value(root).map_err(|e| TemplateError::Render(error_chain(&e)))
}

/// Makes every variable the template reads exist, as an empty string where it is missing,
/// so that a missing value renders empty rather than failing the task. Paths read only
/// through `default(...)` stay absent so that the default applies.
fn fill_missing(root: &mut Value, uses: &[ReferenceUse]) {
    let mut defaulted_only: HashMap<&Reference, bool> = HashMap::new();
    for u in uses {
        let e = defaulted_only.entry(&u.reference).or_insert(true);
        *e &= u.defaulted;
    }
    for (reference, defaulted) in defaulted_only {
        if defaulted {
            continue;
        }
        let mut node = &mut *root;
        let mut keys = std::iter::once(reference.namespace.as_str())
            .chain(reference.path.iter().map(String::as_str))
            .peekable();
        while let Some(key) = keys.next() {
            let last = keys.peek().is_none();
            node = match node {
                Value::Object(map) => map.entry(key.to_string()).or_insert_with(|| {
                    if last {
                        Value::String(String::new())
                    } else {
                        Value::Object(Map::new())
                    }
                }),
                Value::Array(items) => {
                    match key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                        Some(v) => v,
                        None => break,
                    }
                }
                _ => break,
            };
        }
    }
}

/// Collects references while checking what a template may do.
#[derive(Default)]
struct Walker {
    uses: Vec<ReferenceUse>,
}

impl Walker {
    fn finish(self) -> Vec<ReferenceUse> {
        // One entry per (reference, defaulted) in first-use order.
        let mut seen = HashSet::new();
        self.uses
            .into_iter()
            .filter(|u| seen.insert(u.clone()))
            .collect()
    }

    fn nodes(&mut self, nodes: &[Node], locals: &mut Vec<String>) -> Result<(), TemplateError> {
        let depth = locals.len();
        for node in nodes {
            match node {
                Node::Text(_)
                | Node::Raw(..)
                | Node::Comment(..)
                | Node::Break(_)
                | Node::Continue(_) => {}
                Node::VariableBlock(_, e) => self.expr(e, locals)?,
                Node::Set(_, set) => {
                    self.expr(&set.value, locals)?;
                    locals.push(set.key.clone());
                }
                Node::If(cond, _) => {
                    for (_, e, body) in &cond.conditions {
                        self.expr(e, locals)?;
                        self.scoped(body, locals, &[])?;
                    }
                    if let Some((_, body)) = &cond.otherwise {
                        self.scoped(body, locals, &[])?;
                    }
                }
                Node::Forloop(_, f, _) => {
                    self.expr(&f.container, locals)?;
                    let mut names = vec![f.value.clone(), "loop".to_string()];
                    names.extend(f.key.clone());
                    self.scoped(&f.body, locals, &names)?;
                    if let Some(body) = &f.empty_body {
                        self.scoped(body, locals, &[])?;
                    }
                }
                Node::FilterSection(_, section, _) => {
                    self.filter_args(&section.filter, locals)?;
                    self.scoped(&section.body, locals, &[])?;
                }
                Node::Extends(..) => return Err(TemplateError::NotAllowed("`extends`".into())),
                Node::Include(..) => return Err(TemplateError::NotAllowed("`include`".into())),
                Node::ImportMacro(..) => return Err(TemplateError::NotAllowed("`import`".into())),
                Node::MacroDefinition(..) => {
                    return Err(TemplateError::NotAllowed("a macro".into()));
                }
                Node::Block(..) | Node::Super => {
                    return Err(TemplateError::NotAllowed("`block`".into()));
                }
            }
        }
        locals.truncate(depth);
        Ok(())
    }

    fn scoped(
        &mut self,
        body: &[Node],
        locals: &mut Vec<String>,
        names: &[String],
    ) -> Result<(), TemplateError> {
        let depth = locals.len();
        locals.extend(names.iter().cloned());
        let result = self.nodes(body, locals);
        locals.truncate(depth);
        result
    }

    fn filter_args(
        &mut self,
        call: &tera::ast::FunctionCall,
        locals: &[String],
    ) -> Result<(), TemplateError> {
        call.args.values().try_for_each(|a| self.expr(a, locals))
    }

    fn expr(&mut self, e: &Expr, locals: &[String]) -> Result<(), TemplateError> {
        let defaulted = e.has_default_filter();
        self.val(&e.val, locals, defaulted)?;
        e.filters
            .iter()
            .try_for_each(|f| self.filter_args(f, locals))
    }

    fn val(
        &mut self,
        v: &ExprVal,
        locals: &[String],
        defaulted: bool,
    ) -> Result<(), TemplateError> {
        match v {
            ExprVal::String(_) | ExprVal::Int(_) | ExprVal::Float(_) | ExprVal::Bool(_) => Ok(()),
            ExprVal::Ident(ident) => self.ident(ident, locals, defaulted),
            ExprVal::Math(m) => {
                self.expr(&m.lhs, locals)?;
                self.expr(&m.rhs, locals)
            }
            ExprVal::Logic(l) => {
                self.expr(&l.lhs, locals)?;
                self.expr(&l.rhs, locals)
            }
            ExprVal::In(i) => {
                self.expr(&i.lhs, locals)?;
                self.expr(&i.rhs, locals)
            }
            ExprVal::Test(t) => {
                // `is defined` must not turn a missing value into an empty one.
                self.ident(&t.ident, locals, true)?;
                t.args.iter().try_for_each(|a| self.expr(a, locals))
            }
            ExprVal::Array(items) => items.iter().try_for_each(|a| self.expr(a, locals)),
            ExprVal::StringConcat(c) => c
                .values
                .iter()
                .try_for_each(|v| self.val(v, locals, defaulted)),
            ExprVal::FunctionCall(f) if f.name == "range" => self.filter_args(f, locals),
            ExprVal::FunctionCall(f) => Err(TemplateError::NotAllowed(format!(
                "the function `{}`",
                f.name
            ))),
            ExprVal::MacroCall(m) => Err(TemplateError::NotAllowed(format!(
                "the macro call `{}`",
                m.name
            ))),
        }
    }

    fn ident(
        &mut self,
        ident: &str,
        locals: &[String],
        defaulted: bool,
    ) -> Result<(), TemplateError> {
        let segments = split_ident(ident);
        let Some(IdentPart::Key(root)) = segments.first() else {
            return Err(TemplateError::Syntax(format!("cannot read `{ident}`")));
        };
        // Dynamic subscripts (`x[loop.index]`) are variables too.
        for part in &segments {
            if let IdentPart::Dynamic(inner) = part {
                self.ident(inner, locals, false)?;
            }
        }
        if locals.iter().any(|l| l == root) {
            return Ok(());
        }
        let Some(namespace) = Namespace::parse(root) else {
            return Err(TemplateError::UnknownNamespace {
                name: root.clone(),
                expr: ident.to_string(),
            });
        };
        let path = segments[1..]
            .iter()
            .map_while(|p| match p {
                IdentPart::Key(k) => Some(k.clone()),
                IdentPart::Index(i) => Some(i.to_string()),
                IdentPart::Dynamic(_) => None,
            })
            .collect();
        self.uses.push(ReferenceUse {
            reference: Reference { namespace, path },
            defaulted,
        });
        Ok(())
    }
}

#[derive(Debug, PartialEq)]
enum IdentPart {
    Key(String),
    Index(usize),
    Dynamic(String),
}

/// Splits a Tera identifier (`a.b[0]["c-d"][e.f]`) into its parts.
fn split_ident(ident: &str) -> Vec<IdentPart> {
    let mut parts = Vec::new();
    let mut chars = ident.chars().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, parts: &mut Vec<IdentPart>| {
        if !word.is_empty() {
            let w = std::mem::take(word);
            // Tera allows `a.0` for array access.
            match w.parse::<usize>() {
                Ok(i) if !parts.is_empty() => parts.push(IdentPart::Index(i)),
                _ => parts.push(IdentPart::Key(w)),
            }
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '.' => flush(&mut word, &mut parts),
            '[' => {
                flush(&mut word, &mut parts);
                let mut inner = String::new();
                let mut depth = 1;
                for c in chars.by_ref() {
                    match c {
                        '[' => depth += 1,
                        ']' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    inner.push(c);
                }
                let inner = inner.trim();
                let quoted = inner.len() >= 2
                    && ["\"", "'", "`"]
                        .iter()
                        .any(|q| inner.starts_with(q) && inner.ends_with(q));
                if quoted {
                    parts.push(IdentPart::Key(inner[1..inner.len() - 1].to_string()));
                } else if let Ok(i) = inner.parse::<usize>() {
                    parts.push(IdentPart::Index(i));
                } else {
                    parts.push(IdentPart::Dynamic(inner.to_string()));
                }
            }
            c => word.push(c),
        }
    }
    flush(&mut word, &mut parts);
    parts
}

/// Catalog syntax → Tera syntax: inside `{{ }}` and `{% %}` tags, a dot that starts a variable
/// path (`.current.name`) is dropped. String literals and comments are left alone.
pub fn translate(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find(['{']) {
        let (before, tail) = rest.split_at(start);
        out.push_str(before);
        let close = if tail.starts_with("{{") {
            "}}"
        } else if tail.starts_with("{%") {
            "%}"
        } else if tail.starts_with("{#") {
            // Comments pass through untouched.
            let end = tail.find("#}").map(|i| i + 2).unwrap_or(tail.len());
            out.push_str(&tail[..end]);
            rest = &tail[end..];
            continue;
        } else {
            out.push('{');
            rest = &tail[1..];
            continue;
        };
        out.push_str(&tail[..2]);
        let body = &tail[2..];
        let consumed = translate_tag(body, close, &mut out);
        rest = &body[consumed..];
    }
    out.push_str(rest);
    out
}

/// Copies one tag's body up to and including `close`, dropping namespace dots; returns how
/// many bytes of `body` it consumed. `.metadata.<catalogItemId>` becomes
/// `metadata["<catalogItemId>"]` because catalog ids contain dashes.
fn translate_tag(body: &str, close: &str, out: &mut String) -> usize {
    let mut prev: Option<char> = None;
    let mut quote: Option<char> = None;
    let mut i = 0;
    while let Some(c) = body[i..].chars().next() {
        let width = c.len_utf8();
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            prev = Some(c);
            i += width;
            continue;
        }
        if body[i..].starts_with(close) {
            out.push_str(close);
            return i + close.len();
        }
        match c {
            '"' | '\'' | '`' => {
                quote = Some(c);
                out.push(c);
            }
            '.' => {
                let starts_path = body[i + 1..]
                    .chars()
                    .next()
                    .is_some_and(|n| n.is_ascii_alphabetic() || n == '_');
                let continues = prev.is_some_and(|p| {
                    p.is_alphanumeric() || p == '_' || p == ')' || p == ']' || p == '.'
                });
                if starts_path && !continues {
                    if let Some(rest) = body[i + 1..].strip_prefix("metadata.") {
                        let id_len = rest
                            .find(|n: char| !(n.is_ascii_alphanumeric() || n == '-' || n == '_'))
                            .unwrap_or(rest.len());
                        if id_len > 0 {
                            out.push_str("metadata[\"");
                            out.push_str(&rest[..id_len]);
                            out.push_str("\"]");
                            i += 1 + "metadata.".len() + id_len;
                            prev = Some(']');
                            continue;
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            c => out.push(c),
        }
        prev = Some(c);
        i += width;
    }
    body.len()
}

fn escape_json(s: &str) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or_default()
        .to_string()
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

fn slug_filter(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok(Value::String(slug(&text)))
}

/// `{{ x | json }}` (or `json(pretty=true)`): the value as JSON, never escaped again.
struct JsonFilter;

impl tera::Filter for JsonFilter {
    fn filter(&self, value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let pretty = args.get("pretty").and_then(Value::as_bool).unwrap_or(false);
        let text = if pretty {
            serde_json::to_string_pretty(value)
        } else {
            serde_json::to_string(value)
        };
        text.map(Value::String).map_err(tera::Error::json)
    }

    fn is_safe(&self) -> bool {
        true
    }
}

fn no_env(_: &HashMap<String, Value>) -> tera::Result<Value> {
    Err(tera::Error::msg(
        "get_env is not available in catalog templates",
    ))
}

/// Tera's message with its causes, without the generated template name.
fn error_chain(e: &tera::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    let text = parts
        .into_iter()
        .filter(|p| !p.starts_with("Failed to parse") && !p.starts_with("Failed to render"))
        .collect::<Vec<_>>()
        .join(": ");
    // Tera quotes our internal template names; they mean nothing to a catalog author.
    let text = text.replace(" in 't", " in 'template").replace('\n', " ");
    let squeezed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if squeezed.is_empty() {
        "invalid template".to_string()
    } else {
        squeezed
    }
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
        let mut engine = Engine::new();
        let t = engine.parse(src, Mode::Text)?;
        engine.render(&t, &vars())
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
        let mut engine = Engine::new();
        let t = engine
            .parse(
                r#"{"name": "{{.current.name}}", "tags": {{.current.basic.tags | json}}}"#,
                Mode::Json,
            )
            .expect("parses");
        let mut v = vars();
        v.current["name"] = json!("say \"hi\"\n\\ <b>");
        let out = engine.render(&t, &v).expect("renders");
        let parsed: Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(parsed["name"], json!("say \"hi\"\n\\ <b>"));
        assert_eq!(parsed["tags"], json!(["a", "b"]));
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
        let mut engine = Engine::new();
        let t = engine
            .parse("{{.current.basic.instanceName}}-{{ .output.k | default(value='x') }}{% for x in .current.basic.tags %}{{x}}{{.system.user.email}}{% endfor %}", Mode::Text)
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
        let mut engine = Engine::new();
        let tree = json!({
            "summary": "Provision {{.current.basic.instanceName}}",
            "labels": ["pao", "{{.current.name | slug}}"],
            "fields": {"customfield_1": "{{.current.basic.size | json}}", "n": 3, "b": true},
            "body": "{\"ticket\": \"{{.output.dbTicket}}\", \"who\": \"{{.current.name}}\"}",
        });
        let parsed = engine.parse_tree(&tree, Some("body")).expect("parses");
        let mut v = vars();
        v.current["name"] = json!("Quote \" App");
        let out = engine.render_tree(&parsed, &v).expect("renders");
        assert_eq!(out["summary"], json!("Provision db-01"));
        assert_eq!(out["labels"], json!(["pao", "quote-app"]));
        assert_eq!(
            out["fields"],
            json!({"customfield_1": 100, "n": 3, "b": true})
        );
        let body: Value =
            serde_json::from_str(out["body"].as_str().unwrap_or_default()).expect("JSON body");
        assert_eq!(body, json!({"ticket": "DBA-7", "who": "Quote \" App"}));
        let errs = engine
            .parse_tree(&json!({"a": ["{{ .bad.x }}"]}), None)
            .expect_err("bad namespace");
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
            let mut engine = Engine::new();
            if let Ok(t) = engine.parse(&src, Mode::Text) {
                let _ = engine.render(&t, &vars());
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
            let mut engine = Engine::new();
            if let Ok(t) = engine.parse(&src, Mode::Json) {
                let _ = engine.render(&t, &vars());
            }
        }
    }
}
