//! The offline commands: they read a catalog repository from disk and never call PAO.

use pao::catalog::Target;
use pao::catalog::load::{Loaded, find_root, load_dir};
use pao::catalog::{Document, Entry, Problem};
use pao::form::redact_paths;
use pao::plan::plan;
use pao::template::{SystemVars, Vars};
use serde_json::{Map, Value, json};
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
    if as_json {
        println!(
            "{}",
            json!({"valid": problems.is_empty(), "documents": documents, "problems": problems})
        );
    } else if problems.is_empty() {
        println!("ok: {documents} documents valid");
    } else {
        for p in &problems {
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
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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
    let view = preview_json(entry);
    let text = if as_json {
        view.to_string()
    } else {
        serde_json::to_string_pretty(&view).unwrap_or_default()
    };
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// The document's card and form, as `GET /catalog/{id}/form` will serve it.
fn preview_json(entry: &Entry) -> Value {
    let meta = entry.document.metadata();
    let mut view = json!({
        "id": meta.id,
        "kind": entry.document.kind(),
        "name": meta.name,
        "version": meta.version,
        "category": meta.category,
        "description": meta.description,
        "owner": entry.owner_team(),
        "tags": meta.tags,
        "form": entry.document.form().portal_view(),
    });
    if let Document::Bundle(b) = &entry.document {
        view["components"] = b.component_refs();
    }
    view
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
    let target = match &entry.document {
        Document::Item(_) => Target::CatalogItem(entry.document.id().to_string()),
        Document::Bundle(_) => Target::Bundle(entry.document.id().to_string()),
    };
    let system = sample_system().to_value();
    let tasks = match plan(&repo.loaded.catalog, &target, &input, &system).map(|p| p.tasks) {
        Ok(t) => t,
        Err(issues) => return Ok(report_input(&issues, input_file, as_json)),
    };
    let mut given: Map<String, Value> = outputs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let mut steps = Vec::new();
    let total = tasks.len();
    let mut text = String::new();
    for (n, task) in tasks.iter().enumerate() {
        let vars = Vars {
            // Sample input may hold a real password: it is never printed.
            current: redact_paths(&task.current, &task.password_paths),
            output: given.clone(),
            metadata: repo.loaded.catalog.metadata_vars(),
            system: system.clone(),
        };
        let rendered = task
            .item
            .parse_config()
            .and_then(|tree| tree.render(&vars).map_err(|(p, e)| format!("{p}: {e}")));
        let config = match rendered {
            Ok(v) => v,
            Err(message) => {
                eprintln!(
                    "devctl: {}: fulfillment item {:?}: {message}",
                    file.display(),
                    task.item.id
                );
                return Ok(ExitCode::FAILURE);
            }
        };
        // Later items see what this one would produce.
        for key in task.item.output_keys() {
            given
                .entry(key.clone())
                .or_insert_with(|| Value::String(format!("<{key}>")));
        }
        let _ = writeln!(
            text,
            "[{}/{total}] {} › {} ({}){}",
            n + 1,
            task.catalog_item_id,
            task.item.id,
            task.item.action,
            task.component
                .as_deref()
                .map(|c| format!("  component: {c}"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            text,
            "{}\n",
            serde_json::to_string_pretty(&config).unwrap_or_default()
        );
        steps.push(json!({
            "step": n + 1,
            "catalogItemId": task.catalog_item_id,
            "component": task.component,
            "fulfillmentItem": task.item.id,
            "type": task.item.action,
            "config": config,
            "outputs": task.item.outputs,
        }));
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
fn sample_system() -> SystemVars {
    SystemVars {
        request_id: "req-00000000-preview".into(),
        correlation_id: "corr-00000000-preview".into(),
        timestamp: pao::clock::now_rfc3339(),
        user_email: "dev@example.com".into(),
        user_arn: "arn:aws:sts::000000000000:assumed-role/Developer/dev@example.com".into(),
        region: "us-east-1".into(),
        environment: "local".into(),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
