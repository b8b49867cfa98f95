//! Fuzzing PAO's parsers on the stable toolchain (no nightly, so no cargo-fuzz): `proptest`
//! strategies generate the inputs, many of them mutations of the corpus in `fuzz/corpus/`
//! (seeded from `examples/catalog`), and [`fuzz`] runs a target until its case count or its
//! time budget is spent. The targets are in `tests/targets.rs`.
//!
//! - `make test`: every target for `PAO_FUZZ_CASES` cases (default 2000), at most 30 s each,
//!   from a fixed seed per target (the same inputs every run).
//! - `make fuzz`: every target for `PAO_FUZZ_SECONDS` seconds (default 60), cases unbounded,
//!   from fresh seeds.
//! - `PAO_FUZZ_SEED=<hex>` replays the run a failure printed.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a target runs.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub cases: u64,
    pub time: Duration,
}

impl Budget {
    /// `PAO_FUZZ_SECONDS` set: that long, cases unbounded; otherwise `PAO_FUZZ_CASES`
    /// (default 2000) within 30 s.
    pub fn from_env() -> Self {
        let number = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
        match number("PAO_FUZZ_SECONDS") {
            Some(s) => Self {
                cases: u64::MAX,
                time: Duration::from_secs(s),
            },
            None => Self {
                cases: number("PAO_FUZZ_CASES").unwrap_or(2000),
                time: Duration::from_secs(30),
            },
        }
    }
}

/// Runs `test` on inputs drawn from `strategy` until the budget is spent, in rounds of 500
/// cases with a fresh seed each. A failing input is shrunk and reported with the seed that
/// drew it; the run then panics.
pub fn fuzz<S>(name: &str, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>)
where
    S: Strategy,
    S::Value: std::fmt::Debug,
{
    let budget = Budget::from_env();
    let fixed = std::env::var("PAO_FUZZ_SEED").ok();
    let started = Instant::now();
    let mut done: u64 = 0;
    let mut round: u64 = 0;
    while done < budget.cases && started.elapsed() < budget.time {
        let seed = match &fixed {
            Some(s) => s.clone(),
            // The bounded pass of `make test` draws the same inputs on every run (a red CI
            // says the code changed, not the dice); `make fuzz` explores with fresh seeds.
            None if budget.cases != u64::MAX => {
                format!("{:032x}", name_seed(name) ^ u128::from(round))
            }
            None => format!("{:032x}", seed_now() ^ u128::from(round)),
        };
        let cases = (budget.cases - done).min(500) as u32;
        let config = Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 4096,
            ..Config::default()
        };
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(&seed));
        let mut runner = TestRunner::new_with_rng(config, rng);
        if let Err(e) = runner.run(&strategy, &test) {
            panic!("fuzz target {name} failed (replay with PAO_FUZZ_SEED={seed}): {e}");
        }
        done += u64::from(cases);
        round += 1;
        if fixed.is_some() {
            break;
        }
    }
    eprintln!(
        "fuzz target {name}: {done} cases in {:.1} s, no failure",
        started.elapsed().as_secs_f64()
    );
}

/// A fixed seed per target (FNV-1a of its name).
fn name_seed(name: &str) -> u128 {
    name.bytes()
        .fold(0x6c62_272e_07bb_0142_62b8_2175_6295_c58d, |h, b| {
            (h ^ u128::from(b)).wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b)
        })
}

fn seed_now() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
        ^ u128::from(std::process::id()) << 64
}

/// 32 bytes from a hex seed (shorter seeds are zero-padded).
fn seed_bytes(hex: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, pair) in hex.as_bytes().chunks(2).take(32).enumerate() {
        let text = std::str::from_utf8(pair).unwrap_or("0");
        out[i] = u8::from_str_radix(text, 16).unwrap_or(0);
    }
    out
}

/// The corpus directory.
pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// The catalog repository of the corpus: its documents by path, and its CODEOWNERS.
pub fn corpus_catalog() -> pao::catalog::load::RepoFiles {
    let root = corpus_dir().join("catalog");
    let mut documents = BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                let rel = path
                    .strip_prefix(&root)
                    .map(|p| p.to_string_lossy().replace('\\', "/"))
                    .unwrap_or_default();
                if pao::catalog::load::is_document_path(&rel) {
                    documents.insert(rel, text);
                }
            }
        }
    }
    let codeowners = std::fs::read_to_string(root.join("CODEOWNERS"))
        .ok()
        .map(|t| ("CODEOWNERS".to_string(), t));
    pao::catalog::load::RepoFiles {
        documents,
        codeowners,
    }
}

/// Every string in the corpus documents that holds a template (`{{` or `{%`), plus the
/// regressions kept in `corpus/templates.txt` (one per line).
pub fn corpus_templates() -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if s.contains("{{") || s.contains("{%") => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            Value::Object(o) => o.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for text in corpus_catalog().documents.values() {
        if let Ok(v) = serde_norway::from_str::<Value>(text) {
            walk(&v, &mut out);
        }
    }
    if let Ok(extra) = std::fs::read_to_string(corpus_dir().join("templates.txt")) {
        out.extend(extra.lines().filter(|l| !l.is_empty()).map(str::to_string));
    }
    out
}

/// Fragments that matter to YAML, JSON and headers: what an edit inserts (besides
/// [`TEMPLATE_TOKENS`]).
#[rustfmt::skip]
const TOKENS: &[&str] = &[
    ": ", "- ", "\n", "\n  ", "  ", "\t", "#", "&a ", "*a", "<<: ", "!!binary ", "!tag ", "? ",
    "---\n", "...\n", "|\n", ">-\n", "'", "\"", "\\", "[", "]", "{", "}", ",", "~", "null",
    "true", "1e999", "-0", "0x1F", "99999999999999999999", "%", "%2F", "%%", "=", "&", ";",
    "\u{0}", "\u{feff}", "\u{202e}", "é", "😀", "\r\n",
];

/// Fragments of the catalog's template syntax: what template inputs are built from.
#[rustfmt::skip]
pub const TEMPLATE_TOKENS: &[&str] = &[
    "{{", "}}", "{%", "%}", "{#", "#}", ".current.", ".output.", ".system.", ".metadata.",
    "{{.current.", "{{.output.", "user.email", "basic.instanceName", "|", " upper", " json",
    " slug", " default(value=\"d\")", " length", " join(sep=\",\")", "(", ")", "0", "-1",
    "{% for x in .current.list %}", "{% endfor %}", "for x in ", " endfor", "if ", " endif",
    "set y = ", "loop.index", "+", "==", " and ", " not ",
    // range's arguments (issue 23: a step of 0 or a huge end must be refused, never run)
    "{% for i in range(end=", "range(", "start=", "end=", "step_by=", "step_by=0", "end=100000",
    ", ", "3)", "{% set_global z = ", "1000", "-5",
];

/// One edit of a text.
#[derive(Debug, Clone)]
pub enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, text: String },
    DuplicateLine { line: usize },
    SwapLines { a: usize, b: usize },
    Truncate { at: usize },
}

pub fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1..24usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        (
            any::<usize>(),
            prop_oneof![
                2 => proptest::sample::select(TOKENS).prop_map(str::to_string),
                1 => proptest::sample::select(TEMPLATE_TOKENS).prop_map(str::to_string),
                1 => ".{0,12}",
            ]
        )
            .prop_map(|(at, text)| Edit::Insert { at, text }),
        any::<usize>().prop_map(|line| Edit::DuplicateLine { line }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines { a, b }),
        any::<usize>().prop_map(|at| Edit::Truncate { at }),
    ]
}

/// `text` with `edits` applied in order (positions wrap around and land on a character).
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut s = text.to_string();
    let boundary = |s: &str, at: usize| {
        let mut i = at % (s.len() + 1);
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    for e in edits {
        match e {
            Edit::Delete { at, len } => {
                let from = boundary(&s, *at);
                let to = boundary(&s, from + len);
                if to > from {
                    s.replace_range(from..to, "");
                }
            }
            Edit::Insert { at, text } => {
                let i = boundary(&s, *at);
                s.insert_str(i, text);
            }
            Edit::DuplicateLine { line } => {
                let mut lines: Vec<&str> = s.split('\n').collect();
                let n = line % lines.len();
                lines.insert(n, lines[n]);
                s = lines.join("\n");
            }
            Edit::SwapLines { a, b } => {
                let mut lines: Vec<&str> = s.split('\n').collect();
                let (a, b) = (a % lines.len(), b % lines.len());
                lines.swap(a, b);
                s = lines.join("\n");
            }
            Edit::Truncate { at } => {
                let i = boundary(&s, *at);
                s.truncate(i);
            }
        }
    }
    s
}

/// Any JSON value, up to a few levels deep, with strings that matter to PAO.
pub fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        ".{0,24}".prop_map(Value::from),
        proptest::sample::select(TOKENS).prop_map(Value::from),
        "[a-z][a-z0-9-]{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z_.$]{0,10}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// One structural change of a parsed document.
#[derive(Debug, Clone)]
pub enum Change {
    /// Replace the `n`th node (pre-order) with a value.
    Replace { node: usize, with: Value },
    /// Remove the `n`th node from its parent.
    Remove { node: usize },
    /// Add a key to the `n`th node if it is an object.
    AddKey {
        node: usize,
        key: String,
        with: Value,
    },
}

pub fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (any::<usize>(), arb_json()).prop_map(|(node, with)| Change::Replace { node, with }),
        any::<usize>().prop_map(|node| Change::Remove { node }),
        (any::<usize>(), "[a-zA-Z]{1,12}", arb_json())
            .prop_map(|(node, key, with)| Change::AddKey { node, key, with }),
    ]
}

/// `doc` with `changes` applied (node numbers wrap around).
pub fn change_value(doc: &Value, changes: &[Change]) -> Value {
    fn count(v: &Value) -> usize {
        1 + match v {
            Value::Array(a) => a.iter().map(count).sum(),
            Value::Object(o) => o.values().map(count).sum(),
            _ => 0,
        }
    }
    /// Applies `f` to the `n`th node and its parent's slot; returns whether it was found.
    fn visit(v: &mut Value, n: &mut usize, change: &Change) -> bool {
        match change {
            Change::AddKey { key, with, .. } if *n == 0 => {
                if let Value::Object(o) = v {
                    o.insert(key.clone(), with.clone());
                }
                return true;
            }
            Change::Replace { with, .. } if *n == 0 => {
                *v = with.clone();
                return true;
            }
            _ => {}
        }
        *n -= 1;
        match v {
            Value::Array(a) => {
                for i in 0..a.len() {
                    if *n == 0 && matches!(change, Change::Remove { .. }) {
                        a.remove(i);
                        return true;
                    }
                    if visit(&mut a[i], n, change) {
                        return true;
                    }
                }
            }
            Value::Object(o) => {
                let keys: Vec<String> = o.keys().cloned().collect();
                for k in keys {
                    if *n == 0 && matches!(change, Change::Remove { .. }) {
                        o.remove(&k);
                        return true;
                    }
                    if let Some(child) = o.get_mut(&k) {
                        if visit(child, n, change) {
                            return true;
                        }
                    }
                }
            }
            _ => {}
        }
        false
    }
    let mut out = doc.clone();
    for c in changes {
        let node = match c {
            Change::Replace { node, .. }
            | Change::Remove { node }
            | Change::AddKey { node, .. } => *node,
        };
        let mut n = node % count(&out);
        if n == 0 && matches!(c, Change::Remove { .. }) {
            continue;
        }
        visit(&mut out, &mut n, c);
    }
    out
}

/// A corpus document changed either as text or as a tree.
#[derive(Debug, Clone)]
pub enum Mutation {
    Text(Vec<Edit>),
    Tree(Vec<Change>),
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        prop::collection::vec(edit(), 1..6).prop_map(Mutation::Text),
        prop::collection::vec(change(), 1..5).prop_map(Mutation::Tree),
    ]
}

/// `text` (a YAML document) mutated; a tree mutation of text that does not parse is a no-op.
pub fn mutate(text: &str, m: &Mutation) -> String {
    match m {
        Mutation::Text(edits) => apply(text, edits),
        Mutation::Tree(changes) => match serde_norway::from_str::<Value>(text) {
            Ok(doc) => serde_norway::to_string(&change_value(&doc, changes))
                .unwrap_or_else(|_| text.to_string()),
            Err(_) => text.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_land_on_characters() {
        let text = "é: 😀\nb: 2";
        for at in 0..20 {
            let edits = [
                Edit::Delete { at, len: 3 },
                Edit::Insert {
                    at,
                    text: "x".into(),
                },
                Edit::Truncate { at: at * 7 },
            ];
            let _ = apply(text, &edits);
        }
        assert_eq!(
            apply("a\nb", &[Edit::SwapLines { a: 0, b: 1 }]),
            "b\na".to_string()
        );
    }

    #[test]
    fn tree_changes_reach_every_node() {
        let doc = serde_json::json!({"a": [1, 2], "b": {"c": "x"}});
        let removed = change_value(&doc, &[Change::Remove { node: 2 }]);
        assert_eq!(removed, serde_json::json!({"a": [2], "b": {"c": "x"}}));
        let replaced = change_value(
            &doc,
            &[Change::Replace {
                node: 5,
                with: Value::Null,
            }],
        );
        assert_eq!(replaced, serde_json::json!({"a": [1, 2], "b": {"c": null}}));
    }

    #[test]
    fn the_corpus_is_the_example_catalog() {
        let repo = corpus_catalog();
        assert!(repo.documents.len() >= 9, "{:?}", repo.documents.keys());
        assert!(repo.codeowners.is_some());
        assert!(corpus_templates().len() > 20);
    }
}
