//! The sandbox check: walks a parsed template, refuses what catalog templates may not do
//! (includes, macros, functions other than the allowed ones, unknown namespaces) and
//! collects the variables it reads.

use super::{Namespace, Reference, ReferenceUse, TemplateError};
use std::collections::HashSet;
use tera::ast::{Expr, ExprVal, Node};

/// Collects references while checking what a template may do.
#[derive(Default)]
pub(super) struct Walker {
    uses: Vec<ReferenceUse>,
    /// A JSON document or a URL: values are escaped for where they land, so nothing may
    /// rewrite the text around them (`{% filter %}` sections).
    structured: bool,
}

impl Walker {
    pub(super) fn new(structured: bool) -> Self {
        Self {
            uses: Vec::new(),
            structured,
        }
    }

    pub(super) fn finish(self) -> Vec<ReferenceUse> {
        // One entry per (reference, defaulted) in first-use order.
        let mut seen = HashSet::new();
        self.uses
            .into_iter()
            .filter(|u| seen.insert(u.clone()))
            .collect()
    }

    pub(super) fn nodes(
        &mut self,
        nodes: &[Node],
        locals: &mut Vec<String>,
    ) -> Result<(), TemplateError> {
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
                    if set.global {
                        return Err(TemplateError::NotAllowed("`set_global`".into()));
                    }
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
                Node::FilterSection(..) if self.structured => {
                    return Err(TemplateError::NotAllowed(
                        "`{% filter %}` in a JSON document or URL".into(),
                    ));
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
        if call.name.starts_with("pao_") {
            return Err(TemplateError::NotAllowed(format!(
                "the filter `{}`",
                call.name
            )));
        }
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
            ExprVal::FunctionCall(f) if f.name == "range" => {
                check_range(f)?;
                self.filter_args(f, locals)
            }
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

/// The most items one `range` may give.
pub const MAX_RANGE: i64 = 1000;

/// `range` with integer literals only (a requester's value could make it endless or huge),
/// `step_by` at least 1 (0 never ends), and at most [`MAX_RANGE`] items.
fn check_range(f: &tera::ast::FunctionCall) -> Result<(), TemplateError> {
    let literal = |name: &str, default: i64| -> Result<i64, TemplateError> {
        match f.args.get(name) {
            None => Ok(default),
            Some(e) if e.filters.is_empty() => match e.val {
                ExprVal::Int(n) => Ok(n),
                _ => Err(TemplateError::NotAllowed(format!(
                    "`range` with a `{name}` that is not an integer literal"
                ))),
            },
            Some(_) => Err(TemplateError::NotAllowed(format!(
                "`range` with a filtered `{name}`"
            ))),
        }
    };
    if !f.args.contains_key("end") {
        return Err(TemplateError::NotAllowed("`range` without `end`".into()));
    }
    let (start, end, step) = (
        literal("start", 0)?,
        literal("end", 0)?,
        literal("step_by", 1)?,
    );
    if step < 1 {
        return Err(TemplateError::NotAllowed(
            "`range` with a `step_by` below 1 (it would never end)".into(),
        ));
    }
    let span = end.saturating_sub(start).max(0);
    let items = span / step + i64::from(span % step != 0);
    if items > MAX_RANGE {
        return Err(TemplateError::NotAllowed(format!(
            "`range` of {items} items (at most {MAX_RANGE})"
        )));
    }
    Ok(())
}
