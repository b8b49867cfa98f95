//! What a catalog sync makes of a change: the snapshot in force plus the files a commit
//! changed (or the whole tree, for a refresh) give the next snapshot. The catalog is validated
//! whole with the change applied, since documents reference each other. A changed document
//! that is now invalid keeps its last valid version (a new one is left out), and the rejection
//! is recorded with the commit; deleted documents leave the catalog.

use super::SourceDoc;
use super::load::{RepoFiles, load_files};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A problem that kept a document (or its latest change) out of the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub file: String,
    pub path: String,
    pub message: String,
    /// The commit whose version of the file was rejected.
    pub commit: String,
}

/// The catalog in force: its documents' text (the last valid version of each) at a commit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Unique per sync: `<commit>-<epoch>`; names the stored snapshot.
    pub version: String,
    /// The commit the snapshot was synced from (empty when it was loaded from a directory).
    pub commit: String,
    pub synced_at: String,
    pub sources: Vec<SourceDoc>,
    /// The git blob each document's text came from (a sync fetches only what differs).
    pub blobs: BTreeMap<String, String>,
    pub rejections: Vec<Rejection>,
}

/// What a commit changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The whole repository at the commit (a refresh, or a first sync).
    Tree(RepoFiles),
    /// Only these document files: their new text, or `None` when removed. `codeowners` is the
    /// CODEOWNERS at the commit (it decides the owners of every document).
    Files {
        documents: BTreeMap<String, Option<String>>,
        codeowners: Option<(String, String)>,
    },
}

/// What a sync did, as `POST /catalog/refresh` and the webhook report it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncReport {
    pub commit: String,
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    /// Every rejection in force after the sync.
    pub rejected: Vec<Rejection>,
}

/// The next snapshot's documents and rejections, and the report of what changed.
pub fn apply(
    previous: &Snapshot,
    change: Change,
    commit: &str,
) -> (RepoFiles, Vec<Rejection>, SyncReport) {
    let before: BTreeMap<&str, &str> = previous
        .sources
        .iter()
        .map(|d| (d.file.as_str(), d.text.as_str()))
        .collect();
    // The files this commit decides about, and the repository as the commit has it.
    let (touched, wanted): (BTreeSet<String>, RepoFiles) = match change {
        Change::Tree(repo) => {
            let mut touched: BTreeSet<String> = repo.documents.keys().cloned().collect();
            touched.extend(before.keys().map(|f| f.to_string()));
            (touched, repo)
        }
        Change::Files {
            documents,
            codeowners,
        } => {
            let mut repo = RepoFiles {
                documents: previous
                    .sources
                    .iter()
                    .map(|d| (d.file.clone(), d.text.clone()))
                    .collect(),
                codeowners,
            };
            for (file, text) in &documents {
                match text {
                    Some(text) => repo.documents.insert(file.clone(), text.clone()),
                    None => repo.documents.remove(file),
                };
            }
            (documents.into_keys().collect(), repo)
        }
    };
    // A touched document with a problem falls back to its last valid version (or is left
    // out); then the catalog is checked again, since a fallback can fix or break a reference.
    let first = load_files(&wanted);
    let broken: BTreeSet<&str> = first
        .problems
        .iter()
        .map(|p| p.file.as_str())
        .filter(|f| touched.contains(*f) && wanted.documents.contains_key(*f))
        .collect();
    let mut kept = wanted.clone();
    let mut rejections: Vec<Rejection> = first
        .problems
        .iter()
        .filter(|p| broken.contains(p.file.as_str()))
        .map(|p| rejection(p, commit))
        .collect();
    for file in &broken {
        match before.get(file) {
            Some(old) => kept.documents.insert(file.to_string(), old.to_string()),
            None => kept.documents.remove(*file),
        };
    }
    let last = load_files(&kept);
    for p in &last.problems {
        let r = rejection(p, commit);
        if !rejections.contains(&r) && !broken.contains(p.file.as_str()) {
            rejections.push(r);
        }
    }
    // A rejection of a file this commit did not touch stays as it was recorded.
    for old in &previous.rejections {
        if !touched.contains(&old.file) && !rejections.iter().any(|r| r.file == old.file) {
            rejections.push(old.clone());
        }
    }
    let mut report = SyncReport {
        commit: commit.to_string(),
        ..SyncReport::default()
    };
    for (file, text) in &kept.documents {
        match before.get(file.as_str()) {
            None => report.added.push(file.clone()),
            Some(old) if old != text => report.changed.push(file.clone()),
            Some(_) => {}
        }
    }
    report.removed = before
        .keys()
        .filter(|f| !kept.documents.contains_key(**f))
        .map(|f| f.to_string())
        .collect();
    // A rejection already on record keeps the commit that brought it.
    for r in &mut rejections {
        if let Some(old) = previous
            .rejections
            .iter()
            .find(|o| o.file == r.file && o.path == r.path && o.message == r.message)
        {
            r.commit = old.commit.clone();
        }
    }
    rejections.sort_by(|a, b| (&a.file, &a.path).cmp(&(&b.file, &b.path)));
    report.rejected = rejections.clone();
    (kept, rejections, report)
}

fn rejection(p: &super::Problem, commit: &str) -> Rejection {
    Rejection {
        file: p.file.clone(),
        path: p.path.clone(),
        message: p.message.clone(),
        commit: commit.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ITEM: &str = "schemaVersion: catalog/v1\nkind: CatalogItem\nmetadata: { id: ID, name: N, version: 1.0.0, category: c, owner: team-a, description: d }\nform: { groups: [] }\nfulfillment:\n  items:\n    - id: t\n      type: jira-ticket\n      config: { project: P, issueType: Task, summary: s }\n";

    fn item(id: &str) -> String {
        ITEM.replace("ID", id)
    }

    fn snapshot(files: &[(&str, String)]) -> Snapshot {
        Snapshot {
            version: "v0".into(),
            commit: "c0".into(),
            sources: files
                .iter()
                .map(|(f, t)| SourceDoc {
                    file: f.to_string(),
                    text: t.clone(),
                    owners: vec![],
                })
                .collect(),
            ..Snapshot::default()
        }
    }

    fn files(changes: &[(&str, Option<String>)]) -> Change {
        Change::Files {
            documents: changes
                .iter()
                .map(|(f, t)| (f.to_string(), t.clone()))
                .collect(),
            codeowners: None,
        }
    }

    #[test]
    fn adds_changes_and_removes() {
        let before = snapshot(&[("catalog/a.yaml", item("a")), ("catalog/b.yaml", item("b"))]);
        let change = files(&[
            (
                "catalog/a.yaml",
                Some(item("a").replace("name: N", "name: New")),
            ),
            ("catalog/b.yaml", None),
            ("catalog/c.yaml", Some(item("c"))),
        ]);
        let (kept, rejected, report) = apply(&before, change, "c1");
        assert!(rejected.is_empty(), "{rejected:?}");
        assert_eq!(report.added, ["catalog/c.yaml"]);
        assert_eq!(report.changed, ["catalog/a.yaml"]);
        assert_eq!(report.removed, ["catalog/b.yaml"]);
        assert!(kept.documents["catalog/a.yaml"].contains("name: New"));
    }

    #[test]
    fn an_invalid_change_keeps_the_last_valid_version() {
        let before = snapshot(&[("catalog/a.yaml", item("a"))]);
        let change = files(&[
            (
                "catalog/a.yaml",
                Some(item("a").replace("version: 1.0.0", "version: one")),
            ),
            ("catalog/new.yaml", Some("not: [valid".into())),
        ]);
        let (kept, rejected, report) = apply(&before, change, "c2");
        assert_eq!(kept.documents["catalog/a.yaml"], item("a"));
        assert!(!kept.documents.contains_key("catalog/new.yaml"));
        let rejected_files: Vec<&str> = rejected.iter().map(|r| r.file.as_str()).collect();
        assert_eq!(rejected_files, ["catalog/a.yaml", "catalog/new.yaml"]);
        assert!(rejected.iter().all(|r| r.commit == "c2"));
        assert!(report.added.is_empty() && report.changed.is_empty());
        // A later commit that does not touch the file keeps its rejection on record.
        let next = Snapshot {
            sources: kept
                .documents
                .iter()
                .map(|(f, t)| SourceDoc {
                    file: f.clone(),
                    text: t.clone(),
                    owners: vec![],
                })
                .collect(),
            rejections: rejected.clone(),
            ..before.clone()
        };
        let (_, still, _) = apply(&next, files(&[("catalog/c.yaml", Some(item("c")))]), "c3");
        assert_eq!(still.len(), rejected.len());
        // Fixing it clears it.
        let (_, cleared, report) = apply(
            &next,
            files(&[("catalog/new.yaml", Some(item("new")))]),
            "c4",
        );
        assert_eq!(report.added, ["catalog/new.yaml"]);
        assert!(
            cleared.iter().all(|r| r.file != "catalog/new.yaml"),
            "{cleared:?}"
        );
    }

    #[test]
    fn a_refresh_takes_the_whole_tree() {
        let before = snapshot(&[("catalog/a.yaml", item("a")), ("catalog/b.yaml", item("b"))]);
        let mut tree = RepoFiles::default();
        tree.documents.insert("catalog/a.yaml".into(), item("a"));
        tree.documents.insert("catalog/d.yaml".into(), item("d"));
        let (kept, _, report) = apply(&before, Change::Tree(tree), "c5");
        assert_eq!(report.added, ["catalog/d.yaml"]);
        assert_eq!(report.removed, ["catalog/b.yaml"]);
        assert!(report.changed.is_empty());
        assert_eq!(kept.documents.len(), 2);
    }
}
