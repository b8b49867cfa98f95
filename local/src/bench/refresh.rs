//! A catalog refresh timed: 200 documents synced from the GitHub stand-in, then one change.

use super::fixture::{Error, ITEM};
use crate::provision;
use std::time::{Duration, Instant};

/// How long a sync takes for a repository of 200 documents (all new), and for one change.
pub async fn timed(
    stack: &provision::Stack,
    sdk: &pao::aws::SdkConfig,
    secrets: &aws_sdk_secretsmanager::Client,
) -> Result<(Duration, Duration), Error> {
    let source = std::env::temp_dir().join(format!("{}-catalog", stack.names.table));
    let git_dir = std::env::temp_dir().join(format!("{}-git", stack.names.table));
    for n in 0..200 {
        let dir = source.join("catalog/generated");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join(format!("item-{n:03}.yaml")),
            ITEM.replace("bench-item", &format!("generated-{n:03}")),
        )?;
    }
    crate::github_standin::init_repo(&git_dir, &source)?;
    let github =
        crate::github_standin::GitHubStandIn::start(0, &git_dir, "bench/catalog", "bench-token")
            .await?;
    provision::put_secret(secrets, &stack.config.github_token_secret_id, &github.token).await?;
    let mut config = stack.config.clone();
    config.catalog_repository = "bench/catalog".into();
    config.github_api_url = github.api_url();
    let syncer = pao::sync::Syncer::from_config(&config, sdk);
    let started = Instant::now();
    let report = syncer.sync_head().await?;
    let full = started.elapsed();
    if report.added.len() != 200 {
        return Err(format!(
            "the refresh added {} documents, not 200",
            report.added.len()
        )
        .into());
    }
    let file = git_dir.join("catalog/generated/item-007.yaml");
    let text = std::fs::read_to_string(&file)?.replace("description:", "description: changed,");
    std::fs::write(&file, text)?;
    crate::github_standin::commit_all(&git_dir, "one change")?;
    let started = Instant::now();
    syncer.sync_head().await?;
    let one = started.elapsed();
    let _ = std::fs::remove_dir_all(&source);
    let _ = std::fs::remove_dir_all(&git_dir);
    Ok((full, one))
}
