//! Reading a catalog repository: `catalog/**/*.yaml` (items), `bundles/**/*.yaml` (bundles)
//! and CODEOWNERS, from a directory ([`load_dir`]) or as files already read ([`load_files`],
//! for GitHub and the tools routes). Parsing and validation problems are collected per file;
//! only an unreadable repository is an error.

use super::SourceDoc;
use super::codeowners::CodeOwners;
use super::validate;
use super::{Catalog, Problem};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The folders of a catalog repository that hold documents.
pub const DOCUMENT_DIRS: [&str; 2] = ["catalog", "bundles"];

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: not a catalog repository (expected a catalog/ or bundles/ folder)")]
    NotACatalog { path: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A loaded catalog repository: the valid documents, and every problem found.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub catalog: Catalog,
    pub problems: Vec<Problem>,
    /// Every document file read, relative to the root.
    pub files: Vec<String>,
    /// The documents' text with their owners, as the API stores a catalog snapshot.
    pub sources: Vec<SourceDoc>,
}

/// Whether `dir` looks like a catalog repository root.
pub fn is_catalog_root(dir: &Path) -> bool {
    DOCUMENT_DIRS.iter().any(|d| dir.join(d).is_dir())
}

/// The catalog repository root that contains `path` (itself or an ancestor).
pub fn find_root(path: &Path) -> Option<PathBuf> {
    let start = if path.is_dir() { path } else { path.parent()? };
    let start = start.canonicalize().ok()?;
    start
        .ancestors()
        .find(|d| is_catalog_root(d))
        .map(Path::to_path_buf)
}

/// A catalog repository's files as text, wherever they were read from (a directory, the
/// GitHub API, a `POST /tools/validate` body).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoFiles {
    /// Document files (`catalog/**/*.yaml`, `bundles/**/*.yaml`) by path.
    pub documents: BTreeMap<String, String>,
    /// The CODEOWNERS file GitHub would use, as (path, text).
    pub codeowners: Option<(String, String)>,
}

/// Whether a repository path holds a catalog document.
pub fn is_document_path(path: &str) -> bool {
    let under = DOCUMENT_DIRS.iter().any(|d| {
        path.strip_prefix(d)
            .is_some_and(|rest| rest.starts_with('/'))
    });
    under && (path.ends_with(".yaml") || path.ends_with(".yml"))
}

/// Loads and validates the catalog repository at `root`.
pub fn load_dir(root: &Path) -> Result<Loaded, LoadError> {
    if !is_catalog_root(root) {
        return Err(LoadError::NotACatalog {
            path: root.display().to_string(),
        });
    }
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| LoadError::Io { path, source }
    };
    let mut files = Vec::new();
    for dir in DOCUMENT_DIRS {
        collect_yaml(&root.join(dir), &mut files).map_err(io(&root.join(dir)))?;
    }
    let mut repo = RepoFiles::default();
    for file in &files {
        let text = std::fs::read_to_string(file).map_err(io(file))?;
        repo.documents.insert(relative(root, file), text);
    }
    for location in super::codeowners::LOCATIONS {
        let path = root.join(location);
        if path.is_file() {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            repo.codeowners = Some((location.to_string(), text));
            break;
        }
    }
    Ok(load_files(&repo))
}

/// Validates a repository's files as one catalog, with each document's owners.
pub fn load_files(repo: &RepoFiles) -> Loaded {
    let (owners, owner_errors) = match &repo.codeowners {
        Some((_, text)) => CodeOwners::parse(text),
        None => (CodeOwners::default(), Vec::new()),
    };
    let owners_file = repo
        .codeowners
        .as_ref()
        .map_or("CODEOWNERS", |(path, _)| path.as_str());
    let mut problems: Vec<Problem> = owner_errors
        .into_iter()
        .map(|e| Problem::in_file(owners_file, format!("line {}", e.line), e.message))
        .collect();
    let sources: Vec<SourceDoc> = repo
        .documents
        .iter()
        .map(|(file, text)| SourceDoc {
            owners: owners.owners_of(file).to_vec(),
            file: file.clone(),
            text: text.clone(),
        })
        .collect();
    let (catalog, mut found) = validate::validate_sources(sources.clone());
    problems.append(&mut found);
    Loaded {
        catalog,
        problems,
        files: repo.documents.keys().cloned().collect(),
        sources,
    }
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_yaml(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    Ok(())
}

fn relative(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap_or(file);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}
