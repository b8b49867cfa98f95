//! Parsing and rendering. A [`Template`] (or a [`TemplateTree`], a config with a template in
//! every string) shares ownership of the Tera instance that parsed it: it renders only there,
//! and can be kept (in a catalog snapshot's cache) and rendered any number of times.

use super::budget;
use super::escape::{MARK, MARK_JSON, Mark, finish, mark_outputs, uses_markers};
use super::fill::{context, fill_missing};
use super::sandbox::Walker;
use super::translate::translate;
use super::{Mode, Reference, ReferenceUse, TemplateError, Vars};
use crate::path::{DocPath, Segment};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, OnceLock};

/// The Tera instance of one parse: set once every template of the parse is in it.
type Shared = Arc<OnceLock<tera::Tera>>;

/// A parsed, checked template.
#[derive(Clone)]
pub struct Template {
    /// Literal text with no template syntax: rendered by copying.
    literal: Option<String>,
    tera: Shared,
    /// Its name inside `tera`.
    name: String,
    /// How values are escaped in the finished text.
    mode: Mode,
    references: Vec<ReferenceUse>,
    /// The whole template is one `{{ … | json }}`: a config leaf keeps the JSON value's type.
    typed: bool,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("literal", &self.literal)
            .field("references", &self.references)
            .field("typed", &self.typed)
            .finish_non_exhaustive()
    }
}

impl Template {
    /// Translates, parses and checks one template.
    pub fn parse(source: &str, mode: Mode) -> Result<Self, TemplateError> {
        let mut parser = Parser::new();
        let template = parser.parse(source, mode)?;
        parser.finish();
        Ok(template)
    }

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

    /// Renders the template. Missing values render as empty strings.
    pub fn render(&self, vars: &Vars) -> Result<String, TemplateError> {
        if let Some(text) = &self.literal {
            return Ok(text.clone());
        }
        let mut root = vars.to_value();
        fill_missing(&mut root, &self.references);
        self.render_in(&context(root)?)
    }

    fn render_in(&self, ctx: &tera::Context) -> Result<String, TemplateError> {
        if let Some(text) = &self.literal {
            return Ok(text.clone());
        }
        let tera = self
            .tera
            .get()
            .ok_or_else(|| TemplateError::Render("template is not fully parsed".into()))?;
        let text = budget::within(|| {
            tera.render(&self.name, ctx)
                .map_err(|e| TemplateError::Render(error_chain(&e)))
        })?;
        finish(text, self.mode)
    }
}

/// Collects the templates of one parse into one Tera instance.
struct Parser {
    tera: tera::Tera,
    shared: Shared,
    next: usize,
}

impl Parser {
    fn new() -> Self {
        let mut tera = tera::Tera::default();
        // Escaping is ours (`escape`): Tera's autoescape would skip `safe` and non-strings.
        tera.autoescape_on(Vec::new());
        tera.register_filter(MARK, Mark { json: false });
        tera.register_filter(MARK_JSON, Mark { json: true });
        tera.register_function(budget::TICK, budget::Tick);
        tera.register_filter(budget::CHECK, budget::Check);
        tera.register_filter(budget::OUT, budget::Out);
        for capped in ["replace", "indent", "join"] {
            tera.register_filter(capped, budget::Capped(capped));
        }
        tera.register_filter("slug", slug_filter);
        tera.register_filter("slugify", slug_filter);
        tera.register_filter("json", JsonFilter);
        // Templates read the four namespaces and nothing else: no process environment.
        tera.register_function("get_env", no_env);
        Self {
            tera,
            shared: Arc::new(OnceLock::new()),
            next: 0,
        }
    }

    /// Hands the Tera instance to the templates parsed into it.
    fn finish(self) {
        let _ = self.shared.set(self.tera);
    }

    fn parse(&mut self, source: &str, mode: Mode) -> Result<Template, TemplateError> {
        if uses_markers(source) {
            return Err(TemplateError::Syntax(
                "the characters U+E000 to U+E003 are reserved".into(),
            ));
        }
        if mode == Mode::Url {
            super::url::check_source(source)?;
        }
        if !source.contains("{{") && !source.contains("{%") && !source.contains("{#") {
            return Ok(Template {
                literal: Some(source.to_string()),
                tera: self.shared.clone(),
                name: String::new(),
                mode,
                references: Vec::new(),
                typed: false,
            });
        }
        let translated = translate(source);
        self.next += 1;
        let name = format!("t{}", self.next);
        self.tera
            .add_raw_template(&name, &translated)
            .map_err(|e| TemplateError::Syntax(error_chain(&e)))?;
        let ast = self
            .tera
            .get_template(&name)
            .map(|t| t.ast.clone())
            .map_err(|e| TemplateError::Syntax(error_chain(&e)))?;
        let mut walker = Walker::new(mode != Mode::Text);
        let checked = walker.nodes(&ast, &mut Vec::new());
        if let Err(e) = checked {
            // A rejected template is not kept.
            let _ = self.tera.templates.remove(&name);
            return Err(e);
        }
        let typed = matches!(ast.as_slice(), [tera::ast::Node::VariableBlock(_, e)]
            if e.filters.last().is_some_and(|f| f.name == "json"));
        if let Some(t) = self.tera.templates.get_mut(&name) {
            if mode != Mode::Text {
                mark_outputs(&mut t.ast);
            }
            budget::instrument(&mut t.ast);
        }
        Ok(Template {
            literal: None,
            tera: self.shared.clone(),
            name,
            mode,
            references: walker.finish(),
            typed,
        })
    }

    fn parse_node(
        &mut self,
        value: &Value,
        path: &DocPath,
        modes: &[(&str, Mode)],
        errors: &mut Vec<(DocPath, TemplateError)>,
    ) -> TreeNode {
        match value {
            Value::String(s) => {
                let mode = match path.segments() {
                    [Segment::Key(first)] => modes
                        .iter()
                        .find(|(k, _)| k == first)
                        .map_or(Mode::Text, |(_, m)| *m),
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
                    .map(|(i, v)| self.parse_node(v, &path.index(i), modes, errors))
                    .collect(),
            ),
            Value::Object(map) => TreeNode::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.parse_node(v, &path.key(k), modes, errors)))
                    .collect(),
            ),
            other => TreeNode::Value(other.clone()),
        }
    }
}

/// A config tree whose strings are parsed templates.
#[derive(Debug, Clone)]
pub struct TemplateTree {
    root: TreeNode,
}

#[derive(Debug, Clone)]
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

    fn render(
        &self,
        ctx: &tera::Context,
        path: &DocPath,
    ) -> Result<Value, (DocPath, TemplateError)> {
        Ok(match self {
            Self::Value(v) => v.clone(),
            Self::Template(t) => {
                let text = t.render_in(ctx).map_err(|e| (path.clone(), e))?;
                if t.typed {
                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                } else {
                    Value::String(text)
                }
            }
            Self::List(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, n)| n.render(ctx, &path.index(i)))
                    .collect::<Result<_, _>>()?,
            ),
            Self::Map(map) => Value::Object(
                map.iter()
                    .map(|(k, n)| Ok((k.clone(), n.render(ctx, &path.key(k))?)))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

impl TemplateTree {
    /// Parses every string inside a config tree (maps and lists, any depth). A string under
    /// one of the top-level keys `modes` names renders in that key's mode (a REST body as
    /// [`Mode::Json`], a URL as [`Mode::Url`]); every other string is [`Mode::Text`].
    /// Returns every template error with its path below the tree's root.
    pub fn parse(
        tree: &Value,
        modes: &[(&str, Mode)],
    ) -> Result<Self, Vec<(DocPath, TemplateError)>> {
        let mut parser = Parser::new();
        let mut errors = Vec::new();
        let root = parser.parse_node(tree, &DocPath::root(), modes, &mut errors);
        parser.finish();
        if errors.is_empty() {
            Ok(Self { root })
        } else {
            Err(errors)
        }
    }

    /// Renders the whole tree in one call: the same shape with every string rendered.
    pub fn render(&self, vars: &Vars) -> Result<Value, (DocPath, TemplateError)> {
        let mut uses = Vec::new();
        self.root.collect_uses(&mut uses);
        let mut root = vars.to_value();
        fill_missing(&mut root, &uses);
        let ctx = context(root).map_err(|e| (DocPath::root(), e))?;
        // One budget for the whole tree: its templates together may not pass it.
        let mut failed_at = DocPath::root();
        budget::within(|| {
            self.root
                .render(&ctx, &DocPath::root())
                .map_err(|(path, e)| {
                    failed_at = path;
                    e
                })
        })
        .map_err(|e| (failed_at, e))
    }

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

fn slug_filter(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Ok(Value::String(super::slug(&text)))
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
pub(super) fn error_chain(e: &tera::Error) -> String {
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
