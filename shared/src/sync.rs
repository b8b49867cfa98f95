//! Catalog sync from GitHub: the catalog becomes what the configured branch's head holds.
//!
//! A sync reads the head commit, its tree (one call) and only the blobs that differ from the
//! snapshot in force (git blob ids are content hashes), plus CODEOWNERS. [`catalog::sync`]
//! decides the next snapshot; the store makes it current in one conditional write, so readers
//! see the old catalog or the new one, never a mix, and two syncs at once never lose a change
//! (the later one starts again from what the earlier one wrote). A push and a refresh are the
//! same operation: syncing to the head, whatever order deliveries arrive in.
//!
//! [`catalog::sync`]: crate::catalog::sync

use crate::catalog::codeowners::LOCATIONS;
use crate::catalog::load::{is_document_path, load_files};
use crate::catalog::sync::{Change, Snapshot, SyncReport, apply};
use crate::clock::Now;
use crate::github::{GitHub, GitHubError};
use crate::secrets::{SecretCache, SecretError};
use crate::store::{Store, StoreError};
use std::collections::BTreeMap;

/// How many blobs are fetched at once.
const PARALLEL_FETCHES: usize = 16;
/// How often a sync starts again when another sync moved the catalog first.
const ATTEMPTS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(
        "no catalog repository is configured (the CatalogRepository parameter, PAO_CATALOG_REPOSITORY)"
    )]
    NotConfigured,
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sync took longer than its caller may wait (API Gateway gives up after 29 s).
    /// Nothing half-done is in force: the snapshot's pointer moves last, so a stopped sync
    /// leaves at most unused documents of a version that never became current; the next
    /// push or refresh starts again.
    #[error(
        "the catalog sync took longer than {0} s and was stopped; nothing changed (the next push or refresh tries again)"
    )]
    OutOfTime(u64),
}

/// How long a sync may run: the API and webhook functions answer within API Gateway's 29 s.
pub const SYNC_BUDGET: std::time::Duration = std::time::Duration::from_secs(22);

/// Which repository and branch are the catalog, and the token that reads them.
#[derive(Debug, Clone)]
pub struct SyncSettings {
    pub repository: String,
    pub branch: String,
    pub token_secret_id: String,
}

/// Follows the catalog repository: built once per container.
#[derive(Debug)]
pub struct Syncer {
    pub store: Store,
    pub github: GitHub,
    pub secrets: SecretCache,
    pub settings: SyncSettings,
}

impl Syncer {
    pub fn from_config(config: &crate::config::Config, sdk: &crate::aws::SdkConfig) -> Self {
        Self {
            store: Store::new(aws_sdk_dynamodb::Client::new(sdk), &config.table_name)
                .with_retention(crate::store::Retention {
                    completed: config.completed_retention,
                    failed: config.failed_retention,
                    secrets: config.secret_keep,
                }),
            github: GitHub::new(crate::https::Https::shared(), &config.github_api_url),
            secrets: SecretCache::new(
                aws_sdk_secretsmanager::Client::new(sdk),
                config.secret_cache,
            ),
            settings: SyncSettings {
                repository: config.catalog_repository.clone(),
                branch: config.catalog_branch.clone(),
                // Read-only when the deployer gave one (CatalogTokenSecret); the write token
                // of github-* items otherwise.
                token_secret_id: config.catalog_token_secret_id.clone(),
            },
        }
    }

    /// Whether `repository` and `git_ref` (`refs/heads/<branch>`) are what this syncer follows.
    pub fn follows(&self, repository: &str, git_ref: &str) -> bool {
        !self.settings.repository.is_empty()
            && repository.eq_ignore_ascii_case(&self.settings.repository)
            && git_ref == format!("refs/heads/{}", self.settings.branch)
    }

    /// Syncs the catalog to the branch's head and says what changed, within [`SYNC_BUDGET`].
    pub async fn sync_head(&self) -> Result<SyncReport, SyncError> {
        self.sync_head_within(SYNC_BUDGET).await
    }

    /// [`Syncer::sync_head`] stopped after `budget`.
    pub async fn sync_head_within(
        &self,
        budget: std::time::Duration,
    ) -> Result<SyncReport, SyncError> {
        if self.settings.repository.is_empty() {
            return Err(SyncError::NotConfigured);
        }
        tokio::time::timeout(budget, self.sync_with_retries())
            .await
            .unwrap_or(Err(SyncError::OutOfTime(budget.as_secs())))
    }

    async fn sync_with_retries(&self) -> Result<SyncReport, SyncError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.sync_once().await {
                Err(SyncError::Store(StoreError::Conflict(_))) if attempt < ATTEMPTS => {
                    tracing::info!(
                        attempt,
                        "another sync moved the catalog first; starting again"
                    );
                }
                other => return other,
            }
        }
    }

    async fn sync_once(&self) -> Result<SyncReport, SyncError> {
        let (repo, branch) = (&self.settings.repository, &self.settings.branch);
        let token = self.secrets.get(&self.settings.token_secret_id).await?;
        let head = self.github.branch_head(&token, repo, branch).await?;
        // Already at the head: nothing to read (the pointer alone says so).
        if let Some(info) = self.store.snapshot_info().await? {
            if info.commit == head {
                return Ok(SyncReport {
                    commit: head,
                    rejected: info.rejections,
                    ..SyncReport::default()
                });
            }
        }
        let previous = self.store.snapshot().await?;
        let had = previous.as_ref().map(|p| p.version.clone());
        let previous = previous.unwrap_or_default();
        let tree = self.github.tree(&token, repo, &head).await?;
        let blobs: BTreeMap<String, String> = tree
            .iter()
            .filter(|e| e.kind == "blob" && is_document_path(&e.path))
            .map(|e| (e.path.clone(), e.sha.clone()))
            .collect();
        let owners_entry = LOCATIONS
            .iter()
            .find_map(|l| tree.iter().find(|e| e.kind == "blob" && e.path == *l));
        // Only what differs from the snapshot is fetched.
        let wanted: Vec<(String, String)> = blobs
            .iter()
            .filter(|(file, sha)| previous.blobs.get(*file) != Some(*sha))
            .map(|(f, s)| (f.clone(), s.clone()))
            .collect();
        let mut documents: BTreeMap<String, Option<String>> =
            self.fetch(&token, wanted).await?.into_iter().collect();
        for doc in &previous.sources {
            if !blobs.contains_key(&doc.file) {
                documents.insert(doc.file.clone(), None);
            }
        }
        let codeowners = match owners_entry {
            Some(e) => Some((
                e.path.clone(),
                self.github.blob(&token, repo, &e.sha).await?,
            )),
            None => None,
        };
        let (kept, rejections, report) = apply(
            &previous,
            Change::Files {
                documents,
                codeowners,
            },
            &head,
        );
        let reverted = |file: &str| rejections.iter().any(|r| r.file == file);
        let now = Now::current();
        let snapshot = Snapshot {
            version: format!("{head}-{}", uuid::Uuid::new_v4().simple()),
            commit: head.clone(),
            synced_at: now.rfc3339.clone(),
            blobs: kept
                .documents
                .keys()
                .filter_map(|file| {
                    // A rejected change keeps its old text, so it keeps its old blob id.
                    let sha = if reverted(file) {
                        previous.blobs.get(file)
                    } else {
                        blobs.get(file)
                    };
                    sha.map(|s| (file.clone(), s.clone()))
                })
                .collect(),
            sources: load_files(&kept).sources,
            rejections,
        };
        self.store
            .put_snapshot(&snapshot, had.as_deref(), &now)
            .await?;
        tracing::info!(
            commit = %head,
            added = report.added.len(),
            changed = report.changed.len(),
            removed = report.removed.len(),
            rejected = report.rejected.len(),
            "catalog synced"
        );
        Ok(report)
    }

    /// The text of each blob, a few at a time.
    async fn fetch(
        &self,
        token: &str,
        wanted: Vec<(String, String)>,
    ) -> Result<Vec<(String, Option<String>)>, SyncError> {
        let mut out = Vec::with_capacity(wanted.len());
        let mut pending = wanted.into_iter();
        let mut running = tokio::task::JoinSet::new();
        loop {
            while running.len() < PARALLEL_FETCHES {
                let Some((file, sha)) = pending.next() else {
                    break;
                };
                let (github, token, repo) = (
                    self.github.clone(),
                    token.to_string(),
                    self.settings.repository.clone(),
                );
                running.spawn(async move {
                    let text = github.blob(&token, &repo, &sha).await?;
                    Ok::<_, GitHubError>((file, Some(text)))
                });
            }
            let Some(done) = running.join_next().await else {
                return Ok(out);
            };
            match done {
                Ok(result) => out.push(result?),
                Err(e) => {
                    return Err(SyncError::GitHub(GitHubError::Transport {
                        what: "a blob".into(),
                        message: e.to_string(),
                    }));
                }
            }
        }
    }
}
