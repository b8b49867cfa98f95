//! Reading a catalog repository from a directory: `catalog/**/*.yaml` (items),
//! `bundles/**/*.yaml` (bundles) and CODEOWNERS. Parsing and validation problems are
//! collected per file; only an unreadable repository is an error.

use super::SourceDoc;
use super::codeowners::CodeOwners;
use super::validate;
use super::{Catalog, Problem};
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
    let (owners, owner_errors, owners_file) = CodeOwners::read(root).map_err(io(root))?;
    let mut problems: Vec<Problem> = owner_errors
        .into_iter()
        .map(|e| Problem {
            file: owners_file.unwrap_or("CODEOWNERS").to_string(),
            path: format!("line {}", e.line),
            message: e.message,
        })
        .collect();
    let mut files = Vec::new();
    for dir in DOCUMENT_DIRS {
        collect_yaml(&root.join(dir), &mut files).map_err(io(&root.join(dir)))?;
    }
    files.sort();
    let mut sources = Vec::new();
    let mut names = Vec::new();
    for file in &files {
        let rel = relative(root, file);
        let text = std::fs::read_to_string(file).map_err(io(file))?;
        names.push(rel.clone());
        sources.push(SourceDoc {
            owners: owners.owners_of(&rel).to_vec(),
            file: rel,
            text,
        });
    }
    let (catalog, mut found) = validate::validate_sources(sources.clone());
    problems.append(&mut found);
    Ok(Loaded {
        catalog,
        problems,
        files: names,
        sources,
    })
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
