//! Helpers shared by the system tests: where the example catalog is, and throwaway catalog
//! repositories on disk.

use std::path::PathBuf;

/// The repository's `examples/catalog/`.
pub fn example_catalog_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/catalog")
}

/// A temporary catalog repository holding `files` (path relative to its root, content);
/// removed when dropped.
pub fn write_repo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (path, content) in files {
        let full = dir.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("create folders");
        }
        std::fs::write(&full, content).expect("write file");
    }
    dir
}
