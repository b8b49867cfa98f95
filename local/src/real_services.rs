//! A platform team's own services for the local stack, named by environment variables
//! (docs/development.md, "Trying PAO against your own GitHub and JIRA"): `make dev` starts a
//! stand-in only for a service no real one is named for.

use serde_json::json;

/// A platform team's own GitHub, named by `PAO_GITHUB_API_URL` (`https://api.github.com`, or
/// `https://HOST/api/v3`), with the token from `GITHUB_TOKEN` and the catalog repository from
/// `PAO_CATALOG_REPOSITORY` / `PAO_CATALOG_BRANCH`.
#[derive(Clone)]
pub struct RealGitHub {
    pub api_url: String,
    pub token: String,
    pub repository: String,
    pub branch: String,
}

impl std::fmt::Debug for RealGitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealGitHub")
            .field("api_url", &self.api_url)
            .field("repository", &self.repository)
            .field("branch", &self.branch)
            .finish_non_exhaustive()
    }
}

/// The real services the environment names: a GitHub and the JIRA secret's value; `None`
/// for each service a stand-in plays.
pub fn from_env(
    var: impl Fn(&str) -> Option<String>,
) -> Result<(Option<RealGitHub>, Option<String>), String> {
    let github = match var("PAO_GITHUB_API_URL") {
        None => None,
        Some(api_url) => {
            if !api_url.starts_with("https://") {
                return Err(format!(
                    "PAO_GITHUB_API_URL={api_url} is not an https:// URL"
                ));
            }
            let token = var("GITHUB_TOKEN")
                .ok_or("PAO_GITHUB_API_URL is set: GITHUB_TOKEN must hold a token for it")?;
            let repository = var("PAO_CATALOG_REPOSITORY").ok_or(
                "PAO_GITHUB_API_URL is set: PAO_CATALOG_REPOSITORY must name the catalog repository (owner/name)",
            )?;
            Some(RealGitHub {
                api_url: api_url.trim_end_matches('/').to_string(),
                token,
                repository,
                branch: var("PAO_CATALOG_BRANCH").unwrap_or_else(|| "main".into()),
            })
        }
    };
    let jira = if let Some(file) = var("PAO_JIRA_SECRET_FILE") {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("PAO_JIRA_SECRET_FILE={file}: {e}"))?;
        pao::action::jira::JiraInstances::parse(&text)
            .map_err(|e| format!("PAO_JIRA_SECRET_FILE={file}: {e}"))?;
        Some(text)
    } else if let Some(base_url) = var("PAO_JIRA_BASE_URL") {
        let token = var("PAO_JIRA_API_TOKEN")
            .ok_or("PAO_JIRA_BASE_URL is set: PAO_JIRA_API_TOKEN must hold its token")?;
        let mut instance = json!({"baseUrl": base_url, "apiToken": token,
            "deployment": var("PAO_JIRA_DEPLOYMENT").unwrap_or_else(|| "cloud".into())});
        if let Some(email) = var("PAO_JIRA_EMAIL") {
            instance["email"] = json!(email);
        }
        let text = json!({"instances": {"default": instance}}).to_string();
        pao::action::jira::JiraInstances::parse(&text).map_err(|e| format!("PAO_JIRA_*: {e}"))?;
        Some(text)
    } else {
        None
    };
    Ok((github, jira))
}

#[cfg(test)]
mod tests {
    use super::from_env;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<(bool, Option<String>), String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        from_env(|k| map.get(k).cloned()).map(|(g, j)| (g.is_some(), j))
    }

    #[test]
    fn a_stand_in_plays_every_service_no_real_one_is_named_for() {
        assert_eq!(from(&[]), Ok((false, None)));
        let github = [
            ("PAO_GITHUB_API_URL", "https://ghe.example.com/api/v3"),
            ("GITHUB_TOKEN", "ghp_x"),
            ("PAO_CATALOG_REPOSITORY", "platform/catalog"),
        ];
        assert_eq!(from(&github), Ok((true, None)));
        let err = from(&github[..2]).expect_err("no repository");
        assert!(err.contains("PAO_CATALOG_REPOSITORY"), "{err}");
        let err = from(&[("PAO_GITHUB_API_URL", "https://api.github.com")]).expect_err("no token");
        assert!(err.contains("GITHUB_TOKEN"), "{err}");
        let (_, jira) = from(&[
            ("PAO_JIRA_BASE_URL", "https://acme.atlassian.net"),
            ("PAO_JIRA_EMAIL", "bot@acme.com"),
            ("PAO_JIRA_API_TOKEN", "t"),
        ])
        .expect("jira");
        let jira = jira.expect("a JIRA secret");
        assert!(
            pao::action::jira::JiraInstances::parse(&jira).is_ok(),
            "{jira}"
        );
        let err = from(&[("PAO_JIRA_BASE_URL", "https://acme.atlassian.net")]).expect_err("token");
        assert!(err.contains("PAO_JIRA_API_TOKEN"), "{err}");
    }
}
