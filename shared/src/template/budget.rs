//! What one render may cost. A catalog template runs on the API (previews, bundle inputs) and
//! in the worker, and its author and its requester are both untrusted: a loop over a long list
//! inside another, or a chain of `replace` over a large value, must not hold a function for
//! its whole timeout or fill its memory. The parse instruments the template (the AST, once):
//! every loop iteration ticks, every filter's result is measured, every output is counted,
//! and the filters that can multiply a value by their arguments (`replace`, `indent`,
//! `join`) check the size of their result before making it. A render past any limit stops
//! with [`TemplateError::Budget`], which names the limit.

use super::TemplateError;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tera::ast::{Expr, ExprVal, FunctionCall, Node, WS};

/// Loop iterations one render may run (all loops together).
pub const MAX_ITERATIONS: u64 = 100_000;
/// Bytes one render may write, and the largest value a filter may make.
pub const MAX_OUTPUT: usize = 1024 * 1024;
/// How long one render may take.
pub const MAX_TIME: Duration = Duration::from_secs(2);

/// Internal names the instrumentation uses (a template may not name them: `sandbox`).
pub(super) const TICK: &str = "pao_tick";
pub(super) const CHECK: &str = "pao_check";
pub(super) const OUT: &str = "pao_out";

/// The running count of the render on this thread (rendering is synchronous).
struct Spent {
    deadline: Instant,
    iterations: u64,
    output: usize,
    /// Why the render was stopped, once it was.
    exceeded: Option<String>,
}

thread_local! {
    static SPENT: RefCell<Option<Spent>> = const { RefCell::new(None) };
}

/// Runs `render` within one budget (a tree's templates share the budget of its render).
pub(super) fn within<T>(
    render: impl FnOnce() -> Result<T, TemplateError>,
) -> Result<T, TemplateError> {
    let outer = SPENT.with(|s| s.borrow().is_some());
    if outer {
        return render();
    }
    SPENT.with(|s| {
        *s.borrow_mut() = Some(Spent {
            deadline: Instant::now() + MAX_TIME,
            iterations: 0,
            output: 0,
            exceeded: None,
        });
    });
    let result = render();
    let exceeded = SPENT.with(|s| s.borrow_mut().take().and_then(|s| s.exceeded));
    match exceeded {
        // Tera's own message would name an internal function; say what ran out.
        Some(why) => Err(TemplateError::Budget(why)),
        None => result,
    }
}

/// Charges the render; past a limit, records why and fails the Tera call.
fn charge(iterations: u64, output: usize) -> tera::Result<()> {
    SPENT.with(|s| {
        let mut s = s.borrow_mut();
        let Some(spent) = s.as_mut() else {
            return Ok(());
        };
        spent.iterations += iterations;
        spent.output = spent.output.saturating_add(output);
        let why = if spent.iterations > MAX_ITERATIONS {
            Some(format!("more than {MAX_ITERATIONS} loop iterations"))
        } else if spent.output > MAX_OUTPUT {
            Some(format!("more than {} KiB of output", MAX_OUTPUT / 1024))
        } else if Instant::now() > spent.deadline {
            Some(format!("more than {} s of rendering", MAX_TIME.as_secs()))
        } else {
            None
        };
        match why {
            Some(why) => {
                spent.exceeded.get_or_insert(why.clone());
                Err(tera::Error::msg(why))
            }
            None => Ok(()),
        }
    })
}

/// A value too large to make.
fn too_large(what: &str) -> tera::Error {
    let why = format!("`{what}` would make a value over {} KiB", MAX_OUTPUT / 1024);
    SPENT.with(|s| {
        if let Some(spent) = s.borrow_mut().as_mut() {
            spent.exceeded.get_or_insert(why.clone());
        }
    });
    tera::Error::msg(why)
}

/// The size a value has when written.
fn size(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        Value::Null => 0,
        other => serde_json::to_string(other).map_or(0, |t| t.len()),
    }
}

/// `pao_tick(text=N)`: one loop iteration that writes `N` bytes of literal text.
pub(super) struct Tick;

impl tera::Function for Tick {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let text = args.get("text").and_then(Value::as_u64).unwrap_or(0);
        charge(1, usize::try_from(text).unwrap_or(usize::MAX))?;
        Ok(Value::String(String::new()))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// `pao_check`: a filter's result, refused past [`MAX_OUTPUT`] (and past the time).
pub(super) struct Check;

impl tera::Filter for Check {
    fn filter(&self, value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
        if size(value) > MAX_OUTPUT {
            return Err(too_large("a filter"));
        }
        charge(0, 0)?;
        Ok(value.clone())
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// `pao_out`: what an output writes, counted.
pub(super) struct Out;

impl tera::Filter for Out {
    fn filter(&self, value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
        charge(0, size(value))?;
        Ok(value.clone())
    }

    fn is_safe(&self) -> bool {
        true
    }
}

/// Tera's own filters, for the capped ones to call once the size is known to fit.
fn builtins() -> &'static Arc<tera::Tera> {
    static BUILTINS: OnceLock<Arc<tera::Tera>> = OnceLock::new();
    BUILTINS.get_or_init(|| Arc::new(tera::Tera::default()))
}

/// `replace`, `indent` and `join`: their result can be their input times an argument, so
/// its size is worked out before it is made.
pub(super) struct Capped(pub(super) &'static str);

impl tera::Filter for Capped {
    fn filter(&self, value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let text_arg = |k: &str, default: &str| {
            args.get(k)
                .and_then(Value::as_str)
                .map_or(default.len(), str::len)
        };
        let made = match (self.0, value) {
            ("replace", Value::String(s)) => {
                let from = args.get("from").and_then(Value::as_str).unwrap_or_default();
                let times = if from.is_empty() {
                    s.chars().count() + 1
                } else {
                    s.matches(from).count()
                };
                s.len()
                    .saturating_add(times.saturating_mul(text_arg("to", "")))
            }
            ("indent", Value::String(s)) => {
                let lines = s.bytes().filter(|b| *b == b'\n').count() + 1;
                s.len()
                    .saturating_add(lines.saturating_mul(text_arg("prefix", "    ")))
            }
            ("join", Value::Array(items)) => items
                .iter()
                .map(size)
                .fold(0usize, usize::saturating_add)
                .saturating_add(items.len().saturating_mul(text_arg("sep", ""))),
            _ => 0,
        };
        if made > MAX_OUTPUT {
            return Err(too_large(self.0));
        }
        builtins().get_filter(self.0)?.filter(value, args)
    }
}

/// Instruments a parsed template: a tick at the start of every loop body, a check after
/// every filter, a count on every output.
pub(super) fn instrument(nodes: &mut [Node]) {
    for node in nodes.iter_mut() {
        match node {
            Node::VariableBlock(_, e) => {
                expr(e);
                e.filters.push(call(OUT, HashMap::new()));
            }
            Node::Set(_, set) => expr(&mut set.value),
            Node::If(cond, _) => {
                for (_, e, body) in &mut cond.conditions {
                    expr(e);
                    instrument(body);
                }
                if let Some((_, body)) = &mut cond.otherwise {
                    instrument(body);
                }
            }
            Node::Forloop(_, f, _) => {
                expr(&mut f.container);
                let text = literal_bytes(&f.body);
                instrument(&mut f.body);
                f.body.insert(0, tick(text));
                if let Some(body) = &mut f.empty_body {
                    instrument(body);
                }
            }
            Node::FilterSection(_, section, _) => {
                section.filter.args.values_mut().for_each(expr);
                instrument(&mut section.body);
            }
            _ => {}
        }
    }
}

/// The literal text a loop body writes per iteration (its nested loops tick for their own).
fn literal_bytes(nodes: &[Node]) -> u64 {
    nodes
        .iter()
        .map(|n| match n {
            Node::Text(t) => t.len() as u64,
            Node::Raw(_, t, _) => t.len() as u64,
            Node::If(cond, _) => {
                let branches = cond.conditions.iter().map(|(_, _, b)| literal_bytes(b));
                let otherwise = cond.otherwise.iter().map(|(_, b)| literal_bytes(b));
                branches.chain(otherwise).max().unwrap_or(0)
            }
            Node::FilterSection(_, section, _) => literal_bytes(&section.body),
            _ => 0,
        })
        .sum()
}

fn expr(e: &mut Expr) {
    match &mut e.val {
        ExprVal::Math(m) => {
            expr(&mut m.lhs);
            expr(&mut m.rhs);
        }
        ExprVal::Logic(l) => {
            expr(&mut l.lhs);
            expr(&mut l.rhs);
        }
        ExprVal::In(i) => {
            expr(&mut i.lhs);
            expr(&mut i.rhs);
        }
        ExprVal::Test(t) => t.args.iter_mut().for_each(expr),
        ExprVal::Array(items) => items.iter_mut().for_each(expr),
        ExprVal::FunctionCall(f) => f.args.values_mut().for_each(expr),
        _ => {}
    }
    let mut filters = Vec::with_capacity(e.filters.len() * 2);
    for mut f in std::mem::take(&mut e.filters) {
        f.args.values_mut().for_each(expr);
        // Tera skips `default` (it is a fallback) and `safe`; the others are measured.
        let measured = f.name != "default" && f.name != "safe";
        filters.push(f);
        if measured {
            filters.push(call(CHECK, HashMap::new()));
        }
    }
    e.filters = filters;
}

fn call(name: &str, args: HashMap<String, Expr>) -> FunctionCall {
    FunctionCall {
        name: name.into(),
        args,
    }
}

fn tick(text: u64) -> Node {
    let text = Expr {
        val: ExprVal::Int(i64::try_from(text).unwrap_or(i64::MAX)),
        negated: false,
        filters: Vec::new(),
    };
    Node::VariableBlock(
        WS::default(),
        Expr {
            val: ExprVal::FunctionCall(call(TICK, HashMap::from([("text".into(), text)]))),
            negated: false,
            filters: Vec::new(),
        },
    )
}
