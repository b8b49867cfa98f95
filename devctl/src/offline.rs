//! The offline commands: they read a catalog repository from disk and never call PAO.

use pao::catalog::load::{Loaded, find_root, load_dir};
use pao::catalog::{Entry, Problem};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// An error that stops a command before it can judge anything (exit status 2).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}: no such file or directory")]
    Missing(String),
    #[error("{0}: not inside a catalog repository (no catalog/ or bundles/ folder here or above)")]
    NotInCatalog(String),
    #[error(
        "{0}: is not a catalog document of this repository (documents live under catalog/ and bundles/)"
    )]
    NotADocument(String),
    #[error(transparent)]
    Load(#[from] pao::catalog::LoadError),
    #[error("{path}: {message}")]
    Input { path: String, message: String },
}

/// `--output key=value`.
pub fn parse_output(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

/// A catalog repository opened for one of the commands.
struct Repo {
    root: PathBuf,
    /// How to show the root in front of repository-relative file names.
    shown: String,
    loaded: Loaded,
}

impl Repo {
    fn open(path: &Path) -> Result<Self, CliError> {
        if !path.exists() {
            return Err(CliError::Missing(path.display().to_string()));
        }
        let root =
            find_root(path).ok_or_else(|| CliError::NotInCatalog(path.display().to_string()))?;
        let loaded = load_dir(&root)?;
        let shown = std::env::current_dir()
            .ok()
            .and_then(|cwd| cwd.canonicalize().ok())
            .and_then(|cwd| {
                root.strip_prefix(&cwd)
                    .ok()
                    .map(|r| r.display().to_string())
            })
            .unwrap_or_else(|| root.display().to_string());
        Ok(Self {
            root,
            shown,
            loaded,
        })
    }

    /// `path` relative to the repository root, `/`-separated.
    fn relative(&self, path: &Path) -> String {
        let abs = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        abs.strip_prefix(&self.root)
            .unwrap_or(&abs)
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    }

    fn display(&self, file: &str) -> String {
        if self.shown.is_empty() {
            file.to_string()
        } else {
            format!("{}/{file}", self.shown.trim_end_matches('/'))
        }
    }

    fn entry(&self, file: &Path) -> Result<Option<&Entry>, CliError> {
        let rel = self.relative(file);
        if !self.loaded.files.contains(&rel) {
            return Err(CliError::NotADocument(file.display().to_string()));
        }
        Ok(self.loaded.catalog.entries().iter().find(|e| e.file == rel))
    }

    fn shown_problem(&self, p: &Problem) -> Problem {
        Problem {
            file: self.display(&p.file),
            ..p.clone()
        }
    }
}

pub fn validate(paths: &[PathBuf], as_json: bool) -> Result<ExitCode, CliError> {
    let mut problems = Vec::new();
    let mut documents = 0;
    let mut repos: Vec<(Repo, Vec<String>)> = Vec::new();
    for path in paths {
        let repo = Repo::open(path)?;
        let rel = repo.relative(path);
        match repos.iter_mut().find(|(r, _)| r.root == repo.root) {
            Some((_, scopes)) => scopes.push(rel),
            None => repos.push((repo, vec![rel])),
        }
    }
    for (repo, scopes) in &repos {
        let in_scope = |file: &str| {
            scopes
                .iter()
                .any(|s| s.is_empty() || file == s || file.starts_with(&format!("{s}/")))
        };
        documents += repo.loaded.files.iter().filter(|f| in_scope(f)).count();
        problems.extend(
            repo.loaded
                .problems
                .iter()
                .filter(|p| in_scope(&p.file) || p.file.ends_with("CODEOWNERS"))
                .map(|p| repo.shown_problem(p)),
        );
    }
    Ok(print_problems(&problems, documents, as_json))
}

/// Prints what `validate` found (the same lines whether checked here or by the API's
/// `POST /tools/validate`): exit status 0 when nothing, 1 otherwise.
pub fn print_problems(problems: &[Problem], documents: usize, as_json: bool) -> ExitCode {
    if as_json {
        println!(
            "{}",
            json!({"valid": problems.is_empty(), "documents": documents, "problems": problems})
        );
    } else if problems.is_empty() {
        println!("ok: {documents} documents valid");
    } else {
        for p in problems {
            println!("{p}");
        }
        let mut files: Vec<&str> = problems.iter().map(|p| p.file.as_str()).collect();
        files.sort_unstable();
        files.dedup();
        println!(
            "{} problem{} in {} file{} ({documents} documents checked)",
            problems.len(),
            plural(problems.len()),
            files.len(),
            plural(files.len())
        );
    }
    if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `file`'s path in its catalog repository (`catalog/db/aurora.yaml`), if it is in one.
pub fn repo_path(file: &Path) -> Option<String> {
    let root = find_root(file)?;
    let abs = file.canonicalize().ok()?;
    let rel = abs.strip_prefix(&root).ok()?;
    Some(
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"),
    )
}

/// The document files under `paths` (roots, folders or files of catalog repositories) with
/// their text, by repository-relative path: what `devctl validate --api` sends.
pub fn document_files(paths: &[PathBuf]) -> Result<BTreeMap<String, String>, CliError> {
    let mut files = BTreeMap::new();
    for path in paths {
        let repo = Repo::open(path)?;
        let scope = repo.relative(path);
        for file in &repo.loaded.files {
            if scope.is_empty() || *file == scope || file.starts_with(&format!("{scope}/")) {
                let full = repo.root.join(file);
                let text = std::fs::read_to_string(&full).map_err(|e| CliError::Input {
                    path: full.display().to_string(),
                    message: e.to_string(),
                })?;
                files.insert(file.clone(), text);
            }
        }
    }
    Ok(files)
}

/// Prints the problems that keep `file` out of the catalog; exit status 1.
fn report_unusable(repo: &Repo, file: &Path, as_json: bool) -> ExitCode {
    let rel = repo.relative(file);
    let mine: Vec<Problem> = repo
        .loaded
        .problems
        .iter()
        .filter(|p| p.file == rel)
        .map(|p| repo.shown_problem(p))
        .collect();
    // A valid bundle can still be unusable because of a component's problems.
    let shown: Vec<Problem> = if mine.is_empty() {
        repo.loaded
            .problems
            .iter()
            .map(|p| repo.shown_problem(p))
            .collect()
    } else {
        mine
    };
    if as_json {
        println!("{}", json!({"valid": false, "problems": shown}));
    } else {
        eprintln!(
            "{} cannot be used until these problems are fixed:",
            file.display()
        );
        for p in &shown {
            println!("{p}");
        }
    }
    ExitCode::FAILURE
}

pub fn preview(file: &Path, as_json: bool) -> Result<ExitCode, CliError> {
    let repo = Repo::open(file)?;
    let Some(entry) = repo.entry(file)? else {
        return Ok(report_unusable(&repo, file, as_json));
    };
    let view = pao::tools::preview(entry);
    let text = if as_json {
        view.to_string()
    } else {
        serde_json::to_string_pretty(&view).unwrap_or_default()
    };
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

pub fn render(
    file: &Path,
    input_file: &Path,
    outputs: &[(String, String)],
    as_json: bool,
) -> Result<ExitCode, CliError> {
    let repo = Repo::open(file)?;
    let input_err = |message: String| CliError::Input {
        path: input_file.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(input_file).map_err(|e| input_err(e.to_string()))?;
    let input: Value =
        serde_json::from_str(&text).map_err(|e| input_err(format!("not valid JSON: {e}")))?;
    let Some(entry) = repo.entry(file)? else {
        return Ok(report_unusable(&repo, file, as_json));
    };
    let target = pao::tools::target_of(entry);
    let given: Map<String, Value> = outputs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let rendered = match pao::tools::render(&repo.loaded.catalog, &target, &input, &given) {
        Ok(steps) => steps,
        Err(pao::tools::RenderError::Input(issues)) => {
            return Ok(report_input(&issues, input_file, as_json));
        }
        Err(pao::tools::RenderError::Template { item, message }) => {
            eprintln!(
                "devctl: {}: fulfillment item {item:?}: {message}",
                file.display()
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    let total = rendered.len();
    let mut text = String::new();
    let mut steps = Vec::with_capacity(total);
    for (n, step) in rendered.iter().enumerate() {
        let _ = writeln!(
            text,
            "[{}/{total}] {} › {} ({}){}",
            n + 1,
            step.catalog_item_id,
            step.item.id,
            step.item.action,
            step.component
                .as_deref()
                .map(|c| format!("  component: {c}"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            text,
            "{}\n",
            serde_json::to_string_pretty(&step.config).unwrap_or_default()
        );
        steps.push(step.to_json(n + 1));
    }
    if as_json {
        println!("{}", Value::Array(steps));
    } else {
        print!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}

fn report_input(issues: &[Problem], input_file: &Path, as_json: bool) -> ExitCode {
    if as_json {
        println!(
            "{}",
            json!({"valid": false, "issues": issues.iter().map(Problem::field_issue).collect::<Vec<_>>()})
        );
    } else {
        for i in issues {
            println!("{}: {}: {}", input_file.display(), i.path, i.message);
        }
    }
    ExitCode::FAILURE
}

/// The `.system` namespace `render` uses.
fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
